-- event_checks: one row of counts that decide whether the events can be used.
-- fragments: none
-- params:
--   :now  timestamp  the time of the run: events after it are in the future
with

events_std as (
    select * from source_events
),

final as (
    select
        count(*) as n_events,
        count_if(member_id is null) as null_member,
        count_if(interaction_id is null) as null_interaction,
        count_if(event_ts is null) as null_ts,
        count_if(label is null or label not in (0, 1)) as bad_label,
        count_if(event_ts > :now) as future_ts,
        count(*) - count(distinct struct(*)) as duplicate_events,
        count(distinct interaction_id) as n_interactions,
        count(distinct interaction_id, member_id) as n_interaction_members,
        count(distinct member_id) as n_members,
        unix_micros(min(event_ts)) as min_ts_us,
        unix_micros(max(event_ts)) as max_ts_us
    from events_std
)

select * from final
