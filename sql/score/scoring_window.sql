-- scoring_window: the interactions of the scoring window with their features, in the
-- shape of `features` (split 'test', weight 1), ready to be scored.
-- fragments: none
-- params:
--   :window_start  timestamp  first interaction time to score
--   :window_end    timestamp  end of the window (exclusive)
with

history as (
    select * from member_history
),

final as (
    select
        *,
        'test' as split,
        true as in_sample,
        1.0d as sample_weight
    from history
    where interaction_ts >= :window_start and interaction_ts < :window_end
)

select * from final
