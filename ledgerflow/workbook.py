"""Reading a workbook's sheets with python-calamine (.xlsx/.xlsm/.xls), merged ranges filled."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerflow.safety import PreCheck, Unreadable, precheck
from ledgerflow.settings import Limits


@dataclass
class Sheet:
    name: str
    visible: bool
    rows: list[list[Any]]
    # (first_row, first_col, last_row, last_col), 0-based inclusive
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    formula_cells: frozenset[str] = frozenset()  # "G11": formula without a computed value

    def value(self, r: int, c: int) -> Any:
        if r < len(self.rows):
            row = self.rows[r]
            if c < len(row):
                return row[c]
        return ""

    @property
    def width(self) -> int:
        return max((len(r) for r in self.rows), default=0)


@dataclass
class Book:
    path: Path
    kind: str
    sheets: list[Sheet]


def _fill_merged(rows: list[list[Any]], merged: list[tuple[int, int, int, int]]) -> None:
    if not merged:
        return
    max_r = max(m[2] for m in merged)
    max_c = max(m[3] for m in merged)
    width = max(max((len(r) for r in rows), default=0), max_c + 1)
    while len(rows) <= max_r:
        rows.append([""] * width)
    for r0, c0, r1, c1 in merged:
        top = rows[r0][c0] if c0 < len(rows[r0]) else ""
        for r in range(r0, r1 + 1):
            row = rows[r]
            if len(row) <= c1:
                row.extend([""] * (c1 + 1 - len(row)))
            for c in range(c0, c1 + 1):
                row[c] = top


def read_book(path: Path, limits: Limits, pre: PreCheck | None = None) -> Book:
    """Open a workbook safely. Hidden sheets are listed (visible=False) but not loaded."""
    from python_calamine import CalamineWorkbook

    pre = pre or precheck(path, limits)
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # CalamineError, PasswordError, XmlError, ZipError, ...
        name = type(exc).__name__
        reason = "文件已加密" if "Password" in name or "password" in str(exc).lower() else "格式损坏"
        raise Unreadable(f"{reason}（{name}）") from exc
    sheets: list[Sheet] = []
    try:
        for meta in wb.sheets_metadata:
            if "WorkSheet" not in str(meta.typ):
                continue
            visible = "Hidden" not in str(meta.visible) and "VeryHidden" not in str(meta.visible)
            if not visible:
                sheets.append(Sheet(name=meta.name, visible=False, rows=[]))
                continue
            sh = wb.get_sheet_by_name(meta.name)
            if sh.height * max(sh.width, 1) > limits.max_cells:
                raise Unreadable(f"工作表“{meta.name}”范围过大")
            rows = sh.to_python(skip_empty_area=False)
            merged = [(a[0], a[1], b[0], b[1]) for a, b in (sh.merged_cell_ranges or [])]
            _fill_merged(rows, merged)
            sheets.append(
                Sheet(
                    name=meta.name,
                    visible=True,
                    rows=rows,
                    merged=merged,
                    formula_cells=frozenset(pre.formula_cells.get(meta.name, ())),
                )
            )
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable(f"格式损坏（{type(exc).__name__}）") from exc
    finally:
        wb.close()
    return Book(path=path, kind=pre.kind, sheets=sheets)
