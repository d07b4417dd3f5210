"""The pipeline's steps as plain, typed functions: inbox → discover → read/locate/normalise/validate
(per batch, in killable workers) → load → resolve → as of D → roll up → emit → publish.

Prefect tasks in ``tasks/`` wrap these; tests call them directly.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pyarrow as pa

from ledgerflow.discover import FileRef, describe, walk_inbox
from ledgerflow.records import parser_fingerprint, to_arrow, write_stage
from ledgerflow.registry import Registry, read_registry
from ledgerflow.resolve import resolve
from ledgerflow.sandbox import parse_files
from ledgerflow.settings import Limits
from ledgerflow.template import Template, load_template
from warehouse import db

ROLLUP_COLUMNS = ["unit_code", "unit_name", "level", "parent_code", "key", "own", "total"]
SUBMISSION_COLUMNS = ["path", "sha256", "submitter", "unit_code", "as_of", "status", "errors", "warnings"]
ISSUE_COLUMNS = ["path", "unit_code", "sheet", "row", "column", "cell", "code", "severity", "message"]


class RunFailed(RuntimeError):
    """The run could not complete; the published warehouse is unchanged."""


_FULL = ("No space left on device", "File too large", "Disk quota exceeded")


class DiskFull(RunFailed):
    """The disk filled up (or a file-size limit was hit) during one step of the run."""

    def __init__(self, step: str, where: str):
        super().__init__(
            f"磁盘空间已满：{step}时写入失败（{where}）。仓库和上次的输出均未改动，"
            "本次运行的临时文件已清除；请清理磁盘空间后重新运行。"
        )
        self.step, self.where = step, where


@contextmanager
def disk_step(step: str, place: Path):
    """Name the step (and the place written, where the error does not) when the disk fills up."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        hit = disk_full(exc)
        if hit is None:
            raise
        raise DiskFull(step, hit or str(place)) from exc


def disk_full(exc: BaseException) -> str | None:
    """Where the disk filled up, if that is why ``exc`` (or what caused it) was raised: the file
    being written (or "" where nobody said), else None. Covers Python's OSError (ENOSPC, EFBIG,
    EDQUOT, as raised with RLIMIT_FSIZE too) and DuckDB's I/O errors, which only say it in words."""
    import errno
    import re

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return str(e.filename or "")
        text = str(e)
        if any(word in text for word in _FULL):
            m = re.search(r'"([^"]+)"', text) or re.search(r"'([^']+)'", text)
            return m.group(1) if m else ""
        e = e.__cause__ or e.__context__
    return None


def today_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


# ---- registry and discovery -------------------------------------------------------------------


def registry_cache(warehouse: Path) -> Path:
    """Where a run keeps the rows of the registry workbook it read, beside the warehouse."""
    warehouse = Path(warehouse)
    return warehouse.with_name(f".{warehouse.name}.registry-cache.json")


def load_registry(path: Path, tpl: Template, warehouse: Path | None = None) -> Registry:
    cache = registry_cache(warehouse) if warehouse is not None else None
    return read_registry(Path(path), tpl, cache=cache)


def list_inbox(inbox: Path) -> list[tuple[str, str, bool]]:
    if not Path(inbox).is_dir():
        raise FileNotFoundError(f"收件箱目录不存在：{inbox}")
    return walk_inbox(Path(inbox))


def describe_files(entries: list[tuple[str, str, bool]], tpl: Template, registry: Registry) -> list[FileRef]:
    return [describe(rel, full, link, tpl, registry) for rel, full, link in entries]


def apply_rehash(files: list[FileRef], rehashed: dict[str, str]) -> list[FileRef]:
    """The files as parsed: a file whose bytes changed between listing and parsing takes the hash
    (and size) of what the parser read (``rehashed``: absolute path -> sha256)."""
    if not rehashed:
        return files
    import dataclasses

    out = []
    for f in files:
        new = rehashed.get(f.abspath)
        if new:
            try:
                size = os.stat(f.abspath).st_size
            except OSError:
                size = f.size
            f = dataclasses.replace(f, sha256=new, size=size)
        out.append(f)
    return out


# ---- parsing ----------------------------------------------------------------------------------


