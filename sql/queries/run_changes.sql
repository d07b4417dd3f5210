-- The §10 changes of the latest run (the `changes` view) with each unit's township-level ancestor
-- (the root's child it lies under; empty for the root itself), for the summary workbook and the
-- run report.
with changes as (
    select * from main.changes
),

townships as (
    select
        closure.descendant as unit_code,
        units.code as township_code,
        units.name as township_name
    from lf.unit_closure as closure
    inner join lf.units as units on closure.ancestor = units.code
    where units.depth = 1
),

final as (
    select
        changes.*,
        townships.township_code,
        townships.township_name
    from changes
    left join townships on changes.unit_code = townships.unit_code
    order by changes.path, changes.code, changes.table_title, changes.item_id
)

select * from final
