"""Feedback workbooks: the clerk gets their own workbook back with every issue marked.

The markup tests (the second half) decorate workbooks with openpyxl and xlsxwriter
(feedback_books.py) and check the feedback against the original: every part not needed for a
mark byte-identical; every sheet's values, merges, validations, conditional formats, widths and
panes equal; each issue cell filled and commented and otherwise styled as before; 校验结果 first
and complete; the file read back by openpyxl, python-calamine and LibreOffice (headless; the test
is skipped only when soffice is not installed — .ci/run installs it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import zipfile

import feedback_books
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


def test_an_xlsx_named_xlsm_comes_back_as_xlsx(tmp_path, ledger):
    """The extension follows the workbook's content type: Excel refuses a mismatch."""
    src = tmp_path / "甲镇台账.xlsm"
    src.write_bytes(ledger.read_bytes())
    issues = ISSUES[ISSUES["path"] == "QX-T01/甲镇台账.xlsx"].assign(path="QX-T01/甲镇台账.xlsm")
    out = write_feedback(src, issues, tmp_path / "fb", unit_code="QX-T01", rel_path="QX-T01/甲镇台账.xlsm")
    assert out.suffix == ".xlsx"
    with zipfile.ZipFile(out) as zf:
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
    # the clerk's sheet keeps its name (formulas and names may refer to it); ours opens first
    assert wb.sheetnames == ["校验结果(2)", "校验结果"] and wb.active.title == "校验结果(2)"
    theirs = wb["校验结果"]
    assert theirs["A1"].value == "单位自己的校验表"
    assert theirs["A1"].fill.fgColor.rgb.endswith(YELLOW)
    ws = wb["校验结果(2)"]
    header = [c.value for c in ws[3]]
    row = dict(zip(header, [c.value for c in ws[4]], strict=False))
    assert row["原值"] == "单位自己的校验表" and row["工作表"] == "校验结果"


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


def test_merged_range_is_kept_and_marked_at_its_top_left(feedback):
    out, _ = feedback
    wb = openpyxl.load_workbook(out)
    ws = wb["问题清单"]
    assert "C7:C8" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["C7"].value == "合并的问题描述"
    assert ws["C7"].fill.fgColor.rgb.endswith(RED) and "合并单元格内的问题" in ws["C7"].comment.text
    assert ws["C8"].comment is None
    # the result sheet's tab is red as the file has errors; the clerk's tabs keep their colours
    assert wb["校验结果"].sheet_properties.tabColor.rgb.endswith("C00000")
    assert ws.sheet_properties.tabColor is None


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


def test_text_that_looks_like_a_formula_link_or_number_stays_text(tmp_path, monkeypatch):
    """In the values copy (.xls, or a package that cannot be marked up)."""
    from ledgerflow.outputs import markup

    monkeypatch.setattr(markup, "mark_up", _refuse_markup)
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


def test_dates_keep_the_clerks_format(tmp_path):
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
    assert ws["A2"].number_format == openpyxl.load_workbook(src)["学习台账"]["A2"].number_format
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
    assert wb.sheetnames == ["校验结果", "问题清单", "下拉选项", "说明"]  # every sheet, in order
    assert wb["下拉选项"].sheet_state == "hidden" and wb["下拉选项"]["A1"].value == "马上改掉"
    assert wb["问题清单"].sheet_state == "visible" and wb["校验结果"].sheet_state == "visible"
    assert wb.active.title == "校验结果"


def _refuse_markup(*_a, **_k):
    raise RuntimeError("no markup in this test")


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


# --------------------------------------------------------------------------- markup of decorated books

