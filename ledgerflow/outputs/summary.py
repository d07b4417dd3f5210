"""summary.xlsx: the figures of every unit, one sheet per level, with charts.

Sheets, in order:

``县级`` / ``乡镇级`` / ``支部级``
    one row per unit of that level (registry order) and the key figures as columns. Row 1 says
    what the sheet is; row 2 holds the column names, row 3 the scope of each column (``本级`` =
    the unit's own ledger only, ``合计`` = the unit and every unit below it); data from row 4.
    Rows 1–3 and the code/name columns are frozen.
``图表``
    native Excel charts over the ``乡镇级`` sheet: a column chart of research topics and reports
    formed, and a stacked column chart of problems by status (已整改 / 整改中 / 未启动), one
    category per township-level unit.
``全部指标``
    the whole rollup as a long table: unit, level, parent, key, its Chinese label, own, total.
``版本变动``
    what changed between each unit's accepted versions (ledger.md §10): one row per vanished ID,
    fallen row count or status gone backward, with the unit, its township, both files and cells.

Every text cell is written with :func:`~ledgerflow.outputs.safe.write_text_cell` in a workbook
created with ``strings_to_formulas/urls/numbers`` off, so no unit name becomes a formula or link.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from .report import FigureTable, _unit_records, cn_date, is_ratio_key
from .safe import EXCEL_MAX_TEXT, clean_text, is_missing, new_workbook, write_text_cell

__all__ = ["LEVEL_SHEETS", "SUMMARY_COLUMNS", "frame_keys", "key_label", "write_summary"]

#: level → sheet name
LEVEL_SHEETS: dict[str, str] = {"county": "县级", "township": "乡镇级", "branch": "支部级"}
LEVEL_NAMES: dict[str, str] = {"county": "县级", "township": "乡镇级", "branch": "支部级"}
CHART_SHEET = "图表"
LONG_SHEET = "全部指标"
CHANGES_SHEET = "版本变动"
CODE_LABELS = {"W_ROW_VANISHED": "编号消失", "W_COUNT_FELL": "行数减少", "W_STATUS_BACKWARD": "状态倒退"}

#: (column header, figure key, scope). Scope ``own`` for the items the county report counts as
#: a unit's own work (figures.md "The county report"), ``total`` for everything else.
SUMMARY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("调研课题", "research.topics", "total"),
    ("已形成报告", "research.reports_formed", "total"),
    ("问题", "rectification.problems", "total"),
    ("整改措施", "rectification.measures", "total"),
    ("已整改", "rectification.problems_closed", "total"),
    ("整改中", "rectification.by_status.in_progress", "total"),
    ("未启动整改", "rectification.by_status.not_started", "total"),
    ("整改率", "rectification.close_rate", "total"),
    ("逾期问题", "rectification.problems_overdue", "total"),
    ("工作方案", "plans.by_kind.work_plan", "own"),
    ("读书班", "study.by_kind.reading_class", "own"),
    ("集中学习", "study.by_kind.group_study", "own"),
    ("会议", "meetings.total", "total"),
    ("学习计划覆盖率", "study.plan_coverage", "total"),
    ("制度成果", "outcomes.rules", "total"),
    ("典型经验", "outcomes.experiences", "total"),
    ("应报送单位", "submissions.expected", "total"),
    ("已报送单位", "submissions.received", "total"),
    ("报送率", "submissions.rate", "total"),
    ("数据滞后单位", "submissions.stale", "total"),
    ("退回文件", "submissions.rejected_files", "total"),
)
STATUS_HEADER = "报送状态"
#: The figures ``_status`` reads (own scope) to say whether a unit has reported.
STATUS_KEYS = ("submissions.expected", "submissions.received", "submissions.stale")


def frame_keys() -> set[str]:
    """The figure keys this workbook reads for *every* unit (branches included)."""
    return {key for _, key, _ in SUMMARY_COLUMNS} | set(STATUS_KEYS)


SCOPE_TEXT = {"own": "本级", "total": "合计"}

# --------------------------------------------------------------------------- labels

_PREFIX_LABELS = {
    "meetings.by_kind": "会议·",
    "study.by_kind": "学习·",
    "research.by_status": "调研课题·进展·",
    "research.by_domain": "调研课题·领域·",
    "research.by_section": "调研课题·版块·",
    "research.by_method": "调研课题·方式·",
    "research.by_cadre": "调研课题·干部类别·",
    "rectification.by_status": "问题·整改状态·",
    "rectification.by_source": "问题·来源·",
    "rectification.by_kind": "问题·整改类型·",
    "plans.by_kind": "工作部署·",
    "org.by_kind": "工作机构·",
}
_SLUGS = {
    "meetings.by_kind": {
        "standing_committee": "常委会会议",
        "mobilization": "动员部署会",
        "progress": "推进会",
        "committee": "党委会",
        "party_group": "党小组会",
        "branch_committee": "支委会",
        "members_meeting": "党员大会",
        "life_meeting": "专题民主生活会",
        "other": "其他",
    },
    "study.by_kind": {
        "reading_class": "读书班",
        "group_study": "集中学习",
        "seminar": "专题研讨",
        "video_seminar": "视频研讨",
        "exchange": "心得交流",
        "red_education": "红色教育",
        "contest": "读书演讲比赛",
        "party_lecture": "专题党课",
        "other": "其他",
    },
    "research.by_status": {
        "not_started": "未开始",
        "in_progress": "调研中",
        "drafting": "报告修改完善中",
        "report_formed": "已形成报告",
    },
    "research.by_domain": {
        "politics": "政治",
        "economy": "经济",
        "culture": "文化",
        "society": "社会",
        "ecology": "生态文明",
        "party_building": "党的建设",
        "livelihood": "民生",
        "safety": "安全稳定",
        "reform": "深化改革",
        "other": "其他",
    },
    "research.by_section": {
        "overall": "事业全局",
        "major_projects": "重大项目",
        "task_delivery": "任务落实",
        "hard_problems": "破解难题",
        "development": "建设发展",
    },
    "research.by_method": {
        "site_visit": "实地走访",
        "forum": "现场座谈",
        "data_analysis": "数据分析",
        "written": "书面调研",
        "unannounced": "四不两直",
        "interview": "个别访谈",
    },
    "research.by_cadre": {"county_leader": "县级领导", "section_cadre": "科级干部", "other": "其他"},
    "rectification.by_status": {"closed": "已整改", "in_progress": "整改中", "not_started": "未启动"},
    "rectification.by_source": {
        "inspection": "巡视巡察",
        "supervision": "专项督查",
        "audit": "审计监督",
        "self_review": "自我检视",
        "research": "调研发现",
        "public": "群众反映",
    },
    "rectification.by_kind": {"immediate": "立行立改", "time_bound": "限期整改", "long_term": "长期坚持"},
    "plans.by_kind": {
        "work_plan": "工作方案",
        "task_list": "任务清单",
        "responsibility_list": "责任清单",
        "deadline_list": "时限清单",
        "progress_table": "推进表",
    },
    "org.by_kind": {"leading_group": "领导小组", "office": "领导小组办公室", "working_group": "工作组"},
}
_KEY_LABELS = {
    "meetings.total": "会议次数",
    "meetings.rectification.mobilization": "检视整改动员部署会",
    "meetings.rectification.progress": "检视整改推进会",
    "meetings.units_mobilized": "召开动员会议的单位数",
    "study.total": "学习活动次数",
    "study.participants": "参学人次",
    "study.members": "党员人数",
    "study.members_with_plan": "制定个人学习计划人数",
    "study.plan_coverage": "个人学习计划覆盖率",
    "research.topics": "调研课题数",
    "research.reports_formed": "已形成调研报告数",
    "research.reports_pending": "尚未形成报告的课题数",
    "research.domains": "课题涉及领域数",
    "research.sections": "课题涉及版块数",
    "rectification.problems": "问题数",
    "rectification.measures": "整改措施数",
    "rectification.problems_closed": "已整改问题数",
    "rectification.problems_overdue": "逾期未整改问题数",
    "rectification.close_rate": "整改率",
    "rectification.measures_done": "已完成整改措施数",
    "outcomes.rules": "制度成果数",
    "outcomes.experiences": "典型经验数",
    "plans.units_with_progress_table": "制定推进表的单位数",
    "submissions.expected": "应报送单位数",
    "submissions.received": "已报送单位数",
    "submissions.rate": "报送率",
    "submissions.stale": "数据滞后单位数",
    "submissions.rejected_files": "被退回文件数",
}


def key_label(key: str) -> str:
    """A Chinese label for a figure key (empty where none is known)."""
    if key in _KEY_LABELS:
        return _KEY_LABELS[key]
    prefix, _, slug = key.rpartition(".")
    if prefix in _PREFIX_LABELS:
        return _PREFIX_LABELS[prefix] + _SLUGS.get(prefix, {}).get(slug, slug)
    return ""


# --------------------------------------------------------------------------- workbook


def _status(table: FigureTable, code: str) -> str:
    expected, received, stale = (table.get(code, key, "own") for key in STATUS_KEYS)
    if expected is None and received is None:
        return "—"
    if not expected:
        return "无需报送"
    if not received:
        return "未报送"
    if stale:
        return "数据滞后"
    return "已报送"


def _text_width(text: str) -> float:
    return sum(2.1 if ord(ch) > 0x2E80 else 1.1 for ch in text)


def write_summary(
    rollup: pd.DataFrame,
    units: pd.DataFrame,
    path: Path,
    *,
    as_of: dt.date,
    changes: pd.DataFrame | None = None,
) -> Path:
    """Write summary.xlsx (see the module docstring) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = FigureTable(rollup)
    recs = _unit_records(units)
    names = {r["code"]: r["name"] or r["code"] for r in recs}
    # a unit's level: the registry's, else the rollup's
    rollup_levels: dict[str, str] = {}
    if rollup is not None and not rollup.empty and "level" in rollup.columns:
        for c, lv in zip(rollup["unit_code"], rollup["level"], strict=True):
            rollup_levels.setdefault(str(c), str(lv))
    by_level: dict[str, list[dict[str, Any]]] = {lv: [] for lv in LEVEL_SHEETS}
    for r in recs:
        lv = r["level"] or rollup_levels.get(r["code"], "")
        if lv in by_level:
            by_level[lv].append(r)

    # rows go straight to disk as they are written: a county of 20,000 branches stays flat in memory
    wb = new_workbook(path, {"constant_memory": True})
    try:
        f_title = wb.add_format({"bold": True, "font_size": 12, "text_wrap": True, "valign": "top"})
        f_head = wb.add_format(
            {
                "bold": True,
                "bg_color": "#DDEBF7",
                "border": 1,
                "align": "center",
                "valign": "vcenter",
                "text_wrap": True,
            }
        )
        f_scope = wb.add_format({"italic": True, "font_color": "#555555", "border": 1, "align": "center"})
        f_text = wb.add_format({"border": 1})
        f_int = wb.add_format({"border": 1, "num_format": "0"})
        f_pct = wb.add_format({"border": 1, "num_format": "0.0%"})
        f_pct_long = wb.add_format({"num_format": "0.00%"})
        f_num_long = wb.add_format({"num_format": "General"})

        level_ws = {}
        for level, sheet_name in LEVEL_SHEETS.items():
            ws = wb.add_worksheet(sheet_name)
            level_ws[level] = ws
            rows = by_level[level]
            lead = ["单位代码", "单位名称"] + (["上级单位"] if level == "branch" else [])
            headers = lead + [h for h, _, _ in SUMMARY_COLUMNS] + [STATUS_HEADER]
            last_col = len(headers) - 1
            note = (
                f"{LEVEL_NAMES[level]}单位主要指标（统计截止{cn_date(as_of)}）。第3行为口径："
                "“本级”只计本单位自身台账，“合计”为本单位及所有下级单位台账之和；"
                "比率按合计口径计算，空白表示无数据（如分母为0）。"
            )
            ws.set_row(0, 36)
            ws.set_row(1, 30)
            ws.merge_range(0, 0, 0, last_col, "", f_title)
            write_text_cell(ws, 0, 0, note, f_title)
            for c, h in enumerate(headers):
                write_text_cell(ws, 1, c, h, f_head)
            scopes = [""] * len(lead) + [SCOPE_TEXT[s] for _, _, s in SUMMARY_COLUMNS] + ["本级"]
            write_text_cell(ws, 2, 0, "口径", f_scope)
            for c, s in enumerate(scopes[1:], start=1):
                write_text_cell(ws, 2, c, s, f_scope)
            ws.freeze_panes(3, 2)

            widths = [_text_width(h) for h in headers]
            for i, r in enumerate(rows):
                row = 3 + i
                values: list[Any] = [r["code"], names[r["code"]]]
                if level == "branch":
                    values.append(names.get(r["parent"] or "", r["parent"] or ""))
                for c, v in enumerate(values):
                    write_text_cell(ws, row, c, v, f_text)
                    widths[c] = max(widths[c], _text_width(str(v)))
                c = len(values)
                for _, key, scope in SUMMARY_COLUMNS:
                    v = table.get(r["code"], key, scope)
                    write_text_cell(ws, row, c, v, f_pct if is_ratio_key(key) else f_int)
                    c += 1
                write_text_cell(ws, row, c, _status(table, r["code"]), f_text)
            if not rows:
                write_text_cell(ws, 3, 0, "（本级别没有单位）", None)
            for c, w in enumerate(widths):
                ws.set_column(c, c, min(max(w + 2, 8), 40))

        _write_charts(wb, level_ws["township"], len(by_level["township"]))
        parents = {r["code"]: r["parent"] or "" for r in recs}
        _write_long(wb, rollup, names, parents, f_head, f_pct_long, f_num_long)
        _write_changes(wb, changes, f_head)
        wb.worksheets()[0].activate()
    finally:
        wb.close()
    return path


