"""Feedback benchmark: ms per feedback workbook on the 2,000-unit county, three ways on the same files.

* **markup** — what `feedback/` holds now: the clerk's own package marked up
  (`ledgerflow.outputs.feedback.write_feedback`);
* **openpyxl** — `openpyxl.load_workbook` + `save` of the same file (`keep_vba` for an .xlsm): the
  cost of the obvious way to mark up the clerk's file, which still drops drop-down extensions,
  pictures and charts;
* **values copy** — what `feedback/` held before: 校验结果 plus a values copy of the sheets with
  issues, read with calamine and written with xlsxwriter (`values_copy`).

Each is timed per file, in one process, interleaved file by file (so a busy moment of the shared
machine hits all three alike), every output written to disk. The files are those the county run
gives feedback to now (interface.md: not duplicates, not superseded, not older than the unit's
effective submission); .xls files are left out of the openpyxl column, which cannot read them.
Then the whole `write_feedback_books` step as a run does it (2 processes, empty cache): before
the scope (every file with an issue) and after.

    .venv/bin/python benchmarks/feedback.py            # ≈ 2 minutes after the corpus and run exist

The corpus comes from benchmarks/corpus.py; the issues from one `ledgerflow run` on it (as of
2023-12-15, like run.py), kept under benchmarks/work/feedback-run-n<N>/ and reused. Results go to
benchmarks/work/feedback-n<N>.json and to the feedback section of benchmarks/README.md (below
run.py's kept marker, between this script's own markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

import corpus  # noqa: E402
from readme_section import replace_section  # noqa: E402

WORK = corpus.WORK
README = REPO / "benchmarks" / "README.md"
BEGIN = "<!-- feedback.py: begin -->"
END = "<!-- feedback.py: end -->"
AS_OF = "2023-12-15"


def county_run(n_units: int, seed: int) -> Path:
    """The warehouse of one `ledgerflow run` on the corpus (made once, then reused)."""
    root = corpus.county(n_units, seed)
    run = WORK / f"feedback-run-n{n_units}-s{seed}"
    wh = run / "warehouse.duckdb"
    if (run / ".complete").is_file() and wh.is_file():
        return wh
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(run / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    print(f"ledgerflow run on {root.name} …", flush=True)
    subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "ledgerflow"),
            "run",
            "--inbox",
            str(root / "inbox"),
            "--registry",
            str(root / "registry.xlsx"),
            "--warehouse",
            str(wh),
            "--out",
            str(run / "out"),
            "--as-of",
            AS_OF,
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (run / ".complete").write_text("ok\n", encoding="utf-8")
    return wh


def _stats(ms: list[float]) -> dict:
    s = sorted(ms)
    return {
        "n": len(s),
        "median_ms": round(statistics.median(s), 2),
        "p95_ms": round(s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))], 2),
        "mean_ms": round(statistics.fmean(s), 2),
        "total_s": round(sum(s) / 1000, 2),
    }


def measure(n_units: int, seed: int) -> dict:
    import duckdb
    import openpyxl
    import pandas as pd
    from python_calamine import CalamineWorkbook

    from ledgerflow import pipeline
    from ledgerflow.discover import FileRef
    from ledgerflow.outputs.feedback import values_copy, write_feedback

    wh = county_run(n_units, seed)
    inbox = corpus.county(n_units, seed) / "inbox"
    con = duckdb.connect(str(wh), read_only=True)
    issues = con.sql(
        'select path, unit_code, sheet, "row", "column", cell, code, severity, message, value from issues'
    ).df()
    subs = con.sql("select path, sha256, submitter, unit_code, as_of, status from submissions").df()
    con.close()
    status = dict(zip(subs["path"], subs["status"], strict=True))
    with_issues = sorted(set(issues["path"]))
    scope = pipeline.feedback_scope(subs)
    files = [p for p in with_issues if p in scope]
    by_status_before: dict[str, int] = {}
    for p in with_issues:
        by_status_before[status[p]] = by_status_before.get(status[p], 0) + 1
    groups = {p: g for p, g in issues.groupby("path", sort=False) if p in scope}

    times: dict[str, list[float]] = {"markup": [], "openpyxl": [], "values": []}
    kinds = {"markup": 0, "values_copy_fallback": 0, "issues_only": 0, "refused_packages": 0}
    parts = {"total": 0, "rewritten": 0, "added": 0}
    with tempfile.TemporaryDirectory(prefix="lf-feedback-bench-") as tmp:
        out = Path(tmp)
        # warm-up: imports, regex compilation, the first calamine and openpyxl calls
        for p in files[:20]:
            g = groups[p]
            write_feedback(inbox / p, g, out / "warm", unit_code="X", rel_path=p)
            values_copy(inbox / p, g, unit_code="X", rel_path=p)
        for i, p in enumerate(files):
            src = inbox / p
            g = groups[p]
            unit = next((u for u in g["unit_code"] if isinstance(u, str) and u), "")
            t0 = time.perf_counter()
            fb = write_feedback(src, g, out / "markup" / f"{i}.xlsx", unit_code=unit, rel_path=p)
            times["markup"].append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            data = values_copy(src, g, unit_code=unit, rel_path=p)
            (out / f"values-{i}.xlsx").write_bytes(data)
            times["values"].append((time.perf_counter() - t0) * 1000)
            if src.suffix.lower() in (".xlsx", ".xlsm"):
                t0 = time.perf_counter()
                try:
                    wb = openpyxl.load_workbook(src, keep_vba=src.suffix.lower() == ".xlsm")
                    wb.save(out / f"openpyxl-{i}{src.suffix.lower()}")
                    times["openpyxl"].append((time.perf_counter() - t0) * 1000)
                except Exception:  # noqa: BLE001 - an unreadable file: not timed
                    pass
            # what became of the file: marked up, values copy, or 校验结果 alone (its note says which)
            note = str(CalamineWorkbook.from_path(str(fb)).get_sheet_by_index(0).to_python(nrows=2)[1][0])
            if "原样保留" in note:
                kinds["markup"] += 1
                with zipfile.ZipFile(src) as za, zipfile.ZipFile(fb) as zb:
                    old = {n: za.read(n) for n in za.namelist()}
                    new = {n: zb.read(n) for n in zb.namelist()}
                parts["total"] += len(old)
                parts["rewritten"] += sum(1 for n in old if old[n] != new.get(n))
                parts["added"] += sum(1 for n in new if n not in old)
            elif "副本" in note:
                kinds["values_copy_fallback"] += 1
                if src.suffix.lower() != ".xls":
                    kinds["refused_packages"] += 1
            else:
                kinds["issues_only"] += 1

    # the whole feedback step of a run, before and after the scope (2 processes, empty cache)
    refs = [
        FileRef(p, str(inbox / p), 0, sha, sub, "workbook")
        for p, sha, sub in zip(subs["path"], subs["sha256"], subs["submitter"], strict=True)
    ]
    step = {}
    for label, kw in (
        ("markup of every file with an issue (the scope before)", {}),
        ("markup of the files the unit still has to act on (now)", {"submissions": subs}),
    ):
        with tempfile.TemporaryDirectory(prefix="lf-feedback-step-") as tmp:
            t0 = time.perf_counter()
            res = pipeline.write_feedback_books(issues, refs, Path(tmp) / "fb", Path(tmp) / "cache", 2, **kw)
            step[label] = {"seconds": round(time.perf_counter() - t0, 2), **res}
    return {
        "units": n_units,
        "seed": seed,
        "at": datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load": list(os.getloadavg()),
        },
        "files_with_issues": len(with_issues),
        "files_with_issues_by_status": by_status_before,
        "files_in_scope": len(files),
        "xls_in_scope": sum(1 for p in files if p.lower().endswith(".xls")),
        "kinds": kinds,
        "parts": parts,
        "per_workbook": {k: _stats(v) for k, v in times.items()},
        "step": step,
        "pd": pd.__version__,
    }


NOTES = """### What the feedback workbook does not keep, and why

