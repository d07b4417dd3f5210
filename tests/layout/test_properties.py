"""Layout properties of the reader, drawn from ledger.md alone (see contract.py, strategies.py):

1. round trip: a clean ledger in any layout the contract allows reads back as written;
2. metamorphic: two layouts of one ledger read alike, and give the same figures (one CLI run);
3. planted defect: a §9 issue planted at a cell is reported there, and no other error.

A failing example is written to last-failure/ (failures.py) for fuzz.py and test_regressions.py.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from cases import DEFECTS, defect_cases, metamorphic_cases, round_trip_cases
from checks import CHECKS, check_metamorphic
from failures import profile_name, record_failure, shrink_budget
from hypothesis import given, settings
from model import FEATURES, Book, Case
from openpyxl import Workbook
from openpyxl.utils import coordinate_to_tuple
from writers import write

MAX_PAIRS = 40  # workbook pairs given to the one command-line run of the metamorphic property
AS_OF = "2024-01-31"  # the run's as-of date: every drawn 统计截止日期 is on or before it


def layout_settings() -> settings:
    return settings.get_profile(profile_name())


def _report(title: str) -> None:
    """Prints how often each freedom was drawn (see with pytest -s)."""
    print(f"\n{title}: " + ", ".join(f"{k}={v}" for k, v in sorted(FEATURES.items())))
    FEATURES.clear()


def _run(case: Case, base: Path, parse) -> None:
    folder = Path(tempfile.mkdtemp(dir=base))
    try:
        CHECKS[case.prop](case, folder, parse)
    except Exception:
        record_failure(case)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_round_trip(tmp_path, parse):
    """Records, row numbers and info read are those written; no error; only the warnings the layout
    calls for (W_EXTRA_COLUMN at extra columns, W_SHEET_IGNORED at a combined sheet beside separate
    ones; W_SHEET_IGNORED tolerated at helper sheets)."""

    @layout_settings()
    @given(round_trip_cases())
    def prop(case: Case) -> None:
        _run(case, tmp_path, parse)

    FEATURES.clear()
    with shrink_budget():
        prop()
    _report("round trip")


@pytest.mark.parametrize("code", DEFECTS)
def test_planted_defect(code, tmp_path, parse):
    """One §9 defect planted at a cell is reported with its code at that sheet/row/cell (E_COLUMNS:
    sheet and column), and no other error is. The profile's examples are shared among the codes."""
    base = layout_settings()

    @settings(base, max_examples=-(-base.max_examples // len(DEFECTS)))
    @given(defect_cases(code))
    def prop(case: Case) -> None:
        _run(case, tmp_path, parse)

    FEATURES.clear()
    with shrink_budget():
        prop()
    _report(f"planted defect {code}")


def test_metamorphic(tmp_path, parse, run_cli):
    """Two layouts of one ledger: same records (without lineage), info and verdict; then, for up to
    MAX_PAIRS pairs in one inbox, the same `own` figure for every key in rollup.csv."""
    passed: list[Case] = []

    @layout_settings()
    @given(metamorphic_cases())
    def prop(case: Case) -> None:
        _run(case, tmp_path, parse)
        passed.append(case)

    FEATURES.clear()
    with shrink_budget():
        prop()
    _report("metamorphic")
    pairs = passed[:: max(1, len(passed) // MAX_PAIRS)][:MAX_PAIRS]
    _figures(pairs, tmp_path / "figures", parse, run_cli)


def _unit(i: int, side: str) -> tuple[str, str]:
    return f"QX-{side}{i:03d}", f"测试{side}{i:03d}乡党委"


def _with_unit(book: Book, where: str, code: str, name: str) -> Book:
    """A copy of ``book`` whose 单位代码 and 单位名称 values are ``code`` and ``name``."""
    copy = Book.from_json(book.to_json())
    for part, value in zip(where.split(";"), (code, name), strict=True):
        sheet_name, cell = part.split("=", 1)[1].rsplit("!", 1)
        r, c = coordinate_to_tuple(cell)
        copy.sheet(sheet_name).put(r, c, ["s", value])
    return copy


def _registry(path: Path, n: int) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["单位代码", "单位名称", "单位类型", "上级单位代码"])
    ws.append(["QX", "测试县委", "县委", None])
    for i in range(n):
        for side in "AB":
            code, name = _unit(i, side)
            ws.append([code, name, "乡镇党委", "QX"])
    wb.save(path)


def _figures(pairs: list[Case], base: Path, parse, run_cli) -> None:
    """ledger.md §1–§3 and figures.md: each pair as units A_i and B_i of one county; A_i's own figures
    equal B_i's."""
    if not pairs:
        pytest.skip("no passing pair to run the command line on")
    inbox = base / "inbox"
    inbox.mkdir(parents=True)
    units: list[tuple[Case, str, str]] = []
    for i, case in enumerate(pairs):
        where_a, where_b = case.note.split("|")
        for side, book, where in (("A", case.book, where_a), ("B", case.book_b, where_b)):
            code, name = _unit(i, side)
            assert book is not None
            write(_with_unit(book, where, code, name), inbox / f"{code}.{book.ext}")
        units.append((case, *(_unit(i, s)[0] for s in "AB")))
    _registry(base / "registry.xlsx", len(pairs))
    start = time.perf_counter()
    res = run_cli(inbox, base / "registry.xlsx", base / "warehouse.duckdb", base / "out", AS_OF)
    print(f"\nfigures: {len(pairs)} pairs, ledgerflow run took {time.perf_counter() - start:.1f} s")
    assert res.returncode == 0, f"ledgerflow run exited {res.returncode}:\n{res.stderr[-3000:]}"
    own: dict[str, dict[str, str]] = {}
    with open(base / "out" / "rollup.csv", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            own.setdefault(row["unit_code"].upper(), {})[row["key"]] = row["own"]
    failures = []
    compared = 0
    for case, a, b in units:
        fa, fb = own.get(a), own.get(b)
        if not fa or not fb:
            failures.append((case, f"{a}/{b}: missing from rollup.csv"))
            continue
        diff = {k: (fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)}
        compared += sum(1 for v in fa.values() if v not in ("", "0", "0.0"))
        if diff:
            failures.append((case, f"{a} vs {b}: own figures differ {diff}"))
    print(f"figures: {compared} non-zero own figures compared")
    if failures:
        case, why = min(failures, key=lambda f: len(f[0].dumps()))
        record_failure(case, "metamorphic_figures")
        check_metamorphic(case, base, parse)  # the parse-level reading, for the message
        raise AssertionError(
            f"{len(failures)} of {len(units)} pairs give different figures; the smallest:\n{why}\n"
            f"A:\n{case.book.grid()}\nB:\n{case.book_b.grid() if case.book_b else ''}"
        )
