"""Layout assumptions the reader once made beyond ledger.md, each removed and guarded here with the
smallest workbook that shows it (the property suite in tests/layout draws such layouts at random).

1. §7  a row that is not data (小计, 注：, 合计, …) ended the table: rows below it were lost;
2. §4.6 a combined-sheet column was the problem's or the measure's by its side of 整改措施: a 问题编号
   right of it gave a false E_COLUMNS, a problem column between the measure's was read as theirs;
3. §7  a title merged across the table counted once per column, so a title that is also a column
   name (调研课题) was taken for the header;
4. §4  a sheet named Sheet1 went to the table whose names matched most cells, not most required ones;
5. §4.1 the first label of a field in reading order won (填报日期 over 统计截止日期 below it), and a
   label merged across two cells saw its own copy as "the next cell is a label";
6. §4  of two sheets of one table the first was read even when it was the template's empty copy.
"""

from __future__ import annotations

from datetime import date

from books import HEAD, ROWS, codes, info_rows, ledger, table


def _rows(parsed, tname, *fields):
    return [tuple(r[f] for f in fields) for r in parsed.tables[tname]]


# ---- 1. rows that are not data are skipped, never the end of the table ---------------------------


def test_data_below_a_monthly_subtotal_and_a_note_line_is_read(make_book, parse):
    m1, m2 = ROWS["meetings"]
    sheet = [
        HEAD["meetings"],
        m1,
        ["小计（9月）", None, None, None, None, 25],
        ["注：10月起按新模板填写"],
        m2,
        ["小计（11月）", None, None, None, None, 40],
        [3, date(2023, 12, 1), "党委会", "年终总结", "综合", 12],
        ["合计", None, None, None, None, 77],
    ]
    p = parse(make_book("subtotals.xlsx", ledger(meetings=sheet)))
    assert codes(p) == []
    assert _rows(p, "meetings", "row", "kind", "attendees") == [
        (2, "committee", 25),
        (5, "progress", 40),
        (7, "committee", 12),
    ]


def test_problems_below_a_note_line_are_there_for_the_measures_that_name_them(make_book, parse):
    p1, p2 = table("problems")[1:]
    problems = [
        HEAD["problems"],
        p1,
        ["备注：以下为第二批查摆问题"],
        p2,
        ["填表人：张三", None, "审核人：李四"],
    ]
    p = parse(make_book("notes_between.xlsx", ledger(problems=problems)))
    assert codes(p) == []  # no false E_UNKNOWN_PROBLEM for WT-02
    assert _rows(p, "problems", "problem_id", "row") == [("WT-01", 2), ("WT-02", 4)]


def test_a_total_row_beside_a_prefilled_serial_number_is_still_a_total_row(make_book, parse):
    m1, m2 = ROWS["meetings"]
    sheet = [HEAD["meetings"], m1, m2, [3, "合计", None, None, None, 65], [4], [5]]
    p = parse(make_book("numbered_total.xlsx", ledger(meetings=sheet)))
    assert codes(p) == []
    assert len(p.tables["meetings"]) == 2


# ---- 2. the combined sheet's columns in any order ------------------------------------------------

# WT-01 has two measures (rows 2-3), WT-02 one (row 4); the problem's columns are merged over rows 2-3.
COMBINED = {
    "问题编号": ["WT-01", None, "WT-02"],
    "问题描述": ["理论学习不够深入", None, "调查研究不够扎实"],
    "问题来源": ["自我检视", None, "巡察"],
    "整改类型": ["限期整改", None, "长期坚持"],
    "整改状态": ["已整改", None, "整改中"],
    "销号日期": [date(2023, 11, 20), None, None],
    "整改措施": ["制定学习计划", "每月集中学习", "建立调研制度"],
    "责任人": ["王五", "赵六", "孙八"],
    "完成情况": ["已完成", "推进中", "推进中"],
}
PROBLEM_COLUMNS = ("问题编号", "问题描述", "问题来源", "整改类型", "整改状态", "销号日期")