def known_shas(private: Path, tpl: Template) -> set[str]:
    """Workbooks already parsed by this reader with this template (others are parsed again)."""
    if not private.exists():
        return set()
    con = db.connect(private)
    try:
        cols = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'lf' and table_name = 'parsed'"
            ).fetchall()
        }
        if "parser" not in cols:
            return set()
        rows = con.execute("select sha256 from lf.parsed where parser = $fp", {"fp": parser_fingerprint(tpl)})
        return {r[0] for r in rows.fetchall()}
    finally:
        con.close()


def plan_batches(
    files: list[FileRef], known: set[str], workers: int, max_batch: int = 1000
) -> list[list[tuple[str, str]]]:
    """Unique, not yet parsed workbooks, split into batches (at least one per worker). A batch
    costs ≈0.1 s of its own (a task run, a frame contract check per table, a Parquet stage) and
    holds its files' parsed records in memory until staged (≈50 KB a workbook): up to 1,000
    workbooks a batch keeps the first small and the second under 50 MB."""
    todo: dict[str, str] = {}
    for f in files:
        if f.kind == "workbook" and f.sha256 not in known and f.sha256 not in todo:
            todo[f.sha256] = f.abspath
    items = sorted(todo.items(), key=lambda kv: kv[1])
    if not items:
        return []
    n = max(workers, math.ceil(len(items) / max_batch))
    n = min(n, len(items))
    return [items[i::n] for i in range(n)]


def parse_batch(
    batch: list[tuple[str, str]], template_path: str, limits: Limits, ingest_day: date, stage_dir: Path
) -> dict[str, Any]:
    """Parse one batch in a killable worker process and stage it as Parquet; returns a summary."""
    t0 = time.perf_counter()
    tpl = load_template(template_path)
    results = parse_files([p for _, p in batch], template_path, limits, ingest_day)
    # results are kept under the hash of the bytes the parser read: a file replaced since it was
    # listed is recorded as what was read, not under the hash of what was there before
    items, rehashed = [], {}
    for (sha, path), r in zip(batch, results, strict=True):
        if r.sha256 and r.sha256 != sha:
            rehashed[path] = r.sha256
        items.append((r.sha256 or sha, r))
    tables = to_arrow(items, tpl)
    from ledgerflow import contracts  # pandera: only a run that parses something needs it

    contracts.validate_batch(tables, tpl)
    write_stage(Path(stage_dir), tables)
    return {
        "stage": str(stage_dir),
        "files": len(batch),
        "unreadable": sum(1 for r in results if r.status == "unreadable"),
        "rows": sum(r.rows_read for r in results),
        "rehashed": rehashed,
        "seconds": time.perf_counter() - t0,
    }


# ---- warehouse --------------------------------------------------------------------------------


@dataclass
class RunContext:
    run_id: int
    as_of: date
    ingest_day: date
    started_at: datetime
    params: dict[str, Any] = field(default_factory=dict)


def begin_run(
    con: duckdb.DuckDBPyConnection, tpl: Template, as_of: date, inbox: Path, registry_path: Path
) -> RunContext:
    db.ensure_schema(con, tpl)
    run_id = con.execute("select coalesce(max(run_id), 0) + 1 from lf.runs").fetchone()[0]
    con.execute("insert or replace into lf.meta values ('stale_days', ?)", [str(tpl.stale_days)])
    started = datetime.now(ZoneInfo(tpl.timezone))
    con.execute(
        "insert into lf.runs (run_id, started_at, as_of, inbox, registry, status) values (?, ?, ?, ?, ?, 'running')",
        [run_id, started, as_of, str(inbox), str(registry_path)],
    )
    return RunContext(
        run_id=run_id,
        as_of=as_of,
        ingest_day=today_in(tpl.timezone),
        started_at=started,
        params={"run_id": run_id, "as_of": as_of, "stale_days": tpl.stale_days},
    )


