-- Every figure for every unit, own and total. Additive keys: a unit's total is the sum over its
-- subtree. Distinct keys count distinct items over the subtree's rows. Ratios divide the two
-- keys they name, over the same scope (null where the denominator is 0).
with units as (
    select * from lf.units
),

keys as (
    select * from lf.figure_keys
),

facts as (
    select * from lf.mart_figure_facts
),

closure as (
    select * from lf.unit_closure
),

own_sum as (
    select
        unit_code,
        key,
        sum(amount) as own
    from facts
    group by unit_code, key
),

total_sum as (
    select
        closure.ancestor as unit_code,
        facts.key,
        sum(facts.amount) as total
    from facts
    inner join closure on facts.unit_code = closure.descendant
    group by closure.ancestor, facts.key
),

own_distinct as (
    select
        unit_code,
        key,
        count(distinct item) as own
    from facts
    where item is not null
    group by unit_code, key
),

total_distinct as (
    select
        closure.ancestor as unit_code,
        facts.key,
        count(distinct facts.item) as total
    from facts
    inner join closure on facts.unit_code = closure.descendant
    where facts.item is not null
    group by closure.ancestor, facts.key
),

grid as (
    select
        units.code as unit_code,
        keys.key,
        keys.agg,
        keys.numerator,
        keys.denominator,
        keys.ord
    from units
    cross join keys
),

base as (
    select
        grid.unit_code,
        grid.key,
        grid.agg,
        grid.numerator,
        grid.denominator,
        grid.ord,
        case grid.agg
            when 'sum' then coalesce(own_sum.own, 0)
            when 'distinct' then coalesce(own_distinct.own, 0)
        end as own,
        case grid.agg
            when 'sum' then coalesce(total_sum.total, 0)
            when 'distinct' then coalesce(total_distinct.total, 0)
        end as total
    from grid
    left join own_sum on grid.unit_code = own_sum.unit_code and grid.key = own_sum.key
    left join total_sum on grid.unit_code = total_sum.unit_code and grid.key = total_sum.key
    left join own_distinct on grid.unit_code = own_distinct.unit_code and grid.key = own_distinct.key
    left join total_distinct
        on grid.unit_code = total_distinct.unit_code and grid.key = total_distinct.key
),

ratios as (
    select
        base.unit_code,
        base.key,
        case when den.own = 0 then null else num.own / den.own end as own,
        case when den.total = 0 then null else num.total / den.total end as total
    from base
    inner join base as num on base.unit_code = num.unit_code and base.numerator = num.key
    inner join base as den on base.unit_code = den.unit_code and base.denominator = den.key
    where base.agg = 'ratio'
),

final as (
    select
        base.unit_code,
        units.name as unit_name,
        units.level,
        units.parent_code,
        base.key,
        base.ord,
        coalesce(ratios.own, case when base.agg = 'ratio' then null else base.own end) as own,
        coalesce(ratios.total, case when base.agg = 'ratio' then null else base.total end) as total
    from base
    inner join units on base.unit_code = units.code
    left join ratios on base.unit_code = ratios.unit_code and base.key = ratios.key
)

select * from final
