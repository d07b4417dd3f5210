"""Which unit a workbook reports for and whether its upload folder may (ledger.md §2, §4.1, §9):
E_UNIT_UNKNOWN, E_UNIT_FORBIDDEN, W_UNIT_NAME — through discovery, parsing and resolution as a run
does them, on a real inbox and a registry file."""

from __future__ import annotations

from pathlib import Path

import pytest
from books import info_rows, ledger

from ledgerflow.discover import describe, walk_inbox
from ledgerflow.parse import parse_workbook
from ledgerflow.records import to_arrow
from ledgerflow.registry import read_registry
from ledgerflow.resolve import resolve

REGISTRY_CSV = """单位代码,单位名称,单位类型,上级单位代码,别名,是否报送
QX,中共清溪县委员会,县委,,,是
QX-T01,城关镇党委,乡镇党委,QX,城关镇、城关镇委,是
QX-T01-B001,城关镇东街村党支部,党支部,QX-T01,东街村,是
QX-T02,黄土岭乡党委,乡镇党委,QX,黄土岭乡,是
QX-T02-B001,黄土岭乡宋家村党支部,党支部,QX-T02,宋家村,否
"""


@pytest.fixture
def registry(tmp_path, tpl):
    path = tmp_path / "registry.csv"
    path.write_text(REGISTRY_CSV, encoding="utf-8")
    return read_registry(path, tpl)


def run_resolve(inbox: Path, registry, tpl, limits, ingest_day):
    """Discover, parse and resolve every file of the inbox: {path: (file row, [issues])}."""
    files = [describe(rel, full, link, tpl, registry) for rel, full, link in walk_inbox(inbox)]
    parsed, content = {}, {}
    for f in files:
        if f.kind != "workbook" or f.sha256 in parsed:
            continue
        arrow = to_arrow([(f.sha256, parse_workbook(Path(f.abspath), tpl, limits, ingest_day))], tpl)
        parsed[f.sha256] = arrow["parsed"].to_pylist()[0]
        content[f.sha256] = arrow["content_issues"].to_pylist()
    first_seen = {(f.path, f.sha256): 1 for f in files}
    res = resolve(files, parsed, content, first_seen, registry, tpl)
    return {r["path"]: (r, [i for i in res.issues if i["path"] == r["path"]]) for r in res.files}


@pytest.fixture
def put(make_book):
    """``put(rel, code, name)``: a clean ledger reporting for that unit at inbox/<rel>."""

    def put(rel: str, code: str | None, name: str | None = None) -> Path:
        return make_book(f"inbox/{rel}", ledger(info=info_rows(code=code, name=name)))

    return put


NAMES = {
    "QX": "中共清溪县委员会",
    "QX-T01": "城关镇党委",
    "QX-T01-B001": "城关镇东街村党支部",
    "QX-T02": "黄土岭乡党委",
    "QX-T02-B001": "黄土岭乡宋家村党支部",
}


@pytest.mark.parametrize(
    "rel, reports_for, verdict",
    [
        ("QX-T01/城关镇台账.xlsx", "QX-T01", "accepted"),  # a township for itself
        ("QX-T01/东街村/东街村台账.xlsx", "QX-T01-B001", "accepted"),  # a township forwards its branch
        ("qx-t01/东街村台账.xlsx", "QX-T01-B001", "accepted"),  # folder codes are case-insensitive
        ("QX-T01/黄土岭乡台账.xlsx", "QX-T02", "rejected"),  # never another township's
        ("QX-T01/宋家村台账.xlsx", "QX-T02-B001", "rejected"),  # nor that township's branches
        ("QX-T01-B001/城关镇台账.xlsx", "QX-T01", "rejected"),  # a branch never its township's
        ("宋家村台账.xlsx", "QX-T02-B001", "accepted"),  # the office (top level) may report for anyone
        ("2023-12-08/黄土岭乡台账.xlsx", "QX-T02", "accepted"),  # a folder the office made
        ("QX/城关镇台账.xlsx", "QX-T01", "accepted"),  # the root's folder covers everyone
    ],
)
def test_upload_folders_may_report_for_their_own_subtree_only(
    tmp_path, tpl, limits, ingest_day, put, registry, rel, reports_for, verdict
):
    inbox = tmp_path / "inbox"
    put(rel, reports_for, NAMES[reports_for])
    row, issues = run_resolve(inbox, registry, tpl, limits, ingest_day)[rel]
    assert row["verdict"] == verdict
    assert row["unit_code"] == reports_for
    if verdict == "rejected":
        assert [i["code"] for i in issues] == ["E_UNIT_FORBIDDEN"]
        i = issues[0]
        assert (i["sheet"], i["row"], i["cell"], i["column"]) == ("填报信息", 2, "B2", "单位代码")
        assert i["severity"] == "error" and reports_for in i["message"]
        assert row["charged_unit"] == row["submitter"]  # the uploader must act on it (figures.md)
    else:
        assert issues == []
        assert row["charged_unit"] == reports_for


