-- Every file of the run has exactly one status row.
with files as (
    select * from lf.stg_run_files
),

final as (
    select
        path,
        count(*) as n
    from files
    group by path
    having count(*) <> 1
)

select * from final
