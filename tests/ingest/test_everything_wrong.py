"""One workbook with everything wrong at once: every defect is reported, each exactly once, in the
right place, and one broken sheet does not hide the others' problems."""

from __future__ import annotations

from collections import Counter
from datetime import date

from books import HEAD, Formula, info_rows, table

from ledgerflow.normalise import is_empty


def _everything_wrong() -> tuple[dict[str, list[list]], dict[str, list[str]]]:
    info = info_rows(members=40, plan=45)  # W_PLAN_EXCEEDS at B8
    meetings = [
        ["城关镇主题教育会议台账"],
        [],
        [*HEAD["meetings"], "备注说明"],  # header in row 3; W_EXTRA_COLUMN at G3
        [1, "2023年13月5日", "党委会", "动员", "学习教育", 20, None],  # E_DATE B4
        [2, date(2023, 10, 9), "党委会", "学习", "学习教育", 12.5, None],  # E_NUMBER F5
        [3, date(2023, 10, 10), None, "推进", "检视整改", 30, None],  # E_REQUIRED C6
        [4, date(2023, 8, 1), "推进会", "推进", "检视整改", 30, None],  # W_DATE_RANGE B7
        [5, date(2023, 10, 11), "支委会", "学习", "学习教育", Formula("=SUM(1,2)"), None],  # W_FORMULA F8
        ["合计", None, None, None, None, 92],
    ]
    study = table("study")
    study[1][2] = "看电影"  # E_VOCAB C2
    research = [
        [v for i, v in enumerate(r) if i != HEAD["research"].index("所属版块")] for r in table("research")
    ]
    # E_COLUMNS: 调研课题 without 所属版块
    problems = table("problems")
    problems[1][9] = None  # W_CLOSED_NO_DATE J2 (WT-01 已整改 without 销号日期)
    problems.append(
        [3, "WT-01", "重复", "自查", "立行立改", "王五", "党政办", "年底前", "整改中", None]
    )  # E_DUPLICATE_ID B4
    problems.append(
        [4, "WT-04", "没有措施的问题", "自查", "立行立改", "王五", "党政办", "年底前", "整改中", None]
    )
    # W_NO_MEASURE B5
    measures = table("measures")
    measures.append(
        [3, "CS-03", "WT-09", "对不上号的措施", "赵六", "年底", "推进中", None]
    )  # E_UNKNOWN_PROBLEM C4
    org = table("org")
    org[1][4] = "很多"  # E_NUMBER E2
    combined = [
        ["问题编号", "问题描述", "问题来源", "整改类型", "整改状态", "整改措施", "完成情况"],
        ["WT-01", "理论学习不够深入", "自查", "立行立改", "整改中", "学习", "推进中"],
    ]  # W_SHEET_IGNORED
    sheets = {
        "填报信息": info,
        "会议": meetings,
        "学习": study,
        "调研课题": research,
        "问题清单": problems,
        "整改措施": measures,
        "工作机构": org,
        "问题整改台账": combined,
        "下拉选项": [["党委会"], ["支委会"]],
    }
    return sheets, {}


EXPECTED = Counter(
    {
        ("W_PLAN_EXCEEDS", "填报信息", "B8"): 1,
        ("W_EXTRA_COLUMN", "会议", "G3"): 1,
        ("E_DATE", "会议", "B4"): 1,
        ("E_NUMBER", "会议", "F5"): 1,
        ("E_REQUIRED", "会议", "C6"): 1,
        ("W_DATE_RANGE", "会议", "B7"): 1,
        ("W_FORMULA", "会议", "F8"): 1,
        ("E_VOCAB", "学习", "C2"): 1,
        ("E_COLUMNS", "调研课题", ""): 1,
        ("W_CLOSED_NO_DATE", "问题清单", "J2"): 1,
        ("E_DUPLICATE_ID", "问题清单", "B4"): 1,
        ("W_NO_MEASURE", "问题清单", "B5"): 1,
        ("E_UNKNOWN_PROBLEM", "整改措施", "C4"): 1,
        ("E_NUMBER", "工作机构", "E2"): 1,
        ("W_SHEET_IGNORED", "问题整改台账", ""): 1,
    }
)


def test_every_defect_is_reported_once_in_its_place(make_book, parse):
    sheets, merges = _everything_wrong()
    p = parse(make_book("everything_wrong.xlsx", sheets, merges=merges, hidden=("下拉选项",)))
    got = Counter((i.code, i.sheet, i.cell) for i in p.issues)
    assert got == EXPECTED
    assert p.status == "parsed" and p.errors == sum(
        n for (c, _, _), n in EXPECTED.items() if c.startswith("E_")
    )


def test_every_row_message_names_the_excel_row_of_its_cell_and_a_column_as_written(make_book, parse):
    sheets, merges = _everything_wrong()
    p = parse(make_book("everything_wrong.xlsx", sheets, merges=merges, hidden=("下拉选项",)))
    written = {name: {h for row in rows for h in row if isinstance(h, str)} for name, rows in sheets.items()}
    for i in p.issues:
        assert i.message and not is_empty(i.message)
        if i.cell:
            assert i.row == int("".join(ch for ch in i.cell if ch.isdigit())), i
            assert i.column in written[i.sheet], i  # the header (or label) as the clerk wrote it


def test_the_same_workbook_as_legacy_xls_reports_the_same(make_book, parse):
    sheets, merges = _everything_wrong()
    sheets["会议"][7][5] = None  # xlwt writes no formulas without results: drop W_FORMULA
    p = parse(make_book("everything_wrong.xls", sheets, merges=merges, hidden=("下拉选项",), engine="xlwt"))
    expected = EXPECTED - Counter({("W_FORMULA", "会议", "F8"): 1})
    assert Counter((i.code, i.sheet, i.cell) for i in p.issues) == expected