def _col_of(header: str) -> int:
    return 2 + [h for h, _, _ in SUMMARY_COLUMNS].index(header)


def _write_charts(wb, township_ws, n: int) -> None:
    ws = wb.add_worksheet(CHART_SHEET)
    sheet = township_ws.get_name()
    if n == 0:
        write_text_cell(ws, 0, 0, "没有乡镇级单位，无图表。", None)
        return
    first, last = 3, 3 + n - 1
    cats = [sheet, first, 1, last, 1]
    width = max(720, 70 * n + 160)

    col = wb.add_chart({"type": "column"})
    for header, color in (("调研课题", "#4472C4"), ("已形成报告", "#70AD47")):
        c = _col_of(header)
        col.add_series(
            {
                "name": header,
                "categories": cats,
                "values": [sheet, first, c, last, c],
                "fill": {"color": color},
                "data_labels": {"value": True},
            }
        )
    col.set_title({"name": "各乡镇级单位调研课题与调研报告（合计）"})
    col.set_y_axis({"name": "个数", "major_gridlines": {"visible": True}})
    col.set_legend({"position": "bottom"})
    col.set_size({"width": width, "height": 380})
    ws.insert_chart(1, 0, col)

    stacked = wb.add_chart({"type": "column", "subtype": "stacked"})
    for header, color in (("已整改", "#70AD47"), ("整改中", "#FFC000"), ("未启动整改", "#C00000")):
        c = _col_of(header)
        stacked.add_series(
            {
                "name": header,
                "categories": cats,
                "values": [sheet, first, c, last, c],
                "fill": {"color": color},
            }
        )
    stacked.set_title({"name": "各乡镇级单位问题整改状态（合计）"})
    stacked.set_y_axis({"name": "问题数", "major_gridlines": {"visible": True}})
    stacked.set_legend({"position": "bottom"})
    stacked.set_size({"width": width, "height": 380})
    ws.insert_chart(22, 0, stacked)
    write_text_cell(ws, 0, 0, f"图表数据取自“{sheet}”工作表。", None)