Everything of an .xlsx/.xlsm package is kept byte for byte except the parts a mark needs (styles,
the flagged sheets, workbook.xml, its rels, [Content_Types].xml, the flagged sheets' comments and
VML drawings). What changes for the clerk, or could not be kept:

- **.xls files** come back as an .xlsx copy of their values (with the same marks): nothing edits a
  BIFF file in place, and Excel cannot hold the marks in an .xls written by the libraries we have.
- **The tab selection**: 校验结果 opens first and is the only selected tab, so the clerk's own
  `tabSelected` is dropped from the sheet that had it (otherwise Excel opens the two as a group)
  and `activeTab`/`firstSheet` point at 校验结果.
- **A flagged cell's own fill** gives way to red or yellow (its font, border, number format,
  alignment and protection stay); a conditional format that fills the cell still paints over ours.
- **The clerk's comment on a flagged cell** keeps its text, after ours, but its box keeps the
  clerk's size (the longer text may need the box enlarged). On a cell with an Excel 365 *threaded*
  comment, Excel 365 shows the thread and not our text (WPS and LibreOffice show ours); the fill
  and 校验结果 still say it.
- **docProps/app.xml** is left as it was, so its list of sheet titles does not name 校验结果
  (Excel rewrites it on the next save; nothing reads it on open).
