"""Each hostile file is rejected (E_FILE_UNREADABLE) or read safely, in under 10 s and 1 GB."""

from __future__ import annotations

import pytest
from hostile_env import SAMPLE
from hostile_files import CASES, build_all
from probe import measure

MAX_SECONDS = 10.0
MAX_PEAK_MB = 1024.0


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory):
    if not (SAMPLE / "inbox").is_dir():
        pytest.skip(f"sample county not found at {SAMPLE}")
    d = tmp_path_factory.mktemp("hostile-files")
    return d, build_all(d)


@pytest.fixture(scope="session")
def probed(hostile_dir):
    d, cases = hostile_dir
    return measure([d / name for name in cases])


def format_table(results: dict[str, dict], cases=None) -> str:
    lines = [f"{'file':34s} {'verdict':10s} {'seconds':>7s} {'peak MB':>8s}  reason / codes"]
    for name, r in sorted(results.items()):
        why = r.get("reason", "")
        why = why[why.find("（") + 1 : why.rfind("）")] if "（" in why else why
        lines.append(
            f"{name:34s} {r['status']:10s} {r['seconds']:7.2f} {r['peak_mb']:8.0f}  "
            f"{why or ','.join(r.get('codes', []))}"
        )
    rejected = sum(1 for r in results.values() if r["status"] == "unreadable")
    worst_t = max(results.values(), key=lambda r: r["seconds"])
    worst_m = max(results.values(), key=lambda r: r["peak_mb"])
    lines.append(
        f"{rejected} rejected of {len(results)} tried; slowest {worst_t['file']} {worst_t['seconds']:.2f} s; "
        f"largest {worst_m['file']} {worst_m['peak_mb']:.0f} MB"
    )
    return "\n".join(lines)


def test_report_table(probed, capsys):
    with capsys.disabled():
        print("\n" + format_table(probed))
    assert probed


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.build.__name__)
def test_hostile_file(case, hostile_dir, probed):
    d, cases = hostile_dir
    name = next(n for n, c in cases.items() if c is case)
    r = probed[name]
    assert r["status"] == case.verdict, (name, case.what, r)
    if case.verdict == "unreadable":
        assert r["codes"] == ["E_FILE_UNREADABLE"], r
        assert "child died" not in r["reason"], f"{name}: the precheck should catch this before calamine: {r}"
    for code in case.codes:
        assert code in r["codes"], (name, r["codes"])
    assert r["seconds"] < MAX_SECONDS, (name, r["seconds"])
    assert r["peak_mb"] < MAX_PEAK_MB, (name, r["peak_mb"])


def _meeting(r):
    (row,) = r["tables"]["meetings"]
    return row


def test_external_link_reads_the_cached_value(probed):
    r = probed["external_link.xlsx"]
    assert _meeting(r)["attendees"] == 25
    assert not [c for c in r["codes"] if c.startswith("E_")]


def test_uncalculated_formula_is_empty_with_a_warning(probed):
    r = probed["formula_uncalculated.xlsx"]
    assert "W_FORMULA" in r["codes"]
    assert _meeting(r)["attendees"] in (None, "")


def test_control_characters_are_read(probed):
    r = probed["control_chars.xlsx"]
    topic = _meeting(r)["topic"]
    assert topic.startswith("动员") and "第二行" in topic


def test_macro_workbook_is_read_and_macro_ignored(probed):
    r = probed["macro.xlsm"]
    assert r["info"]["unit_code"] == "QX" and r["tables"]["meetings"]


def test_base_workbooks_are_valid(probed):
    for name in ("good_base.xlsx", "good_base.xls"):
        r = probed[name]
        assert r["status"] == "parsed" and not r["codes"], r
        assert r["info"]["unit_code"] == "QX"
