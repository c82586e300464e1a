-- member_history: recency and frequency per member, strictly before each interaction's
-- prediction time (its first event; an interaction at the same microsecond is not
-- earlier). Day gaps are fractional days (double: a decimal literal would round
-- them); a feature with no earlier interaction to look at is null.
-- the rolling windows are [t - N days, t): an interaction exactly N days back counts.
-- escalations are dated when they happened (the first escalating event of an earlier
-- interaction), not when that interaction started: an earlier interaction that
-- escalates only after this one starts does not count, since it had not happened at
-- prediction time.
-- the history features (previous interaction, earlier escalations, tenure) look back
-- over the history window only, so that a daily scoring run reads a bounded slice of
-- events and still computes exactly what training computed.
-- decayed counts: sum over earlier interactions (escalations) in the history window of
-- 2^(-age / half-life), age in days (Cox & Lewis; the "exponentially weighted count"
-- of recency-frequency models). Computed as 2^(-(t - a)/h) * sum 2^((t_j - a)/h) with
-- a = the member's first interaction time in the data read, so one window sum serves
-- every row; the exponent stays below 1024 for up to ~19 years of data at h = 7 days.
-- hour_of_day (0-23) and day_of_week (0 = Monday) are of the prediction time in UTC,
-- from its microseconds, so that they do not depend on the session time zone.
-- fragments:
--   {{ categorical_columns }}: ", cat_<name>" for each categorical
--   {{ history_micros }}: the history window in microseconds (an integer literal)
-- params: none
with

interactions_std as (
    select * from interactions
),

-- one row per prediction time and one per escalation, in one time line per member:
-- every feature below is one window over it (one sort, and no shuffle: `interactions`
-- comes out partitioned by member), with the interaction counts taken over the
-- prediction rows and the escalation counts over the escalation rows. Each
-- interaction gives its rows with `inline` (a union of two reads would run the
-- interaction aggregation twice); an escalation row repeats its interaction's
-- columns, which only the prediction rows use, and is dropped at the end
timeline as (
    select
        interaction_id,
        member_id,
        interaction_ts,
        n_events,
        descriptions,
        label
        {{ categorical_columns }},
        duplicate_events,
        ts_us,
        is_escalation
    from interactions_std
    lateral view inline(
        case
            when escalation_ts is null then array(
                named_struct('ts_us', unix_micros(interaction_ts), 'is_escalation', 0)
            )
            else array(
                named_struct('ts_us', unix_micros(interaction_ts), 'is_escalation', 0),
                named_struct('ts_us', unix_micros(escalation_ts), 'is_escalation', 1)
            )
        end
    ) timeline_rows as ts_us, is_escalation
),

anchored as (
    select
        *,
        min(case when is_escalation = 0 then ts_us end) over (
            partition by member_id order by ts_us
            rows between unbounded preceding and unbounded following
        ) as anchor_us
    from timeline
),

windowed as (
    select
        *,
        max(case when is_escalation = 0 then ts_us end) over before_now as prev_ts_us,
        min(case when is_escalation = 0 then ts_us end) over before_now as first_ts_us,
        count(case when is_escalation = 0 then 1 end) over (
            partition by member_id order by ts_us
            range between 604800000000 preceding and 1 preceding
        ) as calls_prev_7d,
        count(case when is_escalation = 0 then 1 end) over (
            partition by member_id order by ts_us
            range between 2592000000000 preceding and 1 preceding
        ) as calls_prev_30d,
        count(case when is_escalation = 0 then 1 end) over (
            partition by member_id order by ts_us
            range between 7776000000000 preceding and 1 preceding
        ) as calls_prev_90d,
        count(case when is_escalation = 0 then 1 end) over before_now as prior_interactions,
        sum(case when is_escalation = 0 then pow(2.0d, (ts_us - anchor_us) / 6.048e11) end)
            over before_now as calls_decay_7d_raw,
        sum(case when is_escalation = 0 then pow(2.0d, (ts_us - anchor_us) / 2.592e12) end)
            over before_now as calls_decay_30d_raw,
        coalesce(sum(is_escalation) over before_now, 0) as prior_escalations,
        max(case when is_escalation = 1 then ts_us end)
            over before_now as last_escalation_ts_us,
        sum(case when is_escalation = 1 then pow(2.0d, (ts_us - anchor_us) / 2.592e12) end)
            over before_now as escalations_decay_30d_raw,
        sum(case when is_escalation = 1 then pow(2.0d, (ts_us - anchor_us) / 1.5552e13) end)
            over before_now as escalations_decay_180d_raw
    from anchored
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
        cast(prior_escalations as bigint) as prior_escalations,
        (ts_us - last_escalation_ts_us) / 8.64e10 as days_since_last_escalation,
        (ts_us - first_ts_us) / 8.64e10 as tenure_days,
        cast(prior_interactions as bigint) as prior_interactions,
        coalesce(calls_decay_7d_raw * pow(2.0d, -(ts_us - anchor_us) / 6.048e11), 0.0d)
            as calls_decay_7d,
        coalesce(calls_decay_30d_raw * pow(2.0d, -(ts_us - anchor_us) / 2.592e12), 0.0d)
            as calls_decay_30d,
        coalesce(escalations_decay_30d_raw * pow(2.0d, -(ts_us - anchor_us) / 2.592e12), 0.0d)
            as escalations_decay_30d,
        coalesce(escalations_decay_180d_raw * pow(2.0d, -(ts_us - anchor_us) / 1.5552e13), 0.0d)
            as escalations_decay_180d,
        cast(floor(pmod(ts_us, 86400000000) / 3600000000) as int) as hour_of_day,
        cast(pmod(floor(ts_us / 86400000000) + 3, 7) as int) as day_of_week,
        duplicate_events
    from windowed
    where is_escalation = 0
)

select * from final