- **Macros that address sheets by position** (`Sheets(1)`) now find 校验结果 there;
  vbaProject.bin itself is untouched.
- **A digitally signed workbook** keeps its signature parts, but the signature no longer matches.
- **Packages the markup refuses** get the values copy, with a note in 校验结果 and a warning in the
  log: strict OOXML, parts not in UTF-8, a DTD in any part read, encrypted or ZIP64 zips, a broken
  relationship. In this county: {refused} of the {packages:,} .xlsx/.xlsm files in scope refused.
"""


def render(r: dict) -> str:
    pw = r["per_workbook"]
    m, o, v = pw["markup"], pw["openpyxl"], pw["values"]
    lines = [
        BEGIN,
        "## Feedback workbooks (`benchmarks/feedback.py`)",
        "",
        f"{r['units']:,}-unit county (seed {r['seed']}), run {r['at']}, {r['machine']['cpu_count']} cores, "
        f"load average at start {', '.join(f'{x:.2f}' for x in r['machine']['load'])}. "
        f"{r['files_in_scope']:,} files get feedback ({r['xls_in_scope']} of them .xls); each is timed three ways "
        "in one process, interleaved file by file, every output written to disk.",
        "",
        "| ms per feedback workbook | median | p95 | mean | files |",
        "|---|---:|---:|---:|---:|",
        f"| **markup of the clerk's own file (now)** | **{m['median_ms']}** | **{m['p95_ms']}** | {m['mean_ms']} | {m['n']:,} |",
        f"| openpyxl load + save of the same file | {o['median_ms']} | {o['p95_ms']} | {o['mean_ms']} | {o['n']:,} |",
        f"| values copy (before: calamine + xlsxwriter) | {v['median_ms']} | {v['p95_ms']} | {v['mean_ms']} | {v['n']:,} |",
        "",
        f"Markup vs openpyxl: **{o['median_ms'] / m['median_ms']:.1f} × faster** at the median "
        f"({o['p95_ms'] / m['p95_ms']:.1f} × at p95); vs the values copy {v['median_ms'] / m['median_ms']:.1f} × "
        f"at the median. Target: median ≤ 10 ms and ≥ 6 × faster than openpyxl — "
        f"{'met' if m['median_ms'] <= 10 and o['median_ms'] / m['median_ms'] >= 6 else '**not met**'}.",
        "",
        f"What the markup did: {r['kinds']['markup']:,} packages marked up in place, "
        f"{r['kinds']['values_copy_fallback']} fell back to the values copy (.xls or a package it could not edit), "
        f"{r['kinds']['issues_only']} got 校验结果 alone (unreadable files). Of the {r['parts']['total']:,} parts of "
        f"the marked-up packages, {r['parts']['rewritten']:,} were rewritten "
        f"({100 * r['parts']['rewritten'] / max(1, r['parts']['total']):.0f} %: styles, workbook, its rels, content "
        f"types and the flagged sheets) and {r['parts']['added']:,} added (校验结果, comments, VML drawings, sheet rels); "
        "every other part is copied with its compressed bytes.",
        "",
        "Scope: files with an issue by status before the scope — "
        + ", ".join(f"{k} {n:,}" for k, n in sorted(r["files_with_issues_by_status"].items()))
        + f"; {r['files_in_scope']:,} of {r['files_with_issues']:,} are in scope now.",
        "",
        "| feedback step of a run (2 processes, empty cache) | seconds | workbooks |",
        "|---|---:|---:|",
    ]
    for label, s in r["step"].items():
        lines.append(f"| {label} | {s['seconds']} | {s['written']:,} |")
    packages = r["kinds"]["markup"] + r["kinds"]["refused_packages"]
    lines += ["", NOTES.format(refused=r["kinds"]["refused_packages"], packages=packages), END]
    return "\n".join(lines)


def write_readme(r: dict) -> None:
    replace_section(README, BEGIN, END, render(r))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=2023)
    a = ap.parse_args(argv)
    r = measure(a.units, a.seed)
    (WORK / f"feedback-n{a.units}.json").write_text(
        json.dumps(r, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    write_readme(r)
    print(render(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
