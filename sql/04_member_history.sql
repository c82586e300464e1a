-- member_history: recency and frequency per member, strictly from earlier interactions
-- (an interaction at the same microsecond is not earlier). Day gaps are fractional
-- days (double: a decimal literal would round them); a feature with no earlier
-- interaction to look at is null.
-- the rolling windows are [t - N days, t): an interaction exactly N days back counts.
-- the history features (previous interaction, earlier escalations, tenure) look back
-- over the history window only, so that a daily scoring run reads a bounded slice of
-- events and still computes exactly what training computed.
-- fragments:
--   {{ categorical_columns }}: ", cat_<name>" for each categorical
--   {{ history_micros }}: the history window in microseconds (an integer literal)
-- params: none
with

interactions_std as (
    select * from interactions
),

timed as (
    select *, unix_micros(interaction_ts) as ts_us
    from interactions_std
),

windowed as (
    select
        *,
        max(ts_us) over before_now as prev_ts_us,
        min(ts_us) over before_now as first_ts_us,
        count(*) over (
            partition by member_id order by ts_us
            range between 604800000000 preceding and 1 preceding
        ) as calls_prev_7d,
        count(*) over (
            partition by member_id order by ts_us
            range between 2592000000000 preceding and 1 preceding
        ) as calls_prev_30d,
        count(*) over (
            partition by member_id order by ts_us
            range between 7776000000000 preceding and 1 preceding
        ) as calls_prev_90d,
        coalesce(sum(label) over before_now, 0) as prior_escalations,
        max(case when label = 1 then ts_us end) over before_now as last_escalation_ts_us
    from timed
    window before_now as (
        partition by member_id order by ts_us
        range between {{ history_micros }} preceding and 1 preceding
    )
),

final as (
    select
        interaction_id,
        member_id,
        interaction_ts,
        n_events,
        descriptions,
        label
        {{ categorical_columns }},
        (ts_us - prev_ts_us) / 8.64e10 as days_since_prev,
        calls_prev_7d,
        calls_prev_30d,
        calls_prev_90d,
        prior_escalations,
        (ts_us - last_escalation_ts_us) / 8.64e10 as days_since_last_escalation,
        (ts_us - first_ts_us) / 8.64e10 as tenure_days
    from windowed
)

select * from final