def load_stages(
    con: duckdb.DuckDBPyConnection, tpl: Template, stages: list[str], run_id: int
) -> dict[str, int]:
    """Bulk-insert staged Parquet (Arrow) into the warehouse; returns rows loaded per table."""
    counts: dict[str, int] = {}
    if not stages:
        return counts
    names = ["parsed", "content_issues", *tpl.tables]
    targets = {n: f"lf.{n}" if n in ("parsed", "content_issues") else f"lf.raw_{n}" for n in names}
    # a workbook parsed again (by a newer reader or template) replaces what was kept of it
    parsed_files = [str(Path(s) / "parsed.parquet") for s in stages]
    for name in names:
        con.execute(
            f"delete from {targets[name]} where sha256 in (select sha256 from read_parquet($files))",
            {"files": parsed_files},
        )
    for name in names:
        files = [str(Path(s) / f"{name}.parquet") for s in stages]
        con.execute(
            f"insert into {targets[name]} by name select * from read_parquet($files)", {"files": files}
        )
        counts[name] = con.execute("select count(*) from read_parquet($files)", {"files": files}).fetchone()[
            0
        ]
    con.execute(
        """insert into lf.file_seen
           select sha256, $run_id, now() from lf.parsed
           where sha256 not in (select sha256 from lf.file_seen)""",
        {"run_id": run_id},
    )
    return counts


def _parsed_lookup(con: duckdb.DuckDBPyConnection, shas: list[str]) -> tuple[dict, dict]:
    con.register("_lf_shas", pa.table({"sha256": pa.array(sorted(set(shas)), pa.string())}))
    try:
        # con.sql(…).to_arrow_table(): a DB-API result's Arrow output makes an extra copy (DuckDB)
        parsed = (
            con.sql("select p.* from lf.parsed p join _lf_shas using (sha256)").to_arrow_table().to_pylist()
        )
        issues = con.sql(
            "select i.* from lf.content_issues i join _lf_shas using (sha256) order by i.sha256, i.seq"
        ).to_arrow_table()
        issues = issues.to_pylist()
    finally:
        con.unregister("_lf_shas")
    by_sha: dict[str, list[dict]] = {}
    for i in issues:
        by_sha.setdefault(i["sha256"], []).append(i)
    return {p["sha256"]: p for p in parsed}, by_sha


def record_run(
    con: duckdb.DuckDBPyConnection, ctx: RunContext, files: list[FileRef], registry: Registry, tpl: Template
) -> dict[str, int]:
    """Resolve every file of the inbox against the registry and record the run's files and issues."""
    units = pa.Table.from_pylist(
        [
            dict(
                code=u.code,
                name=u.name,
                type=u.type,
                parent_code=u.parent or None,
                aliases=list(u.aliases),
                must_report=u.must_report,
                depth=u.depth,
                level=u.level,
                registry_row=u.row,
            )
            for u in registry.units.values()
        ]
    )
    con.execute("delete from lf.units")
    db.insert_arrow(con, "lf.units", units)
    paths = pa.Table.from_pylist(
        [dict(path=f.path, sha256=f.sha256) for f in files if f.kind == "workbook"],
        schema=pa.schema([("path", pa.string()), ("sha256", pa.string())]),
    )
    con.register("_lf_paths", paths)
    try:
        con.execute(
            """insert into lf.path_seen
               select distinct path, sha256, $run_id from _lf_paths
               where (path, sha256) not in (select (path, sha256) from lf.path_seen)""",
            {"run_id": ctx.run_id},
        )
    finally:
        con.unregister("_lf_paths")
    first_seen = {
        (p, s): r
        for p, s, r in con.execute("select path, sha256, first_seen_run from lf.path_seen").fetchall()
    }
    parsed, content = _parsed_lookup(con, [f.sha256 for f in files if f.kind == "workbook"])
    res = resolve(files, parsed, content, first_seen, registry, tpl)
    if res.files:
        db.insert_arrow(
            con, "lf.run_files", pa.Table.from_pylist([{**r, "run_id": ctx.run_id} for r in res.files])
        )
    if res.issues:
        db.insert_arrow(
            con, "lf.run_issues", pa.Table.from_pylist([{**i, "run_id": ctx.run_id} for i in res.issues])
        )
    changes = record_changes(con, ctx, tpl)
    return {"files": len(res.files), "issues": len(res.issues) + changes}


