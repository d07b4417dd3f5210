-- One row per unit with an effective submission as of $as_of.
with submissions as (
    select * from lf.mart_submissions
),

parsed as (
    select * from lf.parsed
),

final as (
    select
        submissions.unit_code,
        submissions.sha256,
        submissions.path,
        submissions.as_of,
        parsed.members,
        parsed.members_with_plan
    from submissions
    inner join parsed on submissions.sha256 = parsed.sha256
    where submissions.status = 'effective'
)

select * from final
