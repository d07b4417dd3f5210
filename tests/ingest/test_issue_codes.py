"""Every content code of ledger.md §9, one defect per workbook: the code, the sheet, the Excel row, the
cell, the column header as written and the offending value a clerk sees."""

from __future__ import annotations

from datetime import date

import pytest
from books import HEAD, ROWS, codes, found, info_rows, ledger, only, table

from ledgerflow.issues import CODES, ERRORS, severity_of


def _where(issue):
    return issue.sheet, issue.row, issue.cell, issue.column, issue.value


def test_codes_and_severities_are_those_of_the_contract():
    assert set(CODES) == {
        "E_FILE_UNREADABLE",
        "E_UNIT_UNKNOWN",
        "E_UNIT_FORBIDDEN",
        "E_AS_OF",
        "E_COLUMNS",
        "E_REQUIRED",
        "E_VOCAB",
        "E_DATE",
        "E_NUMBER",
        "E_DUPLICATE_ID",
        "E_UNKNOWN_PROBLEM",
        "W_SHEET_IGNORED",
        "W_EXTRA_COLUMN",
        "W_UNIT_NAME",
        "W_FORMULA",
        "W_DATE_RANGE",
        "W_CLOSED_NO_DATE",
        "W_NO_MEASURE",
        "W_PLAN_EXCEEDS",
        "W_ROW_VANISHED",
        "W_COUNT_FELL",
        "W_STATUS_BACKWARD",
    }
    assert all(severity_of(c) == "error" for c in ERRORS)
    assert all(severity_of(c) == "warning" for c in CODES if c.startswith("W_"))


def test_the_clean_ledger_has_no_issue(make_book, parse):
    p = parse(make_book("clean.xlsx", ledger()))
    assert p.status == "parsed" and codes(p) == []
    assert p.errors == 0


# ---- E_AS_OF -----------------------------------------------------------------------------------


def test_no_info_sheet_is_e_as_of(make_book, parse):
    sheets = ledger()
    del sheets["填报信息"]
    p = parse(make_book("no_info.xlsx", sheets))
    assert only(p, "E_AS_OF").severity == "error"
    assert p.errors == 1


def test_an_empty_as_of_is_e_as_of_at_its_label(make_book, parse):
    issue = only(parse(make_book("no_date.xlsx", ledger(info=info_rows(as_of=None)))), "E_AS_OF")
    assert issue.sheet == "填报信息" and issue.row == 4 and issue.cell in ("A4", "B4")


def test_a_missing_as_of_label_is_e_as_of(make_book, parse):
    info = [r for r in info_rows() if r[0] != "统计截止日期"]
    issue = only(parse(make_book("no_label.xlsx", ledger(info=info))), "E_AS_OF")
    assert issue.sheet in ("", "填报信息")


@pytest.mark.parametrize("written", ["十二月中旬", "2023年12月", "2023年13月15日", "待定"])
def test_an_as_of_that_is_not_a_date_is_e_as_of_not_e_date(make_book, parse, written):
    issue = only(parse(make_book("bad_date.xlsx", ledger(info=info_rows(as_of=written)))), "E_AS_OF")
    assert (issue.sheet, issue.row, issue.cell, issue.value) == ("填报信息", 4, "B4", written)


def test_an_as_of_later_than_the_ingest_day_is_e_as_of(make_book, parse):
    path = make_book("future.xlsx", ledger(info=info_rows(as_of=date(2023, 12, 15))))
    issue = only(parse(path, ingest_day=date(2023, 12, 14)), "E_AS_OF")
    assert (issue.sheet, issue.row, issue.cell) == ("填报信息", 4, "B4")
    assert "2023-12-15" in issue.message
    assert codes(parse(path, ingest_day=date(2023, 12, 15))) == []  # the same day is fine


# ---- E_COLUMNS, E_REQUIRED, E_VOCAB, E_DATE, E_NUMBER -------------------------------------------


def test_a_found_sheet_without_a_required_column_is_e_columns(make_book, parse):
    drop = HEAD["problems"].index("问题来源")
    rows = [[v for i, v in enumerate(r) if i != drop] for r in table("problems")]
    issue = only(parse(make_book("no_source.xlsx", ledger(problems=rows))), "E_COLUMNS")
    assert issue.sheet == "问题清单" and issue.column == "问题来源"


def test_an_empty_required_cell_is_e_required(make_book, parse):
    rows = table("meetings")
    rows[2][2] = "  "  # 会议类型 of the second meeting: only white space
    issue = only(parse(make_book("required.xlsx", ledger(meetings=rows))), "E_REQUIRED")
    assert _where(issue)[:4] == ("会议", 3, "C3", "会议类型")