BOOKS = {
    "openpyxl": ("台账_openpyxl.xlsx", feedback_books.openpyxl_book),
    "xlsxwriter": ("台账_xlsxwriter.xlsx", feedback_books.xlsxwriter_book),
    "macro": ("台账_宏.xlsm", lambda p: feedback_books.xlsxwriter_book(p, macro=True)),
    "hand": ("台账_手写.xlsx", feedback_books.hand_book),
}


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    """Each decorated book and its feedback: {kind: (source, issues, feedback)}."""
    root = tmp_path_factory.mktemp("marked")
    out = {}
    for kind, (name, build) in BOOKS.items():
        src = root / "inbox" / name
        src.parent.mkdir(exist_ok=True)
        issues = build(src)
        fb = write_feedback(src, issues, root / "feedback", unit_code="QX-T01", rel_path=name)
        out[kind] = (src, issues, fb)
    return out


def _parts(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _sheet_parts(path) -> dict[str, str]:
    """sheet name -> its part, from workbook.xml and its rels."""
    import re

    parts = _parts(path)
    rels = dict(re.findall(rb'Id="([^"]+)"[^>]*Target="([^"]+)"', parts["xl/_rels/workbook.xml.rels"]))
    rels.update(
        {
            k: v
            for v, k in re.findall(rb'Target="([^"]+)"[^>]*Id="([^"]+)"', parts["xl/_rels/workbook.xml.rels"])
        }
    )
    out = {}
    for tag in re.findall(rb"<(?:x:)?sheet [^>]*>", parts["xl/workbook.xml"]):
        name, rid = re.search(rb' name="([^"]+)"', tag).group(1), re.search(rb':id="([^"]+)"', tag).group(1)
        t = rels[rid].decode()
        out[name.decode()] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    return out


@pytest.mark.parametrize("kind", list(BOOKS))
def test_untouched_parts_are_byte_identical(marked, kind):
    src, issues, fb = marked[kind]
    before, after = _parts(src), _parts(fb)
    assert set(before) <= set(after)
    changed = {n for n in before if before[n] != after[n]}
    sheets = _sheet_parts(src)
    flagged = {sheets[s] for s in issues["sheet"][issues["cell"] != ""] if s in sheets}
    allowed = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"}
    allowed |= flagged  # the s= of flagged cells, their <legacyDrawing>
    allowed |= {f"xl/worksheets/_rels/{p.rsplit('/', 1)[1]}.rels" for p in flagged}
    allowed |= {n for n in before if n.startswith("xl/comments") or n.endswith(".vml")}
    selected = {p for p in sheets.values() if b'tabSelected="1"' in before[p]}
    allowed |= selected  # tabSelected dropped: 校验结果 is the one selected tab
    assert changed <= allowed, changed - allowed
    # each changed sheet differs only in the flagged cells, the new cells and <legacyDrawing>
    assert "xl/vbaProject.bin" not in changed
    if kind == "macro":
        assert before["xl/vbaProject.bin"] == after["xl/vbaProject.bin"]
        assert b"macroEnabled" in after["[Content_Types].xml"] and fb.suffix == ".xlsm"
    media = [n for n in before if n.startswith(("xl/media/", "xl/charts/", "xl/drawings/drawing"))]
    assert all(before[n] == after[n] for n in media)
    if kind == "xlsxwriter":
        assert any(n.startswith("xl/media/") for n in media) and any(
            n.startswith("xl/charts/") for n in media
        )


def _snapshot(ws) -> dict:
    """What must survive the markup, as openpyxl sees it."""
    return {
        "values": {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None},
        "merged": sorted(str(r) for r in ws.merged_cells.ranges),
        "validations": sorted(
            (str(dv.sqref), dv.type, dv.formula1, dv.formula2) for dv in ws.data_validations.dataValidation
        ),
        "conditional": sorted(
            (str(cf.sqref), tuple((r.type, r.operator, tuple(r.formula or ())) for r in cf.rules))
            for cf in ws.conditional_formatting
        ),
        "widths": {k: (d.width, d.customWidth) for k, d in ws.column_dimensions.items()},
        "heights": {k: d.height for k, d in ws.row_dimensions.items() if d.height},
        "pane": ws.freeze_panes,
        "state": ws.sheet_state,
        "print_area": ws.print_area,
        "names": sorted((n, d.attr_text) for n, d in ws.defined_names.items()),
        "charts": len(ws._charts),
    }


@pytest.mark.parametrize("kind", list(BOOKS))
def test_every_sheet_is_as_the_clerk_left_it(marked, kind):
    src, issues, fb = marked[kind]
    before = openpyxl.load_workbook(src)
    after = openpyxl.load_workbook(fb)
    assert after.sheetnames == ["校验结果", *before.sheetnames]
    assert after.active.title == "校验结果"
    assert sorted((n, d.attr_text) for n, d in after.defined_names.items()) == sorted(
        (n, d.attr_text) for n, d in before.defined_names.items()
    )
    for name in before.sheetnames:
        old, new = _snapshot(before[name]), _snapshot(after[name])
        # a cell that was not in the XML now is there, empty and marked: the values read the same
        assert new == old, name
    # only 校验结果 is selected
    assert [ws.title for ws in after.worksheets if ws.sheet_view.tabSelected] == ["校验结果"]


def _expected_marks(issues) -> dict[tuple[str, str], str]:
    """(sheet, anchor cell) -> severity, with merged-range cells moved to their top-left cell."""
    out: dict[tuple[str, str], str] = {}
    for r in issues.itertuples():
        if not r.cell:
            continue
        cell = "C7" if (r.sheet, r.cell) == ("问题清单", "C8") else r.cell
        key = (r.sheet, cell)
        out[key] = "error" if r.severity == "error" or out.get(key) == "error" else "warning"
    return out


@pytest.mark.parametrize("kind", list(BOOKS))
def test_each_issue_cell_is_filled_commented_and_otherwise_unchanged(marked, kind):
    src, issues, fb = marked[kind]
    before = openpyxl.load_workbook(src)
    after = openpyxl.load_workbook(fb)
    for (sheet, ref), sev in _expected_marks(issues).items():
        old, new = before[sheet][ref], after[sheet][ref]
        assert new.fill.fill_type == "solid" and new.fill.fgColor.rgb == "FF" + (
            RED if sev == "error" else YELLOW
        )
        for attr in ("font", "border", "alignment", "protection", "number_format"):
            assert repr(getattr(new, attr)) == repr(getattr(old, attr)), (sheet, ref, attr)
        assert new.value == old.value
        for r in issues[
            (issues["sheet"] == sheet) & (issues["cell"].isin([ref, "C8" if ref == "C7" else ref]))
        ].itertuples():
            assert r.message in new.comment.text, (sheet, ref)
            assert ADVICE[r.code] in new.comment.text
        if old.comment is not None:  # the clerk's own comment is kept, after ours
            assert new.comment.text.index("ledgerflow") < new.comment.text.index(old.comment.text)
    # every other comment of the clerk is as it was
    for ws in before.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.comment is not None and (ws.title, c.coordinate) not in _expected_marks(issues):
                    assert after[ws.title][c.coordinate].comment.text == c.comment.text
                    assert after[ws.title][c.coordinate].comment.author == c.comment.author


@pytest.mark.parametrize("kind", list(BOOKS))
def test_result_sheet_is_first_and_complete(marked, kind):
    src, issues, fb = marked[kind]
    wb = openpyxl.load_workbook(fb)
    assert wb.sheetnames[0] == "校验结果" and wb.active.title == "校验结果"
    header, rows, header_row = result_rows(wb)
    assert len(rows) == len(issues)
    assert {(r["工作表"], r["单元格"] or "", r["问题说明"]) for r in rows} == {
        (i.sheet, i.cell, i.message) for i in issues.itertuples()
    }
    assert [r["严重程度"] for r in rows] == sorted((r["严重程度"] for r in rows), key=lambda s: s != "错误")
    assert all(r["如何修改"] for r in rows)
    assert wb["校验结果"].freeze_panes == f"A{header_row + 1}"
    assert wb["校验结果"].auto_filter.ref == f"A{header_row}:H{header_row + len(rows)}"
    assert "原样保留" in wb["校验结果"]["A2"].value


@pytest.mark.parametrize("kind", list(BOOKS))
def test_calamine_reads_every_sheet_as_before(marked, kind):
    from python_calamine import CalamineWorkbook

    src, issues, fb = marked[kind]
    a, b = CalamineWorkbook.from_path(str(src)), CalamineWorkbook.from_path(str(fb))
    assert b.sheet_names == ["校验结果", *a.sheet_names]
    for name in a.sheet_names:
        old, new = a.get_sheet_by_name(name).to_python(), b.get_sheet_by_name(name).to_python()
        width = max((len(r) for r in old), default=0)
        pad = lambda rows, w=width: [list(r) + [""] * (w - len(r)) for r in rows]  # noqa: E731
        assert pad(new)[: len(old)] == pad(old) and not any(any(v != "" for v in r) for r in new[len(old) :])
    first = b.get_sheet_by_name("校验结果").to_python()
    assert any("错误" in r or "警告" in r for r in first)


def test_cells_not_in_the_xml_are_inserted_in_order(marked):
    import re

    src, _issues, fb = marked["openpyxl"]
    xml = _parts(fb)[_sheet_parts(fb)["问题清单"]].decode()
    rows = [int(r) for r in re.findall(r'<row r="(\d+)"', xml)]
    assert rows == sorted(rows) and 6 in rows  # the blank row 6 now holds B6
    for row in re.findall(r'<row r="\d+"[^>]*>(.*?)</row>', xml):
        cols = [openpyxl.utils.column_index_from_string(c) for c in re.findall(r'<c r="([A-Z]+)\d+"', row)]
        assert cols == sorted(cols)
    assert re.search(r'<c r="J5" s="\d+"/>', xml) and re.search(r'<c r="H5" s="\d+"/>', xml)
    # the <legacyDrawing> of the new comments comes after <drawing> (the chart), before <tableParts>/<extLst>
    assert xml.index("<drawing ") < xml.index("<legacyDrawing ")
    # the hand-made package: x: prefix, rows and cells without r, a CDATA section, <sheetData/>
    src, _issues, fb = marked["hand"]
    parts = _parts(fb)
    sheet = parts["xl/worksheets/sheet2.xml"].decode()
    assert '<![CDATA[<x:c r="B2">集中学习</x:c>]]>' in sheet
    assert '<x:row r="3"><x:c r="C3" s=' in sheet and '<x:c r="B4" s=' in sheet
    assert re.search(r'<x:c s="\d+" t="inlineStr"><x:is><x:t><!\[CDATA', sheet)
    assert '<x:sheetData><x:row r="1"><x:c r="A1" s=' in parts["xl/worksheets/sheet1.xml"].decode()
    assert "xl/styles.xml" in parts  # there was none: one was added, with its relationship
    wb = parts["xl/workbook.xml"].decode()
    assert 'localSheetId="2"' in wb and 'activeTab="0"' in wb and 'firstSheet="0"' in wb


def test_hardened_parser_refuses_declarations():
    from ledgerflow.outputs.markup import MarkupError, check_xml

    check_xml(b'<?xml version="1.0" encoding="UTF-8"?><a b="&amp;"/>')
    for bad in (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
        b'<!DOCTYPE a SYSTEM "http://example.com/a.dtd"><a/>',
        b"<a><b></a>",
        b'<?xml version="1.0" encoding="GB2312"?><a/>',
        "<a/>".encode("utf-16"),
    ):
        with pytest.raises(MarkupError):
            check_xml(bad)


def test_a_package_that_cannot_be_marked_up_gets_the_values_copy(tmp_path):
    src = tmp_path / "台账.xlsx"
    feedback_books.openpyxl_book(src)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp_path / "坏.xlsx", "w") as zout:
        for i in zin.infolist():
            data = zin.read(i)
            if i.filename == "xl/styles.xml":  # a DTD: refused by the markup (calamine ignores styles)
                data = data.replace(b"<styleSheet", b'<!DOCTYPE styleSheet [<!ENTITY e "x">]><styleSheet', 1)
            zout.writestr(i, data)
    issues = one_issue("坏.xlsx", "问题清单", "E4")
    out = write_feedback(tmp_path / "坏.xlsx", issues, tmp_path / "fb", unit_code="QX", rel_path="坏.xlsx")
    wb = openpyxl.load_workbook(out)
    assert "无法在原样上标注" in wb["校验结果"]["A2"].value
    assert wb["问题清单"]["E4"].fill.fgColor.rgb.endswith(RED)


