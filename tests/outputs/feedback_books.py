"""Clerks' workbooks decorated with real libraries, for the feedback markup tests, and the issues
each one gets.

* :func:`openpyxl_book` — column widths, fonts, fills, borders, number formats, a data-validation
  drop-down, conditional formatting, a freeze pane, the clerk's own comments (one on a cell that
  gets an issue), workbook- and sheet-scoped defined names and a print area, a hidden sheet, a
  merged range, a chart, a blank row, an unstyled cell, the second sheet selected.
* :func:`xlsxwriter_book` — the same kinds of decoration written by xlsxwriter, plus a picture, and
  with ``macro=True`` an .xlsm with a real VBA project (:mod:`vba_project`).
* :func:`hand_book` — a package written by hand the way other generators do it: the ``x:``
  prefix for SpreadsheetML, rows and cells without ``r``, no styles part, an XML comment and a CDATA
  section, a sheet with ``<sheetData/>``.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from vba_project import vba_project

HEADERS = ["序号", "问题编号", "问题描述", "问题来源", "整改类型", "整改时限", "整改状态", "销号日期"]


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small solid PNG (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">LLBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def issue(path, sheet, cell, code="E_VOCAB", severity="error", message="有问题", column="", value=None):
    return {
        "path": path,
        "unit_code": "QX-T01",
        "sheet": sheet,
        "row": int("".join(ch for ch in cell if ch.isdigit())) if cell else None,
        "column": column,
        "cell": cell,
        "code": code,
        "severity": severity,
        "message": message,
        "value": value,
    }


# --------------------------------------------------------------------------- openpyxl


def openpyxl_book(path: Path) -> pd.DataFrame:
    """Write the decorated openpyxl workbook; return its issues."""
    wb = openpyxl.Workbook()
    info = wb.active
    info.title = "填报信息"
    for r, (k, v) in enumerate(
        [("单位代码", "QX-T01"), ("单位名称", "甲镇"), ("统计截止日期", dt.date(2023, 12, 10))], 1
    ):
        info.cell(r, 1, k).font = Font(bold=True)
        info.cell(r, 2, v)
    info["B3"].number_format = 'yyyy"年"m"月"d"日"'
    info.column_dimensions["A"].width = 16
    info.column_dimensions["B"].width = 24

    ws = wb.create_sheet("问题清单")
    ws["A1"] = "甲镇主题教育问题清单"
    ws["A1"].font = Font(name="黑体", size=16, bold=True, color="FF1F4E79")
    ws.merge_cells("A1:H1")
    thin = Side(style="thin", color="FF000000")
    for c, h in enumerate(HEADERS, start=1):
        cell = ws.cell(3, c, h)
        cell.font = Font(bold=True, color="FFFFFFFF")
        cell.fill = PatternFill("solid", fgColor="FF4472C4")
        cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    rows = [
        [1, "P1", "学习不够深入", "自我检视", "马上改掉", dt.date(2023, 12, 31), "整改中", None],
        [2, "P2", "调研不够扎实", "巡察", "限期整改", dt.date(2023, 11, 30), "已整改", None],
        None,  # a blank row: row 6 is not in the sheet XML at all
        [3, "P3", "合并的问题描述", "上级点评", "长期坚持", dt.date(2024, 1, 15), "整改中", None],
        [4, "P4", None, "群众反映", "限期整改", dt.date(2023, 12, 20), "整改中", 12.5],
    ]
    for i, row in enumerate(rows):
        if row is None:
            continue
        r = 4 + i
        for c, v in enumerate(row, start=1):
            if v is None:
                continue
            cell = ws.cell(r, c, v)
            if c != 8:  # column H stays unstyled: its cells have no s attribute
                cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            if isinstance(v, dt.date):
                cell.number_format = 'yyyy"年"m"月"d"日"'
    ws["E4"].font = Font(italic=True, color="FFC00000")
    ws["H8"].number_format = "0.00"
    ws.merge_cells("C7:C8")
    widths = {"A": 6, "B": 10, "C": 30, "D": 12, "E": 12, "F": 16, "G": 10, "H": 14}
    for col, w in widths.items():
        ws.column_dimensions[col].width = w
    ws.row_dimensions[3].height = 30
    ws.freeze_panes = "A4"
    dv = DataValidation(type="list", formula1="=下拉选项!$A$1:$A$3", allow_blank=True)
    dv.add("G4:G100")
    ws.add_data_validation(dv)
    dv2 = DataValidation(type="whole", operator="between", formula1="0", formula2="1000")
    dv2.add("A4:A100")
    ws.add_data_validation(dv2)
    ws.conditional_formatting.add(
        "F4:F100",
        CellIsRule(
            operator="lessThan", formula=["DATE(2023,12,1)"], fill=PatternFill("solid", fgColor="FFFFC000")
        ),
    )
    ws["E4"].comment = Comment("单位自己的批注：请核实整改类型", "张三")
    ws["B4"].comment = Comment("单位自己的批注：编号规则见说明", "张三")
    ws.print_area = "A1:H8"
    chart = BarChart()
    chart.title = "问题数"
    chart.add_data(Reference(ws, min_col=1, min_row=4, max_row=8))
    ws.add_chart(chart, "J3")

    opts = wb.create_sheet("下拉选项")
    for r, v in enumerate(["整改中", "已整改", "长期坚持"], start=1):
        opts.cell(r, 1, v)
    opts.sheet_state = "hidden"
    wb.create_sheet("填表说明")["A1"] = "请按模板填写"

    wb.defined_names["单位代码"] = DefinedName("单位代码", attr_text="填报信息!$B$1")
    ws.defined_names["本表问题"] = DefinedName("本表问题", attr_text="问题清单!$B$4:$B$8")
    wb.active = 1  # the clerk last looked at 问题清单: it is the selected tab
    wb.save(path)
    p = path.name
    return pd.DataFrame(
        [
            issue(
                p,
                "问题清单",
                "E4",
                message="“整改类型”的值“马上改掉”不在规定选项中",
                column="整改类型",
                value="马上改掉",
            ),
            issue(p, "问题清单", "H5", "W_CLOSED_NO_DATE", "warning", "问题已整改但没有销号日期", "销号日期"),
            issue(p, "问题清单", "B6", "E_REQUIRED", "error", "问题编号不能为空（空行）", "问题编号"),
            issue(p, "问题清单", "C8", "E_REQUIRED", "error", "合并单元格内的问题", "问题描述"),
            issue(p, "问题清单", "C8", "W_DATE_RANGE", "warning", "同一单元格的第二个问题", "问题描述"),
            issue(p, "问题清单", "H8", "E_NUMBER", "error", "销号日期不是日期", "销号日期", value="12.5"),
            issue(
                p, "问题清单", "J5", "W_EXTRA_COLUMN", "warning", "一个不在 XML 里的单元格，在已有行的末尾"
            ),
            issue(p, "问题清单", "", "E_COLUMNS", "error", "缺少必填列“责任人”"),
            issue(
                p, "填报信息", "B2", "W_UNIT_NAME", "warning", "单位名称“甲镇”与组织架构不一致", value="甲镇"
            ),
            issue(p, "下拉选项", "A2", "W_SHEET_IGNORED", "warning", "隐藏表上的问题"),
        ]
    )


# --------------------------------------------------------------------------- xlsxwriter


def xlsxwriter_book(path: Path, *, macro: bool = False) -> pd.DataFrame:
    """Write the decorated xlsxwriter workbook (.xlsm with a VBA project when ``macro``)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
    head = wb.add_format(
        {"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center", "font_name": "宋体"}
    )
    date = wb.add_format({"num_format": "yyyy-mm-dd", "border": 1})
    money = wb.add_format({"num_format": "#,##0.00", "font_color": "#1F4E79"})
    info = wb.add_worksheet("填报信息")
    info.write_row(0, 0, ["单位代码", "QX-T01"])
    info.write_row(1, 0, ["单位名称", "甲镇党委"])
    info.write_datetime(2, 1, dt.datetime(2023, 12, 10), date)
    info.write_string(2, 0, "统计截止日期")
    ws = wb.add_worksheet("学习台账")
    ws.write_row(0, 0, ["日期", "学习形式", "参加人数", "经费", "备注"], head)
    data = [
        (dt.datetime(2023, 9, 15), "集中学习", "三十多人", 1200.5),
        (dt.datetime(2023, 10, 8), "专题党课", 45, 800),
        (dt.datetime(2023, 11, 2), "读书班", 28, 0),
    ]
    for i, (d, kind, n, cost) in enumerate(data, start=1):
        ws.write_datetime(i, 0, d, date)
        ws.write_string(i, 1, kind)
        if isinstance(n, str):
            ws.write_string(i, 2, n)
        else:
            ws.write_number(i, 2, n)
        ws.write_number(i, 3, cost, money)
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 18)
    ws.set_column(4, 4, 30)
    ws.freeze_panes(1, 1)
    ws.data_validation(
        "B2:B50", {"validate": "list", "source": ["集中学习", "专题党课", "读书班", "研讨交流"]}
    )
    ws.conditional_format(
        "C2:C50",
        {"type": "cell", "criteria": ">", "value": 40, "format": wb.add_format({"bg_color": "#C6EFCE"})},
    )
    ws.write_comment("B3", "单位自己的批注：党课由书记讲授", {"author": "李四"})
    ws.insert_image("G2", "logo.png", {"image_data": io.BytesIO(png())})
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"values": "=学习台账!$C$3:$C$4", "name": "人数"})
    ws.insert_chart("G8", chart)
    hidden = wb.add_worksheet("下拉选项")
    hidden.write_column(0, 0, ["集中学习", "专题党课", "读书班"])
    hidden.hide()
    wb.define_name("学习形式", "=下拉选项!$A$1:$A$3")
    wb.define_name("学习台账!本表日期", "=学习台账!$A$2:$A$4")
    ws.activate()
    if macro:
        wb.add_vba_project(io.BytesIO(vba_project()), is_stream=True)
        wb.set_vba_name("ThisWorkbook")
    wb.close()
    p = path.name
    return pd.DataFrame(
        [
            issue(p, "学习台账", "C2", "E_NUMBER", "error", "“参加人数”应为整数", "参加人数", "三十多人"),
            issue(
                p,
                "学习台账",
                "B3",
                "E_VOCAB",
                "error",
                "学习形式不在选项中（批注合并）",
                "学习形式",
                "专题党课",
            ),
            issue(p, "学习台账", "A4", "W_DATE_RANGE", "warning", "日期不在主题教育期间", "日期"),
            issue(p, "学习台账", "E3", "E_REQUIRED", "error", "备注不能为空（行内缺的单元格）", "备注"),
            issue(p, "学习台账", "D9", "E_REQUIRED", "error", "一个数据下方不存在的行", "经费"),
            issue(
                p, "填报信息", "B2", "W_UNIT_NAME", "warning", "单位名称与组织架构不一致", value="甲镇党委"
            ),
        ]
    )


