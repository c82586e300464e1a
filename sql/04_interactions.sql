-- interactions: one row per interaction: member, prediction time, event count, the set
-- of canonical descriptions, label = any event escalated, the time of the first
-- escalating event, and each categorical as its most frequent value (ties: the
-- smallest value).
-- prediction time: the interaction's first event (`interaction_ts`). History features
-- (sql/04_member_history.sql) look strictly before it.
-- content: descriptions, event count and categoricals come from the events up to and
-- including the first escalating event; events after it are dropped, because they
-- record what the escalation caused (transfers, complaints logged afterwards) and
-- would leak the label. An interaction that never escalates keeps every event.
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

events_timed as (
    select
        *,
        min(case when label = 1 then event_ts end)
            over (partition by interaction_id) as escalation_ts
    from events_canonical
),

events_until_escalation as (
    select *
    from events_timed
    where escalation_ts is null or event_ts <= escalation_ts
),

final as (
    select
        interaction_id,
        min(member_id) as member_id,
        min(event_ts) as interaction_ts,
        count(*) as n_events,
        array_sort(collect_set(description_canonical)) as descriptions,
        max(label) as label,
        min(escalation_ts) as escalation_ts
        {{ categorical_modes }}
    from events_until_escalation
    group by interaction_id
)

select * from final
