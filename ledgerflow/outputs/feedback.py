"""Feedback workbooks: the clerk's own workbook, returned with every issue marked.

:func:`write_feedback` makes ``<unit_code or UNKNOWN>__<file stem>.xlsx``:

* a first sheet ``校验结果`` listing every error and warning of the file (序号, 严重程度, 工作表,
  单元格, 列, 原值, 问题说明, 如何修改), errors first, with a header row that stays frozen;
* after it, a *copy* of the clerk's sheets (the original file is only read, never written):
  .xlsx/.xlsm are loaded from an in-memory copy with openpyxl (macros dropped, formulas replaced by
  the values Excel last computed), .xls are read with python-calamine and their values written
  into a new workbook; each offending cell is filled red (error) or yellow (warning) and carries a
  comment with the message, and the tab of each sheet with issues is coloured the same way.

The copy keeps no links to other workbooks and no hyperlinks, and every text we write is stored
as text (a value beginning with ``=`` is not turned into a formula). Files that could not be read
at all (``E_FILE_UNREADABLE``) are not opened again: their feedback holds ``校验结果`` only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from .safe import clean_text, is_missing, set_text_cell

__all__ = ["ADVICE", "RESULT_SHEET", "feedback_filename", "write_feedback"]

RESULT_SHEET = "校验结果"

#: What the clerk should do, per issue code of ledger.md §9.
ADVICE: dict[str, str] = {
    "E_FILE_UNREADABLE": "文件无法打开（可能已损坏、设置了密码、扩展名与实际格式不符或文件过大）。"
    "请用 Excel 或 WPS 打开原文件，取消密码后“另存为” .xlsx 格式，确认能正常打开再重新报送。",
    "E_UNIT_UNKNOWN": "“填报信息”表中的单位代码/单位名称在组织架构中找不到。请按县委办下发的单位代码"
    "和单位全称填写，不要自拟简称；如单位名称已变更，请联系县委办更新。",
    "E_UNIT_FORBIDDEN": "本文件填写的单位不属于上传文件夹所属单位的管辖范围。请只报送本单位或本单位下属"
    "党组织的台账，其他单位的台账请由该单位自行报送；如是单位代码填错，请改正后重新报送。",
    "E_AS_OF": "“填报信息”表缺失，或“统计截止日期”为空、不是日期、晚于报送当天。请在“填报信息”表中"
    "按 2023-12-15 或 2023年12月15日 的格式填写本次台账的统计截止日期。",
    "E_COLUMNS": "该工作表缺少必填列。请对照县委办下发的模板补上缺少的列（列名与模板一致），"
    "不要删除或合并模板中的必填列。",
    "E_REQUIRED": "该单元格为必填项，不能为空。请补填内容；如整行是误填的，请删除整行。",
    "E_VOCAB": "填写的内容不在规定的选项中。请从模板下拉列表中选择，或按“填表说明”中的规范写法填写，"
    "不要自拟说法。",
    "E_DATE": "日期无法识别。请填写真实存在的日期，如 2023-12-15 或 2023年12月15日；整改时限可写"
    "“2023年12月底”“年底前”或“长期坚持”。",
    "E_NUMBER": "此处应填写不小于 0 的整数（如 30 或 30人），不能填小数、负数或其他文字。",
    "E_DUPLICATE_ID": "编号与前面某一行重复。请为每个课题、问题或措施分配不重复的编号；如是重复录入，"
    "请删除多余的一行。",
    "E_UNKNOWN_PROBLEM": "这条整改措施对应的问题编号在“问题清单”中找不到。请核对问题编号，"
    "确保与问题清单中的编号完全一致，或先在问题清单中补录该问题。",
    "W_SHEET_IGNORED": "该工作表未被读取（例如已有单独的问题清单和整改措施表，合并填写的表就不再读取）。"
    "请确认数据已填在被读取的表中，多余的表可删除。",
    "W_EXTRA_COLUMN": "该列不是模板中的列，内容不会被统计。如是列名写法不同，请改为模板中的列名；"
    "确实不需要的列可以保留或删除。",
    "W_UNIT_NAME": "单位名称与组织架构中的名称不一致（已按单位代码识别）。请改为组织架构中的单位全称。",
    "W_FORMULA": "该单元格是公式，但没有计算结果，按空白处理。请在 Excel 中重新计算后保存，或直接填写数值。",
    "W_DATE_RANGE": "日期不在主题教育期间（2023年9月1日至2024年1月31日）内，或晚于本次统计截止日期。"
    "请核对日期是否填错。",
    "W_CLOSED_NO_DATE": "已整改的问题需填写销号日期，已形成报告的课题需填写报告完成日期。请补填日期。",
    "W_NO_MEASURE": "该问题没有对应的整改措施。请在“整改措施”表中补充措施，问题编号要与本问题一致。",
    "W_PLAN_EXCEEDS": "制定个人学习计划人数大于党员人数。请核对两个数字，学习计划人数不应超过党员人数。",
}
_DEFAULT_ADVICE = "请根据问题说明核对并修改后重新报送。"

_HEADERS = ["序号", "严重程度", "工作表", "单元格", "列", "原值", "问题说明", "如何修改"]
_WIDTHS = [6, 9, 18, 10, 16, 22, 50, 60]
_RED = "FFC7CE"
_YELLOW = "FFEB9C"
_TAB_RED = "C00000"
_TAB_YELLOW = "FFC000"
_ILLEGAL_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_CELL = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")


def _safe_name_part(text: str, limit: int = 120) -> str:
    text = _ILLEGAL_NAME.sub("_", clean_text(text)).strip().strip(".").strip()
    return text[:limit] or "_"


def feedback_filename(unit_code: str | None, rel_path: str) -> str:
    """``<unit_code or UNKNOWN>__<file stem>.xlsx`` with characters illegal in file names replaced."""
    code = unit_code if unit_code and not is_missing(unit_code) and str(unit_code).strip() else "UNKNOWN"
    stem = PurePosixPath(str(rel_path).replace("\\", "/")).stem
    return f"{_safe_name_part(str(code), 60)}__{_safe_name_part(stem)}.xlsx"


def _s(value: object) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return clean_text(value)


def _display(value: object) -> str:
    """A cell value as the clerk would read it."""
    if is_missing(value):
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return _s(value)


def _issue_records(issues: pd.DataFrame, rel_path: str) -> list[dict[str, Any]]:
    if issues is None or issues.empty:
        return []
    df = issues
    if "path" in df.columns and rel_path:
        want = str(rel_path).replace("\\", "/")
        df = df[df["path"].astype(str).str.replace("\\", "/", regex=False) == want]
    recs = []
    for order, r in enumerate(df.to_dict("records")):
        row = r.get("row")
        try:
            row = None if is_missing(row) or str(row).strip() == "" else int(float(row))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            row = None
        severity = _s(r.get("severity")).lower()
        code = _s(r.get("code"))
        if severity not in ("error", "warning"):
            severity = "error" if code.startswith("E_") else "warning"
        recs.append(
            {
                "order": order,
                "sheet": _s(r.get("sheet")),
                "row": row,
                "column": _s(r.get("column")),
                "cell": _s(r.get("cell")).replace("$", "").upper(),
                "code": code,
                "severity": severity,
                "message": _s(r.get("message")),
                "value": r.get("value") if "value" in r else None,
            }
        )
    recs.sort(key=lambda x: (x["severity"] != "error", x["order"]))
    return recs


# --------------------------------------------------------------------------- loading the copy


def _load_copy(source: Path, recs: list[dict[str, Any]]):
    """(workbook, note): the clerk's sheets as a new openpyxl workbook, or an empty one."""
    import openpyxl

    if any(r["code"] == "E_FILE_UNREADABLE" for r in recs):
        return _empty_workbook(), "原文件无法读取，本反馈只列出问题。"
    suffix = source.suffix.lower()
    try:
        data = source.read_bytes()
        if suffix in (".xlsx", ".xlsm"):
            wb = openpyxl.load_workbook(io.BytesIO(data), keep_vba=False, data_only=True, keep_links=False)
            _strip_links(wb)
            return wb, "以下各表是原文件的副本（公式已替换为计算结果，宏已去除），标红为错误、标黄为警告。"
        if suffix == ".xls":
            return _xls_copy(
                data
            ), "以下各表是原文件内容的副本（只含数值，不含格式），标红为错误、标黄为警告。"
    except Exception as exc:  # noqa: BLE001 - any failure to re-read: issues only
        return _empty_workbook(), f"原文件无法再次打开（{type(exc).__name__}），本反馈只列出问题。"
    return _empty_workbook(), "原文件不是 Excel 工作簿，本反馈只列出问题。"


