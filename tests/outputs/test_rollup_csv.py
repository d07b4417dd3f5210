"""rollup.csv streams from DuckDB (sql/exports/rollup_csv.sql): it must hold exactly the text the
Python CSV writer (outputs/safe.write_csv) writes for the same rows, hostile names included."""

from __future__ import annotations

import csv

import duckdb
import pandas as pd
import pytest

from ledgerflow.outputs.safe import write_csv
from ledgerflow.pipeline import ROLLUP_COLUMNS, export_rollup_csv

ROWS = [
    # unit_code, unit_name, level, parent_code, key, ord, own, total
    ("C", "中共某县委员会", "county", None, "meetings.total", 1, 8.0, 5457.0),
    ("C", "中共某县委员会", "county", None, "rectification.close_rate", 2, None, 0.7813),
    ("T1", '=HYPERLINK("http://x","点我")', "township", "C", "meetings.total", 1, 0.0, 3.0),
    ("T1", '=HYPERLINK("http://x","点我")', "township", "C", "rectification.close_rate", 2, 1 / 3, 0.1 + 0.2),
    ("T2", "+乙镇,党委", "township", "C", "meetings.total", 1, 2.0, 2.0),
    ("T3", "-丙\n镇", "township", "C", "meetings.total", 1, None, None),
    ("T4", "@丁镇\r", "township", "C", "meetings.total", 1, 1.5, 1e-05),
    ("T5", "\t戊\x07镇\x1f", "township", "C", "meetings.total", 1, -2.0, -0.5),
    ("B1", "", "branch", "T1", "meetings.total", 1, 12.0, 12.0),
    ("A0", '引号"在中间"', "branch", "T1", "meetings.total", 1, 250.0, 250.0),
]


@pytest.fixture
def warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema lf")
    con.execute(
        """create table lf.rollup (unit_code varchar, unit_name varchar, level varchar,
           parent_code varchar, key varchar, ord integer, own double, total double)"""
    )
    con.executemany("insert into lf.rollup values (?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
    yield con
    con.close()


def _python_writer(path):
    df = pd.DataFrame(
        ROWS, columns=["unit_code", "unit_name", "level", "parent_code", "key", "ord", "own", "total"]
    )
    df = df.sort_values(["unit_code", "ord"], kind="stable")[ROLLUP_COLUMNS]
    return write_csv(df, path)


def test_same_bytes_as_the_python_writer(warehouse, tmp_path):
    streamed = export_rollup_csv(warehouse, tmp_path / "rollup.csv")
    reference = _python_writer(tmp_path / "reference.csv")
    assert streamed.read_bytes() == reference.read_bytes()


def test_bom_header_order_and_neutralised_text(warehouse, tmp_path):
    path = export_rollup_csv(warehouse, tmp_path / "rollup.csv")
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode())
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ROLLUP_COLUMNS
    body = rows[1:]
    assert len(body) == len(ROWS)
    assert [r[0] for r in body] == sorted(r[0] for r in body)  # by unit code, then figure order
    names = {r[0]: r[1] for r in body}
    assert names["T1"].startswith("'=HYPERLINK")  # a formula-looking name is text
    assert names["T2"] == "'+乙镇,党委"  # quoted for its comma, still one cell
    assert names["T3"] == "'-丙\n镇"
    assert names["T5"] == "'\t戊镇"  # control characters XML cannot hold are dropped
    t1 = next(r for r in body if r[0] == "T1" and r[4] == "rectification.close_rate")
    assert float(t1[5]) == 1 / 3 and float(t1[6]) == 0.1 + 0.2  # exact, never rounded
    c = next(r for r in body if r[0] == "C" and r[4] == "meetings.total")
    assert c[5:] == ["8", "5457"]  # whole numbers as integers
    t3 = next(r for r in body if r[0] == "T3")
    assert t3[5:] == ["", ""]  # no value: an empty cell
    assert names["B1"] == ""
