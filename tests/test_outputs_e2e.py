"""What people read, from a real run on the sample county, checked against the sample's own true
figures (expected.json, written outside the team): the report, the summary workbook, the
feedback workbooks and `ledgerflow explain`."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import docx
import openpyxl
import pandas as pd
import pytest

from ledgerflow.outputs.feedback import feedback_filename
from ledgerflow.pipeline import feedback_scope
from ledgerflow.template import load_template

LEDGERFLOW = Path(sys.executable).with_name("ledgerflow")
SECTION_OF = {
    "plans": "一",
    "org": "一",
    "study": "二",
    "research": "三",
    "meetings": "四",
    "rectification": "四",
    "outcomes": "四",
    "submissions": "五",
}


@pytest.fixture(scope="module")
def expected(shared_dir):
    return json.loads((shared_dir / "samples" / "small" / "expected.json").read_text(encoding="utf-8"))


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _shown(value, is_ratio: bool) -> str:
    if is_ratio:
        pct = (Decimal(str(value)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{pct}%"
    return str(int(value))


def _sections(document) -> dict[str, str]:
    out, current = {}, ""
    for p in document.paragraphs:
        m = re.match(r"^([一二三四五六七八九])、", p.text)
        if m and p.style.name.startswith("Heading"):
            current = m.group(1)
        out[current] = out.get(current, "") + "\n" + p.text
    return out


def test_report_docx_states_every_county_report_figure_in_its_part(sample_runs, expected):
    figs = expected["figures"]["primary"][expected["root"]]
    document = docx.Document(str(sample_runs["out-primary"] / "report.docx"))
    parts = _sections(document)
    assert set("一二三四五") <= set(parts), sorted(parts)
    for item in load_template().raw["report"]:
        key, scope = item["key"], item["scope"]
        value = figs[key][0 if scope == "own" else 1]
        assert value is not None, key
        shown = _shown(value, key in expected["ratio_keys"])
        part = SECTION_OF[key.split(".")[0]]
        assert re.search(rf"(?<![\d.]){re.escape(shown)}(?![\d.])", parts[part]), (key, scope, shown, part)


def test_report_md_names_the_as_of_date_and_the_units_that_did_not_report(sample_runs, expected):
    md = (sample_runs["out-primary"] / "report.md").read_text(encoding="utf-8")
    assert "2023年12月15日" in md
    subs = _csv(sample_runs["out-primary"] / "submissions.csv")
    effective = {r["unit_code"] for r in subs if r["status"] == "effective"}
    silent = [u for u in expected["units"] if u["must_report"] and u["code"] not in effective]
    assert silent, "the sample has units that must report and did not"
    for u in silent:
        assert u["name"] in md, u


def test_summary_workbook_has_the_levels_their_figures_and_charts(sample_runs, expected):
    path = sample_runs["out-primary"] / "summary.xlsx"
    wb = openpyxl.load_workbook(path)
    assert {"县级", "乡镇级", "支部级"} <= set(wb.sheetnames)
    figs = expected["figures"]["primary"]
    townships = {u["code"] for u in expected["units"] if u["level"] == "township"}
    ws = wb["乡镇级"]
    header_row = next(r for r in range(1, 6) if "调研课题" in [c.value for c in ws[r]])
    header = [c.value for c in ws[header_row]]
    col = header.index("调研课题")
    found = {}
    for row in ws.iter_rows(min_row=header_row + 1, values_only=True):
        if row[0] in townships:
            found[row[0]] = row[col]
    assert found == {t: figs[t]["research.topics"][1] for t in townships}
    import zipfile

    with zipfile.ZipFile(path) as zf:
        charts = [n for n in zf.namelist() if n.startswith("xl/charts/chart")]
        sheets_xml = [zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
    assert len(charts) >= 2
    assert not any(b"<f>" in x or b"<f " in x for x in sheets_xml), "no formula in summary.xlsx"


def test_feedback_workbook_per_file_lists_every_issue_and_marks_the_cell(sample_runs):
    out = sample_runs["out-primary"]
    issues = _csv(out / "issues.csv")
    per_file = Counter(i["path"] for i in issues)
    units = {i["path"]: i["unit_code"] for i in issues}
    assert per_file
    # feedback only for what the unit still has to act on (interface.md): no duplicate, no
    # superseded file, none older than the unit's effective submission
    subs = _csv(out / "submissions.csv")
    scope = feedback_scope(pd.DataFrame(subs).replace({"as_of": {"": None}}))
    status = {s["path"]: s["status"] for s in subs}
    assert any(status[p] == "superseded" for p in per_file), (
        "the sample county has superseded files with issues"
    )
    for path in per_file:
        if path not in scope:
            assert status[path] in ("superseded", "duplicate", "rejected"), path
            assert not (out / "feedback" / feedback_filename(units[path], path)).exists(), path
    per_file = Counter({p: n for p, n in per_file.items() if p in scope})
    assert per_file
    assert len(list((out / "feedback").iterdir())) == len(per_file)
    for path, n in per_file.items():
        fb = out / "feedback" / feedback_filename(units[path], path)
        assert fb.exists(), (path, fb.name)
        wb = openpyxl.load_workbook(fb)
        assert wb.sheetnames[0] == "校验结果"
        listed = [
            r
            for r in wb["校验结果"].iter_rows(values_only=True)
            if r and any(str(v) in ("错误", "警告") for v in r if v is not None)
        ]
        assert len(listed) == n, (path, len(listed), n)
    # a cell-level error: the cell in the clerk's own sheet is filled and commented
    cell_issue = next(i for i in issues if i["severity"] == "error" and i["cell"] and i["sheet"])
    wb = openpyxl.load_workbook(
        out / "feedback" / feedback_filename(cell_issue["unit_code"], cell_issue["path"])
    )
    cell = wb[cell_issue["sheet"]][cell_issue["cell"]]
    assert cell.comment is not None and cell.comment.text.strip()
    assert cell.fill is not None and cell.fill.fgColor.rgb not in (None, "00000000")


def _explain(warehouse, key: str, *extra: str) -> subprocess.CompletedProcess:
    argv = [str(LEDGERFLOW), "explain", key, "--scope", "total", "--warehouse", str(warehouse), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_explain_lists_as_many_rows_as_the_figure_says(sample_runs, expected):
    figs = expected["figures"]["second"][expected["root"]]
    proc = _explain(sample_runs["wh-second"], "research.topics", "--unit", expected["root"])
    assert proc.returncode == 0, proc.stderr
    rows = [ln for ln in proc.stdout.splitlines() if ln.count("\t") >= 4 and not ln.startswith("单位代码")]
    assert len(rows) == figs["research.topics"][1]
    assert all(re.search(r"\t[A-Z]+\d+\t", ln) for ln in rows), "every row names its cell"


def test_explain_a_ratio_lists_the_rows_of_its_numerator_and_its_denominator(sample_runs, expected):
    figs = expected["figures"]["second"][expected["root"]]
    proc = _explain(sample_runs["wh-second"], "rectification.close_rate")
    assert proc.returncode == 0, proc.stderr
    counts = {m[2]: int(m[3]) for m in re.finditer(r"\[total (分子|分母) (\S+)\] (\d+) 行", proc.stdout)}
    assert counts == {
        "rectification.problems_closed": figs["rectification.problems_closed"][1],
        "rectification.problems": figs["rectification.problems"][1],
    }


def test_summary_workbook_lists_every_version_change_of_the_run(sample_runs):
    with open(sample_runs["out-primary"] / "issues.csv", encoding="utf-8-sig", newline="") as fh:
        codes = ("W_ROW_VANISHED", "W_COUNT_FELL", "W_STATUS_BACKWARD")
        messages = sorted(r["message"] for r in csv.DictReader(fh) if r["code"] in codes)
    ws = openpyxl.load_workbook(sample_runs["out-primary"] / "summary.xlsx", read_only=True)["版本变动"]
    rows = list(ws.iter_rows(values_only=True))
    head = list(rows[0])
    assert sorted(r[head.index("说明")] for r in rows[1:]) == messages
    assert messages, "the sample county has changes between versions"