@pytest.fixture(scope="module")
def soffice():
    import shutil

    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        if os.environ.get("LEDGERFLOW_REQUIRE_SOFFICE"):
            pytest.fail("LEDGERFLOW_REQUIRE_SOFFICE is set (.ci/run) but soffice is not installed")
        pytest.skip("LibreOffice (soffice) is not installed here; .ci/run installs libreoffice-calc for CI")
    return exe


def _convert(soffice, files, fmt, outdir, profile):
    import subprocess

    proc = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr


def test_libreoffice_opens_every_feedback_workbook(marked, soffice, tmp_path):
    """LibreOffice converts each feedback book (to PDF, and 校验结果 to CSV); the .xlsm's macro is
    imported (its module source ends up in the converted .ods)."""
    books = [fb for _src, _i, fb in marked.values()]
    profile = tmp_path / "lo-profile"
    _convert(soffice, books, "pdf", tmp_path / "pdf", profile)
    for fb in books:
        pdf = tmp_path / "pdf" / (fb.stem + ".pdf")
        assert pdf.exists() and pdf.stat().st_size > 1000 and pdf.read_bytes().startswith(b"%PDF")
    _convert(soffice, books, "csv:Text - txt - csv (StarCalc):44,34,76,1", tmp_path / "csv", profile)
    for kind, (_src, issues, fb) in marked.items():
        text = (tmp_path / "csv" / (fb.stem + ".csv")).read_text(encoding="utf-8")
        assert "台账校验结果" in text, kind  # the first sheet LibreOffice sees is ours
        for msg in issues["message"]:
            assert msg in text, (kind, msg)
    _src, _i, xlsm = marked["macro"]
    _convert(soffice, [xlsm], "ods", tmp_path / "ods", profile)
    with zipfile.ZipFile(tmp_path / "ods" / (xlsm.stem + ".ods")) as zf:
        modules = [
            zf.read(n).decode() for n in zf.namelist() if n.startswith("Basic/") and n.endswith("Module1.xml")
        ]
    assert modules and feedback_books.vba_project.__module__ and "LedgerflowTestMacro" in modules[0]


