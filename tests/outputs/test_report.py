"""report.md / report.docx: the figures a county office reads, in the right scope and format."""

from __future__ import annotations

import re
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from outputs_county import AS_OF, ROOT

from ledgerflow.outputs import render_report
from ledgerflow.outputs.report import format_pct


def _has_number(text: str, number: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.]|%)", text) is not None


def _parts(document) -> dict[str, str]:
    """Heading 1 text -> the body text under it (paragraphs and tables)."""
    parts: dict[str, list[str]] = {}
    current = None
    body = document.element.body
    for child in body.iterchildren():
        if child.tag == qn("w:p"):
            p = docx.text.paragraph.Paragraph(child, document)
            if p.style.name == "Heading 1":
                current = p.text
                parts[current] = []
            elif current is not None:
                parts[current].append(p.text)
        elif child.tag == qn("w:tbl") and current is not None:
            t = docx.table.Table(child, document)
            parts[current].extend(c.text for row in t.rows for c in row.cells)
    return {k: "\n".join(v) for k, v in parts.items()}


@pytest.fixture
def county_report(tmp_path, rollup, units, submissions):
    md, dx = render_report(rollup, units, submissions, unit_code=ROOT, as_of=AS_OF, out_dir=tmp_path)
    return md, dx


def test_writes_both_files_with_the_report_date(county_report):
    md, dx = county_report
    assert md.name == "report.md" and dx.name == "report.docx"
    assert "2023年12月15日" in md.read_text(encoding="utf-8")
    text = "\n".join(p.text for p in docx.Document(str(dx)).paragraphs)
    assert "2023年12月15日" in text
    assert "2023-12-15" not in text


def test_four_parts_in_the_seed_order_then_submissions(county_report):
    _, dx = county_report
    headings = [p.text for p in docx.Document(str(dx)).paragraphs if p.style.name == "Heading 1"]
    assert len(headings) == 5
    for heading, word in zip(headings, ["部署", "学习", "调", "整改", "报送"], strict=True):
        assert word in heading, headings


def test_every_county_report_figure_in_its_part_and_scope(county_report):
    _, dx = county_report
    parts = _parts(docx.Document(str(dx)))

    def part(word: str) -> str:
        (text,) = [t for h, t in parts.items() if word in h]
        return text

    deploy, study, research, rect, subs = (part(w) for w in ["部署", "学习", "调", "整改", "报送"])

    # 部署: own work plans 3 (not 41), responsibility lists 4 (not 38), working groups 6 (not 33);
    # progress tables: units of the whole county, 17
    for shown, hidden in [("3", "41"), ("4", "38"), ("6", "33"), ("17", None)]:
        assert _has_number(deploy, shown), (shown, deploy)
        if hidden:
            assert not _has_number(deploy, hidden), (hidden, deploy)
    # 学习: reading classes 7, group study 27, video seminars 5 (own); plans 812, coverage 78.1% (total)
    for shown, hidden in [("7", "52"), ("27", "260"), ("5", "31"), ("812", "40")]:
        assert _has_number(study, shown), (shown, study)
        assert not _has_number(study, hidden), (hidden, study)
    assert "78.1%" in study and "88.9%" not in study
    # 调研: all totals
    for shown, hidden in [("169", "11"), ("9", None), ("4", None), ("132", "10"), ("37", None)]:
        assert _has_number(research, shown), (shown, research)
        if hidden:
            assert not _has_number(research, hidden), (hidden, research)
    # 检视整改: meetings own (2 and 3, not 19 and 23); problems etc. totals
    for shown, hidden in [
        ("2", "19"),
        ("3", "23"),
        ("256", "20"),
        ("436", "35"),
        ("190", "16"),
        ("13", None),
        ("21", None),
        ("29", None),
    ]:
        assert _has_number(rect, shown), (shown, rect)
        if hidden:
            assert not _has_number(rect, hidden), (hidden, rect)
    assert "74.2%" in rect and "80.0%" not in rect.split("\n")[0]
    # 报送: received 4 of expected 6 (totals), rate 66.7%
    first = subs.split("\n")[0]
    assert _has_number(first, "4") and _has_number(first, "6") and "66.7%" in first


def test_the_markdown_holds_the_same_figures(county_report):
    md, _ = county_report
    text = md.read_text(encoding="utf-8")
    for value in ["169", "132", "256", "436", "190", "74.2%", "78.1%", "812", "66.7%"]:
        assert value in text


def test_township_table_lists_children_with_their_totals(county_report):
    _, dx = county_report
    document = docx.Document(str(dx))
    (table,) = document.tables
    header = [c.text for c in table.rows[0].cells]
    for col in ["调研课题", "调研报告", "问题", "已整改", "整改率", "逾期"]:
        assert col in header
    rows = {r.cells[0].text: [c.text for c in r.cells] for r in table.rows[1:]}
    # township-level units only, no branches
    assert set(rows) == {"甲镇党委", "乙镇党委", "县档案馆党组", "县史志办党支部"}
    t02 = dict(zip(header, rows["乙镇党委"], strict=True))
    assert t02["调研课题"] == "90" and t02["调研报告"] == "71" and t02["问题"] == "130"
    assert t02["已整改"] == "95" and t02["整改率"] == "73.1%" and t02["逾期"] == "7"
    # the table is a real Word table with a grid
    assert table.style.name == "Table Grid"


