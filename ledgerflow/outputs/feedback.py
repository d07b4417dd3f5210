"""Feedback workbooks: the clerk's own workbook, returned with every issue marked.

:func:`write_feedback` makes ``<unit_code or UNKNOWN>__<file stem>.xlsx`` (``.xlsm`` for an .xlsm):

* **.xlsx / .xlsm: the clerk's own file, marked up** (:mod:`.markup`). The package is copied part
  by part, untouched, except the few parts a mark needs: each offending cell (the top-left cell of
  its merged range) gets a clone of its own style with a red (error) or yellow (warning) fill, so it
  keeps its font, border and number format, and a comment with the messages and what to do (merged
  with the clerk's own comment where the cell has one); a first sheet ``校验结果`` lists every
  issue and opens first. Formats, column widths, merged cells, drop-downs, conditional formats,
  pictures, charts, comments, defined names, hidden sheets and macros are all kept; an .xlsm stays
  an .xlsm with its vbaProject.bin untouched. A clerk's own sheet called ``校验结果`` keeps its name;
  ours is then ``校验结果(2)``.
* **.xls: a values copy** in an .xlsx: 校验结果, then each of the clerk's sheets that has an issue,
  read with python-calamine and written with xlsxwriter at the same cells (formulas replaced by their
  last values, dates as dates, merged ranges and hidden state kept; formatting, comments,
  drop-downs, pictures and macros are not). A package that cannot be marked up in place (strict
  OOXML, a UTF-16 part, a broken relationship, …) gets the same values copy, saying so.
* **a file that could not be read at all** (``E_FILE_UNREADABLE``, or not a workbook): 校验结果
  alone, with a note saying why.

校验结果 (序号, 严重程度, 工作表, 单元格, 列, 原值, 问题说明, 如何修改) lists errors first, under a
frozen header row with an autofilter; its tab is red (errors), yellow (warnings only) or green.
No text from the clerk's file or the issues is ever written as a formula, a number or a link:
the markup writes inline strings, the values copy ``write_string``, both without the control
characters XML cannot hold and cut to Excel's 32 767 characters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from .safe import EXCEL_MAX_TEXT, XLSXWRITER_OPTIONS, clean_text, is_missing

__all__ = ["ADVICE", "RESULT_SHEET", "feedback_filename", "render_feedback", "write_feedback"]

RESULT_SHEET = "校验结果"
log = logging.getLogger(__name__)

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


def feedback_filename(unit_code: str | None, rel_path: str, ext: str | None = None) -> str:
    """``<unit_code or UNKNOWN>__<file stem>.xlsx`` with characters illegal in file names replaced;
    ``.xlsm`` for an .xlsm (the extension of the feedback actually written: ``ext`` when given)."""
    code = unit_code if unit_code and not is_missing(unit_code) and str(unit_code).strip() else "UNKNOWN"
    path = PurePosixPath(str(rel_path).replace("\\", "/"))
    if ext is None:
        ext = ".xlsm" if path.suffix.lower() == ".xlsm" else ".xlsx"
    return f"{_safe_name_part(str(code), 60)}__{_safe_name_part(path.stem)}{ext}"


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


_ISSUE_FIELDS = ("path", "sheet", "row", "column", "cell", "code", "severity", "message", "value")


def _issue_records(issues: pd.DataFrame | list[dict[str, Any]], rel_path: str) -> list[dict[str, Any]]:
    """The issues as plain rows for rendering; ``issues`` is a frame or already a list of records
    (what a run passes: building a frame per workbook costs more than the workbook's markup)."""
    if issues is None or len(issues) == 0:
        return []
    if isinstance(issues, pd.DataFrame):
        # plain Python rows: DataFrame filtering and to_dict cost about a millisecond per file
        names = [str(c) for c in issues.columns]
        pos = {c: names.index(c) for c in _ISSUE_FIELDS if c in names}
        rows = [{c: vals[j] for c, j in pos.items()} for vals in issues.to_numpy(dtype=object).tolist()]
    else:
        rows = [{c: rec[c] for c in _ISSUE_FIELDS if c in rec} for rec in issues]
    want = str(rel_path).replace("\\", "/")
    recs = []
    for r in rows:
        if rel_path and "path" in r and str(r["path"]).replace("\\", "/") != want:
            continue
        row = r.get("row")
        try:
            row = None if is_missing(row) or str(row).strip() == "" else int(float(row))  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            row = None
        severity = _s(r.get("severity")).lower()
        code = _s(r.get("code"))
        if severity not in ("error", "warning"):
            severity = "error" if code.startswith("E_") else "warning"
        recs.append(
            {
                "order": len(recs),
                "sheet": _s(r.get("sheet")),
                "row": row,
                "column": _s(r.get("column")),
                "cell": _s(r.get("cell")).replace("$", "").upper(),
                "code": code,
                "severity": severity,
                "message": _s(r.get("message")),
                "value": r.get("value"),
            }
        )
    recs.sort(key=lambda x: (x["severity"] != "error", x["order"]))
    return recs


# --------------------------------------------------------------------------- reading the copy

# Exceptions that are not about the file and must not be turned into "could not re-read".
_NOT_OURS = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)
_COPY_NOTE = (
    "以下各表是原文件内容的副本（只含数值：公式已替换为最近一次的计算结果，原有格式、批注、图片和宏均未保留），"
    "标红为错误、标黄为警告。"
)
_MAX_ROWS = 1_048_576
_MAX_COLS = 16_384
#: A workbook with a sheet larger than this gets no copy (the parse pre-check keeps the files we
#: re-read far below it).
_MAX_COPY_CELLS = 2_000_000
#: Merged ranges larger than this are not re-created (xlsxwriter checks every cell of a range).
_MAX_MERGE_CELLS = 100_000
_SHEET_BAD = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
_DATE_NUM = "yyyy-mm-dd"
_DATETIME_NUM = "yyyy-mm-dd hh:mm"
_TIME_NUM = "hh:mm:ss"
_COMMENT_MAX = 2000


