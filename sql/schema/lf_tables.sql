-- Internal tables of the warehouse (schema lf). Analysts use the views in schema main instead.
create schema if not exists lf;

create table if not exists lf.meta (
    key varchar primary key,
    value varchar
);

create table if not exists lf.runs (
    run_id integer primary key,
    started_at timestamptz,
    finished_at timestamptz,
    as_of date,
    inbox varchar,
    registry varchar,
    files_seen integer,
    files_parsed integer,
    status varchar
);

create table if not exists lf.file_seen (
    sha256 varchar primary key,
    first_seen_run integer,
    first_seen_at timestamptz
);

create table if not exists lf.path_seen (
    path varchar,
    sha256 varchar,
    first_seen_run integer,
    primary key (path, sha256)
);

create table if not exists lf.units (
    code varchar primary key,
    name varchar,
    type varchar,
    parent_code varchar,
    aliases varchar[],
    must_report boolean,
    depth integer,
    level varchar,
    registry_row integer
);

create table if not exists lf.run_files (
    run_id integer,
    path varchar,
    sha256 varchar,
    size bigint,
    submitter varchar,
    kind varchar,
    reason varchar,
    unit_code varchar,
    charged_unit varchar,
    verdict varchar,
    errors integer,
    warnings integer
);

create table if not exists lf.run_issues (
    run_id integer,
    path varchar,
    sha256 varchar,
    unit_code varchar,
    sheet varchar,
    row integer,
    "column" varchar,
    cell varchar,
    code varchar,
    severity varchar,
    message varchar,
    value varchar
);

-- The §10 changes of each run (ledger.md §10): lf.mart_changes with its labels and message.
create table if not exists lf.run_changes (
    run_id integer,
    path varchar,
    unit_code varchar,
    prev_path varchar,
    code varchar,
    tbl varchar,
    table_title varchar,
    item_id varchar,
    old_value varchar,
    new_value varchar,
    old_label varchar,
    new_label varchar,
    sheet varchar,
    cell varchar,
    prev_sheet varchar,
    prev_cell varchar,
    message varchar
);

create table if not exists lf.run_rollup (
    run_id integer,
    unit_code varchar,
    key varchar,
    own double,
    total double
);

create table if not exists lf.figure_keys (
    ord integer,
    key varchar primary key,
    agg varchar,
    numerator varchar,
    denominator varchar
);
