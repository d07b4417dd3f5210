-- rollup.csv as the text it holds, one row per unit and key (interface.md): the same rules as
-- ledgerflow.outputs.safe.write_csv, so the file streams from DuckDB instead of through pandas.
-- Text: XML-illegal control characters dropped; a cell beginning with = + - @ tab or CR gets a
-- leading apostrophe; empty text is an empty cell. Numbers: integral values as integers
-- (3.0 -> 3), others in the shortest form that reads back exactly (0.7813).
with rollup as (
    select * from lf.rollup
),

cleaned as (
    select
        unit_code as sort_code,
        ord as sort_ord,
        regexp_replace(unit_code, '[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]', '', 'g') as unit_code,
        regexp_replace(unit_name, '[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]', '', 'g') as unit_name,
        regexp_replace(level, '[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]', '', 'g') as level,
        regexp_replace(parent_code, '[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]', '', 'g') as parent_code,
        regexp_replace(key, '[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]', '', 'g') as key,
        own,
        total
    from rollup
),

final as (
    select
        nullif(
            case when regexp_matches(unit_code, '^[=+\-@\t\r]') then '''' || unit_code else unit_code end, ''
        ) as unit_code,
        nullif(
            case when regexp_matches(unit_name, '^[=+\-@\t\r]') then '''' || unit_name else unit_name end, ''
        ) as unit_name,
        nullif(
            case when regexp_matches(level, '^[=+\-@\t\r]') then '''' || level else level end, ''
        ) as level,
        nullif(
            case
                when regexp_matches(parent_code, '^[=+\-@\t\r]') then '''' || parent_code else parent_code
            end,
            ''
        ) as parent_code,
        nullif(case when regexp_matches(key, '^[=+\-@\t\r]') then '''' || key else key end, '') as key,
        case
            when own = trunc(own) and abs(own) < 1e30 then cast(cast(own as hugeint) as varchar)
            else cast(own as varchar)
        end as own,
        case
            when total = trunc(total) and abs(total) < 1e30 then cast(cast(total as hugeint) as varchar)
            else cast(total as varchar)
        end as total
    from cleaned
    order by sort_code, sort_ord
)

select * from final