def _combined(order: list[str], rename: dict[str, str] | None = None):
    """The combined sheet with its columns in ``order`` (headers renamed by ``rename``), the
    problem's columns merged over WT-01's two rows."""
    rename = rename or {}
    head = [rename.get(h, h) for h in order]
    rows = [head] + [[COMBINED[h][i] for h in order] for i in range(3)]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    merges = [f"{letters[c]}2:{letters[c]}3" for c, h in enumerate(order) if h in PROBLEM_COLUMNS]
    return rows, merges


def _parse_combined(make_book, parse, name, order, rename=None):
    rows, merges = _combined(order, rename)
    sheets = ledger(problems=None, measures=None) | {"问题整改台账": rows}
    return parse(make_book(name, sheets, merges={"问题整改台账": merges}))


EXPECTED_PROBLEMS = [("WT-01", "closed", "self_review", 2), ("WT-02", "in_progress", "inspection", 4)]
EXPECTED_MEASURES = [
    ("WT-01", "制定学习计划", "王五", "done"),
    ("WT-01", "每月集中学习", "赵六", "in_progress"),
    ("WT-02", "建立调研制度", "孙八", "in_progress"),
]


def test_problem_columns_right_of_the_measure_column(make_book, parse):
    order = ["整改措施", "责任人", "完成情况", *PROBLEM_COLUMNS]
    p = _parse_combined(make_book, parse, "problem_right.xlsx", order)
    assert codes(p) == []  # no false E_COLUMNS 问题编号
    assert _rows(p, "problems", "problem_id", "status", "source", "row") == EXPECTED_PROBLEMS
    assert _rows(p, "measures", "problem_id", "content", "owner", "status") == EXPECTED_MEASURES


def test_problem_columns_between_the_measure_columns(make_book, parse):
    order = [
        "整改措施",
        "问题编号",
        "完成情况",
        "问题描述",
        "责任人",
        "问题来源",
        "整改类型",
        "整改状态",
        "销号日期",
    ]
    p = _parse_combined(make_book, parse, "interleaved.xlsx", order)
    assert codes(p) == []
    assert _rows(p, "problems", "problem_id", "status", "source", "row") == EXPECTED_PROBLEMS
    assert _rows(p, "measures", "problem_id", "content", "owner", "status") == EXPECTED_MEASURES


def test_two_columns_both_headed_status_go_by_their_merged_shape(make_book, parse):
    # 状态 names both the problem's 整改状态 and the measure's 完成情况: the one merged over WT-01's
    # rows is the problem's, the one that differs within WT-01 the measure's, whichever side of 整改措施
    # each stands on (here the measure's left of it, the problem's right)
    order = ["问题编号", "问题描述", "问题来源", "整改类型", "完成情况", "整改措施", "责任人", "整改状态"]
    p = _parse_combined(
        make_book, parse, "two_status.xlsx", order, rename={"完成情况": "状态", "整改状态": "状态"}
    )
    assert [i.code for i in p.issues if i.severity == "error"] == []
    assert _rows(p, "problems", "problem_id", "status") == [("WT-01", "closed"), ("WT-02", "in_progress")]
    assert _rows(p, "measures", "status") == [("done",), ("in_progress",), ("in_progress",)]


def test_a_problem_written_once_without_merging_keeps_its_later_measures(make_book, parse):
    order = ["问题编号", "问题描述", "问题来源", "整改类型", "整改状态", "整改措施", "完成情况"]
    rows, _ = _combined(order)
    p = parse(make_book("unmerged.xlsx", ledger(problems=None, measures=None) | {"问题整改台账": rows}))
    assert [i.code for i in p.issues if i.severity == "error"] == []
    assert _rows(p, "problems", "problem_id", "row") == [("WT-01", 2), ("WT-02", 4)]
    assert _rows(p, "measures", "problem_id") == [("WT-01",), ("WT-01",), ("WT-02",)]


