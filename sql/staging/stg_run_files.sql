-- Every file under the inbox in this run, with the verdict resolution gave it.
with run_files as (
    select *
    from lf.run_files
    where run_id = $run_id
),

parsed as (
    select
        sha256,
        as_of
    from lf.parsed
),

seen as (
    select
        sha256,
        first_seen_run
    from lf.file_seen
),

final as (
    select
        run_files.path,
        run_files.sha256,
        run_files.size,
        run_files.submitter,
        run_files.kind,
        run_files.reason,
        run_files.unit_code,
        run_files.charged_unit,
        run_files.verdict,
        run_files.errors,
        run_files.warnings,
        parsed.as_of,
        seen.first_seen_run
    from run_files
    left join parsed on run_files.sha256 = parsed.sha256
    left join seen on run_files.sha256 = seen.sha256
)

select * from final