def test_an_empty_required_cell_under_a_synonym_header_names_the_header_as_written(make_book, parse):
    head = ["序号", "名称", "机构类型", "组长", "人数"]
    rows = [head, [1, "主题教育领导小组", None, "张书记", 9]]
    issue = only(parse(make_book("required_syn.xlsx", ledger(org=rows))), "E_REQUIRED")
    assert _where(issue)[:4] == ("工作机构", 2, "C2", "机构类型")


def test_a_value_outside_its_vocabulary_is_e_vocab(make_book, parse):
    rows = table("study")
    rows[1][2] = "看电影"
    issue = only(parse(make_book("vocab.xlsx", ledger(study=rows))), "E_VOCAB")
    assert _where(issue) == ("学习", 2, "C2", "学习形式", "看电影")
    assert "读书班" in issue.message  # the message lists what may be written


def test_a_list_cell_with_an_unknown_part_is_e_vocab(make_book, parse):
    rows = table("research")
    rows[1][8] = "走访、喝茶"
    issue = only(parse(make_book("list.xlsx", ledger(research=rows))), "E_VOCAB")
    assert _where(issue) == ("调研课题", 2, "I2", "调研方式", "走访、喝茶")


@pytest.mark.parametrize("written", ["2023年13月5日", "2月30日", "上周五"])
def test_an_unreadable_date_is_e_date(make_book, parse, written):
    rows = table("meetings")
    rows[2][1] = written
    issue = only(parse(make_book("date.xlsx", ledger(meetings=rows))), "E_DATE")
    assert _where(issue) == ("会议", 3, "B3", "会议日期", written)


def test_an_unreadable_deadline_is_e_date(make_book, parse):
    rows = table("problems")
    rows[1][7] = "尽快"
    issue = only(parse(make_book("deadline.xlsx", ledger(problems=rows))), "E_DATE")
    assert _where(issue) == ("问题清单", 2, "H2", "整改时限", "尽快")


@pytest.mark.parametrize("written, shown", [(12.5, "12.5"), (-3, "-3"), ("abc", "abc"), ("三十多", "三十多")])
def test_a_count_that_is_not_an_integer_ge_0_is_e_number(make_book, parse, written, shown):
    rows = table("meetings")
    rows[1][5] = written
    issue = only(parse(make_book("number.xlsx", ledger(meetings=rows))), "E_NUMBER")
    assert _where(issue) == ("会议", 2, "F2", "参会人数", shown)


def test_a_huge_count_is_e_number_not_a_crash(make_book, parse):
    rows = table("org")
    rows[1][4] = 1e20  # more than the warehouse can hold
    issue = only(parse(make_book("huge.xlsx", ledger(org=rows))), "E_NUMBER")
    assert _where(issue)[:4] == ("工作机构", 2, "E2", "成员人数")


def test_a_member_count_that_is_not_a_number_is_e_number_in_the_info_sheet(make_book, parse):
    issue = only(
        parse(make_book("members.xlsx", ledger(info=info_rows(members="很多", plan=None)))), "E_NUMBER"
    )
    assert _where(issue) == ("填报信息", 7, "B7", "党员人数", "很多")


# ---- E_DUPLICATE_ID, E_UNKNOWN_PROBLEM ---------------------------------------------------------


def test_a_repeated_problem_id_is_reported_at_the_repeat_not_the_first(make_book, parse):
    rows = table("problems")
    rows.append(
        [3, "WT-01", "重复录入的问题", "自查", "立行立改", "王五", "党政办", "年底前", "整改中", None]
    )
    issue = only(parse(make_book("dup.xlsx", ledger(problems=rows))), "E_DUPLICATE_ID")
    assert _where(issue) == ("问题清单", 4, "B4", "问题编号", "WT-01")
    assert "第2行" in issue.message  # and names the row of the first use


def test_a_repeated_id_is_reported_at_each_repeat(make_book, parse):
    rows = table("research")
    for n in (3, 4):
        rows.append(
            [n, "KT-01", f"课题{n}", "李四", None, None, "党建", "任务落实", None, None, None, "调研中", None]
        )
    p = parse(make_book("dup3.xlsx", ledger(research=rows)))
    assert codes(p) == ["E_DUPLICATE_ID", "E_DUPLICATE_ID"]
    assert [_where(i) for i in found(p, "E_DUPLICATE_ID")] == [
        ("调研课题", 3, "B3", "课题编号", "KT-01"),
        ("调研课题", 4, "B4", "课题编号", "KT-01"),
    ]


def test_a_repeated_measure_id_is_e_duplicate_id(make_book, parse):
    rows = table("measures")
    rows[2][1] = "CS-01"
    issue = only(parse(make_book("dup_m.xlsx", ledger(measures=rows))), "E_DUPLICATE_ID")
    assert _where(issue) == ("整改措施", 3, "B3", "措施编号", "CS-01")


