-- The rows behind one figure of one unit: own scope (the unit's own effective submission) or total
-- scope (the unit and every unit below it), each with its file, sheet and cell.
with facts as (
    select * from lf.mart_figure_facts
    where key = $key
),

scope as (
    select descendant as unit_code
    from lf.unit_closure
    where ancestor = $unit and ($scope = 'total' or descendant = $unit)
),

final as (
    select
        facts.unit_code,
        facts.path,
        facts.sheet,
        facts.row,
        facts.cell,
        facts.amount,
        facts.item
    from facts
    inner join scope on facts.unit_code = scope.unit_code
    order by facts.unit_code, facts.path, facts.sheet, facts.row
)

select * from final
