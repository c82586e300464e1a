-- event_checks: one row of counts that decide whether the events can be used.
-- no pass of its own over the source: the counts over every event come out of the
-- descriptions pass (its `checks` per raw value, a few thousand rows), and those over
-- interactions out of `member_history` (one row per member and interaction id), both
-- computed once; read after they are materialized, this is a small query.
-- an interaction id with events under two members is two rows of member_history:
-- `n_interaction_members` counts the rows and `n_interactions` the distinct ids.
-- fragments: none
-- params: none
with

descriptions_in as (
    select event_count, checks from descriptions
),

history as (
    select member_id, interaction_id, duplicate_events from member_history
),

event_counts as (
    select
        coalesce(sum(event_count), 0) as n_events,
        coalesce(sum(checks.null_member_events), 0) as null_member,
        coalesce(sum(checks.null_interaction_events), 0) as null_interaction,
        coalesce(sum(checks.null_ts_events), 0) as null_ts,
        coalesce(sum(checks.bad_label_events), 0) as bad_label,
        coalesce(sum(checks.future_events), 0) as future_ts,
        unix_micros(min(checks.min_event_ts)) as min_ts_us,
        unix_micros(max(checks.max_event_ts)) as max_ts_us
    from descriptions_in
),

interaction_counts as (
    select
        coalesce(sum(duplicate_events), 0) as duplicate_events,
        count(distinct interaction_id) as n_interactions,
        count(*) as n_interaction_members,
        count(distinct member_id) as n_members
    from history
),

final as (
    select
        e.n_events,
        e.null_member,
        e.null_interaction,
        e.null_ts,
        e.bad_label,
        e.future_ts,
        i.duplicate_events,
        i.n_interactions,
        i.n_interaction_members,
        i.n_members,
        e.min_ts_us,
        e.max_ts_us
    from event_counts as e
    cross join interaction_counts as i
)

select * from final
