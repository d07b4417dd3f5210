"""An unseen county, end to end: the demo generator writes a messy county and records what it
meant (truth.json, computed from its intentions, never by reading its files back); the real CLI
runs on it; every verdict, planted error and loaded row is compared with that truth, and the
effective submissions and headline figures are recomputed from the truth by ledger.md §3 here.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from ledgerflow.demo.generator import generate_county

REPO = Path(__file__).resolve().parents[1]
LEDGERFLOW = Path(sys.executable).with_name("ledgerflow")
AS_OF = date(2023, 12, 15)


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    root = tmp_path_factory.mktemp("county")
    truth = generate_county(root, n_units=40, seed=31)
    env = dict(os.environ)
    env["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.run(
        [
            str(LEDGERFLOW),
            "run",
            "--inbox",
            str(root / "inbox"),
            "--registry",
            str(root / "registry.xlsx"),
            "--warehouse",
            str(root / "w.duckdb"),
            "--out",
            str(root / "out"),
            "--as-of",
            AS_OF.isoformat(),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    return root, truth


def _expected_effective(truth: dict) -> dict[str, dict]:
    """ledger.md §3 from the truth: per unit, the accepted file with the latest as_of ≤ D."""
    best: dict[str, dict] = {}
    for f in truth["files"]:
        if f["kind"] != "workbook" or f.get("error"):
            continue
        as_of = date.fromisoformat(f["as_of"])
        if as_of > AS_OF:
            continue
        cur = best.get(f["unit_code"])
        if cur is None or (as_of, f["path"]) > (date.fromisoformat(cur["as_of"]), cur["path"]):
            best[f["unit_code"]] = f
    return best


def test_every_file_once_with_the_verdict_the_generator_meant(county):
    root, truth = county
    subs = {r["path"]: r for r in _csv(root / "out" / "submissions.csv")}
    assert len(subs) == len(truth["files"]) == len(_csv(root / "out" / "submissions.csv"))
    copies_of: dict[str, list[str]] = {}
    for f in truth["files"]:
        if f["kind"] == "copy":
            copies_of.setdefault(f["duplicate_of"], []).append(f["path"])
    for f in truth["files"]:
        got = subs[f["path"]]["status"]
        if f["kind"] == "ignored":
            assert got == "ignored", f["path"]
        elif f["kind"] == "copy":
            assert got == "duplicate" or subs[f["duplicate_of"]]["status"] == "duplicate", f["path"]
        elif f.get("error") or f["kind"] == "unreadable":
            assert got == "rejected", (f["path"], f.get("error"))
        else:
            if got == "duplicate":  # byte-identical copies: which one is the original is order's choice
                assert any(subs[c]["status"] != "duplicate" for c in copies_of.get(f["path"], ())), f["path"]
                continue
            assert got in ("effective", "superseded", "later"), (f["path"], got)
            assert subs[f["path"]]["unit_code"] == f["unit_code"]
            assert subs[f["path"]]["as_of"] == f["as_of"]


def test_planted_errors_are_reported_where_they_were_planted(county):
    root, truth = county
    issues = _csv(root / "out" / "issues.csv")
    planted = [f for f in truth["files"] if f.get("error")]
    assert planted, "the generator planted no errors"
    for f in planted:
        err = f["error"]
        mine = [i for i in issues if i["path"] == f["path"] and i["code"] == err["code"]]
        assert mine, (f["path"], err["code"], [i["code"] for i in issues if i["path"] == f["path"]])
        if err.get("level") == "row":
            places = {(err["row"], err["cell"])} | {(a["row"], a["cell"]) for a in err.get("alt", [])}
            assert any((int(i["row"]), i["cell"]) in places for i in mine), (f["path"], err, mine[:2])
            assert any(i["sheet"] == err["sheet"] for i in mine)


def test_no_error_on_files_meant_to_be_clean(county):
    root, truth = county
    errors = Counter(i["path"] for i in _csv(root / "out" / "issues.csv") if i["severity"] == "error")
    clean = [f["path"] for f in truth["files"] if f["kind"] == "workbook" and not f.get("error")]
    assert clean
    assert {p: errors[p] for p in clean if errors[p]} == {}


def test_effective_submissions_follow_the_as_of_rule(county):
    root, truth = county
    expected = _expected_effective(truth)
    subs = _csv(root / "out" / "submissions.csv")
    effective = {r["unit_code"]: r["path"] for r in subs if r["status"] == "effective"}
    assert effective == {u: f["path"] for u, f in expected.items()}


def test_loaded_rows_are_the_rows_the_generator_wrote(county):
    root, truth = county
    expected = _expected_effective(truth)
    con = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    try:
        for unit, f in expected.items():
            ledger = f["ledger"]
            for table, key in (
                ("meetings", ("date", "kind")),
                ("study", ("date", "kind")),
                ("research", ("title", "status")),
                ("problems", ("problem_id", "status")),
                ("measures", ("problem_id", "status")),
                ("outcomes", ("name", "kind")),
                ("plans", ("name", "kind")),
                ("org", ("name", "kind")),
            ):
                want = Counter(
                    tuple(str(r[k]) if r[k] is not None else None for k in key) for r in ledger[table]
                )
                rows = con.execute(
                    f"select {', '.join(key)} from main.{table} where unit_code = ?", [unit]
                ).fetchall()
                got = Counter(tuple(str(v) if v is not None else None for v in r) for r in rows)
                assert got == want, (unit, f["path"], table)
    finally:
        con.close()


def test_headline_figures_recomputed_from_the_truth(county):
    root, truth = county
    expected = _expected_effective(truth)
    figures = json.loads((root / "out" / "figures.json").read_text(encoding="utf-8"))["figures"]
    ledgers = [f["ledger"] for f in expected.values()]
    topics = sum(len(lg["research"]) for lg in ledgers)
    formed = sum(1 for lg in ledgers for t in lg["research"] if t["status"] == "report_formed")
    problems = sum(len(lg["problems"]) for lg in ledgers)
    measures = sum(len(lg["measures"]) for lg in ledgers)
    closed = sum(1 for lg in ledgers for p in lg["problems"] if p["status"] == "closed")
    overdue = sum(
        1
        for lg in ledgers
        for p in lg["problems"]
        if p["status"] != "closed" and p["deadline"] and date.fromisoformat(p["deadline"]) < AS_OF
    )
    domains = {t["domain"] for lg in ledgers for t in lg["research"]}
    assert figures["research.topics"]["total"] == topics
    assert figures["research.reports_formed"]["total"] == formed
    assert figures["rectification.problems"]["total"] == problems
    assert figures["rectification.measures"]["total"] == measures
    assert figures["rectification.problems_closed"]["total"] == closed
    assert figures["rectification.problems_overdue"]["total"] == overdue
    assert figures["research.domains"]["total"] == len(domains)
    if problems:
        assert abs(figures["rectification.close_rate"]["total"] - closed / problems) < 1e-9