class _TooLarge(Exception):
    pass


@dataclass
class _Sheet:
    """One clerk sheet as calamine read it: ``rows[i][j]`` is the cell (r0 + i, c0 + j), 0-based."""

    name: str
    hidden: int  # 0 visible, 1 hidden, 2 very hidden
    rows: list[list[Any]]
    r0: int = 0
    c0: int = 0
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    title: str = ""  # its name in the feedback workbook
    severity: str = ""  # "error" / "warning" when it has issues
    marks: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)  # by cell

    def value(self, r: int, c: int) -> Any:
        i, j = r - self.r0, c - self.c0
        if 0 <= i < len(self.rows) and j >= 0:
            row = self.rows[i]
            if j < len(row):
                return row[j]
        return None

    def anchor(self, r: int, c: int) -> tuple[int, int]:
        """The top-left cell of the merged range holding (r, c), or (r, c) itself."""
        for r0, c0, r1, c1 in self.merged:
            if r0 <= r <= r1 and c0 <= c <= c1:
                return r0, c0
        return r, c


def _read_copy(source: Path, recs: list[dict[str, Any]]) -> tuple[list[_Sheet], str]:
    """(sheets, note): the clerk's sheets read with calamine, or none and the reason why."""
    if any(r["code"] == "E_FILE_UNREADABLE" for r in recs):
        return [], "原文件无法读取，本反馈只列出问题。"
    if source.suffix.lower() not in (".xlsx", ".xlsm", ".xls"):
        return [], "原文件不是 Excel 工作簿，本反馈只列出问题。"
    try:
        wanted = {r["sheet"].strip().lower() for r in recs if r["sheet"]}
        return _read_sheets(source.read_bytes(), wanted), _COPY_NOTE
    except _NOT_OURS:
        raise
    except _TooLarge as exc:
        return [], f"原文件的工作表“{clean_text(exc)}”范围过大，本反馈只列出问题。"
    except BaseException as exc:  # noqa: BLE001 - CalamineError, a Rust panic (BaseException), ...
        return [], f"原文件无法再次打开（{type(exc).__name__}），本反馈只列出问题。"


