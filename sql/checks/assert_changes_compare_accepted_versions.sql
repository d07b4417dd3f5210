-- ledger.md §10: every change warning is on an accepted submission and compares it with an
-- accepted submission of the same unit whose 统计截止日期 is earlier. Returns the offending rows.
with changes as (
    select * from lf.mart_changes
),

files as (
    select
        run_files.path,
        run_files.unit_code,
        run_files.verdict,
        parsed.as_of
    from lf.run_files as run_files
    left join lf.parsed as parsed on run_files.sha256 = parsed.sha256
    where run_files.run_id = $run_id
),

final as (
    select
        changes.path,
        changes.prev_path,
        changes.code
    from changes
    left join files as s on changes.path = s.path
    left join files as p on changes.prev_path = p.path
    where
        s.verdict is distinct from 'accepted'
        or p.verdict is distinct from 'accepted'
        or s.unit_code is distinct from p.unit_code
        or not coalesce(s.as_of > p.as_of, false)
)

select * from final
