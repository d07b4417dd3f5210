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
