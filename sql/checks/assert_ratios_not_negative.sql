-- Ratios are never negative (plan coverage may exceed 1 where a unit reports more plans than
-- members, which is a warning, not an error).
with rollup as (
    select * from lf.rollup
),

keys as (
    select key from lf.figure_keys
    where agg = 'ratio'
),

final as (
    select rollup.*
    from rollup
    inner join keys on rollup.key = keys.key
    where rollup.own < 0 or rollup.total < 0
)

select * from final
