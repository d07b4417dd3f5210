-- The §10 changes of a run with each unit's township-level ancestor (the root's child it lies
-- under; empty for the root itself), for the summary workbook and the run report.
with changes as (
    select * from lf.run_changes
    where run_id = $run_id
),

units as (
    select * from lf.units
),

townships as (
    select
        closure.descendant as unit_code,
        units.code as township_code,
        units.name as township_name
    from lf.unit_closure as closure
    inner join units on closure.ancestor = units.code
    where units.depth = 1
),

final as (
    select
        changes.unit_code,
        units.name as unit_name,
        townships.township_code,
        townships.township_name,
        changes.path,
        changes.prev_path,
        changes.code,
        changes.table_title,
        changes.item_id,
        changes.old_label,
        changes.new_label,
        changes.sheet,
        changes.cell,
        changes.prev_sheet,
        changes.prev_cell,
        changes.message
    from changes
    left join units on changes.unit_code = units.code
    left join townships on changes.unit_code = townships.unit_code
    order by changes.path, changes.code, changes.table_title, changes.item_id
)

select * from final