def test_an_unregistered_code_is_e_unit_unknown(tmp_path, tpl, limits, ingest_day, put, registry):
    inbox = tmp_path / "inbox"
    put("未知单位台账.xlsx", "QX-T99", "新成立的党委")
    row, issues = run_resolve(inbox, registry, tpl, limits, ingest_day)["未知单位台账.xlsx"]
    assert row["verdict"] == "rejected" and row["unit_code"] is None
    assert [(i["code"], i["sheet"], i["row"], i["cell"], i["column"], i["value"]) for i in issues] == [
        ("E_UNIT_UNKNOWN", "填报信息", 2, "B2", "单位代码", "QX-T99")
    ]
    assert row["charged_unit"] == "QX"  # nobody to charge but the office that dropped it


def test_an_unknown_name_without_a_code_is_e_unit_unknown_charged_to_the_folder(
    tmp_path, tpl, limits, ingest_day, put, registry
):
    inbox = tmp_path / "inbox"
    put("QX-T02/台账.xlsx", None, "不存在的党委")
    row, issues = run_resolve(inbox, registry, tpl, limits, ingest_day)["QX-T02/台账.xlsx"]
    assert [i["code"] for i in issues] == ["E_UNIT_UNKNOWN"]
    assert (issues[0]["cell"], issues[0]["value"]) == ("B3", "不存在的党委")
    assert row["charged_unit"] == "QX-T02"


@pytest.mark.parametrize("name", ["城关镇党委", " 城关镇 党委 ", "城关镇", "城关镇委"])
def test_without_a_code_a_unit_is_found_by_its_name_or_an_alias(
    tmp_path, tpl, limits, ingest_day, put, registry, name
):
    inbox = tmp_path / "inbox"
    put("QX-T01/台账.xlsx", None, name)
    row, issues = run_resolve(inbox, registry, tpl, limits, ingest_day)["QX-T01/台账.xlsx"]
    assert (row["verdict"], row["unit_code"], issues) == ("accepted", "QX-T01", [])


def test_a_lower_case_code_with_spaces_is_the_registered_code(
    tmp_path, tpl, limits, ingest_day, put, registry
):
    inbox = tmp_path / "inbox"
    put("QX-T01/台账.xlsx", " qx-t01 ", "城关镇党委")
    row, issues = run_resolve(inbox, registry, tpl, limits, ingest_day)["QX-T01/台账.xlsx"]
    assert (row["verdict"], row["unit_code"], issues) == ("accepted", "QX-T01", [])


def test_code_and_name_disagreeing_the_code_wins_with_w_unit_name(
    tmp_path, tpl, limits, ingest_day, put, registry
):
    inbox = tmp_path / "inbox"
    put("QX-T01/台账.xlsx", "QX-T01", "黄土岭乡党委")
    row, issues = run_resolve(inbox, registry, tpl, limits, ingest_day)["QX-T01/台账.xlsx"]
    assert (row["verdict"], row["unit_code"]) == ("accepted", "QX-T01")
    assert [
        (i["code"], i["severity"], i["sheet"], i["row"], i["cell"], i["column"], i["value"]) for i in issues
    ] == [("W_UNIT_NAME", "warning", "填报信息", 3, "B3", "单位名称", "黄土岭乡党委")]
    assert "城关镇党委" in issues[0]["message"]


def test_copies_lock_files_and_other_extensions_are_recorded_not_read(
    tmp_path, tpl, limits, ingest_day, put, registry
):
    inbox = tmp_path / "inbox"
    put("QX-T01/台账.xlsx", "QX-T01", "城关镇党委")
    (inbox / "QX-T01" / "台账(1).xlsx").write_bytes((inbox / "QX-T01" / "台账.xlsx").read_bytes())
    (inbox / "QX-T01" / "~$台账.xlsx").write_bytes(b"lock")
    (inbox / "QX-T01" / "问题清单导出.csv").write_text("a,b\n", encoding="utf-8")
    got = {p: r["verdict"] for p, (r, _) in run_resolve(inbox, registry, tpl, limits, ingest_day).items()}
    # of two byte-identical files exactly one counts (which one depends on the order they are seen)
    assert sorted([got["QX-T01/台账.xlsx"], got["QX-T01/台账(1).xlsx"]]) == ["accepted", "duplicate"]
    assert (got["QX-T01/~$台账.xlsx"], got["QX-T01/问题清单导出.csv"]) == ("ignored", "ignored")