def change_issues(changes: list[dict[str, Any]], tpl: Template) -> list[dict[str, Any]]:
    """The §10 changes (rows of lf.mart_changes) with their labels and message: each is a warning
    of the newer submission, its message quoting the ID (问题“WT-03”) or the counts (12→10)."""
    spec = tpl.raw.get("changes", {})
    nouns = spec.get("nouns", {})
    out = []
    for ch in changes:
        table = tpl.tables[ch["tbl"]]
        vocab = tpl.vocabularies[table.column("status").vocab] if ch["code"] == "W_STATUS_BACKWARD" else None

        def label(slug: str | None, vocab=vocab) -> str:
            return vocab.canonical.get(slug, slug or "") if vocab and slug else (slug or "")

        old, new = label(ch["old_value"]), label(ch["new_value"])
        if ch["code"] == "W_COUNT_FELL":
            value = f"{old}→{new}"
        elif ch["code"] == "W_STATUS_BACKWARD":
            value = new
        else:
            value = ch["item_id"]
        hint = ""
        if ch["code"] == "W_ROW_VANISHED" and not ch["id_column_in_new"]:
            id_label = table.column(ch["prev_field"]).label
            hint = spec.get("no_id_column", "").format(title=table.title, id_label=id_label)
        message = tpl.message(
            ch["code"],
            prev_file=ch["prev_path"],
            prev_sheet=ch["prev_sheet"] or "",
            prev_cell=ch["prev_cell"] or "",
            title=table.title,
            noun=nouns.get(ch["tbl"], table.title),
            id=ch["item_id"] or "",
            value=value,
            old=old,
            new=new,
            hint=hint,
            fewer=int(old or 0) - int(new or 0) if ch["code"] == "W_COUNT_FELL" else 0,
        )
        out.append(
            {
                **ch,
                "table_title": table.title,
                "old_label": old,
                "new_label": new,
                "value": value,
                "message": message,
            }
        )
    return out


_CHANGE_COLUMNS = [
    "path",
    "unit_code",
    "prev_path",
    "code",
    "tbl",
    "table_title",
    "item_id",
    "old_value",
    "new_value",
    "old_label",
    "new_label",
    "sheet",
    "cell",
    "prev_sheet",
    "prev_cell",
    "message",
]


def record_changes(con: duckdb.DuckDBPyConnection, ctx: RunContext, tpl: Template) -> int:
    """Compare each accepted submission with the unit's previous accepted one (ledger.md §10) in
    SQL over the warehouse, and record the warnings on the newer one like any other: in the run's
    issues and in its warnings count (and, for analysts, in lf.run_changes). They depend on which
    versions are accepted, never on the as-of date, and no file is read again to compute them."""
    db.materialise(con, "marts/mart_version_pairs", ctx.params)
    db.materialise(con, "marts/mart_changes", ctx.params)
    rows = con.sql(
        "select * from lf.mart_changes order by path, code, tbl, item_id, old_value"
    ).to_arrow_table()
    rows = rows.to_pylist()
    changes = change_issues(rows, tpl)
    if not changes:
        return 0
    issues = [
        dict(
            run_id=ctx.run_id,
            path=ch["path"],
            sha256=ch["sha256"],
            unit_code=ch["unit_code"],
            sheet=ch["sheet"] or "",
            row=ch["row"],
            column=ch["column"] or "",
            cell=ch["cell"] or "",
            code=ch["code"],
            severity="warning",
            message=ch["message"],
            value=ch["value"],
        )
        for ch in changes
    ]
    db.insert_arrow(con, "lf.run_issues", pa.Table.from_pylist(issues))
    db.insert_arrow(
        con,
        "lf.run_changes",
        pa.Table.from_pylist(
            [{"run_id": ctx.run_id, **{k: ch[k] for k in _CHANGE_COLUMNS}} for ch in changes]
        ),
    )
    con.execute(
        """update lf.run_files set warnings = warnings + n
           from (select path, count(*) as n from lf.mart_changes group by path) as added
           where lf.run_files.run_id = $run_id and lf.run_files.path = added.path""",
        {"run_id": ctx.run_id},
    )
    return len(changes)


