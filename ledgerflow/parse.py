"""One workbook in, one parsed submission out: located, normalised and validated (ledger.md §4–§9).

``parse_workbook`` depends only on the file's bytes, the template and the day it is ingested, so
its result can be kept by sha256 and never computed again. Everything that depends on the
registry or the upload folder (which unit, may it report) is decided later, per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ledgerflow import normalise as nz
from ledgerflow.issues import Issue, cell_ref, column_letter
from ledgerflow.locate import (
    COMBINED,
    INFO,
    ColumnMap,
    best_table_by_header,
    combined_names,
    data_rows,
    find_header,
    has_value,
    header_names,
    map_columns,
    role_by_name,
    sheet_is_empty,
)
from ledgerflow.settings import Limits
from ledgerflow.template import Column, Table, Template, squash
from ledgerflow.workbook import Book, ReadFailed, Sheet, read_book


@dataclass
class Parsed:
    """The content of one workbook. ``status`` is 'parsed' or 'unreadable'."""

    status: str
    info: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    rows_read: int = 0
    # where each table was read: {table: {"sheet": name, "fields": {field: [column letter, header]}}}
    # (a sheet that was found but held nothing has no fields); lets later steps name a cell
    layout: dict[str, dict[str, Any]] = field(default_factory=dict)
    sha256: str = ""  # of the bytes that were read ("" where the file could not be read at all)

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.severity == "error")


def _show(value: Any) -> str:
    text, _ = nz.to_text(value)
    return "" if text is None else text


class _Ctx:
    def __init__(self, tpl: Template, ingest_day: date):
        self.tpl = tpl
        self.ingest_day = ingest_day
        self.issues: list[Issue] = []
        self.layout: dict[str, dict[str, Any]] = {}

    def place(self, table: str, sheet: Sheet, cmap: ColumnMap | None, fields: dict[str, int]) -> None:
        """Record where ``table`` was read: its sheet and each field's column and header."""
        headers = cmap.headers if cmap is not None else {}
        self.layout[table] = {
            "sheet": sheet.name,
            "fields": {f: [column_letter(c), headers.get(c, "")] for f, c in fields.items()},
        }

    def add(
        self,
        code: str,
        *,
        sheet: str = "",
        row: int | None = None,
        column: str = "",
        cell: str = "",
        value: Any = "",
        **extra: Any,
    ) -> None:
        shown = _show(value) if not isinstance(value, str) else value
        msg = self.tpl.message(code, sheet=sheet, row=row, column=column, cell=cell, value=shown, **extra)
        self.issues.append(
            Issue(code=code, message=msg, sheet=sheet, row=row, column=column, cell=cell, value=shown)
        )


# ---------------------------------------------------------------------------------------------
# 填报信息


def _label_of(tpl: Template, value: Any) -> tuple[Column, int] | None:
    """The info field a cell names, with the rank of the name (0 for the field's own label)."""
    if not isinstance(value, str) or not value:
        return None
    labels = tpl.__dict__.get("_info_labels")
    if labels is None:  # kept on the template object: it lives and dies with it
        labels = tpl.__dict__["_info_labels"] = {}
        for col in reversed(tpl.info_labels):
            for rank, n in enumerate(col.names):
                labels[tpl.header_key(n)] = (col, rank)
    return labels.get(tpl.header_key(value))


def _info_value(tpl: Template, sheet: Sheet, r: int, c: int) -> tuple[Any, int, int] | None:
    """A label's value (§4.1): the next non-empty cell to its right that is not a label; where there
    is none, the cell below it unless that is a label. A merged label or value is one cell."""
    rows = sheet.rows
    row = rows[r]
    m = sheet.merge_at(r, c)
    right, below_r = (m[3] + 1, m[2] + 1) if m else (c + 1, r + 1)
    for c2 in range(right, len(row)):
        v2 = row[c2]
        if nz.is_empty(v2):
            continue
        if _label_of(tpl, v2) is not None:
            break
        m2 = sheet.merge_at(r, c2)
        return (v2, m2[0], m2[1]) if m2 else (v2, r, c2)
    if below_r < len(rows) and c < len(rows[below_r]):
        below = rows[below_r][c]
        if _label_of(tpl, below) is None:
            return below, below_r, c
    return None


