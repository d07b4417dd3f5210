"""Changes between versions (ledger.md §10): each accepted submission compared with the unit's
previous accepted one, in real workbooks run through the pipeline's steps into a real warehouse.

The warnings belong to the newer submission (issues, its warnings count, the changes view) and
never change a verdict or a figure."""

from __future__ import annotations

import copy
import re
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import inprocess  # noqa: E402
from books import HEAD, ROWS, info_rows, ledger, table  # noqa: E402

CODES = ("W_ROW_VANISHED", "W_COUNT_FELL", "W_STATUS_BACKWARD")
REGISTRY = """单位代码,单位名称,单位类型,上级单位代码
QX,中共清溪县委员会,县委,
QX-T01,城关镇党委,乡镇党委,QX
"""


@pytest.fixture
def county(tmp_path):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    return tmp_path


def version(as_of: date, **changes) -> dict[str, list[list]]:
    """The clean ledger of QX-T01 as of ``as_of``, with tables replaced by ``changes``."""
    return ledger(info=info_rows(as_of=as_of), **changes)


def rows(name: str) -> list[list]:
    return copy.deepcopy(ROWS[name])


def run(county, as_of: date, tpl, out: str = "out"):
    fr = inprocess.run(
        county / "inbox", county / "registry.csv", county / "warehouse.duckdb", as_of, tpl, county / out
    )
    return fr


def changes(fr, path: str | None = None) -> list[tuple]:
    """(path, code, sheet, cell, value) of the §10 warnings, sorted."""
    issues = fr["issues"]
    got = issues[issues["code"].isin(CODES)]
    if path is not None:
        got = got[got["path"] == path]
    return sorted((r.path, r.code, r.sheet, r.cell or "", r.value) for r in got.itertuples())


def quoted(message: str) -> str:
    return re.search(r"“([^”]*)”", message).group(1)


V1, V2, V3 = date(2023, 12, 1), date(2023, 12, 8), date(2023, 12, 15)


def test_each_code_at_its_place_in_the_newer_version(county, make_book, tpl):
    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    problems = table("problems", rows("problems")[:1])  # WT-02 deleted…
    problems[1][8] = "整改中"  # …and WT-01, closed before, is open again (I2)
    measures = table("measures", rows("measures")[:1])  # CS-02 deleted with it
    measures[1][6] = "推进中"  # CS-01 was done (G2)
    research = table("research")
    research[1][11] = "报告修改完善中"  # KT-01's report was formed (L2)
    meetings = table("meetings", rows("meetings")[:1])  # 2 meetings -> 1
    make_book(
        "inbox/QX-T01/台账1208.xlsx",
        version(V2, problems=problems, measures=measures, research=research, meetings=meetings),
    )
    fr = run(county, V2, tpl)
    new = "QX-T01/台账1208.xlsx"
    assert changes(fr) == sorted(
        [
            (new, "W_COUNT_FELL", "会议", "", "2→1"),
            (new, "W_ROW_VANISHED", "整改措施", "", "CS-02"),
            (new, "W_ROW_VANISHED", "问题清单", "", "WT-02"),
            (new, "W_STATUS_BACKWARD", "调研课题", "L2", "报告修改完善中"),
            (new, "W_STATUS_BACKWARD", "整改措施", "G2", "推进中"),
            (new, "W_STATUS_BACKWARD", "问题清单", "I2", "整改中"),
        ]
    )
    issues = fr["issues"][fr["issues"]["code"].isin(CODES)]
    for r in issues.itertuples():  # every message quotes the ID (or the counts) and names the old file
        assert "台账1201.xlsx" in r.message
        assert "2→1" in r.message or quoted(r.message) in ("WT-02", "CS-02", "WT-01", "CS-01", "KT-01")
    backward = issues[issues["code"] == "W_STATUS_BACKWARD"].set_index("cell")
    assert "“已整改”" in backward.loc["I2", "message"] and "I2" in backward.loc["I2", "message"]
    assert backward.loc["I2", "column"] == "整改状态"
    subs = fr["submissions"].set_index("path")
    assert subs.loc[new, "status"] == "effective" and subs.loc[new, "warnings"] == 6