# --------------------------------------------------------------------------- scope, the run's step, check


def test_feedback_scope_is_what_the_unit_still_has_to_act_on():
    from ledgerflow.pipeline import feedback_scope

    subs = pd.DataFrame(
        [
            ("a/eff.xlsx", "A", "2023-12-10", "effective"),
            ("a/old.xlsx", "A", "2023-12-01", "superseded"),
            ("a/later.xlsx", "A", "2024-01-05", "later"),
            ("a/copy.xlsx", "A", "2023-12-10", "duplicate"),
            ("a/rejected-old.xlsx", "A", "2023-11-20", "rejected"),
            ("a/rejected-same.xlsx", "A", "2023-12-10", "rejected"),
            ("a/rejected-new.xlsx", "A", "2023-12-12", "rejected"),
            ("b/rejected.xlsx", "B", "2023-11-20", "rejected"),  # B has nothing effective
            ("c/unknown.xlsx", None, None, "rejected"),  # unit and date unknown
            ("x.pdf", None, None, "ignored"),
        ],
        columns=["path", "unit_code", "as_of", "status"],
    )
    subs["as_of"] = pd.to_datetime(subs["as_of"]).dt.date
    assert feedback_scope(subs) == {
        "a/eff.xlsx",
        "a/later.xlsx",
        "a/rejected-same.xlsx",
        "a/rejected-new.xlsx",
        "b/rejected.xlsx",
        "c/unknown.xlsx",
    }


