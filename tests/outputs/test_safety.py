"""Text from units never becomes a formula, a hyperlink or an external link in our files."""

from __future__ import annotations

import csv
import io
import zipfile

import docx
import openpyxl
import pandas as pd
import pytest
import xlsxwriter
import xlwt
from outputs_county import AS_OF, DANGEROUS, ROOT, assert_no_formulas_or_links, make_rollup, make_units

from ledgerflow.outputs import neutralise, render_report, write_csv, write_feedback, write_summary
from ledgerflow.outputs.safe import new_workbook, write_text_cell

# give every township and branch a dangerous name
CODES = ["QX-T01", "QX-T02", "QX-D01", "QX-D02", "QX-T01-B001", "QX-T01-B002", "QX-T02-B001"]
BAD_NAMES = {code: DANGEROUS[i % len(DANGEROUS)] + f"单位{i}" for i, code in enumerate(CODES)}
BAD_NAMES["QX-T02"] = "https://example.com"
BAD_NAMES["QX-T01"] = '=HYPERLINK("https://example.com","点我")'


def _decoded(value):
    return value.replace("_x000D_", "\r") if isinstance(value, str) else value


def test_summary_keeps_dangerous_unit_names_as_text(tmp_path):
    path = write_summary(
        make_rollup(BAD_NAMES), make_units(BAD_NAMES), tmp_path / "summary.xlsx", as_of=AS_OF
    )
    assert_no_formulas_or_links(path)
    wb = openpyxl.load_workbook(path)
    # (a carriage return is stored as Excel's escape _x000D_, which openpyxl does not decode)
    names = {_decoded(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row}
    for name in BAD_NAMES.values():
        assert name in names  # shown exactly as written, as text
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)


def test_report_keeps_dangerous_unit_names_as_text(tmp_path, submissions):
    md, dx = render_report(
        make_rollup(BAD_NAMES),
        make_units(BAD_NAMES),
        submissions,
        unit_code=ROOT,
        as_of=AS_OF,
        out_dir=tmp_path,
    )
    table = docx.Document(str(dx)).tables[0]
    first_col = [r.cells[0].text for r in table.rows[1:]]
    assert "https://example.com" in first_col
    assert '=HYPERLINK("https://example.com","点我")' in first_col
    with zipfile.ZipFile(dx) as zf:
        assert "<w:hyperlink" not in zf.read("word/document.xml").decode("utf-8")