def _read_sheets(data: bytes, wanted: set[str] | None = None) -> list[_Sheet]:
    """Every worksheet's name and state; the cells only of those ``wanted`` (names stripped and
    lower-cased; None: all), since only the sheets with issues are copied."""
    from python_calamine import CalamineWorkbook

    cwb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    sheets: list[_Sheet] = []
    try:
        for meta in cwb.sheets_metadata:
            if "WorkSheet" not in str(meta.typ):  # chart sheets, dialog and macro sheets
                continue
            vis = str(meta.visible).lower()
            hidden = 2 if "veryhidden" in vis else (1 if "hidden" in vis else 0)
            if wanted is not None and meta.name.strip().lower() not in wanted:
                sheets.append(_Sheet(meta.name, hidden, [], 0, 0, []))
                continue
            sh = cwb.get_sheet_by_name(meta.name)
            start = sh.start
            if start is None:  # an empty sheet
                rows, r0, c0 = [], 0, 0
            else:
                if sh.height * max(sh.width, 1) > _MAX_COPY_CELLS:
                    raise _TooLarge(meta.name)
                rows = sh.to_python(skip_empty_area=True)  # the used range, from `start`
                r0, c0 = start
            merged = []
            for (a, b), (c, d) in sh.merged_cell_ranges or []:
                merged.append((min(a, c), min(b, d), max(a, c), max(b, d)))
            sheets.append(_Sheet(meta.name, hidden, rows, r0, c0, merged))
    finally:
        cwb.close()
    return sheets


def _utf16_cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 code units (Excel counts sheet names in those)."""
    if len(text) * 2 <= limit or len(text.encode("utf-16-le")) <= 2 * limit:
        return text
    out, n = [], 0
    for ch in text:
        n += 2 if ord(ch) > 0xFFFF else 1
        if n > limit:
            break
        out.append(ch)
    return "".join(out)


def _sheet_title(name: str, used: set[str]) -> str:
    """``name`` made a legal, unused Excel sheet name (compared without case, as Excel does)."""
    title = _utf16_cut(_SHEET_BAD.sub("_", clean_text(name)), 31).strip("'") or "Sheet"
    base, n = title, 1
    while title.lower() in used:
        n += 1
        suffix = f"({n})"
        title = _utf16_cut(base, 31 - len(suffix)).strip("'") + suffix
    used.add(title.lower())
    return title


def _name_sheets(sheets: list[_Sheet]) -> None:
    used = {RESULT_SHEET.lower(), "history"}  # ours, and the name Excel reserves
    for sh in sheets:
        sh.title = _sheet_title(RESULT_SHEET + "(原)" if sh.name == RESULT_SHEET else sh.name, used)


# --------------------------------------------------------------------------- marking


def _find_sheet(sheets: list[_Sheet], name: str) -> _Sheet | None:
    if not name:
        return None
    for sh in sheets:
        if sh.name == name:
            return sh
    norm = name.strip().lower()
    for sh in sheets:
        if sh.name.strip().lower() == norm or sh.title.strip().lower() == norm:
            return sh
    return None


def _cell_rc(coord: str) -> tuple[int, int] | None:
    """0-based (row, col) of ``E4``, or None when it is not a cell inside Excel's grid."""
    m = _CELL.match(coord)
    if not m:
        return None
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    row = int(m.group(2))
    if not (1 <= row <= _MAX_ROWS and 1 <= col <= _MAX_COLS):
        return None
    return row - 1, col - 1


def _collect_marks(sheets: list[_Sheet], recs: list[dict[str, Any]]) -> None:
    """Each sheet's marks (by anchor cell) and severity, and each record's sheet."""
    for r in recs:
        sh = _find_sheet(sheets, r["sheet"])
        if sh is None:
            continue
        r["_sheet"] = sh
        if sh.severity != "error":
            sh.severity = r["severity"]
        rc = _cell_rc(r["cell"])
        if rc is not None:
            sh.marks.setdefault(sh.anchor(*rc), []).append(r)


