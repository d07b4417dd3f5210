"""The checks of the three properties, shared by test_properties.py (drawn cases) and
test_regressions.py (cases replayed from JSON). Each writes the case's book(s), parses them with the
project's reader and raises AssertionError with the layout as a grid when the reading is wrong."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from contract import TABLES, C
from model import Book, Case, Expect, jsonable
from writers import write

LINEAGE = ("sheet", "row")


def read(book: Book, folder: Path, parse: Callable, stem: str = "book") -> Any:
    path = write(book, folder / f"{stem}.{book.ext}")
    return parse(path)


def _value(col_kind: str, v: Any) -> Any:
    """A read value as the fixtures hold it; a value of the wrong type stays visibly wrong."""
    if col_kind == "list":
        return sorted(set(v or [])) if isinstance(v, (list, tuple, type(None))) else repr(v)
    if col_kind == "integer" and v is not None and type(v) is not int:
        return repr(v)  # 30.0 is not the integer 30 (§6)
    if isinstance(v, date):
        return v.isoformat() if type(v) is date else repr(v)  # a datetime is not a date (§6)
    return v


def records(parsed, *, lineage: bool = True) -> dict[str, list[dict[str, Any]]]:
    """The parsed records of every table as JSON values, only the §4 fields (and sheet, row)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for t in TABLES:
        rows = []
        for r in parsed.tables.get(t, []) or []:
            rec = {c.field: _value(c.kind, r.get(c.field)) for c in C.tables[t].columns}
            if lineage:
                rec = {"sheet": r.get("sheet"), "row": r.get("row"), **rec}
            rows.append(rec)
        out[t] = rows
    return out


def expected_records(expect: Expect, *, lineage: bool = True) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for t in TABLES:
        rows = []
        for r in jsonable(expect.tables.get(t, [])):
            rec = {c.field: _value(c.kind, r.get(c.field)) for c in C.tables[t].columns}
            if lineage:
                rec = {"sheet": r["sheet"], "row": r["row"], **rec}
            rows.append(rec)
        out[t] = rows
    return out


def info(parsed) -> dict[str, Any]:
    return {lb.field: _value(lb.kind, (parsed.info or {}).get(lb.field)) for lb in C.labels}


def issue_rows(parsed) -> list[tuple]:
    return [(i.severity, i.code, i.sheet, i.row, i.cell, i.column, i.value) for i in parsed.issues]


def _issues_text(parsed) -> str:
    return (
        "\n".join(
            f"  {sev} {code} sheet={s!r} row={r} cell={c!r} column={col!r} value={v!r}"
            for sev, code, s, r, c, col, v in issue_rows(parsed)
        )
        or "  (none)"
    )


def _matches(issue, want: dict) -> bool:
    if issue.code != want["code"]:
        return False
    where = want.get("where", "sheet")
    if where == "code":
        return True
    if issue.sheet != want.get("sheet"):
        return False
    if where == "column" or want["code"] == "W_EXTRA_COLUMN":
        return _same_header(issue.column, want.get("column"))
    if where == "cells":
        return issue.cell in want["cells"]
    if where in ("row", "cell") and issue.row != want["row"]:
        return False
    return where != "cell" or issue.cell == want["cell"]


def _same_header(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and "".join(a.split()) == "".join(b.split())


def _diff(actual: dict, expected: dict) -> str:
    lines = []
    for t in expected:
        a, e = actual.get(t), expected[t]
        if a != e:
            lines.append(f"  {t}:\n    expected {e}\n    actual   {a}")
    return "\n".join(lines)


def check_round_trip(case: Case, folder: Path, parse: Callable) -> None:
    """Round trip: the records, the info and the issues read are the ones written (§4–§9)."""
    parsed = read(case.book, folder, parse)
    grid = case.book.grid()
    assert parsed.status == "parsed", f"status {parsed.status}\n{_issues_text(parsed)}\n{grid}"
    errors = [i for i in parsed.issues if i.severity == "error"]
    want = expected_records(case.expect)
    got = records(parsed)
    problems = []
    if errors:
        problems.append("errors on a clean ledger:\n" + _issues_text(parsed))
    if info(parsed) != jsonable(case.expect.info):
        problems.append(f"info:\n  expected {jsonable(case.expect.info)}\n  actual   {info(parsed)}")
    if got != want:
        problems.append("records:\n" + _diff(got, want))
    warnings = [i for i in parsed.issues if i.severity != "error"]
    unexpected = [
        i for i in warnings if not any(_matches(i, w) for w in case.expect.issues + case.expect.tolerated)
    ]
    if unexpected:
        problems.append("warnings the layout does not call for:\n" + _issues_text(parsed))
    missing = [w for w in case.expect.issues if not any(_matches(i, w) for i in parsed.issues)]
    if missing:
        problems.append(f"missing issues {missing}:\n" + _issues_text(parsed))
    assert not problems, "\n".join(problems) + "\n" + grid


def check_metamorphic(case: Case, folder: Path, parse: Callable) -> tuple[Any, Any]:
    """Metamorphic: two layouts of one ledger read as the same records, info and verdict."""
    assert case.book_b is not None
    a = read(case.book, folder, parse, "a")
    b = read(case.book_b, folder, parse, "b")
    grids = f"A:\n{case.book.grid()}\nB:\n{case.book_b.grid()}"
    problems = []
    if a.status != b.status:
        problems.append(f"status {a.status} vs {b.status}")
    ea = sorted({i.code for i in a.issues if i.severity == "error"})
    eb = sorted({i.code for i in b.issues if i.severity == "error"})
    if ea != eb:
        problems.append(
            f"verdicts differ: {ea} vs {eb}\nA issues:\n{_issues_text(a)}\nB issues:\n{_issues_text(b)}"
        )
    if info(a) != info(b):
        problems.append(f"info differs:\n  A {info(a)}\n  B {info(b)}")
    ra, rb = records(a, lineage=False), records(b, lineage=False)
    if ra != rb:
        problems.append("records differ (A expected, B actual):\n" + _diff(rb, ra))
    assert not problems, "\n".join(problems) + "\n" + grids
    return a, b


def check_defect(case: Case, folder: Path, parse: Callable) -> None:
    """Planted defect: the planted issue is reported where it was planted, and no other error."""
    parsed = read(case.book, folder, parse)
    want = case.defect
    assert want is not None
    hits = [i for i in parsed.issues if _matches(i, want)]
    others = [i for i in parsed.issues if i.severity == "error" and not _matches(i, want)]
    problems = []
    if not hits:
        problems.append(f"planted {want} not reported")
    if others:
        problems.append("other errors reported")
    assert not problems, "\n".join(problems) + "\nissues:\n" + _issues_text(parsed) + "\n" + case.book.grid()


CHECKS: dict[str, Callable] = {
    "round_trip": check_round_trip,
    "metamorphic": check_metamorphic,
    "defect": check_defect,
}
