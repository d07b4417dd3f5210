with units as (
    select * from lf.units
),

final as (
    select
        code,
        name,
        type,
        parent_code,
        level,
        depth,
        must_report,
        aliases
    from units
)

select * from final