def _original_value(rec: dict[str, Any]) -> str:
    v = rec.get("value")
    if not is_missing(v) and _s(v) != "":
        return _display(v)
    sh = rec.get("_sheet")
    rc = _cell_rc(rec["cell"])
    if sh is not None and rc is not None:
        return _display(sh.value(*sh.anchor(*rc)))
    return ""


# --------------------------------------------------------------------------- writing


class _Formats:
    """xlsxwriter formats by (number format, fill colour), made once per workbook."""

    def __init__(self, wb) -> None:
        self.wb = wb
        self.cache: dict[tuple[str | None, str | None], Any] = {(None, None): None}

    def get(self, num: str | None = None, fill: str | None = None):
        key = (num, fill)
        if key not in self.cache:
            props: dict[str, Any] = {}
            if num:
                props["num_format"] = num
            if fill:
                props.update(pattern=1, bg_color="#" + fill)
            self.cache[key] = self.wb.add_format(props)
        return self.cache[key]


def _text(value: object) -> str:
    return clean_text(value)[:EXCEL_MAX_TEXT]


def _put(ws, r: int, c: int, v: Any, fmts: _Formats, fill: str | None = None) -> int:
    """Write one value from calamine with an explicit xlsxwriter call; return its display width."""
    t = type(v)
    if t is str:
        if v:
            ws.write_string(r, c, _text(v), fmts.get(None, fill))
            return len(v) if v.isascii() else 2 * len(v)
    elif t is float or t is int:
        if math.isfinite(v):
            ws.write_number(r, c, v, fmts.get(None, fill))
            return len(repr(v))
        ws.write_string(r, c, str(v), fmts.get(None, fill))
        return 4
    elif t is bool:
        ws.write_boolean(r, c, v, fmts.get(None, fill))
        return 5
    elif isinstance(v, dt.datetime):
        if v.year >= 1900 and v.tzinfo is None:
            num = _DATE_NUM if v.time() == dt.time() else _DATETIME_NUM
            ws.write_datetime(r, c, v, fmts.get(num, fill))
            return len(num)
        ws.write_string(r, c, v.isoformat(sep=" "), fmts.get(None, fill))
        return 19
    elif isinstance(v, dt.date):
        if v.year >= 1900:
            ws.write_datetime(r, c, v, fmts.get(_DATE_NUM, fill))
        else:
            ws.write_string(r, c, v.isoformat(), fmts.get(None, fill))
        return 10
    elif isinstance(v, dt.time) and v.tzinfo is None:
        ws.write_datetime(r, c, v, fmts.get(_TIME_NUM, fill))
        return 8
    elif v is not None:  # timedelta (a duration), an error value, anything else: as text
        text = _text(v)
        if text:
            ws.write_string(r, c, text, fmts.get(None, fill))
            return len(text) if text.isascii() else 2 * len(text)
    if fill:
        ws.write_blank(r, c, None, fmts.get(None, fill))
    return 0