def test_a_problem_repeated_on_each_of_its_measure_rows_is_one_problem(make_book, parse):
    order = ["问题编号", "问题描述", "问题来源", "整改类型", "整改状态", "整改措施", "完成情况"]
    rows, _ = _combined(order)
    rows[2][:5] = rows[1][:5]  # WT-01's cells written again on its second measure's row
    p = parse(make_book("repeated.xlsx", ledger(problems=None, measures=None) | {"问题整改台账": rows}))
    assert [i.code for i in p.issues if i.severity == "error"] == []
    assert _rows(p, "problems", "problem_id") == [("WT-01",), ("WT-02",)]
    assert len(p.tables["measures"]) == 3


def test_a_second_problem_under_a_repeated_id_is_a_duplicate(make_book, parse):
    order = ["问题编号", "问题描述", "问题来源", "整改类型", "整改状态", "整改措施", "完成情况"]
    rows, _ = _combined(order)
    rows[3][0] = "WT-01"  # WT-02's row written with WT-01's ID: another problem, the same ID
    p = parse(make_book("dup.xlsx", ledger(problems=None, measures=None) | {"问题整改台账": rows}))
    dup = [i for i in p.issues if i.code == "E_DUPLICATE_ID"]
    assert [(i.row, i.cell) for i in dup] == [(4, "A4")]


# ---- 3. a merged title is one cell ---------------------------------------------------------------


def test_a_title_merged_across_the_table_that_is_also_a_column_name_is_not_the_header(make_book, parse):
    research = [["调研课题"], [], *table("research")]
    p = parse(make_book("title.xlsx", ledger(research=research), merges={"调研课题": ["A1:M1"]}))
    assert codes(p) == []
    assert _rows(p, "research", "topic_id", "row") == [("KT-01", 4)]


# ---- 4. a sheet found by its header --------------------------------------------------------------


def test_sheet1_goes_to_the_table_whose_required_columns_it_names(make_book, parse):
    # 会议 names five of these cells (日期 and four of its optional columns) but one required column;
    # 学习 names two cells, both required (日期, 学习形式): §4 gives the sheet to 学习
    head = ["日期", "学习形式", "会议主题", "会议名称", "所属环节", "参会人数"]
    study = [head, [date(2023, 10, 10), "读书班", None, None, None, None]]
    p = parse(make_book("sheet1.xlsx", ledger(study=None) | {"Sheet1": study}))
    assert _rows(p, "study", "date", "kind") == [(date(2023, 10, 10), "reading_class")]
    assert _rows(p, "meetings", "row") == [(2,), (3,)]  # the 会议 sheet itself is still read


# ---- 5. 填报信息 -----------------------------------------------------------------------------------


def test_a_field_s_own_label_wins_over_a_synonym_above_it(make_book, parse):
    info = info_rows()
    info.insert(1, ["填报日期", date(2023, 12, 18)])  # the day it was filled in, above the real date
    p = parse(make_book("two_dates.xlsx", ledger(info=info)))
    assert p.info["as_of"] == date(2023, 12, 15)


def test_a_label_merged_across_two_cells_takes_the_value_right_of_the_merge(make_book, parse):
    info = [
        ["单位代码", None, "QX-T01"],
        ["单位名称", None, "城关镇党委"],
        ["统计截止日期", None, "2023-12-15"],
    ]
    merges = {"填报信息": ["A1:B1", "A2:B2", "A3:B3"]}
    p = parse(make_book("merged_labels.xlsx", ledger(info=info), merges=merges))
    assert (p.info["unit_code"], p.info["unit_name"], p.info["as_of"]) == (
        "QX-T01",
        "城关镇党委",
        date(2023, 12, 15),
    )
    assert p.info["as_of_cell"] == "C3"


# ---- 6. two sheets of one table ------------------------------------------------------------------


def test_the_template_s_empty_sheet_does_not_hide_the_filled_copy(make_book, parse):
    sheets = {"填报信息": info_rows(), "会议": []} | ledger(meetings=None)
    sheets["会议（更新）"] = table("meetings")
    p = parse(make_book("two_meetings.xlsx", sheets))
    assert codes(p) == []
    assert len(p.tables["meetings"]) == 2
