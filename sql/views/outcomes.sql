with effective as (
    select * from lf.mart_effective
),

rows as (
    select * from lf.raw_outcomes
),

final as (
    select
        effective.unit_code,
        effective.path,
        effective.as_of as submission_as_of,
        rows.*
    from rows
    inner join effective on rows.sha256 = effective.sha256
)

select * from final