def build_models(con: duckdb.DuckDBPyConnection, ctx: RunContext) -> dict[str, float]:
    """Materialise staging → marts → rollups for this run and as-of date; run the checks."""
    timings = materialise_models(con, ctx.params)
    con.execute(
        "insert into lf.run_rollup select $run_id, unit_code, key, own, total from lf.rollup",
        {"run_id": ctx.run_id},
    )
    db.create_views(con)
    failed = db.run_checks(con, ctx.params)
    if failed:
        raise RunFailed(f"数据校验未通过：{failed}")
    reconcile(con, ctx)
    return timings


def materialise_models(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> dict[str, float]:
    timings = {}
    for model in db.MODELS:
        t0 = time.perf_counter()
        db.materialise(con, model, params)
        timings[model] = time.perf_counter() - t0
    return timings


@contextmanager
def snapshot(warehouse: Path, as_of: date | None = None):
    """A private, writable copy of the published warehouse with its models rebuilt as of ``as_of``
    (default: the latest run's date), from the warehouse alone. Yields (connection, RunContext)."""
    import tempfile

    from warehouse.publish import prepare_private

    if not Path(warehouse).exists():
        raise FileNotFoundError(f"仓库不存在：{warehouse}（请先运行 ledgerflow run）")
    tmpdir = Path(tempfile.mkdtemp(prefix="ledgerflow-snap-"))
    private = tmpdir / "snapshot.duckdb"
    src = prepare_private(Path(warehouse))
    try:
        src.rename(private)
        wal = src.with_name(src.name + ".wal")
        if wal.exists():
            wal.rename(private.with_name(private.name + ".wal"))
        con = db.connect(private)
        try:
            row = con.execute(
                "select run_id, as_of from lf.runs where status = 'completed' order by run_id desc limit 1"
            ).fetchone()
            if row is None:
                raise RunFailed("仓库中没有已完成的运行")
            run_id, last_as_of = row
            as_of = as_of or last_as_of
            tpl_days = con.execute("select value from lf.meta where key = 'stale_days'").fetchone()
            params = {"run_id": run_id, "as_of": as_of, "stale_days": int(tpl_days[0]) if tpl_days else 14}
            ctx = RunContext(
                run_id=run_id, as_of=as_of, ingest_day=as_of, started_at=datetime.now(), params=params
            )
            if as_of != last_as_of:
                materialise_models(con, params)
            yield con, ctx
        finally:
            con.close()
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def reconcile(con: duckdb.DuckDBPyConnection, ctx: RunContext) -> None:
    """Files seen = rows in submissions; rows read = rows loaded, for every parsed submission."""
    seen = con.execute("select count(*) from lf.run_files where run_id = $r", {"r": ctx.run_id}).fetchone()[0]
    listed = con.execute("select count(*) from lf.mart_submissions").fetchone()[0]
    if seen != listed:
        raise RunFailed(f"对账失败：收件箱文件{seen}个，submissions中{listed}行")
    raw_tables = [
        r[0]
        for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'lf' and table_name like 'raw_%'"
        ).fetchall()
    ]
    union = " union all ".join(f"select sha256 from lf.{t}" for t in raw_tables)
    bad = con.execute(
        f"""with loaded as (select sha256, count(*) as n from ({union}) group by sha256)
            select p.sha256, p.rows_read, coalesce(l.n, 0) from lf.parsed p left join loaded l using (sha256)
            where p.rows_read <> coalesce(l.n, 0)"""
    ).fetchall()
    if bad:
        raise RunFailed(f"对账失败：读取行数与入库行数不一致：{bad[:5]}")


def finish_run(con: duckdb.DuckDBPyConnection, ctx: RunContext, files_seen: int, files_parsed: int) -> None:
    con.execute(
        """update lf.runs set finished_at = now(), files_seen = $seen, files_parsed = $parsed, status = 'completed'
           where run_id = $run_id""",
        {"seen": files_seen, "parsed": files_parsed, "run_id": ctx.run_id},
    )
    prune_history(con, ctx.run_id)
    con.execute("checkpoint")


RUN_DETAIL = ("lf.run_files", "lf.run_issues", "lf.run_rollup", "lf.run_changes")