def test_the_warnings_change_no_verdict_and_no_figure(county, make_book, tpl):
    v2 = version(
        V2, problems=table("problems", rows("problems")[:1]), measures=table("measures", rows("measures")[:1])
    )
    make_book("alone/inbox/QX-T01/台账1208.xlsx", v2)  # the same version, with no history
    (county / "alone" / "registry.csv").write_text(REGISTRY, encoding="utf-8")
    without = run(county / "alone", V2, tpl)
    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    make_book("inbox/QX-T01/台账1208.xlsx", v2)
    with_history = run(county, V2, tpl)
    assert changes(with_history)  # there is something to warn about…
    key = ["unit_code", "key", "own", "total"]
    pd_with = with_history["rollup"][key].sort_values(key[:2]).reset_index(drop=True)
    pd_without = without["rollup"][key].sort_values(key[:2]).reset_index(drop=True)
    assert pd_with.astype(str).equals(pd_without.astype(str))  # …and no figure moves
    s = with_history["submissions"].set_index("path")
    assert (
        s.loc["QX-T01/台账1208.xlsx", "status"] == "effective"
        and s.loc["QX-T01/台账1208.xlsx", "errors"] == 0
    )


def test_an_id_that_differs_only_by_its_written_form_has_not_vanished(county, make_book, tpl):
    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    problems, measures = table("problems"), table("measures")
    problems[2][1] = " ＷＴ－０２ "  # full-width, with spaces: §6 makes it WT-02
    measures[2][2] = "ＷＴ－０２"
    make_book("inbox/QX-T01/台账1208.xlsx", version(V2, problems=problems, measures=measures))
    assert changes(run(county, V2, tpl)) == []


def test_a_row_deleted_and_added_again_under_another_id_vanishes_under_the_old_one(county, make_book, tpl):
    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    problems, measures = table("problems"), table("measures")
    problems[2][1] = "WT-03"  # the same problem, renumbered
    measures[2][2] = "WT-03"
    make_book("inbox/QX-T01/台账1208.xlsx", version(V2, problems=problems, measures=measures))
    assert changes(run(county, V2, tpl)) == [
        ("QX-T01/台账1208.xlsx", "W_ROW_VANISHED", "问题清单", "", "WT-02")
    ]


def test_a_rejected_version_is_compared_with_nothing_and_skipped_over(county, make_book, tpl):
    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    rejected = table("problems", rows("problems")[:1])
    rejected[1][3] = "道听途说"  # E_VOCAB: the 12-08 version is rejected
    one_measure = table("measures", rows("measures")[:1])
    make_book("inbox/QX-T01/台账1208.xlsx", version(V2, problems=rejected, measures=one_measure))
    make_book(
        "inbox/QX-T01/台账1215.xlsx",
        version(V3, problems=table("problems", rows("problems")[:1]), measures=one_measure),
    )
    fr = run(county, V3, tpl)
    assert fr["submissions"].set_index("path").loc["QX-T01/台账1208.xlsx", "status"] == "rejected"
    assert changes(fr, "QX-T01/台账1208.xlsx") == []
    assert [c[1:] for c in changes(fr)] == [
        ("W_ROW_VANISHED", "整改措施", "", "CS-02"),
        ("W_ROW_VANISHED", "问题清单", "", "WT-02"),
    ]
    msgs = fr["issues"][fr["issues"]["code"] == "W_ROW_VANISHED"]["message"]
    assert all("台账1201.xlsx" in m for m in msgs)  # compared with the last accepted version


def test_a_duplicate_gets_no_warnings_of_its_own(county, make_book, tpl):
    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    v2 = make_book(
        "inbox/QX-T01/台账1208.xlsx", version(V2, meetings=table("meetings", rows("meetings")[:1]))
    )
    (county / "inbox" / "台账1208副本.xlsx").write_bytes(v2.read_bytes())
    fr = run(county, V2, tpl)
    assert [c[:2] for c in changes(fr)] == [("QX-T01/台账1208.xlsx", "W_COUNT_FELL")]


