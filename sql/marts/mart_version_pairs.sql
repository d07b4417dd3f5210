-- Each accepted submission S of this run beside the unit's previous accepted submission P
-- (ledger.md §10): the accepted one of the same unit with the latest 统计截止日期 before S's; on a
-- tie the one first seen, then the one whose path sorts last (as in §3). A unit's first accepted
-- submission has no row. Rejected files and duplicates take no part, so a rejected resubmission
-- is compared with nothing and the next accepted one with the last accepted one.
with accepted as (
    select
        run_files.path,
        run_files.sha256,
        run_files.unit_code,
        parsed.as_of,
        seen.first_seen_run
    from lf.run_files as run_files
    inner join lf.parsed as parsed on run_files.sha256 = parsed.sha256
    left join lf.file_seen as seen on run_files.sha256 = seen.sha256
    where
        run_files.run_id = $run_id
        and run_files.verdict = 'accepted'
        and run_files.unit_code is not null
        and parsed.as_of is not null
),

earlier as (
    select
        s.path,
        s.sha256,
        s.unit_code,
        s.as_of,
        p.path as prev_path,
        p.sha256 as prev_sha256,
        p.as_of as prev_as_of,
        row_number() over (
            partition by s.path
            order by p.as_of desc, p.first_seen_run asc, p.path desc
        ) as rank_before
    from accepted as s
    inner join accepted as p
        on s.unit_code = p.unit_code and s.as_of > p.as_of
),

final as (
    select
        path,
        sha256,
        unit_code,
        as_of,
        prev_path,
        prev_sha256,
        prev_as_of
    from earlier
    where rank_before = 1
)

select * from final
