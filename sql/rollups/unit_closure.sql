-- Every (ancestor, descendant) pair of the org tree, any depth; a unit is its own ancestor.
with recursive closure as (
    select
        code as ancestor,
        code as descendant
    from lf.units
    union all
    select
        closure.ancestor,
        units.code as descendant
    from closure
    inner join lf.units as units on closure.descendant = units.parent_code
),

final as (
    select distinct
        ancestor,
        descendant
    from closure
)

select * from final
