"""The windows where something somebody wrote could be lost, each closed:

1. publishing deleted an out-of-band .wal before the new warehouse was in place;
2. an analyst who wrote to the warehouse after the run copied it lost those writes silently;
3. a file replaced between listing and parsing was kept under the hash of its old bytes;
4. the registry was read in the run's own process, without the workbook pre-checks.

Plus the place analysts get for their own tables instead (``ledgerflow sql``)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from warehouse import publish as pub

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hostile"))

from books import info_rows, ledger  # noqa: E402

LEDGERFLOW = Path(sys.executable).with_name("ledgerflow")


def _published(path: Path, tables: dict[str, int]) -> Path:
    con = duckdb.connect(str(path))
    for name, n in tables.items():
        con.execute(f"create table {name} as select range as x from range({n})")
    con.close()
    return path


def _analyst_writes_and_dies(path: Path, table: str) -> None:
    """A process that writes a table and dies without checkpointing: the write is only in the .wal."""
    code = (
        "import duckdb, os\n"
        f"con = duckdb.connect({str(path)!r})\n"
        f"con.execute('create table {table} as select 42 as answer')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _tables(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    finally:
        con.close()


def _new_state(private: Path) -> None:
    con = duckdb.connect(str(private))
    con.execute("create table new_run as select 1 as x")
    con.close()


# ---- 1. an out-of-band .wal ----------------------------------------------------------------------


def test_a_wal_written_out_of_band_survives_a_swap_that_fails(tmp_path, monkeypatch):
    wh = _published(tmp_path / "w.duckdb", {"old": 3})
    _analyst_writes_and_dies(wh, "analyst_table")
    assert (tmp_path / "w.duckdb.wal").exists()
    private = pub.prepare_private(wh)
    _new_state(private)
    real = os.replace

    def failing(src, dst):
        if Path(src) == private:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError):
        pub.publish(private, wh)
    monkeypatch.setattr(os, "replace", real)
    assert "analyst_table" in _tables(wh)  # the analyst's write is still there (in its .wal)
    pub.discard(private)


def test_a_wal_in_the_copy_is_in_the_published_warehouse_and_not_left_beside_it(tmp_path):
    wh = _published(tmp_path / "w.duckdb", {"old": 3})
    _analyst_writes_and_dies(wh, "analyst_table")
    private = pub.prepare_private(wh)
    _new_state(private)
    pub.publish(private, wh)
    assert {"old", "analyst_table", "new_run"} <= _tables(wh)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


# ---- 2. writes after the copy --------------------------------------------------------------------


def test_writes_made_after_the_copy_make_the_run_refuse_and_stay(tmp_path):
    wh = _published(tmp_path / "w.duckdb", {"old": 3})
    private = pub.prepare_private(wh)
    con = duckdb.connect(str(wh))  # an analyst, read-write, after the run copied the warehouse
    con.execute("create table analyst_table as select 1 as x")
    con.close()
    _new_state(private)
    with pytest.raises(pub.WarehouseChanged, match="ledgerflow sql"):
        pub.publish(private, wh)
    assert "analyst_table" in _tables(wh) and "new_run" not in _tables(wh)
    pub.discard(private)


def test_a_writer_holding_the_warehouse_at_publish_is_named_and_nothing_changes(tmp_path):
    wh = _published(tmp_path / "w.duckdb", {"old": 3})
    private = pub.prepare_private(wh)
    _new_state(private)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time\ncon = duckdb.connect({str(wh)!r})\nprint('open', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(pub.WarehouseBusy) as err:
            pub.publish(private, wh)
        assert str(holder.pid) in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    assert "new_run" not in _tables(wh)
    pub.discard(private)


def test_a_run_killed_after_moving_the_wal_aside_gets_it_back(tmp_path):
    """The sweep of the next run restores a .wal a killed publish had moved aside, where the swap
    never happened."""
    wh = _published(tmp_path / "w.duckdb", {"old": 3})
    _analyst_writes_and_dies(wh, "analyst_table")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(dead.stdout)
    baseline = {"warehouse": pub._state(wh), "wal": pub._state(tmp_path / "w.duckdb.wal")}
    import json

    (tmp_path / f"w.duckdb.building-{pid}.baseline.json").write_text(json.dumps(baseline))
    os.replace(tmp_path / "w.duckdb.wal", tmp_path / f"w.duckdb.wal.published-{pid}")
    pub.discard(pub.prepare_private(wh))
    assert "analyst_table" in _tables(wh)


# ---- 3. a file replaced between listing and parsing ----------------------------------------------


def test_a_file_replaced_after_listing_is_recorded_as_what_was_read(tmp_path, tpl, limits, make_book):
    from ledgerflow import pipeline
    from ledgerflow.registry import read_registry

    (tmp_path / "registry.csv").write_text(
        "单位代码,单位名称,单位类型,上级单位代码\nQX,县委,县委,\nQX-T01,城关镇党委,乡镇党委,QX\n",
        encoding="utf-8",
    )
    reg = read_registry(tmp_path / "registry.csv", tpl)
    book = make_book("inbox/QX-T01/台账.xlsx", ledger(info=info_rows(as_of=date(2023, 12, 1))))
    files = pipeline.describe_files(pipeline.list_inbox(tmp_path / "inbox"), tpl, reg)
    listed = files[0].sha256
    make_book("newer.xlsx", ledger(info=info_rows(as_of=date(2023, 12, 8)))).replace(book)  # the upload lands
    read = hashlib.sha256(book.read_bytes()).hexdigest()
    assert read != listed
    batch = pipeline.plan_batches(files, set(), 1)[0]
    summary = pipeline.parse_batch(batch, str(tpl.path), limits, date(2024, 2, 1), tmp_path / "stage")
    staged = pq.read_table(tmp_path / "stage" / "parsed.parquet").to_pylist()
    assert [(p["sha256"], p["as_of"]) for p in staged] == [(read, date(2023, 12, 8))]
    assert [f.sha256 for f in pipeline.apply_rehash(files, summary["rehashed"])] == [read]


# ---- 4. the registry is read like a ledger -------------------------------------------------------


@pytest.mark.parametrize("make", ["zip_bomb_lying_sizes", "doctype_utf16", "far_cell_xls"])
def test_a_hostile_registry_is_refused_with_the_pre_check_s_reason(tmp_path, tpl, make):
    import hostile_files

    from ledgerflow.registry import RegistryError, read_registry

    made = tmp_path / getattr(hostile_files, make)(tmp_path)
    registry = made.with_name("组织架构" + made.suffix)
    made.rename(registry)
    start = time.monotonic()
    with pytest.raises(RegistryError, match="组织架构文件.*无法读取"):
        read_registry(registry, tpl)
    assert time.monotonic() - start < 30


# ---- the analysts' own place ---------------------------------------------------------------------


def test_ledgerflow_sql_keeps_an_analyst_s_tables_out_of_the_warehouse_and_follows_new_runs(tmp_path):
    wh = _published(tmp_path / "w.duckdb", {"old": 3})
    con = duckdb.connect(str(wh))
    con.execute("create view main.rollup as select x from old")
    con.close()
    ws = tmp_path / "me.duckdb"
    res = subprocess.run(
        [str(LEDGERFLOW), "sql", "--warehouse", str(wh), "--workspace", str(ws)],
        input="create table mine as select count(*) as n from rollup;\nselect n from mine;\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[-1] == "3"
    assert "mine" not in _tables(wh)  # the warehouse is untouched…
    assert "mine" in _tables(ws)  # …the analyst's table is in their own file

    from ledgerflow.workspace import Workspace

    session = Workspace(ws, wh)
    try:
        assert session.execute("select count(*) from rollup").fetchall() == [(3,)]
        private = pub.prepare_private(wh)  # a run publishes while the session is open
        con = duckdb.connect(str(private))
        con.execute("insert into old select 7")
        con.close()
        pub.publish(private, wh)
        assert session.execute("select count(*) from rollup").fetchall() == [(4,)]
    finally:
        session.close()