def read_info(ctx: _Ctx, sheet: Sheet) -> dict[str, Any]:
    tpl = ctx.tpl
    info: dict[str, Any] = {"info_sheet": sheet.name}
    raw: dict[str, tuple[Any, int, int, int]] = {}  # field -> (value, row, col, rank of its label)
    for r, row in enumerate(sheet.rows):
        for c, v in enumerate(row):
            if not isinstance(v, str) or sheet.is_merge_copy(r, c):
                continue
            hit = _label_of(tpl, v)
            if hit is None:
                # "单位代码：QX" written in one cell
                if "：" in v or ":" in v:
                    head, _, tail = v.replace("：", ":").partition(":")
                    hit2 = _label_of(tpl, head)
                    if hit2 and tail.strip() and hit2[0].field not in raw:
                        raw[hit2[0].field] = (tail, r, c, hit2[1])
                continue
            col, rank = hit
            if col.field in raw and raw[col.field][3] <= rank:
                continue  # a field's own label wins over a synonym; between equals, the first
            found = _info_value(tpl, sheet, r, c)
            raw[col.field] = (*found, rank) if found else ("", r, c, rank)
    for col in tpl.info_labels:
        value, r, c, _ = raw.get(col.field, ("", None, None, 0))
        ref = cell_ref(r, c) if r is not None else ""
        info[f"{col.field}_cell"] = ref
        if col.type == "date":
            d, problem = nz.to_date(value, tpl)
            info[col.field] = d
            info[f"{col.field}_raw"] = _show(value)
        elif col.type == "int":
            n, problem = nz.to_int(value, tpl)
            if problem:
                ctx.add(
                    "E_NUMBER",
                    sheet=sheet.name,
                    row=(r + 1) if r is not None else None,
                    column=col.label,
                    cell=ref,
                    value=value,
                )
            info[col.field] = n
        else:
            text, _ = nz.to_text(value)
            info[col.field] = nz.to_id(text)[0] if col.field == "unit_code" and text else text
    return info


def check_as_of(ctx: _Ctx, info: dict[str, Any] | None) -> None:
    if info is None:
        ctx.add("E_AS_OF", detail="缺少“填报信息”工作表，无法确定统计截止日期。请按模板补充填报信息表。")
        return
    sheet = info.get("info_sheet", "")
    ref = info.get("as_of_cell", "")
    row = int("".join(ch for ch in ref if ch.isdigit())) if ref else None
    if info.get("as_of") is None:
        raw = info.get("as_of_raw", "")
        if raw:
            detail = f"统计截止日期“{raw}”不是有效日期。请写作2023-12-15或2023年12月15日。"
        else:
            detail = "填报信息中没有填写统计截止日期。"
        ctx.add("E_AS_OF", sheet=sheet, row=row, column="统计截止日期", cell=ref, value=raw, detail=detail)
    elif info["as_of"] > ctx.ingest_day:
        d = info["as_of"]
        ctx.add(
            "E_AS_OF",
            sheet=sheet,
            row=row,
            column="统计截止日期",
            cell=ref,
            value=d.isoformat(),
            detail=f"统计截止日期{d.isoformat()}晚于报送当天（{ctx.ingest_day.isoformat()}），请核实。",
        )
    mem, plan = info.get("members"), info.get("members_with_plan")
    if mem is not None and plan is not None and plan > mem:
        pref = info.get("members_with_plan_cell", "")
        prow = int("".join(ch for ch in pref if ch.isdigit())) if pref else None
        ctx.add(
            "W_PLAN_EXCEEDS",
            sheet=sheet,
            row=prow,
            column="制定个人学习计划人数",
            cell=pref,
            value=str(plan),
            members=mem,
        )


# ---------------------------------------------------------------------------------------------
# tables


_INVALID = object()  # a value that was reported as invalid: not also reported as missing