# --------------------------------------------------------------------------- by hand

_HAND_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/worksheets/sheet2.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="R1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="/xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<x:workbook xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:rel="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<x:bookViews><x:workbookView activeTab="1" firstSheet="1"/></x:bookViews>'
        '<x:sheets><x:sheet name="空表" sheetId="7" rel:id="R1"/><x:sheet name="学习台账" sheetId="3" rel:id="R2"/></x:sheets>'
        '<x:definedNames><x:definedName name="_xlnm.Print_Area" localSheetId="1">学习台账!$A$1:$C$4</x:definedName>'
        "</x:definedNames></x:workbook>"
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="R1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="/xl/worksheets/sheet1.xml"/>'
        '<Relationship Id="R2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'worksheet" Target="worksheets/sheet2.xml"/></Relationships>'
    ),
    "xl/worksheets/sheet1.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData/></x:worksheet>'
    ),
    # rows and cells without r, an XML comment and a CDATA section holding text that looks like markup
    "xl/worksheets/sheet2.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<x:sheetViews><x:sheetView tabSelected="1" workbookViewId="0"/></x:sheetViews><x:sheetData>'
        '<x:row><x:c t="inlineStr"><x:is><x:t>日期</x:t></x:is></x:c><x:c t="inlineStr"><x:is><x:t>形式</x:t></x:is></x:c>'
        '<x:c t="inlineStr"><x:is><x:t>人数</x:t></x:is></x:c></x:row>'
        '<!-- <x:row r="2"><x:c r="B2"/></x:row> -->'
        '<x:row><x:c><x:v>45184</x:v></x:c><x:c t="inlineStr"><x:is><x:t><![CDATA[<x:c r="B2">集中学习</x:c>]]></x:t>'
        "</x:is></x:c><x:c><x:v>30</x:v></x:c></x:row>"
        '<x:row r="4"><x:c r="A4"><x:v>45200</x:v></x:c><x:c r="C4"><x:v>12</x:v></x:c></x:row>'
        "</x:sheetData></x:worksheet>"
    ),
}


def hand_book(path: Path) -> pd.DataFrame:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in _HAND_PARTS.items():
            zf.writestr(name, text.encode("utf-8"))
    p = path.name
    return pd.DataFrame(
        [
            issue(p, "学习台账", "B2", "E_VOCAB", "error", "形式不在选项中（CDATA 里像标记的文字）"),
            issue(p, "学习台账", "B4", "E_REQUIRED", "error", "没有 r 的行之后缺的单元格"),
            issue(p, "学习台账", "C3", "E_NUMBER", "warning", "一个不存在的行"),
            issue(p, "空表", "A1", "E_REQUIRED", "error", "空表上的单元格"),
        ]
    )
