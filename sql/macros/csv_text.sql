-- The text a CSV cell of ledgerflow holds, as DuckDB macros (the rules of
-- ledgerflow.outputs.safe.write_csv), for the files that stream from DuckDB:
-- csv_clean drops the control characters XML cannot hold; csv_text also gives a cell beginning
-- with = + - @ tab or CR a leading apostrophe and turns empty text into an empty cell;
-- csv_number writes integral values as integers (3.0 -> 3), others in the shortest exact form.
create or replace temp macro csv_clean(t) as
regexp_replace(t, '[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]', '', 'g');

create or replace temp macro csv_text(t) as
nullif(
    case when regexp_matches(csv_clean(t), '^[=+\-@\t\r]') then '''' || csv_clean(t) else csv_clean(t) end, ''
);

create or replace temp macro csv_number(x) as
case when x = trunc(x) and abs(x) < 1e30 then cast(cast(x as hugeint) as varchar) else cast(x as varchar) end;
