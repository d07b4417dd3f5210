with rollup as (
    select * from lf.rollup
),

final as (
    select
        unit_code,
        unit_name,
        level,
        parent_code,
        key,
        own,
        total
    from rollup
)

select * from final
