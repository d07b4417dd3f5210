"""The sample county end to end: the real command line at 2023-12-15 and then at 2024-01-20 into one
warehouse, each output scored by the corpus's own check.py (exit 0 only at 100%)."""

from __future__ import annotations

import csv
import json
import os

import duckdb


def _scored(result) -> str:
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("SCORE")]
    return lines[-1] if lines else result.stdout[-2000:] + result.stderr[-2000:]


def test_the_first_run_scores_100_percent_at_2023_12_15(sample_runs, score):
    res = score(sample_runs["out-primary"], "primary")
    assert res.returncode == 0, res.stdout[-4000:]
    done, total = _scored(res).split()[1].split("/")
    assert done == total


def test_the_second_run_scores_100_percent_at_2024_01_20(sample_runs, score):
    res = score(sample_runs["out-second"], "second")
    assert res.returncode == 0, res.stdout[-4000:]
    done, total = _scored(res).split()[1].split("/")
    assert done == total


def test_figures_name_their_date_and_the_root(sample_runs):
    for label, day in (("primary", "2023-12-15"), ("second", "2024-01-20")):
        doc = json.loads((sample_runs[f"out-{label}"] / "figures.json").read_text(encoding="utf-8"))
        assert doc["as_of"] == day and doc["unit"] == "QX"


def test_every_inbox_file_is_listed_exactly_once(sample_runs):
    inbox = sample_runs["inbox"]
    on_disk = sorted(
        os.path.relpath(os.path.join(d, f), inbox).replace(os.sep, "/")
        for d, _, fs in os.walk(inbox)
        for f in fs
    )
    for label in ("primary", "second"):
        with open(sample_runs[f"out-{label}"] / "submissions.csv", encoding="utf-8-sig", newline="") as fh:
            listed = sorted(r["path"] for r in csv.DictReader(fh))
        assert listed == on_disk


def test_the_second_run_over_the_same_inbox_parsed_nothing(sample_runs):
    con = duckdb.connect(str(sample_runs["wh-second"]), read_only=True)
    try:
        runs = con.execute(
            "select as_of, files_seen, files_parsed, status from lf.runs order by run_id"
        ).fetchall()
    finally:
        con.close()
    n_files = sum(len(fs) for _, _, fs in os.walk(sample_runs["inbox"]))
    assert [(str(a), seen, st) for a, seen, _, st in runs] == [
        ("2023-12-15", n_files, "completed"),
        ("2024-01-20", n_files, "completed"),
    ]
    assert runs[0][2] > 0 and runs[1][2] == 0
    assert "需解析0个新工作簿" in sample_runs["log-second"].read_text(encoding="utf-8")


def test_version_changes_are_those_computed_from_the_clean_records(sample_runs, shared_dir):
    """ledger.md §10 computed here from the corpus's own clean records (ledgers.json) and its
    verdicts (expected.json), not from the warehouse: every accepted workbook against the unit's
    accepted one with the latest earlier 统计截止日期 (ties: the path that sorts last, every file
    being first seen in the same run). The run's warnings must be these, code by code."""
    import re
    from collections import Counter

    small = shared_dir / "samples" / "small"
    expected = json.loads((small / "expected.json").read_text(encoding="utf-8"))
    ledgers = json.loads((small / "ledgers.json").read_text(encoding="utf-8"))
    accepted = [
        f for f in expected["files"] if f["status"]["primary"] in ("effective", "superseded", "later")
    ]
    ids = {
        "research": ("topic_id", "report_formed"),
        "problems": ("problem_id", "closed"),
        "measures": ("measure_id", "done"),
    }
    want: Counter = Counter()
    for s in accepted:
        earlier = [p for p in accepted if p["unit_code"] == s["unit_code"] and p["as_of"] < s["as_of"]]
        if not earlier:
            continue
        p = max(earlier, key=lambda f: (f["as_of"], f["path"]))
        new, old = ledgers[s["path"]], ledgers[p["path"]]
        for tbl, (idf, done) in ids.items():
            now = {r[idf]: r["status"] for r in new[tbl] if r[idf] is not None}
            for r in old[tbl]:
                if r[idf] is None:
                    continue
                if r[idf] not in now:
                    want[(s["path"], "W_ROW_VANISHED", r[idf])] += 1
                elif r["status"] == done and now[r[idf]] != done:
                    want[(s["path"], "W_STATUS_BACKWARD", r[idf])] += 1
        for tbl in ("meetings", "study", "outcomes", "plans"):
            if len(new[tbl]) < len(old[tbl]):
                want[(s["path"], "W_COUNT_FELL", f"{len(old[tbl])}→{len(new[tbl])}")] += 1
    with open(sample_runs["out-primary"] / "issues.csv", encoding="utf-8-sig", newline="") as fh:
        rows = [
            r
            for r in csv.DictReader(fh)
            if r["code"] in ("W_ROW_VANISHED", "W_COUNT_FELL", "W_STATUS_BACKWARD")
        ]
    got = Counter(
        (
            r["path"],
            r["code"],
            re.search(r"\d+→\d+", r["message"]).group(0)
            if r["code"] == "W_COUNT_FELL"
            else re.search(r"“([^”]*)”", r["message"]).group(1),
        )
        for r in rows
    )
    assert want, "the sample county has versions that change"
    assert got == want
