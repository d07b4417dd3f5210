-- What changed between versions of a unit's ledger (ledger.md §10), as of the latest run.
with latest as (
    select max(run_id) as run_id from lf.runs
    where status = 'completed'
),

changes as (
    select run_changes.*
    from lf.run_changes as run_changes
    inner join latest on run_changes.run_id = latest.run_id
),

units as (
    select
        code,
        name
    from lf.units
),

final as (
    select
        changes.unit_code,
        units.name as unit_name,
        changes.path,
        changes.prev_path,
        changes.code,
        changes.tbl as table_name,
        changes.table_title,
        changes.item_id,
        changes.old_value,
        changes.new_value,
        changes.old_label,
        changes.new_label,
        changes.sheet,
        changes.cell,
        changes.prev_sheet,
        changes.prev_cell,
        changes.message
    from changes
    left join units on changes.unit_code = units.code
)

select * from final