def _convert(ctx: _Ctx, col: Column, value: Any, sheet: Sheet, r: int, c: int, header: str) -> Any:
    tpl = ctx.tpl
    t = col.type
    if t in ("text",):
        return nz.to_text(value)[0]
    if t == "id":
        return nz.to_id(value)[0]
    # dates, counts and vocabulary cells repeat across rows and files: each distinct (type, value)
    # is normalised once per template (the type is part of the key: 1, 1.0 and True are equal)
    memo = tpl.__dict__.setdefault("_converted", {})
    key = (t, col.vocab, type(value), value)
    try:
        v, problem = memo[key]
    except (KeyError, TypeError):  # TypeError: an unhashable value is normalised every time
        v, problem = _normalise(tpl, col, value)
        if len(memo) < 200_000:
            try:
                memo[key] = (v, problem)
            except TypeError:
                pass
    if problem:
        code = _CODES[t]
        extra = {}
        if code == "E_VOCAB":
            extra["choices"] = "、".join(tpl.vocabularies[col.vocab].canonical.values())
        ctx.add(code, sheet=sheet.name, row=r + 1, column=header, cell=cell_ref(r, c), value=value, **extra)
        return _INVALID
    return list(v) if t == "vocab_list" else v


_CODES = {
    "date": "E_DATE",
    "deadline": "E_DATE",
    "int": "E_NUMBER",
    "vocab": "E_VOCAB",
    "vocab_list": "E_VOCAB",
}


def _normalise(tpl: Template, col: Column, value: Any) -> tuple[Any, str | None]:
    t = col.type
    if t == "date":
        return nz.to_date(value, tpl)
    if t == "deadline":
        return nz.to_deadline(value, tpl)
    if t == "int":
        return nz.to_int(value, tpl)
    if t == "vocab":
        return nz.to_vocab(value, tpl.vocabularies[col.vocab])
    if t == "vocab_list":
        v, problem = nz.to_vocab_list(value, tpl.vocabularies[col.vocab], tpl)
        return (tuple(v) if v is not None else None), problem
    return nz.to_text(value)


def _row_values(sheet: Sheet, r: int) -> list:
    return sheet.rows[r] if r < len(sheet.rows) else []


def _check_columns(ctx: _Ctx, table: Table, sheet: Sheet, fields: dict[str, int]) -> bool:
    ok = True
    for col in table.columns:
        if col.required and col.field not in fields:
            ctx.add("E_COLUMNS", sheet=sheet.name, column=col.label, names="、".join(col.names))
            ok = False
    return ok


def _warn_extra(ctx: _Ctx, sheet: Sheet, cmap: ColumnMap) -> None:
    for c in cmap.extra:
        ctx.add(
            "W_EXTRA_COLUMN",
            sheet=sheet.name,
            row=cmap.header_row + 1,
            column=cmap.headers[c],
            cell=cell_ref(cmap.header_row, c),
            value=cmap.headers[c],
        )


def _record(
    ctx: _Ctx,
    table: Table,
    sheet: Sheet,
    cmap: ColumnMap,
    fields: dict[str, int],
    r: int,
    only: set[str] | None = None,
) -> dict[str, Any]:
    row = _row_values(sheet, r)
    rec: dict[str, Any] = {"sheet": sheet.name, "row": r + 1}
    for col in table.columns:
        if only is not None and col.field not in only:
            continue
        c = fields.get(col.field)
        if c is None:
            value = None
        else:
            value = row[c] if c < len(row) else ""
            if sheet.formula_cells and value == "":
                ref = cell_ref(r, c)
                if ref in sheet.formula_cells:
                    ctx.add(
                        "W_FORMULA", sheet=sheet.name, row=r + 1, column=cmap.headers.get(c, ""), cell=ref
                    )
            value = _convert(ctx, col, value, sheet, r, c, cmap.headers.get(c, col.label))
        if value is _INVALID:
            value = None
        elif value is None or value == []:
            if col.required:
                ctx.add(
                    "E_REQUIRED",
                    sheet=sheet.name,
                    row=r + 1,
                    column=cmap.headers.get(c, col.label) if c is not None else col.label,
                    cell=cell_ref(r, c) if c is not None else "",
                )
            value = col.default if col.type != "vocab_list" else []
        rec[col.field] = value
        if c is not None:
            rec[f"_{col.field}_col"] = c
    mapped = [c for c in fields.values()]
    rec["cell"] = cell_ref(r, min(mapped)) if mapped else ""
    return rec


