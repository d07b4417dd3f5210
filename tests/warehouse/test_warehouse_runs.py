"""The warehouse across runs (interface.md): a rerun parses nothing and writes the same bytes, an
earlier as-of after a later one gives the earlier figures again, readers keep reading during a run, a
writer holding the file makes the run fail cleanly, and the analysts' views explain every column in
Chinese.

To keep the suite quick, one rerun proves several things: the sample county's warehouse after its
2023-12-15 and 2024-01-20 runs is run again at 2023-12-15 over the same inbox, with an analyst's
read-only connection querying it all along. It must parse nothing and write exactly the bytes the
first 2023-12-15 run wrote."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time

import duckdb
import pytest

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
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def rerun(sample_runs, run_cli, tmp_path_factory):
    """2023-12-15 again, after 2024-01-20, over the same inbox, on a copy of the warehouse, with an
    analyst's read-only connection open (and querying) for the whole run."""
    base = tmp_path_factory.mktemp("rerun")
    wh = base / "warehouse.duckdb"
    shutil.copyfile(sample_runs["wh-second"], wh)
    reader = duckdb.connect(str(wh), read_only=True)
    query = "select (select count(*) from rollup), (select count(*) from submissions), (select max(run_id) from lf.runs)"
    before = reader.execute(query).fetchone()
    proc = run_cli(
        sample_runs["inbox"],
        sample_runs["registry"],
        wh,
        base / "out",
        "2023-12-15",
        background_log=base / "run.log",
    )
    seen, errors = [], []
    while proc.poll() is None:
        try:
            seen.append(reader.execute(query).fetchone())
        except duckdb.Error as exc:  # pragma: no cover - what the test is about
            errors.append(repr(exc))
        time.sleep(0.2)
    try:
        after_same_conn = reader.execute(query).fetchone()
    except duckdb.Error as exc:  # pragma: no cover
        errors.append(repr(exc))
        after_same_conn = None
    reader.close()
    return {
        "base": base,
        "warehouse": wh,
        "out": base / "out",
        "code": proc.returncode,
        "log": (base / "run.log").read_text(encoding="utf-8", errors="replace"),
        "before": before,
        "seen": seen,
        "errors": errors,
        "after_same_conn": after_same_conn,
    }


def test_a_rerun_completes_with_a_reader_open(rerun):
    assert rerun["code"] == 0, rerun["log"][-3000:]


def test_the_readers_queries_keep_working_across_the_run(rerun):
    assert rerun["errors"] == []
    assert len(rerun["seen"]) >= 3  # it really was reading while the run went on
    assert all(row == rerun["before"] for row in rerun["seen"])  # the state it opened, unchanged under it
    assert rerun["after_same_conn"] == rerun["before"]


def test_a_new_connection_sees_the_new_run_which_parsed_nothing(rerun):
    con = duckdb.connect(str(rerun["warehouse"]), read_only=True)
    try:
        runs = con.execute(
            "select run_id, as_of, files_parsed, status from lf.runs order by run_id"
        ).fetchall()
    finally:
        con.close()
    assert runs[-1][0] == rerun["before"][2] + 1
    assert (str(runs[-1][1]), runs[-1][2], runs[-1][3]) == ("2023-12-15", 0, "completed")
    assert "需解析0个新工作簿" in rerun["log"]


def test_a_rerun_at_an_earlier_as_of_writes_that_dates_figures_byte_for_byte(rerun, sample_runs):
    for name in ("figures.json", "rollup.csv"):
        assert _sha(rerun["out"] / name) == _sha(sample_runs["out-primary"] / name), name
    first = json.loads((sample_runs["out-primary"] / "figures.json").read_text(encoding="utf-8"))
    later = json.loads((sample_runs["out-second"] / "figures.json").read_text(encoding="utf-8"))
    assert first["figures"] != later["figures"]  # the two dates really differ, so this proves something


def test_a_writer_holding_the_warehouse_fails_the_run_and_leaves_it_unchanged(sample_runs, run_cli, tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_runs["wh-primary"], wh)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(120)",
            str(wh),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        before = _sha(wh)
        res = run_cli(sample_runs["inbox"], sample_runs["registry"], wh, tmp_path / "out", "2024-01-20")
        assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
        assert "ledgerflow:" in res.stderr and "仓库" in res.stderr  # the reason, for a person
        assert _sha(wh) == before
        assert not (tmp_path / "out").exists()
        assert list(tmp_path.glob("warehouse.duckdb.building-*")) == []
    finally:
        holder.kill()
        holder.wait()
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("select count(*) from lf.runs").fetchone()[0] == 1  # only the first run
    finally:
        con.close()


