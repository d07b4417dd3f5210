"""What real submissions look like (ledger.md §8): each form in its own small workbook, read as its
author meant it, with no error, and every message's row the row Excel shows."""

from __future__ import annotations

from datetime import date

from books import AS_OF, HEAD, ROWS, UNIT_CODE, UNIT_NAME, Formula, codes, info_rows, ledger, only, table

PROBLEM_IDS = ["WT-01", "WT-02"]


def _ids(parsed, tname, fld="problem_id"):
    return [r[fld] for r in parsed.tables[tname]]


# ---- 1. title rows, a 填报单位 line and an empty row above the header ------------------------------


def test_title_rows_a_unit_line_and_an_empty_row_above_the_header(make_book, parse):
    sheet = [
        ["城关镇主题教育检视问题清单"],
        ["填报单位：城关镇党委（盖章）", None, None, None, None, None, None, "填报日期：2023年12月15日"],
        [],
        *table("problems"),
    ]
    p = parse(make_book("titles.xlsx", ledger(problems=sheet)))
    assert codes(p) == []
    assert _ids(p, "problems") == PROBLEM_IDS
    assert [r["row"] for r in p.tables["problems"]] == [5, 6]  # header in Excel row 4


def test_a_message_under_title_rows_names_the_excel_row(make_book, parse):
    rows = table("problems")
    rows[2][3] = "道听途说"  # 问题来源 of the second problem: no such source
    sheet = [["城关镇主题教育检视问题清单"], ["填报单位：城关镇党委"], [], *rows]
    issue = only(parse(make_book("titles_bad.xlsx", ledger(problems=sheet))), "E_VOCAB")
    assert (issue.sheet, issue.row, issue.cell, issue.column, issue.value) == (
        "问题清单",
        6,
        "D6",
        "问题来源",
        "道听途说",
    )


# ---- 2. a two-row header with merged group cells -----------------------------------------------


def test_two_row_header_with_a_group_cell_merged_over_sub_headers(make_book, parse):
    head1 = ["序号", "问题编号", "问题描述", "问题来源", "整改类型", "整改情况", None]
    head2 = [None, None, None, None, None, "整改状态", "销号日期"]
    data = [
        [1, "WT-01", "理论学习不够深入", "自我检视", "限期整改", "已整改", date(2023, 11, 20)],
        [2, "WT-02", "调查研究不够扎实", "巡察", "长期坚持", "整改中", None],
    ]
    merges = {"问题清单": ["A1:A2", "B1:B2", "C1:C2", "D1:D2", "E1:E2", "F1:G1"]}
    p = parse(make_book("two_row.xlsx", ledger(problems=[head1, head2, *data]), merges=merges))
    assert codes(p) == []
    probs = p.tables["problems"]
    assert [(r["problem_id"], r["status"], r["closed_date"], r["row"]) for r in probs] == [
        ("WT-01", "closed", date(2023, 11, 20), 3),
        ("WT-02", "in_progress", None, 4),
    ]


# ---- 3. header marks, synonyms, any order, extra columns ---------------------------------------


def test_header_marks_are_not_part_of_the_name(make_book, parse):
    head = [
        "序号",
        "*问题编号",
        "问题描述(必填)",
        "问题来源（必填）",
        "＊整改类型",
        "责任领导",
        "牵头单位",
        "整改时限\n（必填）",
        "整改 状态：",
        "销号日期:",
    ]
    p = parse(make_book("marks.xlsx", ledger(problems=table("problems", head=head))))
    assert codes(p) == []
    assert [(r["problem_id"], r["deadline"], r["status"]) for r in p.tables["problems"]] == [
        ("WT-01", date(2023, 12, 31), "closed"),
        ("WT-02", None, "in_progress"),
    ]