def read_table(ctx: _Ctx, table: Table, sheet: Sheet) -> list[dict[str, Any]] | None:
    if sheet_is_empty(sheet):
        ctx.place(table.name, sheet, None, {})
        return []
    r = find_header(ctx.tpl, header_names(ctx.tpl, table), sheet)
    if r is None:
        _check_columns(ctx, table, sheet, {})
        return None
    cmap = map_columns(ctx.tpl, [table], sheet, r)
    _warn_extra(ctx, sheet, cmap)
    if not _check_columns(ctx, table, sheet, cmap.fields):
        return None
    ctx.place(table.name, sheet, cmap, cmap.fields)
    records = []
    for rr in data_rows(ctx.tpl, sheet, cmap):
        rec = _record(ctx, table, sheet, cmap, cmap.fields, rr)
        rec["_cmap"] = cmap
        records.append(rec)
    return records


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return squash(a) == squash(b)
    return a == b


def _starts_problem(sheet: Sheet, r: int, top: int, p_cols: list[int]) -> bool:
    """On the combined sheet, whether row r begins a new problem rather than adding a measure to the
    one that began at row ``top`` (§4.6: a problem's cells are written once, merged down over its
    measures' rows). A new problem: a problem cell merged down from this row, or a problem cell that
    holds a value of its own that differs from the current problem's. Cells merged from within the
    current problem, empty cells and repeated values continue it."""
    for c in p_cols:
        m = sheet.merge_at(r, c)
        if m is not None and m[2] > m[0]:
            if m[0] == r:
                return True
            continue  # merged from a row above: the current problem's cell (or one shared with it)
        v = sheet.value(r, c)
        if nz.is_empty(v):
            continue
        first = sheet.value(top, c)
        if not nz.is_empty(first) and not _same(v, first):
            return True
    return False


def read_combined(ctx: _Ctx, sheet: Sheet) -> tuple[list[dict], list[dict]] | None:
    """The combined problem/measure sheet (§4.6): one problem per merged group, one measure per row;
    its columns in any order, its 问题编号 column the problem's ID and each measure's."""
    tpl = ctx.tpl
    parent, child = tpl.tables[tpl.combined_parent], tpl.tables[tpl.combined_child]
    child_required = [c for c in child.columns if c.required and c.field != tpl.combined_key]
    r = find_header(tpl, combined_names(tpl), sheet)
    if r is None:
        _check_columns(ctx, parent, sheet, {})
        for col in child_required:
            ctx.add("E_COLUMNS", sheet=sheet.name, column=col.label, names="、".join(col.names))
        return None
    cmap = map_columns(tpl, [parent, child], sheet, r, combined=True)
    pf = {k[2:]: v for k, v in cmap.fields.items() if k.startswith("0:")}
    cf = {k[2:]: v for k, v in cmap.fields.items() if k.startswith("1:")}
    _warn_extra(ctx, sheet, cmap)
    ok = _check_columns(ctx, parent, sheet, pf)
    for col in child_required:
        if col.field not in cf:
            ctx.add("E_COLUMNS", sheet=sheet.name, column=col.label, names="、".join(col.names))
            ok = False
    if not ok:
        return None
    key_col = pf[tpl.combined_key]
    ctx.place(parent.name, sheet, cmap, pf)
    ctx.place(child.name, sheet, cmap, {**cf, tpl.combined_key: key_col})
    p_cols = sorted(pf.values())
    c_cols = sorted(cf.values())
    problems: list[dict] = []
    measures: list[dict] = []
    current: dict | None = None
    top = -1
    child_fields = {c.field for c in child.columns} - {tpl.combined_key}
    for rr in data_rows(tpl, sheet, cmap):
        row = sheet.rows[rr]
        if current is None or (has_value(row, p_cols) and _starts_problem(sheet, rr, top, p_cols)):
            top = rr
            current = _record(ctx, parent, sheet, cmap, pf, rr)
            current["_cmap"] = cmap
            problems.append(current)
        if has_value(row, c_cols):
            m = _record(ctx, child, sheet, cmap, cf, rr, only=child_fields)
            m[tpl.combined_key] = current.get(tpl.combined_key)
            m["_problem_id_col"] = key_col
            m["_cmap"] = cmap
            measures.append(m)
    return problems, measures


