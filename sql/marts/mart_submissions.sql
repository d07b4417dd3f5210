-- The status of every inbox file as of $as_of (ledger.md §3): the effective submission of a unit
-- is its accepted one with the latest 统计截止日期 not after the date; on a tie the one first
-- seen, then the one whose path sorts last.
with files as (
    select * from lf.stg_run_files
),

candidates as (
    select
        path,
        row_number() over (
            partition by unit_code
            order by as_of desc, first_seen_run asc, path desc
        ) as rank_in_unit
    from files
    where verdict = 'accepted' and as_of <= $as_of
),

final as (
    select
        files.path,
        files.sha256,
        files.submitter,
        files.unit_code,
        files.as_of,
        files.errors,
        files.warnings,
        files.charged_unit,
        files.first_seen_run,
        case
            when files.kind = 'ignored' then 'ignored'
            when files.verdict = 'duplicate' then 'duplicate'
            when files.verdict = 'rejected' then 'rejected'
            when files.as_of > $as_of then 'later'
            when candidates.rank_in_unit = 1 then 'effective'
            else 'superseded'
        end as status
    from files
    left join candidates on files.path = candidates.path
)

select * from final