def test_header_synonyms_in_shuffled_order(make_book, parse):
    # the problems sheet with synonyms only, columns in another order
    head = ["整改进展", "存在问题", "编号", "完成时间", "整改期限", "来源", "整改方式", "责任人"]
    rows = [
        [
            "已整改",
            "理论学习不够深入",
            "WT-01",
            date(2023, 11, 20),
            "12月底前",
            "检视查摆",
            "立行立改",
            "王五",
        ],
        ["推进中", "调查研究不够扎实", "WT-02", None, "长期", "巡视反馈", "持续整改", "赵六"],
    ]
    p = parse(make_book("synonyms.xlsx", ledger(problems=[head, *rows])))
    assert codes(p) == []
    got = [
        (
            r["problem_id"],
            r["description"],
            r["source"],
            r["kind"],
            r["owner"],
            r["deadline"],
            r["status"],
            r["closed_date"],
        )
        for r in p.tables["problems"]
    ]
    assert got == [
        (
            "WT-01",
            "理论学习不够深入",
            "self_review",
            "immediate",
            "王五",
            date(2023, 12, 31),
            "closed",
            date(2023, 11, 20),
        ),
        ("WT-02", "调查研究不够扎实", "inspection", "long_term", "赵六", None, "in_progress", None),
    ]


def test_an_extra_column_is_a_warning_naming_its_header_as_written(make_book, parse):
    head = [*HEAD["meetings"], "佐证材料\n（附件）"]
    rows = [[*r, "照片3张"] for r in ROWS["meetings"]]
    p = parse(make_book("extra.xlsx", ledger(meetings=[head, *rows])))
    issue = only(p, "W_EXTRA_COLUMN")
    assert (issue.sheet, issue.row, issue.cell, issue.column) == ("会议", 1, "G1", "佐证材料\n（附件）")
    assert len(p.tables["meetings"]) == 2  # a warning: the rows are still read


# ---- 4. pre-numbered rows, blank rows, 合计 and 填表说明 under the data ---------------------------


def test_prenumbered_empty_rows_blank_rows_a_total_row_and_notes_are_not_data(make_book, parse):
    m1, m2 = ROWS["meetings"]
    sheet = [HEAD["meetings"], m1, [], [None, None, None, None, None, None], m2]
    sheet += [[n] for n in range(3, 51)]  # 序号 pre-filled down to 50
    sheet += [["合计", None, None, None, None, 65]]
    sheet += [["填表说明：1.会议类型从下拉列表中选择；2.日期格式为2023-09-15。", None, "党委会"]]
    sheet += [["注：本表每周五报送", None, None, "随便写写"]]
    p = parse(make_book("numbered.xlsx", ledger(meetings=sheet)))
    assert codes(p) == []
    assert [(r["row"], r["kind"], r["attendees"]) for r in p.tables["meetings"]] == [
        (2, "committee", 25),
        (5, "progress", 40),
    ]


def test_a_subtotal_and_signature_lines_right_under_the_data_are_not_data(make_book, parse):
    sheet = [*table("study"), ["小计", None, None, None, None, 42], ["填表人：张三", None, "审核人：李四"]]
    p = parse(make_book("subtotal.xlsx", ledger(study=sheet)))
    assert codes(p) == []
    assert len(p.tables["study"]) == 2


# ---- 5. the combined problem/measure sheet -----------------------------------------------------


COMBINED_HEAD = [
    "序号",
    "问题编号",
    "问题描述",
    "问题来源",
    "整改类型",
    "整改状态",
    "销号日期",
    "整改措施",
    "责任人",
    "完成时限",
    "完成情况",
]


def _combined_rows():
    # WT-01 has three measures (rows 2-4), WT-02 one (row 5), WT-03 two (rows 6-7)
    return [
        COMBINED_HEAD,
        [
            1,
            "WT-01",
            "理论学习不够深入",
            "自我检视",
            "限期整改",
            "已整改",
            date(2023, 11, 20),
            "制定学习计划",
            "王五",
            date(2023, 10, 31),
            "已完成",
        ],
        [None, None, None, None, None, None, None, "每月集中学习", "赵六", "长期坚持", "推进中"],
        [None, None, None, None, None, None, None, "开展读书班", "钱七", "年底前", "未启动"],
        [
            2,
            "WT-02",
            "调查研究不够扎实",
            "巡察",
            "长期坚持",
            "整改中",
            None,
            "建立调研制度",
            "孙八",
            "12月底",
            "推进中",
        ],
        [
            3,
            "WT-03",
            "联系群众不够紧密",
            "群众反映",
            "立行立改",
            "整改中",
            None,
            "开展走访",
            "周九",
            date(2023, 12, 10),
            "已完成",
        ],
        [None, None, None, None, None, None, None, "建立回访台账", "吴十", None, "进行中"],
    ]