def _write_long(
    wb, rollup: pd.DataFrame, names: dict[str, str], parents: dict[str, str], f_head, f_pct, f_num
) -> None:
    ws = wb.add_worksheet(LONG_SHEET)
    headers = ["单位代码", "单位名称", "层级", "上级单位代码", "指标", "指标名称", "本级(own)", "合计(total)"]
    for c, h in enumerate(headers):
        write_text_cell(ws, 0, c, h, f_head)
    ws.freeze_panes(1, 0)
    widths = [12, 24, 8, 14, 40, 28, 12, 12]
    n = 0
    if rollup is not None and not rollup.empty:
        # county and township-level units only: a county has thousands of branches, whose every
        # figure is in rollup.csv; here they would cost ~100 cells per branch for no reader
        if "level" in rollup.columns:
            rollup = rollup[rollup["level"] != "branch"]
        cols = {
            c: (rollup[c].tolist() if c in rollup.columns else [None] * len(rollup))
            for c in ("unit_code", "key", "unit_name", "level", "parent_code", "own", "total")
        }
        # the same few units and keys repeat on every row: each distinct text is cleaned once,
        # and the cells go to xlsxwriter directly (~10^4 rows a county: the per-cell dispatch of
        # write_text_cell cost as much as xlsxwriter itself)
        text: dict[tuple, tuple[str, ...]] = {}
        by_key: dict[str, tuple[str, str, Any]] = {}
        write_string, write_number, write_blank = ws.write_string, ws.write_number, ws.write_blank
        for i, (code, key, name, level, parent, own, total) in enumerate(
            zip(*cols.values(), strict=True), start=1
        ):
            unit = (code, name, level, parent)
            cells = text.get(unit)
            if cells is None:
                code = "" if is_missing(code) else str(code)
                name = names.get(code, code) if is_missing(name) else str(name)
                level = "" if is_missing(level) else str(level)
                parent = parents.get(code, "") if is_missing(parent) else str(parent)
                cells = tuple(_cell_text(v) for v in (code, name, LEVEL_NAMES.get(level, level), parent))
                text[unit] = cells
                widths[1] = max(widths[1], _text_width(name))
            k = by_key.get(key)
            if k is None:
                ks = "" if is_missing(key) else str(key)
                k = by_key[key] = (
                    _cell_text(ks),
                    _cell_text(key_label(ks)),
                    f_pct if is_ratio_key(ks) else f_num,
                )
            for c, v in enumerate(cells):
                write_string(i, c, v)
            write_string(i, 4, k[0])
            write_string(i, 5, k[1])
            for c, v in ((6, own), (7, total)):
                if type(v) is float and v == v and v not in (_INF, -_INF):
                    write_number(i, c, v, k[2])
                elif type(v) is int:
                    write_number(i, c, float(v), k[2])
                elif v is None:
                    write_blank(i, c, None, k[2])
                else:
                    write_text_cell(ws, i, c, v, k[2])
            n = i
    ws.autofilter(0, 0, max(n, 1), len(headers) - 1)
    for c, w in enumerate(widths):
        ws.set_column(c, c, min(w + 2, 50))


