-- in_spark_scores: the fitted model compiled to SQL and applied to every interaction
-- of the scoring window on the cluster; only the rows to contact come back.
-- fragments (compiled by src/score.rs from model.json; strings as hex literals):
--   {{ description_tokens }}: the words of the interaction's descriptions (src/encode/tokens.rs)
--   {{ standardized_features }}: array(<(transform(x_j) - mean_j) / scale_j>, ...)
--   {{ coefficients }}: array(<beta_j>, ...)
--   {{ intercept }}: the fitted intercept, a double literal
--   {{ calibration_a }}, {{ calibration_b }}: the Platt map sigmoid(a + b z), double literals
--   {{ selection }}: "where score >= <threshold>" or nothing, then the order and limit
-- params: none
with

window_rows as (
    select * from scoring_window
),

tokenized as (
    select
        *,
        {{ description_tokens }} as description_tokens
    from window_rows
),

standardized as (
    select
        interaction_id,
        member_id,
        interaction_ts,
        label,
        {{ standardized_features }} as z
    from tokenized
),

scored as (
    select
        *,
        1.0d / (
            1.0d + exp(-(
                {{ calibration_a }} + {{ calibration_b }} * (
                    {{ intercept }}
                    + aggregate(zip_with(z, {{ coefficients }}, (a, b) -> a * b), 0.0d, (acc, v) -> acc + v)
                )
            ))
        ) as score
    from standardized
),

final as (
    select * from scored
    {{ selection }}
)

select * from final
