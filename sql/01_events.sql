-- events: raw service events under standard names and types, one row per event.
-- fragments (rendered by src/sql.rs from validated, back-quoted identifiers):
--   {{ member_id }}, {{ interaction_id }}, {{ description }}: source columns
--   {{ event_ts }}: the event time as a timestamp expression (cast or try_to_timestamp)
--   {{ label }}: the label as an int expression
--   {{ categoricals }}: ", cast(`col` as string) as cat_<name>" for each categorical
-- params: none
with

source as (
    select * from rc_source
),

final as (
    select
        cast({{ member_id }} as string) as member_id,
        cast({{ interaction_id }} as string) as interaction_id,
        {{ event_ts }} as event_ts,
        cast({{ description }} as string) as description_raw,
        {{ label }} as label
        {{ categoricals }}
    from source
)

select * from final
