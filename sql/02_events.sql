-- events: the events every later view reads, after the duplicates policy
-- (data.duplicate_events): "drop" keeps one row of each set of exact duplicates
-- (same member, interaction, time, description, label and categoricals), "keep"
-- and "error" pass every row through ("error" has already refused duplicates).
-- fragments:
--   {{ dedupe }}: "distinct" to drop exact duplicates, or nothing
-- params: none
with

source as (
    select * from source_events
),

final as (
    select {{ dedupe }} *
    from source
)

select * from final