def _empty_workbook():
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    return wb


def _strip_links(wb) -> None:
    wb._external_links = []
    for name in list(wb.defined_names):
        text = str(getattr(wb.defined_names[name], "attr_text", "") or "")
        if "[" in text:
            del wb.defined_names[name]
    for ws in wb.worksheets:
        for cell in ws._cells.values():
            if getattr(cell, "_hyperlink", None) is not None:
                cell._hyperlink = None
        ws._hyperlinks = []
        for name in list(getattr(ws, "defined_names", {}) or {}):
            text = str(getattr(ws.defined_names[name], "attr_text", "") or "")
            if "[" in text:
                del ws.defined_names[name]


def _xls_copy(data: bytes):
    import openpyxl
    from python_calamine import CalamineWorkbook

    cwb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    hidden = {}
    for meta in cwb.sheets_metadata:
        vis = str(getattr(meta, "visible", "")).lower()
        hidden[meta.name] = "hidden" in vis
    for name in cwb.sheet_names:
        sheet = cwb.get_sheet_by_name(name)
        ws = wb.create_sheet(_sheet_title(name, wb))
        for r_idx, row in enumerate(sheet.to_python(skip_empty_area=False), start=1):
            for c_idx, value in enumerate(row, start=1):
                if value is None or value == "":
                    continue
                cell = ws.cell(row=r_idx, column=c_idx)
                if isinstance(value, str):
                    set_text_cell(cell, value)
                elif isinstance(value, dt.timedelta):
                    set_text_cell(cell, str(value))
                else:
                    cell.value = value
                    if isinstance(value, dt.datetime):
                        cell.number_format = "yyyy-mm-dd hh:mm" if value.time() != dt.time() else "yyyy-mm-dd"
                    elif isinstance(value, dt.date):
                        cell.number_format = "yyyy-mm-dd"
        try:
            for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or []:
                ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
        except Exception:  # noqa: BLE001 - merges are cosmetic here
            pass
        if hidden.get(name):
            ws.sheet_state = "hidden"
    if not wb.worksheets:
        wb.create_sheet("Sheet1")
    return wb


