with latest as (
    select max(run_id) as run_id from lf.runs
    where status = 'completed'
),

issues as (
    select run_issues.*
    from lf.run_issues as run_issues
    inner join latest on run_issues.run_id = latest.run_id
),

final as (
    select
        path,
        unit_code,
        sheet,
        row,
        "column",
        cell,
        code,
        severity,
        message,
        value
    from issues
)

select * from final