# ---------------------------------------------------------------------------------------------
# cross-row rules


def _cell_of(rec: dict, fld: str) -> tuple[str, str]:
    c = rec.get(f"_{fld}_col")
    if c is None:
        return "", ""
    cmap: ColumnMap = rec["_cmap"]
    return cell_ref(rec["row"] - 1, c), cmap.headers.get(c, "")


def cross_checks(
    ctx: _Ctx, tables: dict[str, list[dict]], as_of: date | None, failed: frozenset[str] = frozenset()
) -> None:
    """Rules across rows and tables. ``failed`` tables could not be read (E_COLUMNS): checks that
    need them are skipped, every other check still runs, so a clerk hears of everything at once."""
    tpl = ctx.tpl
    for tname, fld in (("research", "topic_id"), ("problems", "problem_id"), ("measures", "measure_id")):
        first: dict[str, int] = {}
        for rec in tables.get(tname, []):
            v = rec.get(fld)
            if v is None:
                continue
            if v in first:
                ref, header = _cell_of(rec, fld)
                ctx.add(
                    "E_DUPLICATE_ID",
                    sheet=rec["sheet"],
                    row=rec["row"],
                    column=header,
                    cell=ref,
                    value=v,
                    first_row=first[v],
                )
            else:
                first[v] = rec["row"]
    problem_ids = {p.get("problem_id") for p in tables.get("problems", []) if p.get("problem_id")}
    with_measure = set()
    for m in tables.get("measures", []):
        pid = m.get("problem_id")
        if pid is None:
            continue
        with_measure.add(pid)
        if pid not in problem_ids and "problems" not in failed:
            ref, header = _cell_of(m, "problem_id")
            ctx.add("E_UNKNOWN_PROBLEM", sheet=m["sheet"], row=m["row"], column=header, cell=ref, value=pid)
    for p in tables.get("problems", []):
        pid = p.get("problem_id")
        if pid and pid not in with_measure and "measures" not in failed:
            ref, header = _cell_of(p, "problem_id")
            ctx.add("W_NO_MEASURE", sheet=p["sheet"], row=p["row"], column=header, cell=ref, value=pid)
    for rule in tpl.raw["rules"]["closed_needs_date"]:
        for rec in tables.get(rule["table"], []):
            if rec.get("status") != rule["status"] or rec.get(rule["date"]) is not None:
                continue
            ref, header = _cell_of(rec, rule["date"])
            if not ref:
                ref, header = _cell_of(rec, "status")
            ctx.add(
                "W_CLOSED_NO_DATE",
                sheet=rec["sheet"],
                row=rec["row"],
                column=header,
                cell=ref,
                detail=rule["detail"].format(name=rec.get(rule["name"]) or ""),
            )
    start, end = tpl.window
    for tname, flds in tpl.raw["rules"]["date_range_fields"].items():
        for rec in tables.get(tname, []):
            for fld in flds:
                d = rec.get(fld)
                if d is None:
                    continue
                if d < start or d > end or (as_of is not None and d > as_of):
                    ref, header = _cell_of(rec, fld)
                    ctx.add(
                        "W_DATE_RANGE",
                        sheet=rec["sheet"],
                        row=rec["row"],
                        column=header,
                        cell=ref,
                        value=d.isoformat(),
                        start=start.isoformat(),
                        end=end.isoformat(),
                        as_of=as_of.isoformat() if as_of else "",
                    )