def test_the_runs_feedback_step_keeps_the_scope_and_the_xlsm(tmp_path):
    from ledgerflow.discover import FileRef, sha256_of
    from ledgerflow.pipeline import write_feedback_books

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    books = {
        "QX-T01/宏.xlsm": lambda p: feedback_books.xlsxwriter_book(p, macro=True),
        "QX-T01/旧.xlsx": feedback_books.openpyxl_book,
    }
    frames, refs = [], []
    for rel, build in books.items():
        src = inbox / rel
        src.parent.mkdir(exist_ok=True)
        frames.append(build(src).assign(path=rel))
        refs.append(FileRef(rel, str(src), src.stat().st_size, sha256_of(src), "QX-T01", "workbook"))
    issues = pd.concat(frames, ignore_index=True)
    subs = pd.DataFrame(
        [
            ("QX-T01/宏.xlsm", "QX-T01", dt.date(2023, 12, 10), "effective"),
            ("QX-T01/旧.xlsx", "QX-T01", dt.date(2023, 12, 1), "superseded"),
        ],
        columns=["path", "unit_code", "as_of", "status"],
    )
    folder, cache = tmp_path / "out" / "feedback", tmp_path / "cache"
    res = write_feedback_books(issues, refs, folder, cache, 1, submissions=subs)
    assert res == {"written": 1, "rendered": 1}
    assert [p.name for p in folder.iterdir()] == ["QX-T01__宏.xlsm"]
    with zipfile.ZipFile(folder / "QX-T01__宏.xlsm") as zf:
        assert b"macroEnabled" in zf.read("[Content_Types].xml")
        assert zf.read("xl/vbaProject.bin") == feedback_books.vba_project()
    # a second run renders nothing; without the scope the superseded file gets its workbook too
    folder2 = tmp_path / "out2" / "feedback"
    assert write_feedback_books(issues, refs, folder2, cache, 1, submissions=subs) == {
        "written": 1,
        "rendered": 0,
    }
    assert write_feedback_books(issues, refs, tmp_path / "out3", cache, 1)["written"] == 2
    assert sorted(p.suffix for p in cache.iterdir()) == [".xlsm", ".xlsx"]