COMBINED_MERGES = [f"{c}2:{c}4" for c in "ABCDEFG"] + [f"{c}6:{c}7" for c in "ABCDEFG"]


def test_combined_sheet_yields_one_problem_per_merged_group_and_one_measure_per_row(make_book, parse):
    p = parse(
        make_book(
            "combined.xlsx",
            ledger(problems=None, measures=None) | {"问题整改台账": _combined_rows()},
            merges={"问题整改台账": COMBINED_MERGES},
        )
    )
    assert codes(p) == []
    assert [(r["problem_id"], r["status"], r["row"]) for r in p.tables["problems"]] == [
        ("WT-01", "closed", 2),
        ("WT-02", "in_progress", 5),
        ("WT-03", "in_progress", 6),
    ]
    assert [
        (m["problem_id"], m["content"], m["owner"], m["status"], m["row"]) for m in p.tables["measures"]
    ] == [
        ("WT-01", "制定学习计划", "王五", "done", 2),
        ("WT-01", "每月集中学习", "赵六", "in_progress", 3),
        ("WT-01", "开展读书班", "钱七", "not_started", 4),
        ("WT-02", "建立调研制度", "孙八", "in_progress", 5),
        ("WT-03", "开展走访", "周九", "done", 6),
        ("WT-03", "建立回访台账", "吴十", "in_progress", 7),
    ]
    assert [m["deadline"] for m in p.tables["measures"]] == [
        date(2023, 10, 31),
        None,
        date(2023, 12, 31),
        date(2023, 12, 31),
        date(2023, 12, 10),
        None,
    ]


def test_combined_sheet_in_a_legacy_xls(make_book, parse):
    p = parse(
        make_book(
            "combined.xls",
            ledger(problems=None, measures=None) | {"问题整改台账": _combined_rows()},
            merges={"问题整改台账": COMBINED_MERGES},
            engine="xlwt",
        )
    )
    assert codes(p) == []
    assert _ids(p, "problems") == ["WT-01", "WT-02", "WT-03"]
    assert _ids(p, "measures") == ["WT-01", "WT-01", "WT-01", "WT-02", "WT-03", "WT-03"]


def test_combined_sheet_beside_separate_sheets_is_passed_over(make_book, parse):
    sheets = ledger() | {"问题整改台账": _combined_rows()}
    p = parse(make_book("both.xlsx", sheets, merges={"问题整改台账": COMBINED_MERGES}))
    issue = only(p, "W_SHEET_IGNORED")
    assert issue.sheet == "问题整改台账"
    assert _ids(p, "problems") == PROBLEM_IDS  # the separate sheets win
    assert [m["measure_id"] for m in p.tables["measures"]] == ["CS-01", "CS-02"]


# ---- 6-9. mixed values within one column -------------------------------------------------------


def test_dates_in_every_form_within_one_column(make_book, parse):
    written = [
        date(2023, 10, 1),
        (date(2023, 10, 2) - date(1899, 12, 30)).days,
        str((date(2023, 10, 3) - date(1899, 12, 30)).days),
        "2023-10-04",
        "2023/10/5",
        "2023.10.6",
        "2023年10月7日",
        "2023年10月08日",
        "20231009",
        "10月10日",
        "10.11",
        "2023-10-12 09:30:00",
    ]
    rows = [[i + 1, d, "党委会", "学习", "学习教育", 10] for i, d in enumerate(written)]
    p = parse(make_book("dates.xlsx", ledger(meetings=[HEAD["meetings"], *rows])))
    assert codes(p) == []
    assert [r["date"] for r in p.tables["meetings"]] == [date(2023, 10, d) for d in range(1, 13)]