# ---------------------------------------------------------------------------------------------


def parse_book(book: Book, tpl: Template, ingest_day: date) -> Parsed:
    ctx = _Ctx(tpl, ingest_day)
    info: dict[str, Any] | None = None
    assigned: dict[str, Sheet] = {}
    combined: list[Sheet] = []
    for sheet in book.sheets:
        if not sheet.visible:
            continue
        role = role_by_name(tpl, sheet.name)
        if role is None:
            if sheet_is_empty(sheet):
                continue
            guess = best_table_by_header(tpl, sheet)
            if guess is None:
                if sum(1 for row in sheet.rows if any(not nz.is_empty(v) for v in row)) >= 3:
                    ctx.add(
                        "W_SHEET_IGNORED", sheet=sheet.name, detail="未能识别为任何台账表（表头与模板不符）。"
                    )
                continue
            role = guess[0]
        if role == "":
            continue
        if role == INFO:
            if info is None:
                info = read_info(ctx, sheet)
            continue
        if role == COMBINED:
            combined.append(sheet)
            continue
        if role in assigned:
            # two sheets of one table: the first that holds anything is read (a template's empty
            # sheet does not hide the clerk's filled copy), the other is passed over
            keep, drop = assigned[role], sheet
            if sheet_is_empty(keep) and not sheet_is_empty(drop):
                keep, drop = drop, keep
            assigned[role] = keep
            if not sheet_is_empty(drop):
                ctx.add(
                    "W_SHEET_IGNORED",
                    sheet=drop.name,
                    detail=f"与工作表“{keep.name}”同为{tpl.tables[role].title}表，只读取“{keep.name}”。",
                )
            continue
        assigned[role] = sheet
    tables: dict[str, list[dict]] = {name: [] for name in tpl.tables}
    failed: set[str] = set()
    for name, sheet in assigned.items():
        recs = read_table(ctx, tpl.tables[name], sheet)
        if recs is None:
            failed.add(name)
            continue
        tables[name] = recs
    combined.sort(key=sheet_is_empty)  # stable: the first combined sheet that holds anything
    for i, sheet in enumerate(combined):
        if tpl.combined_parent in assigned or tpl.combined_child in assigned or i > 0:
            if not sheet_is_empty(sheet):
                ctx.add(
                    "W_SHEET_IGNORED",
                    sheet=sheet.name,
                    detail="已有单独的问题清单/整改措施表，本合并表未读取。"
                    if i == 0
                    else f"与工作表“{combined[0].name}”同为问题整改合并表，只读取“{combined[0].name}”。",
                )
            continue
        got = read_combined(ctx, sheet)
        if got is None:
            failed.update((tpl.combined_parent, tpl.combined_child))
            continue
        tables[tpl.combined_parent], tables[tpl.combined_child] = got
    check_as_of(ctx, info)
    cross_checks(ctx, tables, (info or {}).get("as_of"), frozenset(failed))
    rows_read = 0
    for recs in tables.values():
        rows_read += len(recs)
        for rec in recs:
            for k in [k for k in rec if k.startswith("_")]:
                del rec[k]
    return Parsed(
        status="parsed",
        info=info or {},
        tables=tables,
        issues=ctx.issues,
        rows_read=rows_read,
        layout=ctx.layout,
    )


def parse_workbook(path: Path, tpl: Template, limits: Limits, ingest_day: date) -> Parsed:
    """Read, locate, normalise and validate one workbook; never raises on bad input."""
    try:
        book = read_book(path, limits)
    except ReadFailed as exc:
        return Parsed(
            status="unreadable",
            issues=[
                Issue(code="E_FILE_UNREADABLE", message=tpl.message("E_FILE_UNREADABLE", detail=str(exc)))
            ],
            sha256=exc.sha256,
        )
    parsed = parse_book(book, tpl, ingest_day)
    parsed.sha256 = book.sha256
    return parsed
