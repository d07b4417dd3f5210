"""The registry workbook's rows kept beside the warehouse (issue #15): a run reads an unchanged
registry without a child process, and a changed, replaced or broken one is read afresh."""

from __future__ import annotations

import json
from datetime import date

import openpyxl
import pytest

from ledgerflow import registry as reg_mod
from ledgerflow.pipeline import load_registry, registry_cache
from ledgerflow.registry import RegistryError, read_registry

HEADER = ["单位代码", "单位名称", "单位类型", "上级单位代码", "别名", "是否报送", "成立日期"]
ROWS = [
    ["QX", "中共清溪县委员会", "县委", None, None, "是", date(1950, 1, 1)],
    ["QX-T01", "城关镇党委", "乡镇党委", "QX", "城关镇", "是", date(1951, 7, 1)],
    ["QX-T01-B001", "城关镇东街村党支部", "党支部", "QX-T01", "东街村", "否", None],
]


def _write(path, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


@pytest.fixture(autouse=True)
def _fresh_memo():
    reg_mod._MEMO.clear()
    yield
    reg_mod._MEMO.clear()


def _limits():
    from ledgerflow.settings import Settings

    return Settings().limits


def _units(r):
    return {code: (u.name, u.parent, u.must_report) for code, u in r.units.items()}


def test_a_second_read_of_the_same_registry_starts_no_child(tmp_path, tpl, monkeypatch):
    path = _write(tmp_path / "registry.xlsx", ROWS)
    warehouse = tmp_path / "w.duckdb"
    first = load_registry(path, tpl, warehouse)
    assert registry_cache(warehouse).is_file()

    def no_child(*args, **kwargs):
        raise AssertionError("the registry was read in a child process again")

    monkeypatch.setattr("ledgerflow.sandbox.call_isolated", no_child)
    reg_mod._MEMO.clear()  # a new run: only the file beside the warehouse is left
    again = load_registry(path, tpl, warehouse)
    assert _units(again) == _units(first)
    assert _units(first)["QX-T01-B001"] == ("城关镇东街村党支部", "QX-T01", False)


def test_cached_rows_keep_their_types(tmp_path, tpl):
    path = _write(tmp_path / "registry.xlsx", ROWS)
    cache = tmp_path / "rows.json"
    rows = reg_mod._read_rows(path, _limits(), cache)
    reg_mod._MEMO.clear()
    again = reg_mod._read_rows(path, _limits(), cache)
    assert again == rows
    assert [type(v) for v in again[1]] == [type(v) for v in rows[1]]
    assert str(rows[1][6]).startswith("1950-01-01")


def test_an_edited_registry_is_read_again(tmp_path, tpl):
    path = _write(tmp_path / "registry.xlsx", ROWS)
    warehouse = tmp_path / "w.duckdb"
    load_registry(path, tpl, warehouse)
    _write(path, [*ROWS, ["QX-T02", "黄土岭乡党委", "乡镇党委", "QX", None, "是", None]])
    assert "QX-T02" in load_registry(path, tpl, warehouse).units


def test_a_broken_cache_file_is_only_a_missed_shortcut(tmp_path, tpl):
    path = _write(tmp_path / "registry.xlsx", ROWS)
    warehouse = tmp_path / "w.duckdb"
    expected = _units(load_registry(path, tpl, warehouse))
    cache = registry_cache(warehouse)
    for junk in ("{not json", json.dumps({"key": json.loads(cache.read_text())["key"], "rows": 7}), "[]"):
        cache.write_text(junk, encoding="utf-8")
        reg_mod._MEMO.clear()
        assert _units(load_registry(path, tpl, warehouse)) == expected


def test_a_cache_for_other_bytes_is_not_used(tmp_path, tpl):
    """Rows cached for one registry are never taken for another file's (keyed by the bytes)."""
    a = _write(tmp_path / "a.xlsx", ROWS)
    b = _write(tmp_path / "b.xlsx", ROWS[:2])
    warehouse = tmp_path / "w.duckdb"
    load_registry(a, tpl, warehouse)
    reg_mod._MEMO.clear()
    assert "QX-T01-B001" not in load_registry(b, tpl, warehouse).units


def test_an_unreadable_registry_still_says_why(tmp_path, tpl):
    path = tmp_path / "registry.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(RegistryError, match="组织架构文件registry.xlsx无法读取"):
        read_registry(path, tpl, cache=tmp_path / "rows.json")
    assert not (tmp_path / "rows.json").exists()
