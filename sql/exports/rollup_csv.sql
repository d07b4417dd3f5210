-- rollup.csv as the text it holds, one row per unit and key (interface.md), with the macros of
-- sql/macros/csv_text.sql: the same text as ledgerflow.outputs.safe.write_csv would write, so the
-- file streams from DuckDB instead of through pandas.
with rollup as (
    select * from lf.rollup
),

final as (
    select
        csv_text(rollup.unit_code) as unit_code,
        csv_text(rollup.unit_name) as unit_name,
        csv_text(rollup.level) as level,
        csv_text(rollup.parent_code) as parent_code,
        csv_text(rollup.key) as key,
        csv_number(rollup.own) as own,
        csv_number(rollup.total) as total
    from rollup
    order by rollup.unit_code, rollup.ord
)

select * from final
