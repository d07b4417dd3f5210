"""A full ``ledgerflow run`` over the sample county plus every hostile file, odd names, symbolic
links and a FIFO: the good files load as they would alone, each hostile file gets exactly one row,
and nothing a spreadsheet program would evaluate reaches the CSV files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hostile_env import copy_sample, count_inbox_entries, read_csv, run_ledgerflow
from hostile_files import Book, build_all, info_rows, meeting_rows

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
INJECTION_NAMES = ["=1+2.xlsx", "+SUM(1).xlsx", "-2+3.xlsx", "@cmd.xlsx", "\tTAB.xlsx", "\rCR.xlsx"]
NEWLINE_NAME = "new\nline 台账.xlsx"
UNICODE_NAME = "单位 台账 ✓ 🎉 (终版) ‮xslx.xlsx"
GBK_NAME = "台账_gbk.xlsx".encode("gb18030")


@pytest.fixture(scope="session")
def hostile_run(sample, prefect_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-run")
    inbox, registry = copy_sample(sample, root)
    cases = build_all(inbox / "hostile")
    inj = inbox / "hostile" / "formula_injection.xlsx"
    for name in INJECTION_NAMES:
        shutil.copy(inj, inbox / name)
    Book(sheets=[("填报信息", info_rows(as_of="2023-09-09")), ("会议", meeting_rows())]).write(
        inbox / NEWLINE_NAME
    )
    Book(sheets=[("填报信息", info_rows(as_of="2023-09-10")), ("会议", meeting_rows())]).write(
        inbox / UNICODE_NAME
    )
    Book(sheets=[("填报信息", info_rows(as_of="2023-09-11")), ("会议", meeting_rows())]).write(
        Path(os.fsdecode(os.fsencode(inbox) + b"/" + GBK_NAME))
    )
    outside = root / "outside"
    outside.mkdir()
    Book(sheets=[("填报信息", info_rows(as_of="2023-12-14")), ("会议", meeting_rows())]).write(
        outside / "x.xlsx"
    )
    links = {
        "hostile/link_to_passwd.xlsx": "/etc/passwd",
        "hostile/link_outside.xlsx": str(outside / "x.xlsx"),
        "hostile/link_inside.xlsx": "../QX/县委主题教育工作台账.xlsx",
        "hostile/dangling.xlsx": str(root / "missing.xlsx"),
        "QX-T01/linked_dir": str(outside),
        "hostile/loop": ".",
    }
    for rel, target in links.items():
        os.symlink(target, inbox / rel)
    os.mkfifo(inbox / "hostile" / "pipe.xlsx")
    wh, out = root / "warehouse.duckdb", root / "out"
    proc = run_ledgerflow(prefect_env, inbox, registry, wh, out)
    return {
        "proc": proc,
        "inbox": inbox,
        "out": out,
        "cases": cases,
        "links": links,
        "warehouse": wh,
        "entries": count_inbox_entries(inbox),
    }


@pytest.fixture(scope="session")
def subs(hostile_run):
    assert hostile_run["proc"].returncode == 0, hostile_run["proc"].stderr[-4000:]
    return {r["path"]: r for r in read_csv(hostile_run["out"] / "submissions.csv")}


def _unneutralise(path: str) -> str:
    return path[1:] if path.startswith("'") and path[1:].startswith(TRIGGERS) else path


def test_run_completes(hostile_run):
    assert hostile_run["proc"].returncode == 0, hostile_run["proc"].stderr[-4000:]


def test_files_seen_equals_rows_in_submissions(hostile_run, subs):
    rows = read_csv(hostile_run["out"] / "submissions.csv")
    assert len(rows) == hostile_run["entries"]
    assert len({r["path"] for r in rows}) == len(rows)
    assert f"文件：{hostile_run['entries']}个" in hostile_run["proc"].stdout


def test_good_files_keep_their_status(sample, subs):
    expected = json.loads((sample / "expected.json").read_text(encoding="utf-8"))
    by_sha: dict[str, set[str]] = {}
    for f in expected["files"]:
        by_sha.setdefault(f["sha256"], set()).add(f["status"]["primary"])
    wrong = []
    for f in expected["files"]:
        got = subs.get(f["path"], {}).get("status")
        want = f["status"]["primary"]
        group = (
            by_sha[f["sha256"]] | {"duplicate"}
            if len(by_sha[f["sha256"]]) > 1 or want == "duplicate"
            else {want}
        )
        if got not in group:
            wrong.append((f["path"], want, got))
    assert not wrong


def test_each_hostile_file_has_one_row_with_its_verdict(hostile_run, subs):
    wrong = []
    for name, case in hostile_run["cases"].items():
        row = subs.get(f"hostile/{name}")
        if name in ("really_xls.xlsx", "really_xlsx.xls"):
            want = {"duplicate"}  # byte copies of sample files: never read twice (ledger.md §2)
        elif case.verdict == "unreadable":
            want = {"rejected"}
        elif name == "formula_injection.xlsx":
            want = {"rejected", "duplicate"}
        else:
            want = {"superseded"}
        if row is None or row["status"] not in want:
            wrong.append((name, want, row and row["status"]))
        elif row["status"] == "rejected" and case.verdict == "unreadable":
            assert row["errors"] == "1", row
    assert not wrong


def test_unreadable_files_say_why(hostile_run, subs):
    issues = read_csv(hostile_run["out"] / "issues.csv")
    unreadable = {r["path"] for r in issues if r["code"] == "E_FILE_UNREADABLE"}
    for name, case in hostile_run["cases"].items():
        if case.verdict == "unreadable" and subs[f"hostile/{name}"]["status"] != "duplicate":
            assert f"hostile/{name}" in unreadable, name


def test_symlinks_fifo_are_ignored_never_followed(hostile_run, subs):
    for rel in [*hostile_run["links"], "hostile/pipe.xlsx"]:
        row = subs[rel]
        assert row["status"] == "ignored", row
        assert row["sha256"] == "", row  # not even hashed: the target was never opened
    assert not [p for p in subs if p.startswith("QX-T01/linked_dir/")]


def test_odd_file_names_appear_once(hostile_run, subs):
    assert subs[NEWLINE_NAME]["status"] == "superseded"
    assert subs[UNICODE_NAME]["status"] == "superseded"
    assert subs[GBK_NAME.decode("gb18030")]["status"] == "superseded"


def test_csv_cells_never_start_a_formula(hostile_run, subs):
    out = hostile_run["out"]
    bad = []
    for name in ("submissions.csv", "issues.csv", "rollup.csv"):
        for row in read_csv(out / name):
            for k, v in row.items():
                if v.startswith(TRIGGERS) and not _is_number(v):
                    bad.append((name, k, v))
    assert not bad
    paths = set(subs)
    for name in INJECTION_NAMES:
        assert "'" + name in paths, name
    issues = read_csv(out / "issues.csv")
    columns = {r["column"] for r in issues if r["code"] == "W_EXTRA_COLUMN"}
    assert "'=1+2" in columns and "'@cmd" in columns
    assert "'=会议" in {r["sheet"] for r in issues}


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def test_figures_json_holds_no_nan(hostile_run):
    def refuse(name):
        raise AssertionError(f"figures.json holds {name}")

    doc = json.loads((hostile_run["out"] / "figures.json").read_text(encoding="utf-8"), parse_constant=refuse)
    assert doc["unit"] == "QX" and doc["figures"]
