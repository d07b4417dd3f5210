"""Running the project's SQL files against a DuckDB connection.

SQL lives in ``sql/``: ``schema/`` holds DDL, ``staging/`` → ``marts/`` → ``rollups/`` hold one
SELECT each (named CTEs ending in ``select * from final``), materialised as ``lf.<file stem>``;
``views/`` holds the analysts' stable views (materialised as ``main.<file stem>``), and
``checks/`` holds queries that return offending rows. Values are always bound parameters.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from ledgerflow.records import ISSUE_SCHEMA, PARSED_SCHEMA, table_schema
from ledgerflow.template import Template, figure_keys

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
MODELS = (
    "staging/stg_run_files",
    "marts/mart_submissions",
    "marts/mart_effective",
    "marts/mart_figure_facts",
    "rollups/unit_closure",
    "rollups/rollup",
)
VIEWS = (
    "units",
    "submissions",
    "issues",
    "meetings",
    "study",
    "research",
    "problems",
    "measures",
    "outcomes",
    "plans",
    "org",
    "rollup",
    "changes",
)
_PARAM = re.compile(r"\$([a-z_]+)")
_COMMENT = re.compile(r"--[^\n]*")


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection of the run to ``path``, with the memory limit of the settings."""
    from ledgerflow.settings import Settings

    return duckdb.connect(str(path), read_only=read_only, config={"memory_limit": Settings().duckdb_memory})


def sql_text(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def bind(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """Only the parameters the statement uses (DuckDB refuses unused ones)."""
    used = set(_PARAM.findall(_COMMENT.sub("", sql)))
    missing = used - set(params)
    if missing:
        raise KeyError(f"SQL needs parameters {sorted(missing)}")
    return {k: v for k, v in params.items() if k in used}


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None):
    return con.execute(sql, bind(sql, params or {}))


def materialise(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> None:
    """``create or replace table lf.<stem> as <the file's select>``."""
    sql = sql_text(name)
    stem = Path(name).name
    con.execute(f"create or replace table lf.{stem} as {sql}", bind(sql, params))


def insert_arrow(
    con: duckdb.DuckDBPyConnection, target: str, table: pa.Table, *, create: bool = False
) -> None:
    """Bulk-insert an Arrow table (by column name) into ``target``; ``create`` makes it if absent.

    The table is registered under a private name: DuckDB's replacement scan would otherwise pick
    a catalog view of the same name as the Python variable."""
    con.register("_lf_arrow_in", table)
    try:
        if create:
            con.execute(f"create table if not exists {target} as select * from _lf_arrow_in limit 0")
        con.execute(f"insert into {target} by name select * from _lf_arrow_in")
    finally:
        con.unregister("_lf_arrow_in")


_DUCK_TYPES = {
    pa.string(): "varchar",
    pa.int64(): "bigint",
    pa.int32(): "integer",
    pa.date32(): "date",
    pa.list_(pa.string()): "varchar[]",
}


def _create_from_schema(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    """Create ``lf.<name>`` from an Arrow schema, or add the columns a warehouse made by an older
    version lacks (their values are NULL for the rows already there)."""
    insert_arrow(con, f"lf.{name}", schema.empty_table(), create=True)
    have = {
        r[0]
        for r in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'lf' and table_name = $t",
            {"t": name},
        ).fetchall()
    }
    for f in schema:
        if f.name not in have:
            con.execute(f'alter table lf.{name} add column "{f.name}" {_DUCK_TYPES[f.type]}')


def ensure_schema(con: duckdb.DuckDBPyConnection, tpl: Template) -> None:
    con.execute(sql_text("schema/lf_tables"))
    _create_from_schema(con, "parsed", PARSED_SCHEMA)
    _create_from_schema(con, "content_issues", ISSUE_SCHEMA)
    for name in tpl.tables:
        _create_from_schema(con, f"raw_{name}", table_schema(tpl, name))
    con.execute("delete from lf.figure_keys")
    insert_arrow(con, "lf.figure_keys", pa.Table.from_pylist(figure_keys(tpl)))


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """The analysts' views and their comments. Recreated only when their SQL or comments changed
    (a digest in lf.meta) or one of them is missing: the DDL costs ~0.2 s a run, and a view is
    bound to its tables when it is queried, so a rebuilt table needs no new view."""
    import hashlib

    sources = [(SQL_DIR / "views" / "comments.yaml").read_bytes()]
    sources += [(SQL_DIR / "views" / f"{view}.sql").read_bytes() for view in VIEWS]
    digest = hashlib.sha256(b"\0".join([",".join(VIEWS).encode(), *sources])).hexdigest()
    stored = con.execute("select value from lf.meta where key = 'views_sha256'").fetchone()
    present = {
        r[0]
        for r in con.execute("select view_name from duckdb_views() where schema_name = 'main'").fetchall()
    }
    if stored and stored[0] == digest and present.issuperset(VIEWS):
        return
    comments = yaml.safe_load(sources[0].decode("utf-8"))
    for view in VIEWS:
        con.execute(f"create or replace view main.{view} as {sql_text('views/' + view)}")
        spec = comments.get(view, {})
        if spec.get("_view"):
            con.execute(f"comment on view main.{view} is {_quote(spec['_view'])}")
        cols = [r[0] for r in con.execute(f"select * from main.{view} limit 0").description]
        for col in cols:
            text = spec.get(col)
            if text:
                con.execute(f'comment on column main.{view}."{col}" is {_quote(text)}')
    con.execute("insert or replace into lf.meta values ('views_sha256', ?)", [digest])


def _quote(text: str) -> str:
    """A string literal for COMMENT ON (DDL takes no parameters); text is ours, from comments.yaml."""
    return "'" + str(text).replace("'", "''") + "'"


def run_checks(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> dict[str, list[tuple]]:
    """Run every ``sql/checks/assert_*.sql``; return the offending rows of those that failed."""
    failed = {}
    for path in sorted((SQL_DIR / "checks").glob("assert_*.sql")):
        sql = path.read_text(encoding="utf-8")
        rows = con.execute(sql, bind(sql, params)).fetchall()
        if rows:
            failed[path.stem] = rows[:20]
    return failed
