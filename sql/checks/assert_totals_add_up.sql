-- For additive keys, every unit's total equals its own plus its children's totals.
with rollup as (
    select * from lf.rollup
),

keys as (
    select key from lf.figure_keys
    where agg = 'sum'
),

children as (
    select
        rollup.parent_code as unit_code,
        rollup.key,
        sum(rollup.total) as children_total
    from rollup
    where rollup.parent_code is not null and rollup.parent_code <> ''
    group by rollup.parent_code, rollup.key
),

final as (
    select
        rollup.unit_code,
        rollup.key,
        rollup.own,
        rollup.total,
        coalesce(children.children_total, 0) as children_total
    from rollup
    inner join keys on rollup.key = keys.key
    left join children on rollup.unit_code = children.unit_code and rollup.key = children.key
    where abs(rollup.total - rollup.own - coalesce(children.children_total, 0)) > 1e-9
)

select * from final
