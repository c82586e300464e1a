-- descriptions: every distinct raw description with its cleaned and canonical value,
-- the rule that fired and its event count (the normalization audit): every source
-- row counts, exact duplicates too; under the drop policy, when the event checks find
-- duplicates, the audit recounts without them (sql/checks/normalization_audit.sql).
-- cleaning: trim, lower-case, collapse whitespace, strip edge punctuation; then the
-- first matching rule of rc_rules (ordered) gives the canonical value; unmatched
-- values keep their cleaned text; null or empty-after-cleaning become 'unknown'.
-- the same pass counts, per raw value, what the event checks need of every event
-- (`checks`: nulls, bad labels, future times, the time range; sql/checks/event_checks.sql
-- sums them), so that no other pass reads the source for them; partial aggregation
-- brings each to a few thousand rows before the shuffle.
-- fragments: none
-- params:
--   :now  timestamp  the time of the run: events after it are in the future
with

events_raw as (
    select description_raw, member_id, interaction_id, event_ts, label from source_events
),

rules as (
    select rule_order, rule_name, match_kind, pattern, canonical from rc_rules
),

raw_counts as (
    select
        description_raw,
        count(*) as event_count,
        named_struct(
            'null_member_events', count_if(member_id is null),
            'null_interaction_events', count_if(interaction_id is null),
            'null_ts_events', count_if(event_ts is null),
            'bad_label_events', count_if(label is null or label not in (0, 1)),
            'future_events', count_if(event_ts > :now),
            'min_event_ts', min(event_ts),
            'max_event_ts', max(event_ts)
        ) as checks
    from events_raw
    group by description_raw
),

cleaned as (
    select
        description_raw,
        event_count,
        checks,
        nullif(
            trim(
                regexp_replace(
                    regexp_replace(lower(trim(description_raw)), '\\s+', ' '),
                    '^[\\p{Punct}\\s]+|[\\p{Punct}\\s]+$',
                    ''
                )
            ),
            ''
        ) as description_clean
    from raw_counts
),

-- every cleaned value with its first matching rule; the counts ride along, so that
-- the events are read and counted once (used twice, `cleaned` would be computed twice)
matched as (
    select
        c.description_raw,
        c.description_clean,
        c.event_count,
        c.checks,
        min(r.rule_order) as rule_order
    from cleaned as c
    left join rules as r
        on (r.match_kind = 'exact' and c.description_clean = r.pattern)
        or (r.match_kind = 'regex' and c.description_clean rlike r.pattern)
    group by c.description_raw, c.description_clean, c.event_count, c.checks
),

final as (
    select
        m.description_raw,
        m.description_clean,
        case
            when m.description_clean is null then 'unknown'
            else coalesce(r.canonical, m.description_clean)
        end as description_canonical,
        case
            when m.description_clean is null then '(missing)'
            when r.rule_name is null then '(unmatched)'
            else r.rule_name
        end as rule_name,
        m.event_count,
        m.checks
    from matched as m
    left join rules as r on m.rule_order = r.rule_order
)

select * from final