def _write_copy(wb, fmts: _Formats, sh: _Sheet) -> None:
    ws = wb.add_worksheet(sh.title)
    for r0, c0, r1, c1 in sh.merged:
        if (r0, c0) == (r1, c1) or (r1 - r0 + 1) * (c1 - c0 + 1) > _MAX_MERGE_CELLS:
            continue
        try:
            ws.merge_range(r0, c0, r1, c1, None)  # no data: the merge only, the cells follow
        except Exception:  # noqa: BLE001 - overlapping or out of range: merges are cosmetic
            pass
    widths: list[int] = []  # display width per column, to guess column widths
    wide = {(r0, c0) for r0, c0, r1, c1 in sh.merged if c1 > c0}  # a title across columns: no width
    c_base = sh.c0
    write_string = ws.write_string
    for i, row in enumerate(sh.rows):
        r = sh.r0 + i
        if len(row) > len(widths):
            widths.extend([0] * (len(row) - len(widths)))
        for j, v in enumerate(row):
            if type(v) is str:  # most cells: inline fast path of _put
                if not v:
                    continue
                write_string(r, c_base + j, _text(v))
                w = len(v) if v.isascii() else 2 * len(v)
            elif v is None:
                continue
            else:
                w = _put(ws, r, c_base + j, v, fmts)
            if w > widths[j] and not (wide and (r, c_base + j) in wide):
                widths[j] = w
    for j, w in enumerate(widths):
        if w > 8:
            ws.set_column(c_base + j, c_base + j, min(w + 1, 40))
    for (r, c), items in sh.marks.items():
        sev = "error" if any(i["severity"] == "error" for i in items) else "warning"
        _put(ws, r, c, sh.value(r, c), fmts, _RED if sev == "error" else _YELLOW)
        lines = [f"【{'错误' if i['severity'] == 'error' else '警告'}】{i['message']}" for i in items]
        text = clean_text("\n".join(lines))
        if len(text) > _COMMENT_MAX:
            text = text[: _COMMENT_MAX - 1] + "…"
        ws.write_comment(
            r,
            c,
            text,
            {"author": "ledgerflow 校验", "width": 320, "height": min(60 + 40 * len(lines), 400)},
        )
    if sh.severity:
        ws.set_tab_color("#" + (_TAB_RED if sh.severity == "error" else _TAB_YELLOW))
    if sh.hidden == 2:
        ws.very_hidden()
    elif sh.hidden:
        ws.hide()


def _result_table(recs: list[dict[str, Any]], *, unit_code: str, rel_path: str, note: str):
    """What 校验结果 shows, for either writer."""
    from .markup import ResultTable

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
    t = ResultTable(
        title=_text(f"台账校验结果：{rel_path}（单位代码：{unit_code or '未识别'}）"),
        verdict=_text(verdict + note),
        headers=list(_HEADERS),
        widths=list(_WIDTHS),
        tab=_TAB_RED if n_err else (_TAB_YELLOW if n_warn else "70AD47"),
    )
    for i, r in enumerate(recs, start=1):
        where = r["cell"] or (f"第{r['row']}行" if r["row"] else "")
        texts = [r["sheet"], where, r["column"], _original_value(r), r["message"], _advice(r["code"])]
        t.rows.append([i, "错误" if r["severity"] == "error" else "警告", *(_text(v) for v in texts)])
        t.severities.append(r["severity"])
    return t


def _advice(code: str) -> str:
    return ADVICE.get(code, _DEFAULT_ADVICE)


def _write_result_sheet(wb, t) -> None:
    """校验结果 with xlsxwriter (the values copy and the issues-only workbook)."""
    ws = wb.add_worksheet(RESULT_SHEET)
    last = len(t.headers) - 1
    ws.merge_range(0, 0, 0, last, None)
    ws.merge_range(1, 0, 1, last, None)
    ws.write_string(0, 0, t.title, wb.add_format({"bold": True, "font_size": 13}))
    ws.write_string(1, 0, t.verdict, wb.add_format({"text_wrap": True, "valign": "top"}))
    ws.set_row(1, 36)

    header_row = 2  # 0-based: Excel row 3
    border = {"border": 1, "border_color": "#999999"}
    head = wb.add_format(
        {**border, "bold": True, "pattern": 1, "bg_color": "#DDEBF7", "align": "center", "valign": "vcenter"}
    )
    for c, h in enumerate(t.headers):
        ws.write_string(header_row, c, h, head)
    ws.freeze_panes(header_row + 1, 0)

    body = wb.add_format({**border, "text_wrap": True, "valign": "top"})
    sev_fmt = {
        sev: wb.add_format(
            {**border, "text_wrap": True, "valign": "top", "pattern": 1, "bg_color": "#" + rgb}
        )
        for sev, rgb in (("error", _RED), ("warning", _YELLOW))
    }
    for i, (vals, sev) in enumerate(zip(t.rows, t.severities, strict=True), start=1):
        row = header_row + i
        ws.write_number(row, 0, vals[0], body)
        ws.write_string(row, 1, vals[1], sev_fmt[sev])
        for c, v in enumerate(vals[2:], start=2):
            ws.write_string(row, c, v, body)
    for c, w in enumerate(t.widths):
        ws.set_column(c, c, w)
    if t.rows:
        ws.autofilter(header_row, 0, header_row + len(t.rows), last)
    ws.set_tab_color("#" + t.tab)
    ws.activate()