def prune_history(con: duckdb.DuckDBPyConnection, run_id: int, keep: int | None = None) -> None:
    """Drop the per-run detail of runs older than the last ``keep`` (settings: LEDGERFLOW_KEEP_RUNS),
    so that a warehouse grows with new ledger rows, not with a copy of every file, issue and figure
    per night. Their lf.runs rows stay; parsed ledgers are never dropped."""
    from ledgerflow.settings import Settings

    keep = keep or Settings().keep_runs
    for table in RUN_DETAIL:
        con.execute(f"delete from {table} where run_id <= $last", {"last": run_id - keep})


# ---- outputs ----------------------------------------------------------------------------------


def frames(
    con: duckdb.DuckDBPyConnection, ctx: RunContext, focus: str | None = None
) -> dict[str, pd.DataFrame]:
    """What the report, summary, feedback and artifacts need, as DataFrames.

    ``rollup`` is not the whole rollup (at 20,000 units that is ~2 million rows; rollup.csv
    streams it from DuckDB instead, see :func:`export_rollup_csv`): every figure of the county-
    and township-level units (and of ``focus`` and its children, for a report on a lower unit),
    and for branches only the figures the summary workbook shows.
    """
    from ledgerflow.outputs.summary import frame_keys

    if focus is None:  # the root: its direct children are in the report and artifacts, branches or not
        focus = con.execute("select code from lf.units where parent_code is null").fetchall()[0][0]
    # names and parents come from the units frame; the text columns arrive dictionary-encoded
    # (categorical): ~500,000 rows at 20,000 units
    rollup = con.sql(
        """select unit_code, level, key, ord, own, total from lf.rollup
           where level <> 'branch' or key in (select unnest($keys)) or unit_code = $focus or parent_code = $focus
           order by unit_code, ord""",
        params={"keys": sorted(frame_keys()), "focus": focus or ""},
    ).to_arrow_table()
    rollup = pa.table(
        {
            n: (c.dictionary_encode() if pa.types.is_string(c.type) else c)
            for n, c in zip(rollup.column_names, rollup.columns, strict=True)
        }
    ).to_pandas()
    subs = con.execute(
        "select path, sha256, submitter, unit_code, as_of, status, errors, warnings from lf.mart_submissions order by path"
    ).df()
    issues = con.execute(
        """select path, unit_code, sheet, "row", "column", cell, code, severity, message, value
           from lf.run_issues where run_id = $r order by path, sheet, "row", cell, code""",
        {"r": ctx.run_id},
    ).df()
    units = con.execute(
        "select code, name, type, parent_code as parent, level, depth, must_report from lf.units"
    ).df()
    try:
        changes = con.sql(db.sql_text("queries/run_changes")).df()  # the run just completed is the latest
    except duckdb.CatalogException:  # a warehouse last written by a version without §10 changes
        changes = pd.DataFrame()
    return {"rollup": rollup, "submissions": subs, "issues": issues, "units": units, "changes": changes}


