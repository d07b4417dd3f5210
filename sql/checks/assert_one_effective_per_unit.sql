-- No unit has more than one effective submission.
with effective as (
    select * from lf.mart_submissions
    where status = 'effective'
),

final as (
    select
        unit_code,
        count(*) as n
    from effective
    group by unit_code
    having count(*) > 1
)

select * from final