_MARKUP_NOTE = (
    "本工作簿就是您报送的原文件（格式、批注、下拉选项、图片和宏都原样保留），有问题的单元格已标色："
    "红色为错误、黄色为警告，鼠标移到单元格上可查看批注。"
)


def _cell_marks(recs: list[dict[str, Any]]) -> dict[str, list]:
    """Per issue sheet name, the cells to mark with their comment lines (messages, then what to
    do once per code)."""
    from .markup import CellMark, parse_ref

    cells: dict[tuple[str, tuple[int, int]], list[dict[str, Any]]] = {}
    for r in recs:
        rc = parse_ref(r["cell"]) if r["sheet"] and r["cell"] else None
        if rc is not None:
            cells.setdefault((r["sheet"], rc), []).append(r)
    marks: dict[str, list] = {}
    for (sheet, (row, col)), items in cells.items():
        sev = "error" if any(i["severity"] == "error" for i in items) else "warning"
        lines = [f"【{'错误' if i['severity'] == 'error' else '警告'}】{i['message']}" for i in items]
        for code in dict.fromkeys(i["code"] for i in items):
            lines.append(f"如何修改：{_advice(code)}")
        text = clean_text("\n".join(lines))
        if len(text) > _COMMENT_MAX:
            text = text[: _COMMENT_MAX - 1] + "…"
        marks.setdefault(sheet, []).append(CellMark(row, col, sev, text.split("\n")))
    return marks


def _values_for(data: bytes, recs: list[dict[str, Any]]) -> None:
    """原值 for the issues that do not carry one: read from the clerk's cell with calamine (only
    the sheets concerned; a file calamine cannot read just leaves them empty)."""
    need = [
        r
        for r in recs
        if r["cell"] and r["sheet"] and (is_missing(r.get("value")) or _s(r.get("value")) == "")
    ]
    if not need:
        return
    try:
        sheets = _read_sheets(data, {r["sheet"].strip().lower() for r in need})
    except _NOT_OURS:
        raise
    except BaseException:  # noqa: BLE001 - CalamineError, a Rust panic (BaseException), _TooLarge
        return
    _name_sheets(sheets)
    _collect_marks(sheets, need)


def _mark_up(data: bytes, recs: list[dict[str, Any]], *, unit_code: str, rel_path: str) -> tuple[bytes, str]:
    """The marked-up package and its extension (``.xlsm`` when the workbook is macro-enabled,
    whatever the file was called: Excel refuses a file whose extension does not match)."""
    from .markup import mark_up

    _values_for(data, recs)
    table = _result_table(recs, unit_code=unit_code, rel_path=rel_path, note=_MARKUP_NOTE)
    out, info = mark_up(data, _cell_marks(recs), table, result_name=RESULT_SHEET)
    return out, ".xlsm" if info["macro_enabled"] else ".xlsx"


