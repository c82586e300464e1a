-- source_events: raw service events under standard names and types, one row per event,
-- exact duplicates included (the event checks count them; sql/02_events.sql applies the policy).
-- fragments (rendered by src/sql.rs from validated, back-quoted identifiers):
--   {{ member_id }}, {{ interaction_id }}, {{ description }}: source columns
--   {{ event_ts }}: the event time as a timestamp expression (cast or try_to_timestamp)
--   {{ label }}: the label as an int expression
--   {{ categoricals }}: ", cast(`col` as string) as cat_<name>" for each categorical
-- params:
--   :read_from  timestamp  first event time to read, or null for no bound
--   :read_to    timestamp  end of the events to read (exclusive), or null
-- a daily scoring run bounds the read to its window plus the history look-back; the
-- training run reads everything (null bounds), so the event checks see every row.
with

source as (
    select * from rc_source
),

standardized as (
    select
        cast({{ member_id }} as string) as member_id,
        cast({{ interaction_id }} as string) as interaction_id,
        {{ event_ts }} as event_ts,
        cast({{ description }} as string) as description_raw,
        {{ label }} as label
        {{ categoricals }}
    from source
),

final as (
    select *
    from standardized
    where
        (:read_from is null or event_ts >= :read_from)
        and (:read_to is null or event_ts < :read_to)
)

select * from final
