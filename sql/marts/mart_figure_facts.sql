-- The facts every figure of figures.md counts, one row per (unit, key): `amount` adds up, `item`
-- is counted distinct. Built from the effective rows only; the key list and how each key
-- aggregates live in lf.figure_keys (from the campaign template).
with effective as (
    select * from lf.mart_effective
),

meetings as (
    select
        effective.unit_code,
        effective.path,
        raw.sheet,
        raw.row,
        raw.cell,
        raw.kind,
        raw.phase
    from lf.raw_meetings as raw
    inner join effective on raw.sha256 = effective.sha256
),

study as (
    select
        effective.unit_code,
        effective.path,
        raw.sheet,
        raw.row,
        raw.cell,
        raw.kind,
        raw.participants
    from lf.raw_study as raw
    inner join effective on raw.sha256 = effective.sha256
),

research as (
    select
        effective.unit_code,
        effective.path,
        raw.sheet,
        raw.row,
        raw.cell,
        raw.status,
        raw.domain,
        raw.section,
        raw.methods,
        coalesce(raw.cadre_class, 'other') as cadre_class
    from lf.raw_research as raw
    inner join effective on raw.sha256 = effective.sha256
),

problems as (
    select
        effective.unit_code,
        effective.path,
        raw.sheet,
        raw.row,
        raw.cell,
        raw.status,
        raw.source,
        raw.kind,
        raw.deadline
    from lf.raw_problems as raw
    inner join effective on raw.sha256 = effective.sha256
),

measures as (
    select
        effective.unit_code,
        effective.path,
        raw.sheet,
        raw.row,
        raw.cell,
        raw.status
    from lf.raw_measures as raw
    inner join effective on raw.sha256 = effective.sha256
),

outcomes as (
    select
        effective.unit_code,
        effective.path,
        raw.sheet,
        raw.row,
        raw.cell,
        raw.kind
    from lf.raw_outcomes as raw
    inner join effective on raw.sha256 = effective.sha256
),

plans as (
    select
        effective.unit_code,
        effective.path,
        raw.sheet,
        raw.row,
        raw.cell,
        raw.kind
    from lf.raw_plans as raw
    inner join effective on raw.sha256 = effective.sha256
),

org as (
    select
        effective.unit_code,
        effective.path,
        raw.sheet,
        raw.row,
        raw.cell,
        raw.kind
    from lf.raw_org as raw
    inner join effective on raw.sha256 = effective.sha256
),

submissions as (
    select * from lf.mart_submissions
),

facts as (
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'meetings.total' as key,
        1 as amount,
        null as item
    from meetings
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'meetings.by_kind.' || kind,
        1,
        null
    from meetings
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'meetings.rectification.' || kind,
        1,
        null
    from meetings
    where phase = 'rectification' and kind in ('mobilization', 'progress')
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'meetings.units_mobilized',
        0,
        unit_code as item
    from meetings
    where kind in ('committee', 'party_group', 'branch_committee', 'members_meeting')
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'study.total',
        1,
        null
    from study
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'study.by_kind.' || kind,
        1,
        null
    from study
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'study.participants',
        coalesce(participants, 0),
        null
    from study
    union all
    select
        unit_code,
        path,
        null,
        null,
        null,
        'study.members',
        coalesce(members, 0),
        null
    from effective
    union all
    select
        unit_code,
        path,
        null,
        null,
        null,
        'study.members_with_plan',
        coalesce(members_with_plan, 0),
        null
    from effective
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.topics',
        1,
        null
    from research
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.by_status.' || status,
        1,
        null
    from research
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.reports_formed',
        1,
        null
    from research
    where status = 'report_formed'
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.reports_pending',
        1,
        null
    from research
    where status <> 'report_formed'
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.domains',
        0,
        domain
    from research
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.sections',
        0,
        section
    from research
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.by_domain.' || domain,
        1,
        null
    from research
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.by_section.' || section,
        1,
        null
    from research
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.by_method.' || method,
        1,
        null
    from (
        select
            unit_code,
            path,
            sheet,
            row,
            cell,
            unnest(list_distinct(methods)) as method
        from research
    ) as research_methods
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'research.by_cadre.' || cadre_class,
        1,
        null
    from research
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'rectification.problems',
        1,
        null
    from problems
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'rectification.by_status.' || status,
        1,
        null
    from problems
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'rectification.problems_closed',
        1,
        null
    from problems
    where status = 'closed'
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'rectification.problems_overdue',
        1,
        null
    from problems
    where status <> 'closed' and deadline < $as_of
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'rectification.by_source.' || source,
        1,
        null
    from problems
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'rectification.by_kind.' || kind,
        1,
        null
    from problems
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'rectification.measures',
        1,
        null
    from measures
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'rectification.measures_done',
        1,
        null
    from measures
    where status = 'done'
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'outcomes.rules',
        1,
        null
    from outcomes
    where kind = 'rule'
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'outcomes.experiences',
        1,
        null
    from outcomes
    where kind = 'experience'
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'plans.by_kind.' || kind,
        1,
        null
    from plans
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'plans.units_with_progress_table',
        0,
        unit_code as item
    from plans
    where kind = 'progress_table'
    union all
    select
        unit_code,
        path,
        sheet,
        row,
        cell,
        'org.by_kind.' || kind,
        1,
        null
    from org
    union all
    select
        code,
        null,
        null,
        null,
        null,
        'submissions.expected',
        1,
        null
    from lf.units
    where must_report
    union all
    select
        units.code,
        effective.path,
        null,
        null,
        null,
        'submissions.received',
        1,
        null
    from lf.units as units inner join effective on units.code = effective.unit_code
    where units.must_report
    union all
    select
        units.code,
        effective.path,
        null,
        null,
        null,
        'submissions.stale',
        1,
        null
    from lf.units as units inner join effective on units.code = effective.unit_code
    where units.must_report and effective.as_of < $as_of - to_days($stale_days)
    union all
    select
        charged_unit,
        path,
        null,
        null,
        null,
        'submissions.rejected_files',
        1,
        null
    from submissions
    where status = 'rejected' and charged_unit is not null
),

final as (
    select
        unit_code,
        key,
        cast(amount as double) as amount,
        cast(item as varchar) as item,
        path,
        sheet,
        cast(row as integer) as row,
        cell
    from facts
)

select * from final
