-- event_checks: one row of counts that decide whether the events can be used.
-- the counts come out of the interaction aggregation (sql/03_interactions.sql), one
-- row per interaction id (the null id included), so the source is not read again;
-- read after `interactions` is materialized, this is a small query.
-- fragments: none
-- params: none
with

interactions_std as (
    select * from interactions
),

final as (
    select
        coalesce(sum(source_events), 0) as n_events,
        coalesce(sum(null_member_events), 0) as null_member,
        coalesce(sum(case when interaction_id is null then source_events end), 0)
            as null_interaction,
        coalesce(sum(null_ts_events), 0) as null_ts,
        coalesce(sum(bad_label_events), 0) as bad_label,
        coalesce(sum(future_events), 0) as future_ts,
        coalesce(sum(duplicate_events), 0) as duplicate_events,
        count_if(interaction_id is not null) as n_interactions,
        coalesce(sum(case when interaction_id is not null then distinct_members end), 0)
            as n_interaction_members,
        count(distinct member_id) as n_members,
        unix_micros(min(min_event_ts)) as min_ts_us,
        unix_micros(max(max_event_ts)) as max_ts_us
    from interactions_std
)

select * from final