def test_missing_and_stale_units_are_named(county_report):
    _, dx = county_report
    parts = _parts(docx.Document(str(dx)))
    (subs,) = [t for h, t in parts.items() if "报送" in h]
    missing_part = subs.split("应报未报")[1].split("数据滞后单位")[0]
    stale_part = subs.split("数据滞后单位")[-1]
    # must report, no effective submission (one only rejected, one nothing effective)
    assert "甲镇二村党支部" in missing_part and "乙镇一村党支部" in missing_part
    # need not report: never listed as missing
    assert "县史志办党支部" not in missing_part and "县档案馆党组" not in missing_part
    assert "甲镇党委" not in missing_part
    # 乙镇党委's effective ledger is of 20 November, 25 days before the report
    assert "乙镇党委" in stale_part and "2023年11月20日" in stale_part
    # 甲镇党委 (10 December) is recent; the archive need not report
    assert "甲镇党委" not in stale_part and "县档案馆党组" not in stale_part


def test_docx_uses_heading_styles_and_a_chinese_font(county_report):
    _, dx = county_report
    document = docx.Document(str(dx))
    styles = {p.style.name for p in document.paragraphs}
    assert "Title" in styles and "Heading 1" in styles
    rfonts = document.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert rfonts.get(qn("w:eastAsia")) in {"仿宋", "宋体", "仿宋_GB2312"}
    h_fonts = document.styles["Heading 1"].element.rPr.find(qn("w:rFonts"))
    assert h_fonts.get(qn("w:eastAsia"))


def test_report_for_a_township_uses_its_own_figures_and_children(tmp_path, rollup, units, submissions):
    md, dx = render_report(rollup, units, submissions, unit_code="QX-T02", as_of=AS_OF, out_dir=tmp_path)
    document = docx.Document(str(dx))
    assert "乙镇党委" in document.paragraphs[0].text
    text = md.read_text(encoding="utf-8")
    assert "90" in text and "169" not in text  # its own total of topics, not the county's
    (table,) = document.tables
    assert [r.cells[0].text for r in table.rows[1:]] == ["乙镇一村党支部"]
    assert "甲镇二村党支部" not in text  # another township's missing branch is not its business
    assert "乙镇一村党支部" in text.split("应报未报")[1]


def test_an_edited_template_is_used(tmp_path, rollup, units, submissions):
    tdir = tmp_path / "tpl"
    tdir.mkdir()
    (tdir / "report.md.j2").write_text(
        "# {{ unit.name }}简报\n\n## 调研\n\n全县课题{{ total['research.topics'] }}个。\n", encoding="utf-8"
    )
    md, dx = render_report(
        rollup, units, submissions, unit_code=ROOT, as_of=AS_OF, out_dir=tmp_path / "out", template_dir=tdir
    )
    assert "全县课题169个" in md.read_text(encoding="utf-8")
    assert any("全县课题169个" in p.text for p in docx.Document(str(dx)).paragraphs)


def test_a_typo_in_a_template_key_is_an_error_not_a_blank(tmp_path, rollup, units, submissions):
    tdir = tmp_path / "tpl"
    tdir.mkdir()
    (tdir / "report.md.j2").write_text("{{ total['research.topicz'] }}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="research.topicz"):
        render_report(
            rollup, units, submissions, unit_code=ROOT, as_of=AS_OF, out_dir=tmp_path, template_dir=tdir
        )


def test_empty_ratio_and_unknown_unit(tmp_path, rollup, units, submissions):
    rollup = rollup.copy()
    mask = (rollup["unit_code"] == ROOT) & (rollup["key"] == "rectification.close_rate")
    rollup.loc[mask, "total"] = None
    md, _ = render_report(rollup, units, submissions, unit_code=ROOT, as_of=AS_OF, out_dir=tmp_path)
    text = md.read_text(encoding="utf-8")
    assert "整改率—" in text and "nan" not in text.lower()
    with pytest.raises(ValueError):
        render_report(rollup, units, submissions, unit_code="NOPE", as_of=AS_OF, out_dir=tmp_path)


@pytest.mark.parametrize(
    ("fraction", "shown"),
    [(0.7813, "78.1%"), (0.78125, "78.1%"), (0.0625, "6.3%"), (1.0, "100.0%"), (0.0, "0.0%"), (None, "—")],
)
def test_percentages_have_one_decimal_rounded_half_up(fraction, shown):
    assert format_pct(fraction) == shown


def test_output_dir_is_created(tmp_path, rollup, units, submissions):
    out = tmp_path / "a" / "b"
    md, dx = render_report(rollup, units, submissions, unit_code=ROOT, as_of=AS_OF, out_dir=out)
    assert Path(md).parent == out and dx.exists()
