-- normalization_audit: every raw description of the descriptions view with its events
-- counted without exact duplicates. The view counts every source row (the mapping
-- does not depend on the counts, and a distinct over every event is a shuffle of all
-- of them); under data.duplicate_events = "drop", when the event checks found exact
-- duplicates, the audit reads this query instead, whose counts are those of the
-- events the features are built from.
-- fragments: none
-- params: none
with

descriptions_in as (
    select * from descriptions
),

events_distinct as (
    select distinct * from source_events
),

distinct_counts as (
    select description_raw, count(*) as event_count
    from events_distinct
    group by description_raw
),

final as (
    select
        d.description_raw,
        d.description_clean,
        d.description_canonical,
        d.rule_name,
        coalesce(c.event_count, 0) as event_count
    from descriptions_in as d
    left join distinct_counts as c
        on d.description_raw <=> c.description_raw
)

select * from final
order by event_count desc, description_raw asc nulls first