_INF = float("inf")


def _cell_text(value: str) -> str:
    return clean_text(value)[:EXCEL_MAX_TEXT]


def _write_changes(wb, changes: pd.DataFrame | None, f_head) -> None:
    ws = wb.add_worksheet(CHANGES_SHEET)
    columns = [
        ("单位代码", "unit_code", 12),
        ("单位名称", "unit_name", 24),
        ("所属乡镇级单位", "township_name", 18),
        ("变动", "code", 10),
        ("台账表", "table_title", 10),
        ("编号", "item_id", 12),
        ("上一版", "old_label", 12),
        ("本版", "new_label", 12),
        ("本版文件", "path", 36),
        ("工作表", "sheet", 14),
        ("单元格", "cell", 8),
        ("上一版文件", "prev_path", 36),
        ("上一版工作表", "prev_sheet", 14),
        ("上一版单元格", "prev_cell", 10),
        ("说明", "message", 60),
    ]
    for c, (h, _, w) in enumerate(columns):
        write_text_cell(ws, 0, c, h, f_head)
        ws.set_column(c, c, w)
    ws.freeze_panes(1, 0)
    n = 0
    if changes is not None and not changes.empty:
        cols = [changes[k].tolist() if k in changes.columns else [None] * len(changes) for _, k, _ in columns]
        for i, values in enumerate(zip(*cols, strict=True), start=1):
            for c, v in enumerate(values):
                v = "" if is_missing(v) else str(v)
                write_text_cell(ws, i, c, CODE_LABELS.get(v, v) if columns[c][1] == "code" else v, None)
            n = i
    else:
        write_text_cell(
            ws, 1, 0, "（各单位已接收的台账与其上一版相比没有编号消失、行数减少或状态倒退）", None
        )
    ws.autofilter(0, 0, max(n, 1), len(columns) - 1)