def test_three_versions_each_compared_with_the_one_before_even_when_superseded(county, make_book, tpl):
    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    v2 = dict(
        problems=table("problems", rows("problems")[:1]), measures=table("measures", rows("measures")[:1])
    )
    make_book("inbox/QX-T01/台账1208.xlsx", version(V2, **v2))
    make_book(
        "inbox/QX-T01/台账1215.xlsx", version(V3, **v2, meetings=table("meetings", rows("meetings")[:1]))
    )
    fr = run(county, V3, tpl)
    assert fr["submissions"].set_index("path").loc["QX-T01/台账1208.xlsx", "status"] == "superseded"
    assert [c[:2] + (c[4],) for c in changes(fr)] == [
        ("QX-T01/台账1208.xlsx", "W_ROW_VANISHED", "CS-02"),
        ("QX-T01/台账1208.xlsx", "W_ROW_VANISHED", "WT-02"),
        ("QX-T01/台账1215.xlsx", "W_COUNT_FELL", "2→1"),  # not WT-02 again: 12-08 is its previous version
    ]


def test_a_replay_as_of_another_date_gives_the_same_warnings(county, make_book, tpl):
    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    make_book("inbox/QX-T01/台账1215.xlsx", version(V3, meetings=table("meetings", rows("meetings")[:1])))
    at_v3 = changes(run(county, V3, tpl))
    at_v1 = changes(run(county, V1, tpl))  # the 12-15 version is "later" then, still compared
    assert at_v3 == at_v1 == [("QX-T01/台账1215.xlsx", "W_COUNT_FELL", "会议", "", "2→1")]
    con = duckdb.connect(str(county / "warehouse.duckdb"), read_only=True)
    try:
        view = con.execute(
            "select path, prev_path, code, table_name, old_value, new_value from changes"
        ).fetchall()
        parsed = con.execute("select max(files_parsed) filter (where run_id = 2) from lf.runs").fetchone()[0]
    finally:
        con.close()
    assert view == [("QX-T01/台账1215.xlsx", "QX-T01/台账1201.xlsx", "W_COUNT_FELL", "meetings", "2", "1")]
    assert parsed == 0  # the replay read no file again


def test_ids_of_a_table_whose_new_version_has_no_id_column_say_so(county, make_book, tpl):
    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    measures = [[h for h in HEAD["measures"] if h != "措施编号"]] + [r[:1] + r[2:] for r in rows("measures")]
    make_book("inbox/QX-T01/台账1208.xlsx", version(V2, measures=measures))
    fr = run(county, V2, tpl)
    assert [c[4] for c in changes(fr)] == ["CS-01", "CS-02"]  # §10 as written: the IDs are not in S…
    msgs = fr["issues"][fr["issues"]["code"] == "W_ROW_VANISHED"]["message"]
    assert all("没有措施编号列" in m for m in msgs)  # …and the clerk is told why


def test_the_run_report_counts_the_changes_by_township(county, make_book, tpl):
    from tasks.artifacts import summary_markdown

    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    v2 = dict(
        problems=table("problems", rows("problems")[:1]), measures=table("measures", rows("measures")[:1])
    )
    make_book(
        "inbox/QX-T01/台账1208.xlsx", version(V2, **v2, meetings=table("meetings", rows("meetings")[:1]))
    )
    md = summary_markdown(run(county, V2, tpl), V2, "QX")
    section = md.split("## 版本变动")[1]
    assert "共 3 条警告" in section
    assert "| 城关镇党委 | 2 | 1 | 0 |" in section  # 编号消失 2, 行数减少 1, 状态倒退 0


def test_the_check_on_changes_finds_a_change_against_a_later_or_foreign_version(county, make_book, tpl):
    from warehouse import db

    make_book("inbox/QX-T01/台账1201.xlsx", version(V1))
    make_book("inbox/QX-T01/台账1208.xlsx", version(V2, meetings=table("meetings", rows("meetings")[:1])))
    run(county, V2, tpl)
    con = duckdb.connect(str(county / "warehouse.duckdb"))
    try:
        run_id = con.execute("select max(run_id) from lf.runs").fetchone()[0]
        assert "assert_changes_compare_accepted_versions" not in db.run_checks(con, {"run_id": run_id})
        con.execute("update lf.mart_changes set path = prev_path, prev_path = path")  # compared backwards
        failed = db.run_checks(con, {"run_id": run_id})
    finally:
        con.close()
    assert failed["assert_changes_compare_accepted_versions"] == [
        ("QX-T01/台账1201.xlsx", "QX-T01/台账1208.xlsx", "W_COUNT_FELL")
    ]