def test_empty_optional_ids_are_not_duplicates(make_book, parse):
    rows = table("measures")
    rows[1][1] = rows[2][1] = None
    assert codes(parse(make_book("no_ids.xlsx", ledger(measures=rows)))) == []


def test_a_measure_naming_no_problem_is_e_unknown_problem(make_book, parse):
    rows = table("measures")
    rows.append([3, "CS-03", "WT-09", "补充措施", "赵六", "年底", "推进中", None])
    issue = only(parse(make_book("unknown.xlsx", ledger(measures=rows))), "E_UNKNOWN_PROBLEM")
    assert _where(issue) == ("整改措施", 4, "C4", "问题编号", "WT-09")


# ---- warnings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, why",
    [
        (date(2023, 8, 15), "before the window"),
        (date(2023, 12, 20), "after the 统计截止日期"),
        ("2024年2月5日", "after the window"),
    ],
)
def test_a_date_outside_the_window_or_after_the_as_of_is_w_date_range(make_book, parse, written, why):
    rows = table("meetings")
    rows[1][1] = written
    p = parse(make_book("range.xlsx", ledger(meetings=rows)))
    issue = only(p, "W_DATE_RANGE")
    assert _where(issue)[:4] == ("会议", 2, "B2", "会议日期"), why
    assert p.tables["meetings"][0]["date"] is not None  # a warning: the row still counts


def test_a_closed_problem_without_a_closing_date_is_w_closed_no_date(make_book, parse):
    rows = table("problems")
    rows[1][9] = None  # WT-01 已整改, 销号日期 empty
    issue = only(parse(make_book("closed.xlsx", ledger(problems=rows))), "W_CLOSED_NO_DATE")
    assert (issue.sheet, issue.row, issue.cell, issue.column) == ("问题清单", 2, "J2", "销号日期")


def test_a_formed_report_without_its_date_is_w_closed_no_date(make_book, parse):
    rows = table("research")
    rows[1][12] = None
    issue = only(parse(make_book("report.xlsx", ledger(research=rows))), "W_CLOSED_NO_DATE")
    assert (issue.sheet, issue.row, issue.cell, issue.column) == ("调研课题", 2, "M2", "报告完成日期")


def test_a_problem_without_a_measure_is_w_no_measure(make_book, parse):
    rows = table("measures", rows=[ROWS["measures"][0]])  # WT-02's measure deleted
    issue = only(parse(make_book("no_measure.xlsx", ledger(measures=rows))), "W_NO_MEASURE")
    assert _where(issue) == ("问题清单", 3, "B3", "问题编号", "WT-02")


def test_more_members_with_a_plan_than_members_is_w_plan_exceeds(make_book, parse):
    issue = only(parse(make_book("plan.xlsx", ledger(info=info_rows(members=40, plan=45)))), "W_PLAN_EXCEEDS")
    assert (issue.sheet, issue.row, issue.cell, issue.value) == ("填报信息", 8, "B8", "45")
    assert "40" in issue.message


def test_equal_plan_and_members_is_fine(make_book, parse):
    assert codes(parse(make_book("plan_eq.xlsx", ledger(info=info_rows(members=40, plan=40))))) == []


def test_an_errorless_file_with_warnings_keeps_its_rows(make_book, parse):
    p = parse(make_book("warn.xlsx", ledger(info=info_rows(members=1, plan=2))))
    assert p.errors == 0 and codes(p) == ["W_PLAN_EXCEEDS"]
    assert p.info["members"] == 1 and len(p.tables["meetings"]) == 2


def test_a_sheet_without_a_required_column_does_not_hide_the_other_sheets_problems(make_book, parse):
    research = [
        [v for i, v in enumerate(r) if i != HEAD["research"].index("牵头领导")] for r in table("research")
    ]
    problems = table("problems")
    problems[2][1] = "WT-01"  # a repeated id in another, readable sheet
    p = parse(make_book("columns_and_dup.xlsx", ledger(research=research, problems=problems)))
    assert sorted((i.code, i.sheet, i.cell) for i in p.issues) == [
        ("E_COLUMNS", "调研课题", ""),
        ("E_DUPLICATE_ID", "问题清单", "B3"),
        ("E_UNKNOWN_PROBLEM", "整改措施", "C3"),
    ]


def test_an_unreadable_measures_sheet_does_not_make_every_problem_measureless(make_book, parse):
    drop = HEAD["measures"].index("整改措施")
    measures = [[v for i, v in enumerate(r) if i != drop] for r in table("measures")]
    p = parse(make_book("no_content.xlsx", ledger(measures=measures)))
    issue = only(p, "E_COLUMNS")
    assert (issue.sheet, issue.column) == ("整改措施", "整改措施")
