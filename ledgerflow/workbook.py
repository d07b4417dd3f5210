"""Reading a workbook's sheets with python-calamine (.xlsx/.xlsm/.xls), merged ranges filled."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerflow.safety import PreCheck, Unreadable, precheck
from ledgerflow.settings import Limits

# Exceptions that are not about the file and must not be turned into "unreadable".
_NOT_OURS = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)


@dataclass
class Sheet:
    name: str
    visible: bool
    rows: list[list[Any]]
    # (first_row, first_col, last_row, last_col), 0-based inclusive
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    formula_cells: frozenset[str] = frozenset()  # "G11": formula without a computed value
    _merge_rows: dict[int, list[tuple[int, int, int, int]]] | None = field(
        default=None, repr=False, compare=False
    )

    def merge_at(self, r: int, c: int) -> tuple[int, int, int, int] | None:
        """The merged range (of more than one cell) covering (r, c), or None."""
        if self._merge_rows is None:
            index: dict[int, list[tuple[int, int, int, int]]] = {}
            for m in self.merged:
                r0, c0, r1, c1 = m
                if r1 > r0 or c1 > c0:
                    for rr in range(r0, r1 + 1):
                        index.setdefault(rr, []).append(m)
            self._merge_rows = index
        for m in self._merge_rows.get(r, ()):
            if m[1] <= c <= m[3]:
                return m
        return None

    def is_merge_copy(self, r: int, c: int) -> bool:
        """True where (r, c) holds a merged range's value but is not its top-left cell."""
        m = self.merge_at(r, c)
        return m is not None and (m[0], m[1]) != (r, c)

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


def _fill_merged(
    rows: list[list[Any]], merged: list[tuple[int, int, int, int]], max_cells: int = 2_000_000
) -> None:
    if not merged:
        return
    max_r = max(m[2] for m in merged)
    max_c = max(m[3] for m in merged)
    area = sum((abs(r1 - r0) + 1) * (abs(c1 - c0) + 1) for r0, c0, r1, c1 in merged)
    if (max_r + 1) * (max_c + 1) > max_cells or area > max_cells:
        raise Unreadable("合并单元格范围过大")
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


def _open(cls, path: Path):
    """calamine takes a path as UTF-8: a name that is not (a GBK name from a Windows zip, held as
    surrogate escapes) is read through a file object instead."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        with open(path, "rb") as fh:
            return cls.from_filelike(fh)
    return cls.from_path(str(path))


def read_book(path: Path, limits: Limits, pre: PreCheck | None = None) -> Book:
    """Open a workbook safely. Hidden sheets are listed (visible=False) but not loaded."""
    from python_calamine import CalamineWorkbook

    pre = pre or precheck(path, limits)
    try:
        wb = _open(CalamineWorkbook, path)
    except _NOT_OURS:
        raise
    except BaseException as exc:  # CalamineError, PasswordError, XmlError, ZipError, pyo3 PanicException
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
            _fill_merged(rows, merged, limits.max_cells)
            sheets.append(
                Sheet(
                    name=meta.name,
                    visible=True,
                    rows=rows,
                    merged=merged,
                    formula_cells=frozenset(pre.formula_cells.get(meta.name, ())),
                )
            )
    except (Unreadable, *_NOT_OURS):
        raise
    except BaseException as exc:  # a Rust panic surfaces as pyo3's PanicException (a BaseException)
        raise Unreadable(f"格式损坏（{type(exc).__name__}）") from exc
    finally:
        wb.close()
    return Book(path=path, kind=pre.kind, sheets=sheets)
