-- features: the time split and the member-level negative downsampling of the
-- training window. Every member with a positive training interaction is kept; of the
-- other members, the ceil(ratio * positive members) with the smallest seeded hash are
-- kept (all of them if there are fewer), each row weighted by the inverse of the
-- negative sampling rate. The test window is never sampled, and neither is the
-- forward validation slice at the end of the training window: the operating
-- threshold is chosen there, and a precision estimated from a few heavily weighted
-- negatives is too noisy to trust. Its rows keep weight 1 (inclusion probability 1),
-- so the weights stay the inverse inclusion probability of every row.
-- fragments: none
-- params:
--   :split_boundary  timestamp  train = interaction_ts before it, test = on or after
--   :neg_pos_ratio   double     target negative members per positive member
--   :seed            bigint     hash seed: same seed, same members kept
--   :validation_from timestamp  first interaction time of the validation slice (never sampled)
with

history as (
    select * from member_history
),

split as (
    select
        *,
        case when interaction_ts < :split_boundary then 'train' else 'test' end as split
    from history
),

train_members as (
    select member_id, max(label) as positive_member
    from split
    where split = 'train'
    group by member_id
),

member_counts as (
    select
        coalesce(sum(positive_member), 0) as n_pos,
        count(*) - coalesce(sum(positive_member), 0) as n_neg
    from train_members
),

quota as (
    select
        n_pos,
        n_neg,
        least(n_neg, cast(ceil(:neg_pos_ratio * n_pos) as bigint)) as n_neg_kept
    from member_counts
),

ranked as (
    select
        member_id,
        positive_member,
        row_number() over (
            partition by positive_member
            order by xxhash64(:seed, member_id), member_id
        ) as hash_rank
    from train_members
),

sampled as (
    select
        r.member_id,
        r.positive_member = 1 or r.hash_rank <= q.n_neg_kept as keep,
        case
            when r.positive_member = 1 then 1.0
            else try_divide(cast(q.n_neg as double), cast(q.n_neg_kept as double))
        end as sample_weight
    from ranked as r
    cross join quota as q
),

final as (
    select
        s.*,
        coalesce(m.keep, s.split = 'test') or s.interaction_ts >= :validation_from as in_sample,
        case
            when s.split = 'test' or s.interaction_ts >= :validation_from then 1.0
            else m.sample_weight
        end as sample_weight
    from split as s
    left join sampled as m
        on s.split = 'train' and s.member_id = m.member_id
)

select * from final
