"""Feedback workbooks: the clerk gets their own workbook back with every issue marked."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile

import openpyxl
import pandas as pd
import pytest
import xlwt

from ledgerflow.outputs import ADVICE, feedback_filename, write_feedback

RED = "FFC7CE"
YELLOW = "FFEB9C"

# ledger.md §9, copied from the spec
SPEC_CODES = [
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
]


def make_ledger(path):
    wb = openpyxl.Workbook()
    info = wb.active
    info.title = "填报信息"
    info["A1"], info["B1"] = "单位代码", "QX-T01"
    info["A2"], info["B2"] = "单位名称", "甲镇"
    info["A3"], info["B3"] = "统计截止日期", "2023-12-10"
    ws = wb.create_sheet("问题清单")
    ws["A1"] = "甲镇主题教育问题清单"
    headers = ["序号", "问题编号", "问题描述", "问题来源", "整改类型", "整改时限", "整改状态", "销号日期"]
    for c, h in enumerate(headers, start=1):
        ws.cell(3, c, h)
    ws.append([1, "P1", "学习不够深入", "自我检视", "马上改掉", "2023年12月底", "整改中", None])
    ws.append([2, "P2", "调研不够扎实", "巡察", "限期整改", "2023年11月30日", "已整改", None])
    ws.merge_cells("C7:C8")
    ws["C7"] = "合并的问题描述"
    wb.save(path)


ISSUES = pd.DataFrame(
    [
        {
            "path": "QX-T01/甲镇台账.xlsx",
            "unit_code": "QX-T01",
            "sheet": "问题清单",
            "row": 4,
            "column": "整改类型",
            "cell": "E4",
            "code": "E_VOCAB",
            "severity": "error",
            "message": "“整改类型”的值“马上改掉”不在规定选项中",
        },
        {
            "path": "QX-T01/甲镇台账.xlsx",
            "unit_code": "QX-T01",
            "sheet": "问题清单",
            "row": 5,
            "column": "销号日期",
            "cell": "H5",
            "code": "W_CLOSED_NO_DATE",
            "severity": "warning",
            "message": "问题已整改但没有销号日期",
        },
        {
            "path": "QX-T01/甲镇台账.xlsx",
            "unit_code": "QX-T01",
            "sheet": "填报信息",
            "row": 2,
            "column": "单位名称",
            "cell": "B2",
            "code": "W_UNIT_NAME",
            "severity": "warning",
            "message": "单位名称“甲镇”与组织架构不一致",
        },
        {
            "path": "QX-T01/甲镇台账.xlsx",
            "unit_code": "QX-T01",
            "sheet": "问题清单",
            "row": None,
            "column": "",
            "cell": "",
            "code": "W_EXTRA_COLUMN",
            "severity": "warning",
            "message": "“备注2”列不是模板中的列",
        },
        {
            "path": "QX-T01/甲镇台账.xlsx",
            "unit_code": "QX-T01",
            "sheet": "问题清单",
            "row": 8,
            "column": "问题描述",
            "cell": "C8",
            "code": "E_REQUIRED",
            "severity": "error",
            "message": "合并单元格内的问题",
        },
        # another file's issue: must not appear
        {
            "path": "QX-T02/乙镇台账.xlsx",
            "unit_code": "QX-T02",
            "sheet": "问题清单",
            "row": 4,
            "column": "整改类型",
            "cell": "E4",
            "code": "E_VOCAB",
            "severity": "error",
            "message": "乙镇的问题",
        },
    ]
)


def result_rows(wb):
    ws = wb["校验结果"]
    for r in range(1, 10):
        values = [c.value for c in ws[r]]
        if values and values[0] == "序号":
            header = values
            rows = [
                dict(zip(header, row, strict=False)) for row in ws.iter_rows(min_row=r + 1, values_only=True)
            ]
            return header, [x for x in rows if x["序号"] not in (None, "")], r
    raise AssertionError("no header row in 校验结果")


@pytest.fixture
def ledger(tmp_path):
    src = tmp_path / "inbox" / "QX-T01" / "甲镇台账.xlsx"
    src.parent.mkdir(parents=True)
    make_ledger(src)
    return src


@pytest.fixture
def feedback(tmp_path, ledger):
    before = hashlib.sha256(ledger.read_bytes()).hexdigest()
    out = write_feedback(
        ledger, ISSUES, tmp_path / "feedback", unit_code="QX-T01", rel_path="QX-T01/甲镇台账.xlsx"
    )
    return out, before


def test_name_and_first_sheet(feedback):
    out, _ = feedback
    assert out.name == "QX-T01__甲镇台账.xlsx"
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "校验结果"
    assert wb.active.title == "校验结果"
    # the clerk's own sheets follow, with their content
    assert "填报信息" in wb.sheetnames and "问题清单" in wb.sheetnames
    assert wb["问题清单"]["C4"].value == "学习不够深入"


def test_result_sheet_lists_every_issue_of_the_file(feedback):
    out, _ = feedback
    wb = openpyxl.load_workbook(out)
    header, rows, header_row = result_rows(wb)
    assert header[:8] == ["序号", "严重程度", "工作表", "单元格", "列", "原值", "问题说明", "如何修改"]
    assert len(rows) == 5  # the 乙镇 issue is another file's
    assert not any("乙镇" in (r["问题说明"] or "") for r in rows)
    assert {r["严重程度"] for r in rows} == {"错误", "警告"}
    # errors come first
    assert [r["严重程度"] for r in rows][:2] == ["错误", "错误"]
    vocab = next(r for r in rows if r["单元格"] == "E4")
    assert vocab["工作表"] == "问题清单" and vocab["列"] == "整改类型"
    assert vocab["原值"] == "马上改掉"  # read from the clerk's cell
    assert vocab["如何修改"] and "选项" in vocab["如何修改"]
    name = next(r for r in rows if r["单元格"] == "B2")
    assert name["原值"] == "甲镇"
    assert all(r["如何修改"] for r in rows)
    ws = wb["校验结果"]
    assert ws.freeze_panes == f"A{header_row + 1}"
    assert ws.column_dimensions["G"].width >= 30


def test_offending_cells_filled_and_commented(feedback):
    out, _ = feedback
    wb = openpyxl.load_workbook(out)
    ws = wb["问题清单"]
    assert ws["E4"].fill.fgColor.rgb.endswith(RED)
    assert "马上改掉" in ws["E4"].comment.text
    assert ws["H5"].fill.fgColor.rgb.endswith(YELLOW)
    assert "销号日期" in ws["H5"].comment.text
    assert wb["填报信息"]["B2"].fill.fgColor.rgb.endswith(YELLOW)
    # an issue on a merged cell marks the merged range's visible cell
    assert ws["C7"].fill.fgColor.rgb.endswith(RED)
    assert "合并单元格内的问题" in ws["C7"].comment.text
    # an untouched cell stays as it was
    assert ws["D4"].fill.fill_type is None and ws["D4"].comment is None


def test_original_file_is_unchanged(feedback, ledger):
    out, before = feedback
    assert hashlib.sha256(ledger.read_bytes()).hexdigest() == before
    wb = openpyxl.load_workbook(ledger)
    assert wb.sheetnames[0] == "填报信息"
    assert wb["问题清单"]["E4"].fill.fill_type is None and wb["问题清单"]["E4"].comment is None


def test_xls_source_comes_back_as_xlsx(tmp_path):
    src = tmp_path / "乙镇台账.xls"
    book = xlwt.Workbook()
    info = book.add_sheet("填报信息")
    info.write(0, 0, "单位代码")
    info.write(0, 1, "QX-T02")
    ws = book.add_sheet("学习台账")
    ws.write(2, 0, "日期")
    ws.write(2, 1, "学习形式")
    ws.write(2, 2, "参加人数")
    ws.write(3, 0, "2023-09-15")
    ws.write(3, 1, "集中学习")
    ws.write(3, 2, "三十多人")
    book.save(str(src))
    before = src.read_bytes()
    issues = pd.DataFrame(
        [
            {
                "path": "QX-T02/乙镇台账.xls",
                "unit_code": "QX-T02",
                "sheet": "学习台账",
                "row": 4,
                "column": "参加人数",
                "cell": "C4",
                "code": "E_NUMBER",
                "severity": "error",
                "message": "“参加人数”应为整数",
            }
        ]
    )
    out = write_feedback(src, issues, tmp_path / "fb", unit_code="QX-T02", rel_path="QX-T02/乙镇台账.xls")
    assert out.name == "QX-T02__乙镇台账.xlsx"
    assert src.read_bytes() == before
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["校验结果", "学习台账"]  # 填报信息 has no issue: not copied
    ws = wb["学习台账"]
    assert ws["C4"].value == "三十多人"  # at the same cell as in Excel
    assert ws["C4"].fill.fgColor.rgb.endswith(RED) and "整数" in ws["C4"].comment.text
    _, rows, _ = result_rows(wb)
    assert len(rows) == 1 and rows[0]["原值"] == "三十多人"


def test_xlsm_source_loses_its_macros(tmp_path, ledger):
    src = tmp_path / "甲镇台账.xlsm"
    src.write_bytes(ledger.read_bytes())
    issues = ISSUES[ISSUES["path"] == "QX-T01/甲镇台账.xlsx"].assign(path="QX-T01/甲镇台账.xlsm")
    out = write_feedback(src, issues, tmp_path / "fb", unit_code="QX-T01", rel_path="QX-T01/甲镇台账.xlsm")
    assert out.suffix == ".xlsx"
    with zipfile.ZipFile(out) as zf:
        assert not any("vbaProject" in n for n in zf.namelist())
        assert "macroEnabled" not in zf.read("[Content_Types].xml").decode()


def test_unreadable_file_gets_the_issue_list_only(tmp_path):
    src = tmp_path / "坏文件.xlsx"
    src.write_bytes(b"this is not a zip file")
    issues = pd.DataFrame(
        [
            {
                "path": "坏文件.xlsx",
                "unit_code": None,
                "sheet": "",
                "row": None,
                "column": "",
                "cell": "",
                "code": "E_FILE_UNREADABLE",
                "severity": "error",
                "message": "文件无法读取",
            }
        ]
    )
    out = write_feedback(src, issues, tmp_path / "fb", unit_code=None, rel_path="坏文件.xlsx")
    assert out.name == "UNKNOWN__坏文件.xlsx"
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["校验结果"]
    _, rows, _ = result_rows(wb)
    assert rows[0]["严重程度"] == "错误" and "另存为" in rows[0]["如何修改"]


def test_file_names_are_sanitised():
    name = feedback_filename("QX/T01", 'inbox/a:b*c?"d<e>f|g.xlsx')
    assert name.endswith(".xlsx") and name.startswith("QX_T01__")
    assert not any(ch in name for ch in '\\/:*?"<>|')
    assert feedback_filename("", "x.xls") == "UNKNOWN__x.xlsx"


def test_two_files_with_one_stem_do_not_overwrite_each_other(tmp_path, ledger):
    out_dir = tmp_path / "fb"
    a = write_feedback(ledger, ISSUES, out_dir, unit_code="QX-T01", rel_path="QX-T01/甲镇台账.xlsx")
    b = write_feedback(ledger, ISSUES, out_dir, unit_code="QX-T01", rel_path="QX-T01/旧/甲镇台账.xlsx")
    assert a != b and a.exists() and b.exists()


def test_every_spec_code_has_advice_in_chinese():
    for code in SPEC_CODES:
        assert code in ADVICE, code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in ADVICE[code])


def test_a_clerk_sheet_named_like_ours_is_kept(tmp_path):
    src = tmp_path / "台账.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "校验结果"
    wb.active["A1"] = "单位自己的校验表"
    wb.save(src)
    issues = pd.DataFrame(
        [
            {
                "path": "台账.xlsx",
                "unit_code": "QX",
                "sheet": "校验结果",
                "row": 1,
                "column": "",
                "cell": "A1",
                "code": "W_SHEET_IGNORED",
                "severity": "warning",
                "message": "该表未被读取",
            }
        ]
    )
    out = write_feedback(src, issues, tmp_path / "fb", unit_code="QX", rel_path="台账.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "校验结果" and len(wb.sheetnames) == 2
    theirs = wb[wb.sheetnames[1]]
    assert theirs["A1"].value == "单位自己的校验表"
    assert theirs["A1"].fill.fgColor.rgb.endswith(YELLOW)
    _, rows, _ = result_rows(wb)
    assert rows[0]["原值"] == "单位自己的校验表"


def one_issue(path, sheet, cell, code="E_REQUIRED", severity="error", message="有问题"):
    return pd.DataFrame(
        [
            {
                "path": path,
                "unit_code": "QX",
                "sheet": sheet,
                "row": int(cell[1:]) if cell else None,
                "column": "",
                "cell": cell,
                "code": code,
                "severity": severity,
                "message": message,
            }
        ]
    )


def test_merged_range_is_recreated_and_marked_at_its_top_left(feedback):
    out, _ = feedback
    wb = openpyxl.load_workbook(out)
    ws = wb["问题清单"]
    assert "C7:C8" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["C7"].value == "合并的问题描述"
    assert ws["C7"].fill.fgColor.rgb.endswith(RED) and "合并单元格内的问题" in ws["C7"].comment.text
    assert ws["C8"].comment is None
    # tabs: red for errors, yellow for warnings only; the result sheet red as the file has errors
    assert ws.sheet_properties.tabColor.rgb.endswith("C00000")
    assert wb["填报信息"].sheet_properties.tabColor.rgb.endswith("FFC000")
    assert wb["校验结果"].sheet_properties.tabColor.rgb.endswith("C00000")


def test_several_issues_on_one_cell_share_its_comment(tmp_path, ledger):
    issues = pd.concat(
        [
            one_issue("a.xlsx", "问题清单", "E4", message="第一个问题"),
            one_issue(
                "a.xlsx", "问题清单", "E4", code="W_DATE_RANGE", severity="warning", message="第二个问题"
            ),
        ]
    )
    out = write_feedback(ledger, issues, tmp_path / "fb", unit_code="QX", rel_path="a.xlsx")
    ws = openpyxl.load_workbook(out)["问题清单"]
    assert "第一个问题" in ws["E4"].comment.text and "第二个问题" in ws["E4"].comment.text
    assert ws["E4"].fill.fgColor.rgb.endswith(RED)


def test_text_that_looks_like_a_formula_link_or_number_stays_text(tmp_path):
    src = tmp_path / "台账.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "问题清单"
    for coord, text in {
        "A1": "=SUM(B1:B9)",
        "A2": "https://example.com/x",
        "A3": "00123",
        "A4": "@cmd",
    }.items():
        ws[coord] = text
        ws[coord].data_type = "s"  # stored as text in the clerk's file
    wb.save(src)
    out = write_feedback(
        src, one_issue("台账.xlsx", "问题清单", "A1"), tmp_path / "fb", unit_code="QX", rel_path="台账.xlsx"
    )
    ws = openpyxl.load_workbook(out)["问题清单"]
    assert ws["A1"].value == "=SUM(B1:B9)" and ws["A1"].data_type == "s"
    assert ws["A2"].value == "https://example.com/x" and ws["A2"].hyperlink is None
    assert ws["A3"].value == "00123" and ws["A4"].value == "@cmd"
    with zipfile.ZipFile(out) as zf:
        sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any(b"<f>" in zf.read(n) for n in sheets)
        assert not any("hyperlink" in n or "externalLink" in n for n in zf.namelist())
    _, rows, _ = result_rows(openpyxl.load_workbook(out))
    assert rows[0]["原值"] == "=SUM(B1:B9)"


def test_dates_in_the_copy_are_dates(tmp_path):
    src = tmp_path / "台账.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "学习台账"
    ws["A1"], ws["B1"] = "日期", "时间"
    ws["A2"] = dt.datetime(2023, 12, 10)
    ws["B2"] = dt.datetime(2023, 12, 10, 9, 30)
    ws["C2"] = 30
    wb.save(src)
    out = write_feedback(
        src, one_issue("台账.xlsx", "学习台账", "A2"), tmp_path / "fb", unit_code="QX", rel_path="台账.xlsx"
    )
    ws = openpyxl.load_workbook(out)["学习台账"]
    assert ws["A2"].is_date and ws["A2"].value == dt.datetime(2023, 12, 10)
    assert ws["A2"].number_format == "yyyy-mm-dd"
    assert ws["A2"].fill.fgColor.rgb.endswith(RED)  # the mark keeps the date format
    assert ws["B2"].is_date and ws["B2"].value == dt.datetime(2023, 12, 10, 9, 30)
    assert ws["C2"].value == 30 and ws["C2"].data_type == "n"
    _, rows, _ = result_rows(openpyxl.load_workbook(out))
    assert rows[0]["原值"] == "2023-12-10"


def test_xls_dates_in_the_copy_are_dates(tmp_path):
    src = tmp_path / "台账.xls"
    book = xlwt.Workbook()
    ws = book.add_sheet("学习台账")
    ws.write(0, 0, "日期")
    ws.write(1, 0, dt.date(2023, 9, 15), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    book.save(str(src))
    out = write_feedback(
        src, one_issue("台账.xls", "学习台账", "A2"), tmp_path / "fb", unit_code="QX", rel_path="台账.xls"
    )
    ws = openpyxl.load_workbook(out)["学习台账"]
    assert ws["A2"].is_date and ws["A2"].value == dt.datetime(2023, 9, 15)


def test_hidden_sheets_stay_hidden(tmp_path):
    src = tmp_path / "台账.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "问题清单"
    wb.active["A1"] = "问题"
    hidden = wb.create_sheet("下拉选项")
    hidden["A1"] = "马上改掉"
    hidden.sheet_state = "hidden"
    wb.create_sheet("说明")["A1"] = "填表说明"  # no issue here: not copied
    wb.save(src)
    issues = pd.concat([one_issue("台账.xlsx", "问题清单", "A1"), one_issue("台账.xlsx", "下拉选项", "A1")])
    out = write_feedback(src, issues, tmp_path / "fb", unit_code="QX", rel_path="台账.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["校验结果", "问题清单", "下拉选项"]  # the sheets with issues, in order
    assert wb["下拉选项"].sheet_state == "hidden" and wb["下拉选项"]["A1"].value == "马上改掉"
    assert wb["问题清单"].sheet_state == "visible" and wb["校验结果"].sheet_state == "visible"
    assert wb.active.title == "校验结果"


def test_a_file_that_cannot_be_read_again_gets_the_issue_list_only(tmp_path):
    src = tmp_path / "台账.xlsx"
    src.write_bytes(b"PK\x03\x04 not really a workbook")
    out = write_feedback(
        src, one_issue("台账.xlsx", "问题清单", "E4"), tmp_path / "fb", unit_code="QX", rel_path="台账.xlsx"
    )
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["校验结果"]
    assert "无法再次打开" in wb["校验结果"]["A2"].value
    _, rows, _ = result_rows(wb)
    assert len(rows) == 1 and rows[0]["单元格"] == "E4"
