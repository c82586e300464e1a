-- interactions: one row per interaction: member, time of the first event, event count,
-- the set of canonical descriptions, label = any event escalated, and each categorical
-- as its most frequent value (ties: the smallest value).
-- fragments:
--   {{ categorical_modes }}: ", mode(cat_<name>, true) as cat_<name>" for each categorical
-- params: none
with

events_std as (
    select * from events
),

descriptions_map as (
    select description_raw, description_canonical from descriptions
),

events_canonical as (
    select /*+ broadcast(d) */
        e.*,
        d.description_canonical
    from events_std as e
    left join descriptions_map as d on e.description_raw <=> d.description_raw
),

final as (
    select
        interaction_id,
        min(member_id) as member_id,
        min(event_ts) as interaction_ts,
        count(*) as n_events,
        array_sort(collect_set(description_canonical)) as descriptions,
        max(label) as label
        {{ categorical_modes }}
    from events_canonical
    group by interaction_id
)

select * from final