def _dangerous_source(path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "=问题清单"  # a sheet name that looks like a formula
    ws.append(["问题编号", "问题描述", "整改类型"])
    for i, text in enumerate(DANGEROUS, start=2):
        ws.cell(i, 1, f"P{i}")
        cell = ws.cell(i, 2, text)
        cell.data_type = "s"  # text that merely looks like a formula
        ws.cell(i, 3, "立行立改")
    ws["D2"] = "=1+2"  # a real formula in the clerk's workbook
    ws["E2"] = "链接"
    ws["E2"].hyperlink = "https://example.com"  # a real hyperlink in the clerk's workbook
    wb.save(path)


def test_feedback_writes_no_formula_or_link_of_its_own(tmp_path):
    """The feedback is the clerk's own workbook: their formulas and hyperlinks come back exactly as
    they sent them, no more and no fewer; everything ledgerflow adds (校验结果, comments) is text."""
    import re

    src = tmp_path / "台账.xlsx"
    _dangerous_source(src)
    issues = pd.DataFrame(
        [
            {
                "path": "台账.xlsx",
                "unit_code": "QX-T01",
                "sheet": "=问题清单",
                "row": i,
                "column": text,
                "cell": f"B{i}",
                "code": "E_VOCAB",
                "severity": "error",
                "message": text,
                "value": text,
            }
            for i, text in enumerate(DANGEROUS, start=2)
        ]
    )
    out = write_feedback(src, issues, tmp_path / "fb", unit_code="=cmd", rel_path="台账.xlsx")
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        before = {n: a.read(n) for n in a.namelist()}
        after = {n: b.read(n) for n in b.namelist()}
    added = [n for n in after if n not in before]
    assert added and not any(n.startswith("xl/externalLinks/") for n in after)
    for n in added:  # 校验结果, the comments, the VML drawing, the sheet's rels
        text = after[n].decode("utf-8")
        assert "<f>" not in text and "<f " not in text and "<hyperlink" not in text, n
        assert "relationships/hyperlink" not in text and "externalLink" not in text, n

    def links(xml: bytes) -> list:
        return re.findall(rb"<f[ >].*?</f>|<hyperlink [^>]*>", xml)

    for n in before:
        if n.startswith("xl/worksheets/") and n.endswith(".xml"):
            assert links(after[n]) == links(before[n]), n  # the clerk's D2 formula and E2 link
        if n.endswith(".rels"):
            assert after[n].count(b"relationships/hyperlink") == before[n].count(b"relationships/hyperlink")
    wb = openpyxl.load_workbook(out)
    ws = wb["=问题清单"]
    for i, text in enumerate(DANGEROUS, start=2):
        assert _decoded(ws.cell(i, 2).value) == text and ws.cell(i, 2).data_type == "s"
        assert text.strip() in _decoded(ws.cell(i, 2).comment.text)
    results = wb["校验结果"]
    assert all(c.data_type != "f" and c.hyperlink is None for row in results.iter_rows() for c in row)
    values = [c.value for row in results.iter_rows() for c in row if isinstance(c.value, str)]
    assert "https://example.com" in values and "=1+1" in values and "=问题清单" in values
    assert any("=cmd" in v for v in values)


def test_feedback_from_xls_with_dangerous_values(tmp_path):
    src = tmp_path / "台账.xls"
    book = xlwt.Workbook()
    ws = book.add_sheet("学习台账")
    for i, text in enumerate(DANGEROUS):
        ws.write(i, 0, text)
    book.save(str(src))
    issues = pd.DataFrame(
        [
            {
                "path": "台账.xls",
                "unit_code": "QX",
                "sheet": "学习台账",
                "row": 1,
                "column": "日期",
                "cell": "A1",
                "code": "E_DATE",
                "severity": "error",
                "message": "=日期无法识别",
            }
        ]
    )
    out = write_feedback(src, issues, tmp_path / "fb", unit_code="QX", rel_path="台账.xls")
    assert_no_formulas_or_links(out)
    wb = openpyxl.load_workbook(out)
    assert wb["学习台账"]["A1"].value == "=1+1"
    assert wb["学习台账"]["A7"].value == "https://example.com"


def test_write_text_cell_with_any_workbook_options(tmp_path):
    """Even without the workbook options, write_text_cell keeps text as text."""
    path = tmp_path / "plain.xlsx"
    wb = xlsxwriter.Workbook(str(path))  # default options: strings_to_urls is on
    ws = wb.add_worksheet()
    for i, text in enumerate(DANGEROUS):
        write_text_cell(ws, i, 0, text)
    wb.close()
    assert_no_formulas_or_links(path)
    path2 = tmp_path / "opts.xlsx"
    wb = new_workbook(path2)
    ws = wb.add_worksheet()
    ws.write(0, 0, "=1+1")  # even a careless write() stays text with our options
    ws.write(1, 0, "https://example.com")
    wb.close()
    assert_no_formulas_or_links(path2)


@pytest.mark.parametrize("text", DANGEROUS)
def test_neutralise_prefixes_an_apostrophe(text):
    assert neutralise(text) == ("'" + text if text[0] in "=+-@\t\r" else text)


def test_neutralise_leaves_ordinary_text_alone():
    for text in ["甲镇党委", "QX-T01", "2023-12-15", "", "a=b", "78.1%"]:
        assert neutralise(text) == text


def test_csv_is_utf8_bom_neutralised_and_without_nan(tmp_path):
    df = pd.DataFrame(
        {
            "unit_code": [
                "QX",
                "QX-T01",
                "QX-T02",
                "QX-D01",
                "QX-D02",
                "QX-T01-B001",
                "QX-T01-B002",
                "QX-T02-B001",
            ],
            "unit_name": DANGEROUS,
            "own": [1.0, None, 0.78125, -5, 3, float("nan"), 2.0, 0],
            "note": ["多行\n文本", "含,逗号", '含"引号', None, "", "普通", "甲镇", "乙镇"],
        }
    )
    path = write_csv(df, tmp_path / "out.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" not in raw.replace(b"\r=1+1", b"")  # line ends are \n (the \r cell is data)
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0] == "unit_code,unit_name,own,note"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 1 + len(df)
    names = [r[1] for r in rows[1:]]
    for written, original in zip(names, DANGEROUS, strict=True):
        if original[0] in "=+-@\t\r":
            assert written == "'" + original
        else:  # a plain URL is not a formula: left as it is
            assert written == original
    own = [r[2] for r in rows[1:]]
    assert own == ["1", "", "0.78125", "-5", "3", "", "2", "0"]  # numbers stay numbers, no NaN
    notes = [r[3] for r in rows[1:]]
    assert notes[:5] == ["多行\n文本", "含,逗号", '含"引号', "", ""]
    assert "nan" not in text.lower()
