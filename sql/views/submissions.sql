with submissions as (
    select * from lf.mart_submissions
),

final as (
    select
        path,
        sha256,
        submitter,
        unit_code,
        as_of,
        status,
        errors,
        warnings,
        charged_unit
    from submissions
)

select * from final