def test_check_writes_the_marked_up_workbook(tmp_path, capsys):
    from ledgerflow.cli import main

    src = tmp_path / "甲镇台账.xlsx"
    feedback_books.openpyxl_book(src)
    out = tmp_path / "check"
    code = main(["check", str(src), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code in (0, 1) and "反馈工作簿" in printed
    (fb,) = out.iterdir()
    wb = openpyxl.load_workbook(fb)
    assert wb.sheetnames == ["校验结果", *openpyxl.load_workbook(src).sheetnames]
    assert "原样保留" in wb["校验结果"]["A2"].value
    before, after = _parts(src), _parts(fb)
    assert before["xl/charts/chart1.xml"] == after["xl/charts/chart1.xml"]
    _header, rows, _ = result_rows(wb)
    for r in rows:
        if r["单元格"] and r["工作表"] in wb.sheetnames:
            cell = wb[r["工作表"]][r["单元格"]]
            merged = next((m for m in wb[r["工作表"]].merged_cells.ranges if cell.coordinate in m), None)
            if merged is not None:
                cell = wb[r["工作表"]].cell(merged.min_row, merged.min_col)
            assert cell.fill.fgColor.rgb in ("FF" + RED, "FF" + YELLOW), r
            assert r["问题说明"] in cell.comment.text
