-- interactions: one row per interaction: member, prediction time, event count, the set
-- of canonical descriptions, label = any event escalated, the time of the first
-- escalating event, and each categorical as its most frequent value (ties: the
-- smallest value, as `mode(col, true)`), counted on the event array.
-- prediction time: the interaction's first event (`interaction_ts`). History features
-- (sql/04_member_history.sql) look strictly before it.
-- content: descriptions, event count and categoricals come from the events up to and
-- including the first escalating event; events after it are dropped, because they
-- record what the escalation caused (transfers, complaints logged afterwards) and
-- would leak the label. An interaction that never escalates keeps every event.
-- one pass over the source events: a single group by interaction that also counts what
-- the event checks need (sql/checks/event_checks.sql sums these columns), so the
-- source is not read again for them. Each interaction's events come back as one array;
-- exact duplicate events (same member, interaction, time, description, label and
-- categoricals) are found within it (array_distinct), counted, and dropped or kept by
-- the duplicates policy (data.duplicate_events). Events with a null interaction id are
-- counted but never collected (they fail the checks).
-- fragments:
--   {{ categorical_fields }}: ", 'cat_<name>', cat_<name>" for each categorical (struct fields)
--   {{ categorical_modes }}: ", <most frequent non-null value of cat_<name>> as cat_<name>" for each
--   {{ dedupe }}: "array_distinct(events)" to drop exact duplicates, or "events"
-- params:
--   :now  timestamp  the time of the run: events after it are in the future
with

events_std as (
    select * from source_events
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

grouped as (
    select
        interaction_id,
        count(*) as source_events,
        count_if(member_id is null) as null_member_events,
        count_if(event_ts is null) as null_ts_events,
        count_if(label is null or label not in (0, 1)) as bad_label_events,
        count_if(event_ts > :now) as future_events,
        min(event_ts) as min_event_ts,
        max(event_ts) as max_event_ts,
        collect_list(
            case when interaction_id is not null then named_struct(
                'event_ts', event_ts,
                'label', label,
                'member_id', member_id,
                'description_raw', description_raw,
                'description_canonical', description_canonical
                {{ categorical_fields }}
            ) end
        ) as events
    from events_canonical
    group by interaction_id
),

deduplicated as (
    select
        *,
        size(events) - size(array_distinct(events)) as duplicate_events,
        size(array_distinct(filter(transform(events, e -> e.member_id), m -> m is not null)))
            as distinct_members,
        {{ dedupe }} as kept
    from grouped
),

escalations as (
    select
        *,
        array_min(transform(filter(kept, e -> e.label = 1), e -> e.event_ts)) as escalation_ts
    from deduplicated
),

content as (
    select
        *,
        filter(kept, e -> escalation_ts is null or e.event_ts <= escalation_ts) as shown
    from escalations
),

final as (
    select
        interaction_id,
        array_min(transform(kept, e -> e.member_id)) as member_id,
        array_min(transform(shown, e -> e.event_ts)) as interaction_ts,
        cast(size(shown) as bigint) as n_events,
        array_sort(array_distinct(filter(
            transform(shown, e -> e.description_canonical), d -> d is not null
        ))) as descriptions,
        array_max(transform(shown, e -> e.label)) as label,
        escalation_ts
        {{ categorical_modes }},
        source_events,
        null_member_events,
        null_ts_events,
        bad_label_events,
        future_events,
        cast(duplicate_events as bigint) as duplicate_events,
        cast(distinct_members as bigint) as distinct_members,
        min_event_ts,
        max_event_ts
    from content
)

select * from final
