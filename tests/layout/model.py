"""The plain data a drawn layout is made of: sheets of raw cells with merges and a hidden flag, the
writer, and what reading it must give. Everything here turns into JSON and back (regression
fixtures are these objects, written by the properties when they fail)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from openpyxl.utils import get_column_letter, range_boundaries

FEATURES: Counter[str] = Counter()  # how often each layout freedom was drawn (printed by the properties)


def feature(name: str) -> None:
    """Counts a drawn freedom (and tells hypothesis, for its statistics)."""
    from hypothesis import event

    FEATURES[name] += 1
    event(name)


Raw = list[
    Any
]  # see forms.py: ["s", text] | ["n", int] | ["f", float] | ["d", iso] | ["dt", iso] | ["fx", f, v]


def ref(row: int, col: int) -> str:
    """A1-style reference of a 1-based (row, column)."""
    return f"{get_column_letter(col)}{row}"


@dataclass
class Sheet:
    """One worksheet: raw cells by 1-based (row, column), merged ranges as (r0, c0, r1, c1)."""

    name: str
    hidden: bool = False
    cells: dict[tuple[int, int], Raw] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)

    def put(self, row: int, col: int, raw: Raw | None) -> None:
        if raw is None:
            self.cells.pop((row, col), None)
        else:
            self.cells[(row, col)] = list(raw)

    def merge(self, r0: int, c0: int, r1: int, c1: int) -> None:
        if (r0, c0) != (r1, c1):
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    if (r, c) != (r0, c0):
                        self.cells.pop((r, c), None)
            self.merges.append((r0, c0, r1, c1))

    def in_merge(self, row: int, col: int) -> bool:
        return any(r0 <= row <= r1 and c0 <= col <= c1 for r0, c0, r1, c1 in self.merges)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "hidden": self.hidden,
            "cells": [[r, c, *raw] for (r, c), raw in sorted(self.cells.items())],
            "merges": [f"{ref(r0, c0)}:{ref(r1, c1)}" for r0, c0, r1, c1 in self.merges],
        }

    @classmethod
    def from_json(cls, d: dict) -> Sheet:
        sheet = cls(d["name"], d.get("hidden", False))
        for r, c, *raw in d["cells"]:
            sheet.cells[(r, c)] = raw
        for rng in d["merges"]:
            c0, r0, c1, r1 = range_boundaries(rng)
            sheet.merges.append((r0, c0, r1, c1))
        return sheet

    def grid(self) -> str:
        """The sheet as a small text grid (for reports of a failing layout)."""
        if not self.cells:
            return f"[{self.name}] (empty){' hidden' if self.hidden else ''}"
        rows = max(r for r, _ in self.cells)
        cols = max(c for _, c in self.cells)
        lines = [f"[{self.name}]{' hidden' if self.hidden else ''} merges={self.to_json()['merges']}"]
        for r in range(1, rows + 1):
            vals = []
            for c in range(1, cols + 1):
                raw = self.cells.get((r, c))
                vals.append("" if raw is None else repr(raw[1]) if raw[0] == "s" else f"{raw[0]}:{raw[1]}")
            lines.append(f"{r:>3} | " + " | ".join(vals))
        return "\n".join(lines)


@dataclass
class Book:
    """A workbook to write: its sheets in order and the library that writes it."""

    writer: str  # openpyxl | xlsxwriter | xlwt
    sheets: list[Sheet]

    @property
    def ext(self) -> str:
        return "xls" if self.writer == "xlwt" else "xlsx"

    def sheet(self, name: str) -> Sheet:
        return next(s for s in self.sheets if s.name == name)

    def to_json(self) -> dict:
        return {"writer": self.writer, "sheets": [s.to_json() for s in self.sheets]}

    @classmethod
    def from_json(cls, d: dict) -> Book:
        return cls(d["writer"], [Sheet.from_json(s) for s in d["sheets"]])

    def grid(self) -> str:
        return f"writer={self.writer}\n" + "\n".join(s.grid() for s in self.sheets)


@dataclass
class Expect:
    """What reading a book must give: the §4.1 info, the records of every table (with their sheet
    and Excel row), the issues that must be reported and the warnings that may be (where the
    contract leaves a warning open, e.g. W_SHEET_IGNORED for a helper sheet)."""

    info: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    issues: list[dict[str, Any]] = field(default_factory=list)
    tolerated: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "info": jsonable(self.info),
            "tables": jsonable(self.tables),
            "issues": self.issues,
            "tolerated": self.tolerated,
        }

    @classmethod
    def from_json(cls, d: dict) -> Expect:
        return cls(d["info"], d["tables"], d.get("issues", []), d.get("tolerated", []))


def jsonable(v: Any) -> Any:
    """Values as the JSON fixtures hold them: dates ISO, lists sorted and unique, nothing else
    changed."""
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "raw") and hasattr(v, "code"):  # strategies.Bad: a value planted to be refused
        return {"bad": list(v.raw), "code": v.code}
    return v


@dataclass
class Case:
    """One drawn example of a property, enough to replay it without hypothesis."""

    prop: str  # round_trip | metamorphic | defect
    book: Book
    expect: Expect
    book_b: Book | None = None
    expect_b: Expect | None = None
    defect: dict[str, Any] | None = None
    note: str = ""

    def to_json(self) -> dict:
        d: dict[str, Any] = {"property": self.prop, "note": self.note, "book": self.book.to_json()}
        d["expect"] = self.expect.to_json()
        if self.book_b is not None:
            d["book_b"] = self.book_b.to_json()
            d["expect_b"] = self.expect_b.to_json() if self.expect_b else None
        if self.defect is not None:
            d["defect"] = self.defect
        return d

    @classmethod
    def from_json(cls, d: dict) -> Case:
        return cls(
            d["property"],
            Book.from_json(d["book"]),
            Expect.from_json(d["expect"]),
            Book.from_json(d["book_b"]) if d.get("book_b") else None,
            Expect.from_json(d["expect_b"]) if d.get("expect_b") else None,
            d.get("defect"),
            d.get("note", ""),
        )

    def __repr__(self) -> str:
        return f"Case({self.prop!r}, {self.digest()}: its JSON is in tests/layout/last-failure/)"

    def _repr_pretty_(self, p, cycle) -> None:  # hypothesis prints the failing example with this
        p.text(repr(self))

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1, sort_keys=True)

    def digest(self) -> str:
        return hashlib.sha1(self.dumps().encode()).hexdigest()[:10]