def test_dates_in_every_form_within_one_column_of_an_xls(make_book, parse):
    written = [date(2023, 10, 1), (date(2023, 10, 2) - date(1899, 12, 30)).days, "2023年10月3日", "10.4"]
    rows = [[i + 1, d, "党委会", "学习", "学习教育", 10] for i, d in enumerate(written)]
    p = parse(make_book("dates.xls", ledger(meetings=[HEAD["meetings"], *rows]), engine="xlwt"))
    assert codes(p) == []
    assert [r["date"] for r in p.tables["meetings"]] == [date(2023, 10, d) for d in range(1, 5)]


def test_integers_with_units_full_width_digits_and_chinese_numerals(make_book, parse):
    written = [30, 30.0, "30人", "30 人次", "３０", "三十"]
    rows = [[i + 1, date(2023, 10, 10), "集中学习", "学习", "线下", n] for i, n in enumerate(written)]
    p = parse(make_book("ints.xlsx", ledger(study=[HEAD["study"], *rows])))
    assert codes(p) == []
    assert [r["participants"] for r in p.tables["study"]] == [30] * 6


def test_vocabulary_values_with_stray_spaces_full_width_and_synonyms(make_book, parse):
    kinds = [" 党委会 ", "党\u3000委\u3000会", "党委（扩大）会议。", "支部委员会", "党员大会\n", "民主生活会"]
    rows = [[i + 1, date(2023, 10, 10), k, "学习", " 学习教育 ", 10] for i, k in enumerate(kinds)]
    p = parse(make_book("vocab.xlsx", ledger(meetings=[HEAD["meetings"], *rows])))
    assert codes(p) == []
    assert [r["kind"] for r in p.tables["meetings"]] == [
        "committee",
        "committee",
        "committee",
        "branch_committee",
        "members_meeting",
        "life_meeting",
    ]
    assert {r["phase"] for r in p.tables["meetings"]} == {"study"}


def test_list_cells_with_mixed_separators(make_book, parse):
    rows = table("research")
    rows[1][8] = "实地走访、座谈，数据分析;暗访 / 走访\n问卷调查"
    p = parse(make_book("lists.xlsx", ledger(research=rows)))
    assert codes(p) == []
    assert p.tables["research"][0]["methods"] == [
        "site_visit",
        "forum",
        "data_analysis",
        "unannounced",
        "written",
    ]


def test_an_absent_optional_column_takes_its_default(make_book, parse):
    # no 所属环节 in the meetings sheet: 综合; no 干部类别 in the research sheet: 其他
    meetings = [[r[i] for i in (0, 1, 2, 3, 5)] for r in table("meetings")]
    research = [[v for i, v in enumerate(r) if i != 5] for r in table("research")]
    p = parse(make_book("defaults.xlsx", ledger(meetings=meetings, research=research)))
    assert codes(p) == []
    assert [r["phase"] for r in p.tables["meetings"]] == ["general", "general"]
    assert p.tables["research"][0]["cadre_class"] == "other"


# ---- 10. sheets renamed, reordered, hidden helpers, empty extra sheets --------------------------


def test_sheets_named_sheet1_are_found_by_their_header(make_book, parse):
    sheets = ledger(meetings=None, study=None) | {"Sheet1": table("meetings"), "Sheet2": table("study")}
    p = parse(make_book("sheet1.xlsx", sheets))
    assert codes(p) == []
    assert [r["kind"] for r in p.tables["meetings"]] == ["committee", "progress"]
    assert [r["kind"] for r in p.tables["study"]] == ["reading_class", "group_study"]


def test_numbered_and_renamed_sheets_in_another_order(make_book, parse):
    sheets = {
        "2.学习台账（11月）": table("study"),
        "1、会议记录": table("meetings"),
        "4.检视问题清单(第三周)": table("problems"),
        "5.整改措施清单": table("measures"),
        "3.调研课题清单": table("research"),
        "制度建设": table("outcomes"),
        "工作方案": table("plans"),
        "领导小组": table("org"),
        "封面": info_rows(),
    }
    p = parse(make_book("renamed.xlsx", sheets))
    assert codes(p) == []
    assert {k: len(v) for k, v in p.tables.items()} == {
        "meetings": 2,
        "study": 2,
        "research": 1,
        "problems": 2,
        "measures": 2,
        "outcomes": 1,
        "plans": 1,
        "org": 1,
    }
    assert p.info["unit_code"] == UNIT_CODE and p.info["as_of"] == AS_OF


