"""summary.xlsx: one sheet per level, frozen headers, charts, the long table."""

from __future__ import annotations

import zipfile

import openpyxl
import pytest
from outputs_county import AS_OF

from ledgerflow.outputs import write_summary


@pytest.fixture
def summary(tmp_path, rollup, units):
    path = write_summary(rollup, units, tmp_path / "summary.xlsx", as_of=AS_OF)
    return path, openpyxl.load_workbook(path)


def _table(ws):
    """(header list, {unit name: {header: value}}, header row number)."""
    for r in range(1, 6):
        values = [c.value for c in ws[r]]
        if "单位名称" in values:
            header = values
            rows = {}
            for row in ws.iter_rows(min_row=r + 1, values_only=True):
                rec = dict(zip(header, row, strict=False))
                if rec.get("单位代码") not in (None, "", "口径"):
                    rows[rec["单位名称"]] = rec
            return header, rows, r
    raise AssertionError(f"no header row in {ws.title}")


def test_a_sheet_per_level_with_its_units(summary):
    _, wb = summary
    for sheet in ["县级", "乡镇级", "支部级"]:
        assert sheet in wb.sheetnames
    _, county, _ = _table(wb["县级"])
    _, towns, _ = _table(wb["乡镇级"])
    _, branches, _ = _table(wb["支部级"])
    assert set(county) == {"某某县委"}
    assert set(towns) == {"甲镇党委", "乙镇党委", "县档案馆党组", "县史志办党支部"}
    assert set(branches) == {"甲镇一村党支部", "甲镇二村党支部", "乙镇一村党支部"}


def test_columns_hold_total_or_own_as_stated(summary):
    _, wb = summary
    ws = wb["乡镇级"]
    header, towns, header_row = _table(ws)
    for col in [
        "调研课题",
        "已形成报告",
        "问题",
        "整改措施",
        "已整改",
        "整改率",
        "逾期问题",
        "读书班",
        "集中学习",
        "会议",
        "学习计划覆盖率",
        "报送状态",
    ]:
        assert col in header, col
    t02 = towns["乙镇党委"]
    assert t02["调研课题"] == 90  # total
    assert t02["已整改"] == 95
    assert t02["读书班"] == 3  # own (its total is 8)
    assert t02["整改率"] == pytest.approx(95 / 130)
    # the scope of each column is written next to the header
    scope_row = [c.value for c in ws[header_row + 1]]
    by_col = dict(zip(header, scope_row, strict=False))
    assert by_col["调研课题"] == "合计" and by_col["读书班"] == "本级"
    # percentages are formatted as percentages
    rate_col = header.index("整改率") + 1
    first_data = header_row + 2
    assert "%" in ws.cell(first_data, rate_col).number_format
    # the state of each unit's reporting in words
    assert t02["报送状态"] == "数据滞后"
    assert towns["甲镇党委"]["报送状态"] == "已报送"
    assert towns["县史志办党支部"]["报送状态"] == "无需报送"


def test_header_rows_are_frozen(summary):
    _, wb = summary
    for sheet in ["县级", "乡镇级", "支部级", "全部指标"]:
        ws = wb[sheet]
        assert ws.freeze_panes is not None, sheet
        _, _, header_row = _table(ws) if sheet != "全部指标" else (None, None, 1)
        frozen_row = openpyxl.utils.cell.coordinate_from_string(ws.freeze_panes)[1]
        assert frozen_row > header_row, sheet


def test_native_charts_over_the_township_sheet(summary):
    path, _ = summary
    with zipfile.ZipFile(path) as zf:
        charts = sorted(n for n in zf.namelist() if n.startswith("xl/charts/chart") and n.endswith(".xml"))
        assert len(charts) >= 2
        xml = [zf.read(n).decode("utf-8") for n in charts]
    assert all("乡镇级" in x for x in xml)  # the data comes from the township sheet
    assert any('<c:grouping val="stacked"/>' in x for x in xml)  # problem status, stacked
    assert any("调研课题" in x and "已形成报告" in x for x in xml)


def test_the_long_sheet_holds_every_county_and_township_figure(summary, rollup):
    _, wb = summary
    ws = wb["全部指标"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(rollup[rollup["level"] != "branch"])  # branches: rollup.csv and 支部级
    header = [c.value for c in ws[1]]
    recs = [dict(zip(header, r, strict=True)) for r in rows]
    (topics,) = [r for r in recs if r["单位代码"] == "QX" and r["指标"] == "research.topics"]
    assert topics["本级(own)"] == 11 and topics["合计(total)"] == 169
    (rate,) = [r for r in recs if r["单位代码"] == "QX" and r["指标"] == "rectification.close_rate"]
    assert rate["合计(total)"] == pytest.approx(190 / 256)  # never rounded in data


def test_no_townships_still_writes_a_workbook(tmp_path, rollup, units):
    only_root = units[units["code"] == "QX"]
    path = write_summary(rollup[rollup["unit_code"] == "QX"], only_root, tmp_path / "s.xlsx", as_of=AS_OF)
    wb = openpyxl.load_workbook(path)
    assert {"县级", "乡镇级", "支部级"} <= set(wb.sheetnames)
