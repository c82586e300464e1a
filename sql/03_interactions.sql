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
-- one shuffle for this view and member_history together: the events are distributed
-- by member and grouped by (member, interaction), which that partitioning already
-- satisfies, and member_history's windows over members need no shuffle of their own.
-- An interaction id under two members gives two rows here; the event checks count
-- such ids and refuse the data (sql/checks/event_checks.sql), as they refuse events
-- without a member or an interaction id, which are left out here (the descriptions
-- pass counts them).
-- each interaction's events come back as one array; exact duplicate events (same
-- member, interaction, time, description, label and categoricals) are found within it
-- (array_distinct), counted (`duplicate_events`, summed by the event checks), and
-- dropped or kept by the duplicates policy (data.duplicate_events).
-- fragments:
--   {{ categorical_fields }}: ", 'cat_<name>', cat_<name>" for each categorical (struct fields)
--   {{ categorical_modes }}: ", <most frequent non-null value of cat_<name>> as cat_<name>" for each
--   {{ dedupe }}: "array_distinct(events)" to drop exact duplicates, or "events"
-- params: none
with

events_std as (
    select * from source_events
    where member_id is not null and interaction_id is not null
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

by_member as (
    select * from events_canonical
    distribute by member_id
),

grouped as (
    select
        member_id,
        interaction_id,
        collect_list(named_struct(
            'event_ts', event_ts,
            'label', label,
            'description_raw', description_raw,
            'description_canonical', description_canonical
            {{ categorical_fields }}
        )) as events
    from by_member
    group by member_id, interaction_id
),

deduplicated as (
    select
        *,
        size(events) - size(array_distinct(events)) as duplicate_events,
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
        member_id,
        array_min(transform(shown, e -> e.event_ts)) as interaction_ts,
        cast(size(shown) as bigint) as n_events,
        array_sort(array_distinct(filter(
            transform(shown, e -> e.description_canonical), d -> d is not null
        ))) as descriptions,
        array_max(transform(shown, e -> e.label)) as label,
        escalation_ts
        {{ categorical_modes }},
        cast(duplicate_events as bigint) as duplicate_events
    from content
)

select * from final