def test_hidden_helper_and_hidden_decoy_sheets_and_an_empty_sheet_are_not_data(make_book, parse):
    decoy = [HEAD["meetings"], [1, "去年", "年会", "聚餐", "娱乐", "很多人"]]  # would be four errors if read
    helper = [["会议类型", "学习形式"], ["党委会", "读书班"], ["支委会", "集中学习"]]
    instructions = [
        ["填表说明"],
        ["1.本表每周报送一次。"],
        ["2.日期请写作2023-09-15。"],
        ["3.不要改动表头。"],
    ]
    sheets = ledger() | {"会议（旧）": decoy, "下拉选项": helper, "填表说明": instructions, "Sheet3": []}
    p = parse(make_book("hidden.xlsx", sheets, hidden=("会议（旧）", "下拉选项")))
    assert codes(p) == []
    assert [r["kind"] for r in p.tables["meetings"]] == ["committee", "progress"]


def test_an_absent_table_sheet_is_an_empty_table(make_book, parse):
    p = parse(make_book("no_org.xlsx", ledger(org=None, plans=None)))
    assert codes(p) == []
    assert p.tables["org"] == [] and p.tables["plans"] == []


# ---- 11. legacy .xls ---------------------------------------------------------------------------


def test_a_legacy_xls_with_title_rows_and_a_two_row_header(make_book, parse):
    head1 = ["序号", "问题编号", "问题描述", "问题来源", "整改类型", "整改情况", None]
    head2 = [None, None, None, None, None, "整改状态", "销号日期"]
    data = [
        [1, "WT-01", "理论学习不够深入", "自我检视", "限期整改", "已整改", date(2023, 11, 20)],
        [2, "WT-02", "调查研究不够扎实", "巡察", "长期坚持", "整改中", None],
    ]
    sheet = [["城关镇检视问题清单"], ["填报单位：城关镇党委"], [], head1, head2, *data]
    merges = {"问题清单": ["A4:A5", "B4:B5", "C4:C5", "D4:D5", "E4:E5", "F4:G4"]}
    p = parse(make_book("legacy.xls", ledger(problems=sheet), merges=merges, engine="xlwt"))
    assert codes(p) == []
    assert p.info["as_of"] == AS_OF and p.info["members"] == 40
    assert [(r["problem_id"], r["status"], r["closed_date"], r["row"]) for r in p.tables["problems"]] == [
        ("WT-01", "closed", date(2023, 11, 20), 6),
        ("WT-02", "in_progress", None, 7),
    ]
    assert [r["date"] for r in p.tables["meetings"]] == [date(2023, 9, 20), date(2023, 11, 8)]


def test_a_hidden_sheet_in_an_xls_is_not_data(make_book, parse):
    decoy = [HEAD["meetings"], [1, "去年", "年会", "聚餐", "娱乐", "很多人"]]
    p = parse(
        make_book("hidden.xls", ledger() | {"旧会议台账": decoy}, hidden=("旧会议台账",), engine="xlwt")
    )
    assert codes(p) == []


# ---- 填报信息 layouts ----------------------------------------------------------------------------


def test_info_labels_over_values(make_book, parse):
    info = [
        ["主题教育工作台账"],
        ["单位代码", "单位名称", "统计截止日期", "填报人", "联系电话", "党员人数", "制定个人学习计划人数"],
        [UNIT_CODE, UNIT_NAME, "2023年12月15日", "张三", "13800000000", "40人", "三十八"],
    ]
    p = parse(make_book("over.xlsx", ledger(info=info)))
    assert codes(p) == []
    i = p.info
    assert (
        i["unit_code"],
        i["unit_name"],
        i["as_of"],
        i["reporter"],
        i["phone"],
        i["members"],
        i["members_with_plan"],
    ) == (UNIT_CODE, UNIT_NAME, AS_OF, "张三", "13800000000", 40, 38)
    assert i["as_of_cell"] == "C3"