def export_rollup_csv(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    """Write rollup.csv (every unit and key) straight from DuckDB: UTF-8 with BOM, the same
    text as :func:`ledgerflow.outputs.safe.write_csv` would write, never whole in memory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = path.with_name(path.name + ".body")
    cur = con.cursor()  # its own cursor: the connection may hold an unfinished result
    try:
        cur.execute(db.sql_text("macros/csv_text"))
        cur.sql(db.sql_text("exports/rollup_csv")).write_csv(str(body), header=True)
    finally:
        cur.close()
    with path.open("wb") as out, body.open("rb") as src:
        out.write("\ufeff".encode())
        shutil.copyfileobj(src, out, 1 << 20)
    body.unlink()
    return path


def _num(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def write_data_outputs(fr: dict[str, pd.DataFrame], out: Path, as_of: date, root: str) -> list[Path]:
    """figures.json, submissions.csv and issues.csv (rollup.csv: :func:`export_rollup_csv`)."""
    from ledgerflow.outputs.safe import write_csv

    out.mkdir(parents=True, exist_ok=True)
    rollup = fr["rollup"]
    root_rows = rollup[rollup["unit_code"] == root].sort_values("ord")
    figures = {r.key: {"own": _num(r.own), "total": _num(r.total)} for r in root_rows.itertuples()}
    doc = {"as_of": as_of.isoformat(), "unit": root, "figures": figures}
    (out / "figures.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    s = fr["submissions"][SUBMISSION_COLUMNS].copy()
    s["as_of"] = ["" if v is None or pd.isna(v) else pd.Timestamp(v).date().isoformat() for v in s["as_of"]]
    write_csv(s, out / "submissions.csv")
    i = fr["issues"][ISSUE_COLUMNS].copy()
    i["row"] = [None if pd.isna(v) else int(v) for v in i["row"]]
    write_csv(i, out / "issues.csv")
    return [out / n for n in ("figures.json", "submissions.csv", "issues.csv")]


def replace_dir(staging: Path, out: Path) -> None:
    """Replace the output folder whole with the freshly written one."""
    out = Path(out)
    if out.exists():
        trash = out.with_name(out.name + ".old")
        if trash.exists():
            shutil.rmtree(trash)
        out.rename(trash)
        staging.rename(out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(out)


# ---- feedback workbooks -------------------------------------------------------------------------

FEEDBACK_VERSION = "3"  # bump when the workbook's content or layout changes
_FEEDBACK_EXTS = (".xlsx", ".xlsm")


def _feedback_job(args: tuple[str, list[dict[str, Any]], str, str, str]) -> str:
    """Render one feedback workbook into ``<base><ext>`` (ext: .xlsx, or .xlsm for a macro-enabled
    workbook), atomically; returns its path."""
    from ledgerflow.outputs.feedback import render_feedback

    source, rows, base, unit, rel = args
    data, ext = render_feedback(Path(source), rows, unit_code=unit, rel_path=rel)
    target = base + ext
    tmp = Path(f"{target}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file in the cache
        raise
    for other in _FEEDBACK_EXTS:
        if other != ext:
            Path(base + other).unlink(missing_ok=True)
    return target


_RENDERERS: dict[str, Any] = {}


def _renderer_ready() -> int:
    """Run in a renderer process as it starts: import what rendering a feedback book needs."""
    import ledgerflow.outputs.feedback  # noqa: F401
    import ledgerflow.outputs.markup  # noqa: F401

    return os.getpid()


def _new_pool(workers: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))


def warm_renderers(workers: int, expected_jobs: int) -> bool:
    """Start the processes that will render feedback books now, where a run is about to need them
    (``expected_jobs`` over 100, see :func:`write_feedback_books`): each spends ~1 s importing, and
    while the run loads, resolves and rolls up it uses one core, so the other is free for that.
    :func:`release_renderers` stops them if the run ends before using them."""
    if workers <= 1 or expected_jobs <= 100 or _RENDERERS.get("pid") == os.getpid():
        return False
    pool = _new_pool(workers)
    for _ in range(workers):
        pool.submit(_renderer_ready)
    _RENDERERS.update(pool=pool, workers=workers, pid=os.getpid())
    return True


def _take_renderers(workers: int):
    if _RENDERERS.get("pid") == os.getpid() and _RENDERERS.get("workers") == workers:
        pool = _RENDERERS["pool"]
        _RENDERERS.clear()
        return pool
    release_renderers()
    return _new_pool(workers)


def release_renderers() -> None:
    """Stop warm renderer processes no feedback used (a failed run, or fewer jobs than expected)."""
    if _RENDERERS.get("pid") == os.getpid():
        _RENDERERS["pool"].shutdown(wait=True, cancel_futures=True)
    _RENDERERS.clear()


def _run_jobs(fn, jobs: Iterable, workers: int, window: int = 64) -> None:
    """``fn`` over ``jobs`` in ``workers`` spawned processes (warm ones where
    :func:`warm_renderers` started them), at most ``window`` per worker in flight: a county's jobs
    are never all pickled and queued at once (memory stays flat)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    with _take_renderers(workers) as pool:
        pending: set = set()
        for job in jobs:
            if len(pending) >= workers * window:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()
            pending.add(pool.submit(fn, job))
        for f in pending:
            f.result()


def feedback_scope(submissions: pd.DataFrame) -> set[str]:
    """The paths whose unit still has to act on them (interface.md, feedback/): every submission
    but duplicates, superseded ones and those older (统计截止日期) than their unit's effective
    submission. A rejected file whose unit or date is unknown is in scope: nobody has replaced it."""
    if submissions is None or submissions.empty:
        return set()
    effective: dict[str, Any] = {}
    rows = submissions[["path", "unit_code", "as_of", "status"]].to_numpy(dtype=object).tolist()
    for _path, unit, as_of, status in rows:
        if status == "effective" and isinstance(unit, str) and unit and not pd.isna(as_of):
            effective[unit] = pd.Timestamp(as_of)
    keep = set()
    for path, unit, as_of, status in rows:
        if status in ("duplicate", "superseded", "ignored"):
            continue
        eff = effective.get(unit) if isinstance(unit, str) else None
        if eff is not None and not pd.isna(as_of) and pd.Timestamp(as_of) < eff:
            continue
        keep.add(path)
    return keep


def write_feedback_books(
    issues: pd.DataFrame,
    files: list[FileRef],
    folder: Path,
    cache_dir: Path,
    workers: int,
    submissions: pd.DataFrame | None = None,
) -> dict[str, int]:
    """One feedback workbook per file with issues, in ``folder``: with ``submissions`` (the
    submissions frame), only for the files :func:`feedback_scope` keeps.

    Rendering one costs a few ms (the clerk's own package marked up, see
    :mod:`ledgerflow.outputs.markup`), so each is rendered once: the result is kept in
    ``cache_dir`` under a digest of everything it shows (the file's bytes, its path, unit and
    issues) and copied into the output folder; misses render in parallel processes when there are
    enough of them to pay for starting the processes (~1 s each). Cache entries no run uses any
    more are removed.
    """
    import hashlib

    from ledgerflow.outputs.feedback import feedback_filename

    folder.mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if submissions is not None and not issues.empty:
        issues = issues[issues["path"].isin(feedback_scope(submissions))]
    if issues.empty:
        for old in cache_dir.glob("*.xls[xm]"):
            old.unlink(missing_ok=True)
        return {"written": 0, "rendered": 0}
    by_path = {f.path: f for f in files}
    row_hash = pd.util.hash_pandas_object(issues.astype(str), index=False).to_numpy()
    jobs, entries = [], []
    units = issues["unit_code"].tolist()

    def cached(key: str) -> Path | None:
        return next((c for c in (cache_dir / f"{key}{e}" for e in _FEEDBACK_EXTS) if c.exists()), None)

    for path, idx in issues.groupby("path", sort=True).indices.items():
        ref = by_path[path]
        unit = next((u for u in (units[i] for i in idx) if isinstance(u, str) and u), "")
        h = hashlib.sha256(f"{FEEDBACK_VERSION}\0{ref.sha256}\0{path}\0{unit}\0".encode())
        h.update(row_hash[idx].tobytes())
        key = h.hexdigest()[:40]
        if cached(key) is None:  # only a miss needs its rows, as plain records (a frame each is ~20 KB)
            jobs.append((ref.abspath, idx, str(cache_dir / key), unit, path))
        entries.append((key, unit, path))
    if jobs:
        values = {c: issues[c].tolist() for c in issues.columns}
        work = ((src, [{c: v[i] for c, v in values.items()} for i in idx], *rest) for src, idx, *rest in jobs)
        if workers > 1 and len(jobs) > 100:
            _run_jobs(_feedback_job, work, workers)
        else:
            release_renderers()
            for job in work:
                _feedback_job(job)
    names: set[str] = set()
    keep: set[str] = set()
    for key, unit, path in entries:
        book = cached(key)
        if book is None:
            raise RuntimeError(f"feedback for {path} was not rendered")
        name = feedback_filename(unit, path, book.suffix)
        if name.lower() in names:
            stem = name[: -len(book.suffix)]
            name = f"{stem}__{hashlib.sha1(path.encode('utf-8')).hexdigest()[:8]}{book.suffix}"
        names.add(name.lower())
        keep.add(book.name)
        shutil.copyfile(book, folder / name)  # a copy, not a link: a clerk's edit must not reach the cache
    for old in cache_dir.glob("*.xls[xm]"):
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return {"written": len(entries), "rendered": len(jobs)}
