"""Run reports in the Prefect UI: a markdown summary and a table of the township-level figures.

The plain functions build the artifacts' content from the frames the flow already has
(``fr`` = rollup, submissions, issues and units DataFrames, see ``pipeline.frames``); the task
publishes them under fixed keys, so the UI's Artifacts page keeps each key's history run by run.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from ledgerflow.outputs.report import (
    COUNTY_REPORT_FIGURES,
    FigureTable,
    build_context,
    format_figure,
    md_cell,
)
from ledgerflow.outputs.safe import is_missing

#: Artifact keys (lowercase letters, digits and dashes, as Prefect requires).
SUMMARY_KEY = "ledgerflow-summary"
TOWNSHIPS_KEY = "ledgerflow-townships"

#: Township table columns: column name → figure key (total scope).
TOWNSHIP_FIGURES: dict[str, str] = {
    "topics": "research.topics",
    "reports": "research.reports_formed",
    "problems": "rectification.problems",
    "closed": "rectification.problems_closed",
    "close_rate": "rectification.close_rate",
    "overdue": "rectification.problems_overdue",
}

STATUS_ORDER = ["effective", "superseded", "later", "rejected", "duplicate", "ignored"]
TOP_ISSUES = 10


def _value(v: Any) -> int | float | None:
    if is_missing(v):
        return None
    f = float(v)
    return int(f) if f.is_integer() else round(f, 4)


def _root_name(fr: dict[str, pd.DataFrame], root: str) -> str:
    units = fr["units"]
    names = units.loc[units["code"] == root, "name"]
    return str(names.iloc[0]) if len(names) and not is_missing(names.iloc[0]) else root


def status_counts(submissions: pd.DataFrame) -> list[tuple[str, int]]:
    """(status, files) for every status, in the order of interface.md, zeros included."""
    counts = submissions["status"].astype(str).value_counts().to_dict() if not submissions.empty else {}
    known = [(s, int(counts.pop(s, 0))) for s in STATUS_ORDER]
    return known + sorted((s, int(n)) for s, n in counts.items())


def top_issue_codes(issues: pd.DataFrame, n: int = TOP_ISSUES) -> list[tuple[str, str, int]]:
    """(code, severity, count) of the ``n`` most frequent issue codes, most frequent first."""
    if issues.empty:
        return []
    grouped = issues.groupby(["code", "severity"], dropna=False).size().reset_index(name="n")
    grouped = grouped.sort_values(["n", "code"], ascending=[False, True]).head(n)
    return [(str(r.code), str(r.severity), int(r.n)) for r in grouped.itertuples()]


def missing_units(fr: dict[str, pd.DataFrame], root: str, as_of: date) -> list[dict[str, str]]:
    """Units that must report and have no effective submission (the report's own definition)."""
    ctx = build_context(fr["rollup"], fr["units"], fr["submissions"], unit_code=root, as_of=as_of)
    return ctx["missing"]


def township_rows(fr: dict[str, pd.DataFrame], root: str) -> list[dict[str, Any]]:
    """One row per township-level unit (the root's children): its figures, unformatted."""
    table = FigureTable(fr["rollup"])
    units = fr["units"]
    rows = []
    for u in units[units["parent"] == root].itertuples():
        row: dict[str, Any] = {"code": str(u.code), "name": "" if is_missing(u.name) else str(u.name)}
        for col, key in TOWNSHIP_FIGURES.items():
            row[col] = _value(table.get(str(u.code), key, "total"))
        rows.append(row)
    return rows


CHANGE_CODES = (
    ("W_ROW_VANISHED", "编号消失"),
    ("W_COUNT_FELL", "行数减少"),
    ("W_STATUS_BACKWARD", "状态倒退"),
)


def change_counts(fr: dict[str, pd.DataFrame], root: str) -> list[tuple[str, dict[str, int]]]:
    """(township-level unit name, {code: count}) of the run's §10 changes, townships in registry
    order, the root's own changes under its name; only units with a change."""
    changes = fr.get("changes")
    if changes is None or changes.empty:
        return []
    units = fr["units"]
    order = [str(c) for c in units.loc[units["parent"] == root, "code"]]
    names = dict(zip(units["code"].astype(str), units["name"].astype(str), strict=True))
    counts: dict[str, dict[str, int]] = {}
    for township, code in zip(changes["township_code"], changes["code"], strict=True):
        key = root if is_missing(township) else str(township)
        counts.setdefault(key, {}).setdefault(str(code), 0)
        counts[key][str(code)] += 1
    ordered = [c for c in [root, *order] if c in counts]
    return [(names.get(c, c), counts[c]) for c in ordered]


def summary_markdown(fr: dict[str, pd.DataFrame], as_of: date, root: str, run_id: int | None = None) -> str:
    """The run's summary: headline figures, files by status, missing units, top issue codes."""
    table = FigureTable(fr["rollup"])
    name = _root_name(fr, root)
    run = f"（运行 {run_id}）" if run_id is not None else ""
    lines = [
        f"# {md_cell(name)} 台账汇总 截至 {as_of.isoformat()}{run}",
        "",
        "## 主要指标",
        "",
        "| 指标 | 口径 | 数值 |",
        "|---|---|---:|",
    ]
    for key, scope in COUNTY_REPORT_FIGURES:
        lines.append(
            f"| `{key}` | {'本级' if scope == 'own' else '合计'} | "
            f"{format_figure(key, table.get(root, key, scope))} |"
        )

    statuses = status_counts(fr["submissions"])
    lines += [
        "",
        f"## 文件状态（共 {sum(n for _, n in statuses)} 个）",
        "",
        "| 状态 | 文件数 |",
        "|---|---:|",
    ]
    lines += [f"| {md_cell(s)} | {n} |" for s, n in statuses]

    missing = missing_units(fr, root, as_of)
    lines += ["", f"## 应报未报单位（{len(missing)} 个）", ""]
    lines += [f"- {md_cell(m['code'])} {md_cell(m['name'])}" for m in missing] or ["无"]

    issues = fr["issues"]
    errors = int((issues["severity"] == "error").sum()) if not issues.empty else 0
    lines += ["", f"## 问题代码（错误 {errors} 个，警告 {len(issues) - errors} 个）", ""]
    top = top_issue_codes(issues)
    if top:
        lines += ["| 代码 | 严重程度 | 次数 |", "|---|---|---:|"]
        lines += [f"| `{code}` | {'错误' if sev == 'error' else '警告'} | {n} |" for code, sev, n in top]
    else:
        lines.append("无")

    changed = change_counts(fr, root)
    total = sum(sum(c.values()) for _, c in changed)
    lines += ["", f"## 版本变动（与本单位上一版台账相比，共 {total} 条警告）", ""]
    if changed:
        lines += ["| 乡镇级单位 | " + " | ".join(label for _, label in CHANGE_CODES) + " |"]
        lines += ["|---|" + "---:|" * len(CHANGE_CODES)]
        for name, c in changed:
            lines.append(
                f"| {md_cell(name)} | " + " | ".join(str(c.get(code, 0)) for code, _ in CHANGE_CODES) + " |"
            )
    else:
        lines.append("无")
    return "\n".join(lines) + "\n"


@task(name="publish run report artifacts", cache_policy=NO_CACHE)
def publish_run_report(
    fr: dict[str, pd.DataFrame], as_of: date, root: str, run_id: int | None = None
) -> dict:
    """Create the summary (markdown) and township (table) artifacts of this run."""
    summary = create_markdown_artifact(
        markdown=summary_markdown(fr, as_of, root, run_id),
        key=SUMMARY_KEY,
        description=f"ledgerflow 运行摘要：{root} 截至 {as_of.isoformat()}",
    )
    townships = create_table_artifact(
        table=township_rows(fr, root),
        key=TOWNSHIPS_KEY,
        description=f"乡镇级单位指标（合计口径）：截至 {as_of.isoformat()}",
    )
    return {SUMMARY_KEY: str(summary), TOWNSHIPS_KEY: str(townships)}
