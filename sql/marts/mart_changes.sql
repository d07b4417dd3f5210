-- What changed between each accepted submission S and the unit's previous accepted submission P
-- (ledger.md §10), one row per warning on S:
--   W_ROW_VANISHED     an ID of P's 调研课题, 问题清单 or 整改措施 rows is not in S's same table
--                      (at S's sheet of that table, no row or cell);
--   W_COUNT_FELL       会议, 学习, 制度成果 or 工作部署 has fewer rows in S than in P (at S's sheet);
--   W_STATUS_BACKWARD  a topic report_formed, a problem closed or a measure done in P is no longer so
--                      in S (at S's status cell).
-- IDs are compared as stored, i.e. after §6 normalisation. Where each table and field stood in a
-- workbook comes from lf.parsed.layout: {table: {"sheet": …, "fields": {field: [letter, header]}}}.
with pairs as (
    select * from lf.mart_version_pairs
),

relevant as (
    select sha256 from pairs
    union
    select prev_sha256 as sha256 from pairs
),

layouts as (
    select
        parsed.sha256,
        parsed.layout
    from lf.parsed as parsed
    inner join relevant on parsed.sha256 = relevant.sha256
),

items as (
    select
        raw.sha256,
        'research' as tbl,
        'topic_id' as id_field,
        raw.topic_id as item_id,
        raw.status,
        raw.status = 'report_formed' as is_done,
        raw.sheet,
        raw.row
    from lf.raw_research as raw
    inner join relevant on raw.sha256 = relevant.sha256
    where raw.topic_id is not null
    union all
    select
        raw.sha256,
        'problems' as tbl,
        'problem_id' as id_field,
        raw.problem_id as item_id,
        raw.status,
        raw.status = 'closed' as is_done,
        raw.sheet,
        raw.row
    from lf.raw_problems as raw
    inner join relevant on raw.sha256 = relevant.sha256
    where raw.problem_id is not null
    union all
    select
        raw.sha256,
        'measures' as tbl,
        'measure_id' as id_field,
        raw.measure_id as item_id,
        raw.status,
        raw.status = 'done' as is_done,
        raw.sheet,
        raw.row
    from lf.raw_measures as raw
    inner join relevant on raw.sha256 = relevant.sha256
    where raw.measure_id is not null
),

row_counts as (
    select
        raw.sha256,
        'meetings' as tbl,
        count(*) as n
    from lf.raw_meetings as raw
    inner join relevant on raw.sha256 = relevant.sha256
    group by raw.sha256
    union all
    select
        raw.sha256,
        'study' as tbl,
        count(*) as n
    from lf.raw_study as raw
    inner join relevant on raw.sha256 = relevant.sha256
    group by raw.sha256
    union all
    select
        raw.sha256,
        'outcomes' as tbl,
        count(*) as n
    from lf.raw_outcomes as raw
    inner join relevant on raw.sha256 = relevant.sha256
    group by raw.sha256
    union all
    select
        raw.sha256,
        'plans' as tbl,
        count(*) as n
    from lf.raw_plans as raw
    inner join relevant on raw.sha256 = relevant.sha256
    group by raw.sha256
),

counted_tables as (
    select unnest(['meetings', 'study', 'outcomes', 'plans']) as tbl
),

vanished as (
    select
        pairs.path,
        pairs.sha256,
        pairs.unit_code,
        pairs.prev_path,
        pairs.prev_sha256,
        'W_ROW_VANISHED' as code,
        old.tbl,
        old.item_id,
        old.item_id as old_value,
        null::varchar as new_value,
        null::varchar as field,
        null::integer as row,
        old.sheet as prev_sheet,
        old.id_field as prev_field,
        old.row as prev_row
    from pairs
    inner join items as old on pairs.prev_sha256 = old.sha256
    where not exists (
        select 1
        from items as new
        where new.sha256 = pairs.sha256 and new.tbl = old.tbl and new.item_id = old.item_id
    )
),

backward as (
    select
        pairs.path,
        pairs.sha256,
        pairs.unit_code,
        pairs.prev_path,
        pairs.prev_sha256,
        'W_STATUS_BACKWARD' as code,
        old.tbl,
        old.item_id,
        old.status as old_value,
        new.status as new_value,
        'status' as field,
        new.row,
        old.sheet as prev_sheet,
        'status' as prev_field,
        old.row as prev_row
    from pairs
    inner join items as old on pairs.prev_sha256 = old.sha256 and old.is_done
    inner join items as new
        on
            pairs.sha256 = new.sha256
            and old.tbl = new.tbl
            and old.item_id = new.item_id
            and not new.is_done
),

fell as (
    select
        pairs.path,
        pairs.sha256,
        pairs.unit_code,
        pairs.prev_path,
        pairs.prev_sha256,
        'W_COUNT_FELL' as code,
        counted_tables.tbl,
        null::varchar as item_id,
        coalesce(old.n, 0)::varchar as old_value,
        coalesce(new.n, 0)::varchar as new_value,
        null::varchar as field,
        null::integer as row,
        null::varchar as prev_sheet,
        null::varchar as prev_field,
        null::integer as prev_row
    from pairs
    cross join counted_tables
    left join row_counts as old
        on pairs.prev_sha256 = old.sha256 and counted_tables.tbl = old.tbl
    left join row_counts as new
        on pairs.sha256 = new.sha256 and counted_tables.tbl = new.tbl
    where coalesce(new.n, 0) < coalesce(old.n, 0)
),

changes as (
    select * from vanished
    union all
    select * from backward
    union all
    select * from fell
),

final as (
    select
        changes.path,
        changes.sha256,
        changes.unit_code,
        changes.prev_path,
        changes.prev_sha256,
        changes.code,
        changes.tbl,
        changes.item_id,
        changes.old_value,
        changes.new_value,
        json_extract_string(s.layout, '$.' || changes.tbl || '.sheet') as sheet,
        changes.row,
        case
            when changes.field is not null
                then
                    json_extract_string(
                        s.layout, '$.' || changes.tbl || '.fields.' || changes.field || '[1]'
                    )
        end as "column",
        case
            when changes.field is not null
                then
                    json_extract_string(s.layout, '$.' || changes.tbl || '.fields.' || changes.field || '[0]')
                    || changes.row
        end as cell,
        changes.prev_sheet,
        changes.prev_field,
        json_extract_string(
            s.layout, '$.' || changes.tbl || '.fields.' || changes.prev_field || '[0]'
        ) is not null as id_column_in_new,
        json_extract_string(p.layout, '$.' || changes.tbl || '.fields.' || changes.prev_field || '[0]')
        || changes.prev_row as prev_cell
    from changes
    left join layouts as s on changes.sha256 = s.sha256
    left join layouts as p on changes.prev_sha256 = p.sha256
)

select * from final
