"""Writes a drawn ``Book`` (model.py) as a real workbook: openpyxl or xlsxwriter (.xlsx), xlwt (.xls,
as WPS and old Excel save them, ledger.md §8.11). Raw cells keep their kind: text stays text (even
`45262`), numbers are number cells, dates are date cells with a date format."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from model import Book, Raw


def _value(raw: Raw):
    kind, v = raw[0], raw[1]
    if kind == "d":
        return date.fromisoformat(v)
    if kind == "dt":
        return datetime.fromisoformat(v)
    if kind == "n":
        return int(v)
    if kind == "f":
        return float(v)
    return v


def write(book: Book, path: Path) -> Path:
    """Writes ``book`` to ``path`` (its extension must match the writer) and returns the path."""
    path = Path(path)
    {"openpyxl": _openpyxl, "xlsxwriter": _xlsxwriter, "xlwt": _xlwt}[book.writer](book, path)
    return path


def _first_visible(book: Book) -> int:
    return next((i for i, s in enumerate(book.sheets) if not s.hidden), 0)


def _openpyxl(book: Book, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    wb = Workbook()
    wb.remove(wb.active)
    for sheet in book.sheets:
        ws = wb.create_sheet(sheet.name)
        for (r, c), raw in sheet.cells.items():
            if raw[0] == "fx":
                raise ValueError("openpyxl writes no cached formula values")
            cell = ws.cell(row=r, column=c)
            cell.value = _value(raw)
            if raw[0] == "s":
                cell.data_type = TYPE_STRING  # never a formula, whatever the text
            elif raw[0] == "d":
                cell.number_format = "yyyy-mm-dd"
            elif raw[0] == "dt":
                cell.number_format = "yyyy-mm-dd hh:mm"
        for r0, c0, r1, c1 in sheet.merges:
            ws.merge_cells(start_row=r0, start_column=c0, end_row=r1, end_column=c1)
        if sheet.hidden:
            ws.sheet_state = "hidden"
    wb.active = _first_visible(book)
    wb.save(path)


def _xlsxwriter(book: Book, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    fmt = {
        "d": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "dt": wb.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
    }
    sheets = []
    for sheet in book.sheets:
        ws = wb.add_worksheet(sheet.name)
        sheets.append(ws)
        covered = {
            (r, c): (r0, c0)
            for r0, c0, r1, c1 in sheet.merges
            for r in range(r0, r1 + 1)
            for c in range(c0, c1 + 1)
        }

        def put(r: int, c: int, raw: Raw | None, ws=ws, sheet=sheet) -> None:
            if raw is None:
                return
            kind = raw[0]
            if kind == "fx":
                ws.write_formula(r - 1, c - 1, raw[1], None, raw[2])
            elif kind in ("d", "dt"):
                ws.write_datetime(r - 1, c - 1, _value(raw), fmt[kind])
            elif kind == "s":
                ws.write_string(r - 1, c - 1, raw[1])
            else:
                ws.write_number(r - 1, c - 1, _value(raw))

        for (r, c), raw in sheet.cells.items():
            if (r, c) not in covered:
                put(r, c, raw)
        for r0, c0, r1, c1 in sheet.merges:
            raw = sheet.cells.get((r0, c0))
            ws.merge_range(r0 - 1, c0 - 1, r1 - 1, c1 - 1, "")
            put(r0, c0, raw)  # the top-left value, written over the merge's blank
        if sheet.hidden:
            ws.hide()
    first = _first_visible(book)
    sheets[first].activate()
    sheets[first].set_first_sheet()
    wb.close()


def _xlwt(book: Book, path: Path) -> None:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    style = {
        "d": xlwt.easyxf(num_format_str="YYYY-MM-DD"),
        "dt": xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM"),
    }
    for sheet in book.sheets:
        ws = wb.add_sheet(sheet.name, cell_overwrite_ok=True)
        covered = {
            (r, c) for r0, c0, r1, c1 in sheet.merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)
        }
        for r0, c0, r1, c1 in sheet.merges:
            raw = sheet.cells.get((r0, c0))
            if raw is None:
                ws.write_merge(r0 - 1, r1 - 1, c0 - 1, c1 - 1)
            elif raw[0] in style:
                ws.write_merge(r0 - 1, r1 - 1, c0 - 1, c1 - 1, _value(raw), style[raw[0]])
            else:
                ws.write_merge(r0 - 1, r1 - 1, c0 - 1, c1 - 1, _value(raw))
        for (r, c), raw in sheet.cells.items():
            if (r, c) in covered:
                continue
            if raw[0] == "fx":
                raise ValueError("xlwt writes no cached formula values")
            if raw[0] in style:
                ws.write(r - 1, c - 1, _value(raw), style[raw[0]])
            else:
                ws.write(r - 1, c - 1, _value(raw))
        if sheet.hidden:
            ws.visibility = 1
    first = _first_visible(book)
    wb.active_sheet = first
    wb.get_sheet(first).set_selected(True)
    for i, _ in enumerate(book.sheets):
        if i != first:
            wb.get_sheet(i).set_selected(False)
    wb.save(str(path))
