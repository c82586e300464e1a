-- test_window: the test window's rows exactly as `features` gives them (split 'test',
-- in sample, weight 1: the test window is never sampled), read straight from
-- member_history, so that pulling them does not compute the features view's member
-- sampling (a window over the training members, a cross join and a join), which
-- touches training rows only.
-- fragments: none
-- params:
--   :split_boundary  timestamp  test = interaction_ts on or after it (as in features)
with

history as (
    select * from member_history
),

final as (
    select
        *,
        'test' as split,
        true as in_sample,
        cast(1.0 as double) as sample_weight
    from history
    -- the rows features puts in 'test': not "interaction_ts < :split_boundary"
    where not coalesce(interaction_ts < :split_boundary, false)
)

select * from final