def test_info_labels_with_colons_and_gaps_beside_values(make_book, parse):
    info = [
        ["单位代码：", None, " qx-t01 "],  # value two cells to the right, lower case and spaces
        ["填报单位:", UNIT_NAME, "统计截止时间", 45275],  # two pairs on one row, a date serial
        ["联系人", None, "联系电话", None],  # empty values stay empty
        ["党员总数", "40"],
    ]
    p = parse(make_book("colons.xlsx", ledger(info=info)))
    assert codes(p) == []
    i = p.info
    assert i["unit_code"].upper() == UNIT_CODE and i["unit_name"] == UNIT_NAME
    assert (date(2023, 12, 15) - date(1899, 12, 30)).days == 45275
    assert i["as_of"] == AS_OF
    assert i["reporter"] is None and i["phone"] is None and i["members"] == 40


# ---- formulas ----------------------------------------------------------------------------------


def test_a_formula_with_a_cached_value_is_read_as_that_value(make_book, parse):
    rows = table("meetings")
    rows[1][5] = Formula("=SUM(20,5)", 25)
    p = parse(make_book("formula_cached.xlsx", ledger(meetings=rows), engine="xlsxwriter"))
    assert codes(p) == []
    assert p.tables["meetings"][0]["attendees"] == 25


def test_a_formula_without_a_value_is_a_warning_and_empty(make_book, parse):
    rows = table("meetings")
    rows[1][5] = Formula("=SUM(20,5)")
    p = parse(make_book("formula_bare.xlsx", ledger(meetings=rows)))
    issue = only(p, "W_FORMULA")
    assert (issue.sheet, issue.row, issue.cell, issue.column) == ("会议", 2, "F2", "参会人数")
    assert p.tables["meetings"][0]["attendees"] is None


def test_the_same_ledger_reads_alike_from_every_engine(make_book, parse):
    got = {}
    for engine, ext in (("openpyxl", "xlsx"), ("xlsxwriter", "xlsx"), ("xlwt", "xls")):
        p = parse(make_book(f"same_{engine}.{ext}", ledger(), engine=engine))
        assert codes(p) == [], engine
        got[engine] = p.tables
    assert got["openpyxl"] == got["xlsxwriter"] == got["xlwt"]


def test_a_wide_header_cell_merged_across_two_columns_is_one_column_not_a_two_row_header(make_book, parse):
    # 问题描述 is a wide column: its header and every data cell merged across C:D
    head = [
        "序号",
        "问题编号",
        "问题描述",
        None,
        "问题来源",
        "整改类型",
        "责任领导",
        "牵头单位",
        "整改时限",
        "整改状态",
        "销号日期",
    ]
    rows = [head] + [r[:3] + [None] + r[3:] for r in table("problems")[1:]]
    merges = {"问题清单": ["C1:D1", "C2:D2", "C3:D3"]}
    p = parse(make_book("wide.xlsx", ledger(problems=rows), merges=merges))
    assert codes(p) == []
    assert [(r["problem_id"], r["description"], r["status"], r["row"]) for r in p.tables["problems"]] == [
        ("WT-01", "理论学习不够深入", "closed", 2),
        ("WT-02", "调查研究不够扎实", "in_progress", 3),
    ]


def test_a_group_cell_with_one_sub_header_left_empty_is_not_an_extra_column(make_book, parse):
    head1 = ["序号", "问题编号", "问题描述", "问题来源", "整改类型", "整改进度", None, None]
    head2 = [None, None, None, None, None, "整改状态", "销号日期", None]
    data = [
        [1, "WT-01", "理论学习不够深入", "自我检视", "限期整改", "已整改", date(2023, 11, 20), None],
        [2, "WT-02", "调查研究不够扎实", "巡察", "长期坚持", "整改中", None, None],
    ]
    merges = {"问题清单": ["A1:A2", "B1:B2", "C1:C2", "D1:D2", "E1:E2", "F1:H1"]}
    p = parse(make_book("group3.xlsx", ledger(problems=[head1, head2, *data]), merges=merges))
    assert codes(p) == []
    assert [r["status"] for r in p.tables["problems"]] == ["closed", "in_progress"]