def render_feedback(
    source: Path, issues: pd.DataFrame | list[dict[str, Any]], *, unit_code: str, rel_path: str
) -> tuple[bytes, str]:
    """(the feedback workbook's bytes, its extension ``.xlsx`` or ``.xlsm``) for one submitted file.

    ``issues`` holds its issues (columns of issues.csv, optionally ``value``; a frame or a list of
    records); where a ``path`` column is present only the rows whose path equals ``rel_path`` are
    used."""
    source = Path(source)
    recs = _issue_records(issues, rel_path)
    suffix = source.suffix.lower()
    if suffix in (".xlsx", ".xlsm") and not any(r["code"] == "E_FILE_UNREADABLE" for r in recs):
        try:
            return _mark_up(source.read_bytes(), recs, unit_code=unit_code, rel_path=str(rel_path))
        except _NOT_OURS:
            raise
        except Exception as exc:  # noqa: BLE001 - a package we cannot edit: the values copy below
            log.warning(
                "反馈：%s 无法在原文件上标注（%s: %s），改为数值副本", rel_path, type(exc).__name__, exc
            )
            for r in recs:
                r.pop("_sheet", None)
            failed = f"原文件无法在原样上标注（{type(exc).__name__}），"
    else:
        failed = ""
    return _values_copy(source, recs, unit_code=unit_code, rel_path=str(rel_path), failed=failed), ".xlsx"


def _values_copy(
    source: Path, recs: list[dict[str, Any]], *, unit_code: str, rel_path: str, failed: str = ""
) -> bytes:
    """The values-copy workbook (the .xls path, and the fallback), or 校验结果 alone."""
    sheets, note = _read_copy(source, recs)
    if failed and sheets:
        note = failed + _COPY_NOTE
    _name_sheets(sheets)
    _collect_marks(sheets, recs)
    try:
        return _build(recs, sheets, unit_code=unit_code, rel_path=rel_path, note=note)
    except _NOT_OURS:
        raise
    except Exception as exc:  # noqa: BLE001 - a copy that cannot be written: issues only
        note = f"原文件的副本无法生成（{type(exc).__name__}），本反馈只列出问题。"
        return _build(recs, [], unit_code=unit_code, rel_path=rel_path, note=note)


def values_copy(source: Path, issues: pd.DataFrame, *, unit_code: str, rel_path: str) -> bytes:
    """The values copy of ``source`` whatever its kind (what feedback was before the markup; the
    benchmark compares the two)."""
    return _values_copy(
        Path(source), _issue_records(issues, rel_path), unit_code=unit_code, rel_path=str(rel_path)
    )


def write_feedback(
    source: Path, issues: pd.DataFrame, out_path: Path, *, unit_code: str, rel_path: str
) -> Path:
    """Write the feedback workbook for one submitted file; return its path.

    ``source`` is the submitted file (only read). ``issues`` as for :func:`render_feedback`.
    ``out_path`` is the feedback folder (the file is named by :func:`feedback_filename`), or a full
    file path ending in ``.xlsx`` or ``.xlsm`` (its extension is then set to the one written).
    When the folder already holds a file of that name (two files with one stem), a short hash of
    ``rel_path`` is added.
    """
    source = Path(source)
    out_path = Path(out_path)
    data, ext = render_feedback(source, issues, unit_code=unit_code, rel_path=rel_path)
    if out_path.suffix.lower() in (".xlsx", ".xlsm") and not out_path.is_dir():
        target = out_path.with_suffix(ext)
    else:
        name = feedback_filename(unit_code, rel_path, ext)
        target = out_path / name
        if target.exists():
            digest = hashlib.sha1(str(rel_path).encode("utf-8")).hexdigest()[:8]
            target = out_path / f"{name[: -len(ext)]}__{digest}{ext}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and target.resolve() == source.resolve():
        raise ValueError("反馈文件不能覆盖原文件")
    target.write_bytes(data)
    return target


def _build(
    recs: list[dict[str, Any]],
    sheets: list[_Sheet],
    *,
    unit_code: str,
    rel_path: str,
    note: str,
) -> bytes:
    """The values-copy workbook's bytes: 校验结果, then the copy of each sheet with an issue."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {**XLSXWRITER_OPTIONS, "in_memory": True})
    _write_result_sheet(wb, _result_table(recs, unit_code=unit_code, rel_path=rel_path, note=note))
    fmts = _Formats(wb)
    for sh in sheets:
        if sh.severity:  # only the sheets with issues: the rest would only cost the clerk scrolling
            _write_copy(wb, fmts, sh)
    wb.close()
    return buf.getvalue()