def _sheet_title(name: str, wb) -> str:
    title = re.sub(r"[\[\]:*?/\\]", "_", clean_text(name))[:31] or "Sheet"
    base, n = title, 1
    while title in wb.sheetnames:
        n += 1
        title = f"{base[:27]}({n})"
    return title


# --------------------------------------------------------------------------- marking


def _find_sheet(wb, name: str):
    if not name:
        return None
    if name in wb.sheetnames:
        return wb[name]
    norm = name.strip().lower()
    for ws in wb.worksheets:
        if ws.title.strip().lower() == norm:
            return ws
    return None


def _anchor(ws, coord: str) -> str:
    """The top-left cell of the merged range holding ``coord`` (or ``coord`` itself)."""
    for rng in ws.merged_cells.ranges:
        if coord in rng:
            return rng.start_cell.coordinate
    return coord


def _mark_cells(wb, recs: list[dict[str, Any]]) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    fills = {
        "error": PatternFill(fill_type="solid", start_color=_RED, end_color=_RED),
        "warning": PatternFill(fill_type="solid", start_color=_YELLOW, end_color=_YELLOW),
    }
    marks: dict[tuple[str, str], list[dict[str, Any]]] = {}
    sheet_sev: dict[str, str] = {}
    for r in recs:
        ws = _find_sheet(wb, r["sheet"])
        if ws is None:
            continue
        r["_ws"] = ws  # the sheet object: our 校验结果 may take its name later
        if sheet_sev.get(ws.title) != "error":
            sheet_sev[ws.title] = r["severity"]
        if _CELL.match(r["cell"]):
            marks.setdefault((ws.title, _anchor(ws, r["cell"])), []).append(r)
    for title, sev in sheet_sev.items():
        wb[title].sheet_properties.tabColor = _TAB_RED if sev == "error" else _TAB_YELLOW
    for (title, coord), items in marks.items():
        ws = wb[title]
        cell = ws[coord]
        sev = "error" if any(i["severity"] == "error" for i in items) else "warning"
        cell.fill = fills[sev]
        lines = [f"【{'错误' if i['severity'] == 'error' else '警告'}】{i['message']}" for i in items]
        text = "\n".join(lines)
        if cell.comment is not None and cell.comment.text:
            text = cell.comment.text + "\n" + text
        comment = Comment(clean_text(text)[:30000], "ledgerflow 校验")
        comment.width = 320
        comment.height = min(60 + 40 * len(lines), 400)
        cell.comment = comment


def _original_value(rec: dict[str, Any]) -> str:
    v = rec.get("value")
    if not is_missing(v) and _s(v) != "":
        return _display(v)
    ws = rec.get("_ws")
    if ws is not None and _CELL.match(rec["cell"]):
        return _display(ws[_anchor(ws, rec["cell"])].value)
    return ""