def _view_columns(sample_runs) -> tuple[set[str], list[tuple[str, str, str | None]]]:
    con = duckdb.connect(str(sample_runs["wh-second"]), read_only=True)
    try:
        views = {
            r[0]
            for r in con.execute("select view_name from duckdb_views() where schema_name = 'main'").fetchall()
        }
        cols = con.execute(
            "select table_name, column_name, comment from duckdb_columns() where schema_name = 'main'"
        ).fetchall()
    finally:
        con.close()
    return views, cols


def test_every_column_of_every_analyst_view_has_a_chinese_comment(sample_runs):
    views, cols = _view_columns(sample_runs)
    assert set(VIEWS) <= views
    for view in VIEWS:
        mine = [(c, comment) for t, c, comment in cols if t == view]
        assert mine, view
        missing = [c for c, comment in mine if c != "cell" and (not comment or not CJK.search(comment))]
        assert missing == [], f"{view}: columns without a Chinese comment: {missing}"


def test_the_cell_column_of_the_ledger_views_has_a_chinese_comment(sample_runs):
    _, cols = _view_columns(sample_runs)
    missing = sorted(
        t for t, c, comment in cols if t in VIEWS and c == "cell" and not (comment and CJK.search(comment))
    )
    assert missing == []


def test_the_ledger_views_hold_the_rows_the_root_figures_count(sample_runs):
    figures = json.loads((sample_runs["out-second"] / "figures.json").read_text(encoding="utf-8"))["figures"]
    con = duckdb.connect(str(sample_runs["wh-second"]), read_only=True)
    try:
        count = {
            v: con.execute(f"select count(*) from main.{v}").fetchone()[0]
            for v in ("meetings", "study", "research", "problems", "measures")
        }
        n_units = con.execute("select count(*) from main.units").fetchone()[0]
        rollup_units = con.execute("select count(distinct unit_code) from main.rollup").fetchone()[0]
    finally:
        con.close()
    assert count["meetings"] == figures["meetings.total"]["total"]
    assert count["study"] == figures["study.total"]["total"]
    assert count["research"] == figures["research.topics"]["total"]
    assert count["problems"] == figures["rectification.problems"]["total"]
    assert count["measures"] == figures["rectification.measures"]["total"]
    assert rollup_units == n_units


def test_a_warehouse_read_by_an_older_reader_is_read_again_once_and_gives_the_same_outputs(
    sample_runs, run_cli, tmp_path
):
    """Parsed results are kept per file *and reader*: after an upgrade that reads workbooks
    differently, every workbook is parsed again once (its old rows replaced, not doubled), then
    never again. Here the warehouse is made to look as if an older reader had parsed it."""
    wh = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_runs["wh-primary"], wh)
    con = duckdb.connect(str(wh))
    n_parsed = con.execute("select count(*) from lf.parsed").fetchone()[0]
    rows_before = con.execute("select sum(rows_read) from lf.parsed").fetchone()[0]
    con.execute("update lf.parsed set parser = 'an-older-reader', layout = null")
    con.close()
    for i in (1, 2):
        res = run_cli(sample_runs["inbox"], sample_runs["registry"], wh, tmp_path / f"out{i}", "2023-12-15")
        assert res.returncode == 0, res.stderr[-3000:]
    con = duckdb.connect(str(wh), read_only=True)
    try:
        runs = con.execute("select files_parsed from lf.runs order by run_id desc limit 2").fetchall()
        assert [r[0] for r in runs] == [0, n_parsed]  # all of them once, then none
        assert con.execute("select count(*), sum(rows_read) from lf.parsed").fetchone() == (
            n_parsed,
            rows_before,
        )
        assert con.execute("select count(*) from lf.parsed where layout is null").fetchone()[0] == 0
    finally:
        con.close()
    for name in ("figures.json", "rollup.csv", "submissions.csv", "issues.csv"):
        assert _sha(tmp_path / "out2" / name) == _sha(sample_runs["out-primary"] / name), name
