"""Reading a workbook's sheets with python-calamine (.xlsx/.xlsm/.xls), merged ranges filled."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerflow.safety import Unreadable, precheck, read_bounded
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
    sha256: str = ""  # of the bytes that were read: what the results belong to


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


class ReadFailed(Unreadable):
    """Unreadable, and the bytes it was about (``sha256``: empty where the file could not be read)."""

    def __init__(self, reason: str, sha256: str = ""):
        super().__init__(reason)
        self.sha256 = sha256


def read_book(path: Path, limits: Limits) -> Book:
    """Open a workbook safely. Its bytes are read once: the pre-check, the reader and the hash the
    results are kept under all see the same bytes, even if the file is replaced meanwhile. Hidden
    sheets are listed (visible=False) but not loaded."""
    import io

    from python_calamine import CalamineWorkbook

    try:
        data = read_bounded(Path(path), limits)
    except OSError as exc:
        raise ReadFailed(f"无法读取文件（{type(exc).__name__}）") from exc
    except Unreadable as exc:
        raise ReadFailed(str(exc)) from exc
    sha = hashlib.sha256(data).hexdigest()
    try:
        pre = precheck(Path(path), limits, data)
    except Unreadable as exc:
        raise ReadFailed(str(exc), sha) from exc
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except _NOT_OURS:
        raise
    except BaseException as exc:  # CalamineError, PasswordError, XmlError, ZipError, pyo3 PanicException
        name = type(exc).__name__
        reason = "文件已加密" if "Password" in name or "password" in str(exc).lower() else "格式损坏"
        raise ReadFailed(f"{reason}（{name}）", sha) from exc
    del data
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
    except Unreadable as exc:
        raise ReadFailed(str(exc), sha) from exc
    except _NOT_OURS:
        raise
    except BaseException as exc:  # a Rust panic surfaces as pyo3's PanicException (a BaseException)
        raise ReadFailed(f"格式损坏（{type(exc).__name__}）", sha) from exc
    finally:
        wb.close()
    return Book(path=path, kind=pre.kind, sheets=sheets, sha256=sha)