def _write_result_sheet(wb, recs: list[dict[str, Any]], *, unit_code: str, rel_path: str, note: str) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    if RESULT_SHEET in wb.sheetnames:  # the clerk has a sheet of that name: keep it, renamed
        wb[RESULT_SHEET].title = _sheet_title(RESULT_SHEET + "(原)", wb)
    ws = wb.create_sheet(RESULT_SHEET, 0)
    n_err = sum(r["severity"] == "error" for r in recs)
    n_warn = len(recs) - n_err
    if n_err:
        verdict = (
            f"共 {n_err} 个错误、{n_warn} 个警告。有错误的台账本次未被采用，请在原文件上逐条修改后重新报送。"
        )
    elif n_warn:
        verdict = f"共 {n_warn} 个警告，台账已被采用。请核对警告内容，需要时修改后在下次报送中更正。"
    else:
        verdict = "未发现问题。"
    set_text_cell(ws.cell(1, 1), f"台账校验结果：{rel_path}（单位代码：{unit_code or '未识别'}）")
    ws.cell(1, 1).font = Font(bold=True, size=13)
    set_text_cell(ws.cell(2, 1), verdict + note)
    ws.cell(2, 1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(_HEADERS))
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(_HEADERS))
    ws.row_dimensions[2].height = 36

    header_row = 3
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    head_fill = PatternFill(fill_type="solid", start_color="DDEBF7", end_color="DDEBF7")
    for c, h in enumerate(_HEADERS, start=1):
        cell = ws.cell(header_row, c)
        set_text_cell(cell, h)
        cell.font = Font(bold=True)
        cell.fill = head_fill
        cell.border = border
        cell.alignment = Alignment(horizontal="center", vertical="center")
    ws.freeze_panes = ws.cell(header_row + 1, 1).coordinate

    err_fill = PatternFill(fill_type="solid", start_color=_RED, end_color=_RED)
    warn_fill = PatternFill(fill_type="solid", start_color=_YELLOW, end_color=_YELLOW)
    wrap = Alignment(wrap_text=True, vertical="top")
    for i, r in enumerate(recs, start=1):
        row = header_row + i
        where = r["cell"] or (f"第{r['row']}行" if r["row"] else "")
        values = [
            i,
            "错误" if r["severity"] == "error" else "警告",
            r["sheet"],
            where,
            r["column"],
            _original_value(r),
            r["message"],
            ADVICE.get(r["code"], _DEFAULT_ADVICE),
        ]
        for c, v in enumerate(values, start=1):
            cell = ws.cell(row, c)
            set_text_cell(cell, v)
            cell.border = border
            cell.alignment = wrap
        ws.cell(row, 2).fill = err_fill if r["severity"] == "error" else warn_fill
    for c, w in enumerate(_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(c)].width = w
    if recs:
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(_HEADERS))}{header_row + len(recs)}"
    ws.sheet_properties.tabColor = _TAB_RED if n_err else (_TAB_YELLOW if n_warn else "70AD47")

    for other in wb.worksheets:
        other.sheet_view.tabSelected = False
    ws.sheet_view.tabSelected = True
    wb.active = 0


def write_feedback(
    source: Path, issues: pd.DataFrame, out_path: Path, *, unit_code: str, rel_path: str
) -> Path:
    """Write the feedback workbook for one submitted file; return its path.

    ``source`` is the submitted file (only read). ``issues`` holds its issues (columns of
    issues.csv, optionally ``value``); where a ``path`` column is present only the rows whose path
    equals ``rel_path`` are used. ``out_path`` is the feedback folder (the file is named by
    :func:`feedback_filename`), or a full file path ending in ``.xlsx``. When the folder already
    holds a file of that name (two files with one stem), a short hash of ``rel_path`` is added.
    """
    source = Path(source)
    out_path = Path(out_path)
    if out_path.suffix.lower() == ".xlsx" and not out_path.is_dir():
        target = out_path
    else:
        name = feedback_filename(unit_code, rel_path)
        target = out_path / name
        if target.exists():
            digest = hashlib.sha1(str(rel_path).encode("utf-8")).hexdigest()[:8]
            target = out_path / f"{name[:-5]}__{digest}.xlsx"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.resolve() == source.resolve():
        raise ValueError("反馈文件不能覆盖原文件")

    recs = _issue_records(issues, rel_path)
    wb, note = _load_copy(source, recs)
    _mark_cells(wb, recs)
    _write_result_sheet(wb, recs, unit_code=unit_code, rel_path=str(rel_path), note=note)
    buf = io.BytesIO()
    wb.save(buf)
    target.write_bytes(buf.getvalue())
    return target
