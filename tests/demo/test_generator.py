"""Tests of the demo county generator: files are read back with python-calamine and openpyxl."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import sys
import zipfile
from collections import Counter
from pathlib import Path

import openpyxl
import pytest
import python_calamine as pc

from ledgerflow.demo import (
    ERROR_CODES,
    SECTION8_FORMS,
    UNREADABLE_VARIANTS,
    WARNING_CODES,
    Mess,
    applicable_defects,
    generate_county,
    write_defective_workbook,
    write_unreadable,
    write_workbook,
)
from ledgerflow.demo import content as C
from ledgerflow.demo.generator import build_units, make_history, snapshot
from ledgerflow.demo.writer import canonical_ledger

sys.path.insert(0, str(Path(__file__).parent))
import _decode as D  # noqa: E402


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("yl40")
    truth = generate_county(root, n_units=40, seed=2023)
    return root, truth


def _workbooks(truth: dict, *, ok_only: bool = True) -> list[dict]:
    return [f for f in truth["files"] if f["kind"] == "workbook" and (not ok_only or not f["error"])]


def _record(f: dict) -> dict:
    return {"rows": f["rows"], **f["layout"]}


def _rich_ledger(role: str = "county", day: dt.date = dt.date(2024, 1, 12)) -> dict:
    units = build_units(40, random.Random("fixture"))
    u = next(u for u in units if u.role == role)
    return snapshot(make_history(u, random.Random(f"fixture:{u.code}")), day)


# ------------------------------------------------------------------------------------------ county


def test_layout_registry_and_truth_on_disk(county):
    root, truth = county
    assert (root / "registry.xlsx").is_file()
    assert json.loads((root / "truth.json").read_text(encoding="utf-8"))["generator"]["seed"] == 2023
    rows = (
        pc.CalamineWorkbook.from_path(str(root / "registry.xlsx")).get_sheet_by_name("组织架构").to_python()
    )
    assert len(rows) - 1 == 40 == len(truth["units"])
    codes = [r[0] for r in rows[1:]]
    assert len(set(codes)) == 40 and codes[0] == "YL"
    types = Counter(u["type"] for u in truth["units"])
    assert (
        types["县委"] == 1
        and types["乡镇党委"] >= 2
        and types["县直单位党组织"] >= 1
        and types["党总支"] >= 1
    )
    by_code = {u["code"]: u for u in truth["units"]}
    depth = {}
    for u in truth["units"]:
        d, p = 0, u["parent"]
        while p:
            d, p = d + 1, by_code[p]["parent"]
        depth[u["code"]] = d
    assert max(depth.values()) >= 3  # a 党总支's own 支部
    assert len({u["name"] for u in truth["units"]}) == 40


def test_every_section8_form_appears(county):
    _, truth = county
    for item, forms in SECTION8_FORMS.items():
        assert set(truth["section8_coverage"][str(item)]) == set(forms), item
    assert truth["section8_coverage"]["12"] == ["exact_copy", "lock_file", "versions"]
    assert truth["section8_coverage"]["13"] == ["township_folder"]
    for extra in (
        "hidden_decoy_sheet",
        "instructions_sheet",
        "formulas",
        "formula_uncached",
        "combined_vertical_merges",
    ):
        assert truth["form_counts"].get(extra), extra
    for layout in Mess.INFO_LAYOUTS:
        assert truth["form_counts"].get("info_layout_" + layout), layout
    vf = truth["value_form_counts"]
    for form in (
        "cell",
        "datetime",
        "serial_num",
        "serial_text",
        "iso",
        "slash",
        "dot",
        "cn",
        "cn0",
        "compact",
        "md_cn",
        "md_dot",
    ):
        assert vf.get("date:" + form), form
    for form in ("num", "float", "text", "fw", "unit", "unit2", "cn"):
        assert vf.get("int:" + form), form
    assert vf.get("list:repeated") and vf.get("list:mixed")


def test_every_error_and_warning_is_planted(county):
    _, truth = county
    errors = Counter(f["error"]["code"] for f in truth["files"] if f.get("error"))
    for code in (*ERROR_CODES, "E_FILE_UNREADABLE", "E_UNIT_FORBIDDEN"):
        assert errors[code] >= 1, code
    planted = Counter(f["planted_warning"]["code"] for f in _workbooks(truth) if f.get("planted_warning"))
    for code in WARNING_CODES:
        if code != "W_EXTRA_COLUMN":  # raised by the extra_columns form anyway
            assert planted[code] == 1, code
    assert any("W_EXTRA_COLUMN" in f["warnings"] for f in _workbooks(truth))
    rejected = [f for f in truth["files"] if f.get("error")]
    assert 0 < len(rejected) < len(_workbooks(truth, ok_only=False)) / 3


def test_workbooks_decode_to_their_truth_ledgers(county):
    root, truth = county
    checked = 0
    for f in _workbooks(truth):
        skip = ("unit_code", "unit_name") if f["traps"] or "W_UNIT_NAME" in f["warnings"] else ()
        diff = D.diff_workbook(root / "inbox" / f["path"], _record(f), f["ledger"], skip_info=skip)
        assert diff == [], (f["path"], diff[:3])
        checked += 1
    assert checked > 40


def test_truth_row_counts_match_data_rows_written(county):
    root, truth = county
    for f in _workbooks(truth):
        rec = _record(f)
        counts = D.data_rows(root / "inbox" / f["path"], rec)
        separate = any(s["role"] == "problems" for s in rec["sheets"])
        for s in rec["sheets"]:
            if "columns" not in s or (s["role"] == "combined" and separate):
                continue
            expected = len(f["ledger"]["measures" if s["role"] == "combined" else s["role"]])
            assert counts[s["name"]] == expected, (f["path"], s["name"])
        for table, rows in f["rows"].items():
            assert len(rows) == len(f["ledger"][table])


def test_xls_files_open_with_calamine(county):
    root, truth = county
    xls = [f for f in _workbooks(truth, ok_only=False) if f["path"].endswith(".xls")]
    assert xls
    for f in xls:
        assert f["engine"] == "xlwt"
        assert (root / "inbox" / f["path"]).read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        wb = pc.CalamineWorkbook.from_path(str(root / "inbox" / f["path"]))
        assert len(wb.sheet_names) >= 1
    for f in _workbooks(truth, ok_only=False):
        if f["path"].endswith(".xlsx"):
            assert f["engine"] in ("openpyxl", "xlsxwriter")
            assert zipfile.is_zipfile(root / "inbox" / f["path"])


def test_hidden_sheets_are_hidden(county):
    root, truth = county
    seen = 0
    for f in _workbooks(truth, ok_only=False):
        hidden = [s["name"] for s in f["layout"]["sheets"] if s.get("hidden")]
        roles = {s["name"]: s["role"] for s in f["layout"]["sheets"]}
        wb = pc.CalamineWorkbook.from_path(str(root / "inbox" / f["path"]))
        meta = {m.name: m.visible for m in wb.sheets_metadata}
        if "hidden_helper_sheet" in f["forms"]:
            helpers = [n for n in meta if n in ("下拉选项", "数据字典", "选项")]
            assert helpers and all(meta[n] != pc.SheetVisibleEnum.Visible for n in helpers), f["path"]
            seen += 1
            if f["path"].endswith(".xlsx") and seen <= 3:
                ws = openpyxl.load_workbook(root / "inbox" / f["path"])[helpers[0]]
                assert ws.sheet_state == "hidden"
        assert wb.sheets_metadata[0].visible == pc.SheetVisibleEnum.Visible
        for name in hidden:
            assert roles[name] in ("decoy",)
    assert seen


def test_combined_sheet_has_vertical_merges(county):
    root, truth = county
    found = 0
    for f in _workbooks(truth):
        if "combined_vertical_merges" not in f["forms"] or not f["path"].endswith(".xlsx"):
            continue
        wb = openpyxl.load_workbook(root / "inbox" / f["path"])
        name = next(s["name"] for s in f["layout"]["sheets"] if s["role"] == "combined")
        ws = wb[name]
        vertical = [m for m in ws.merged_cells.ranges if m.max_row > m.min_row and m.min_col == m.max_col]
        assert vertical, f["path"]
        # one merged group per problem with more than one measure
        pid_col = next(s for s in f["layout"]["sheets"] if s["role"] == "combined")["columns"][
            "problems.problem_id"
        ]["col"]
        multi = Counter(x["problem_id"] for x in f["ledger"]["measures"])
        groups = [m for m in vertical if m.min_col == openpyxl.utils.column_index_from_string(pid_col)]
        assert len(groups) == sum(1 for n in multi.values() if n > 1)
        found += 1
        if found == 4:
            break
    assert found


def test_formulas_cached_and_uncached(county):
    root, truth = county
    cached = [f for f in _workbooks(truth) if "formulas" in f["forms"]]
    assert cached and all(f["engine"] == "xlsxwriter" for f in cached)
    wb = openpyxl.load_workbook(root / "inbox" / cached[0]["path"])
    wbv = openpyxl.load_workbook(root / "inbox" / cached[0]["path"], data_only=True)
    pairs = [
        (ws.title, c.coordinate)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str) and c.value.startswith("=")
    ]
    assert pairs and all(wbv[s][c].value is not None for s, c in pairs)
    (uncached,) = [
        f for f in _workbooks(truth) if (f.get("planted_warning") or {}).get("code") == "W_FORMULA"
    ]
    w = uncached["planted_warning"]
    assert uncached["engine"] == "openpyxl"
    assert openpyxl.load_workbook(root / "inbox" / uncached["path"])[w["sheet"]][w["cell"]].value.startswith(
        "="
    )
    assert (
        openpyxl.load_workbook(root / "inbox" / uncached["path"], data_only=True)[w["sheet"]][w["cell"]].value
        is None
    )


def test_inbox_files(county):
    root, truth = county
    on_disk = sorted(
        p.relative_to(root / "inbox").as_posix() for p in (root / "inbox").rglob("*") if p.is_file()
    )
    assert on_disk == sorted(f["path"] for f in truth["files"])
    by_path = {f["path"]: f for f in truth["files"]}
    kinds = Counter(f["kind"] for f in truth["files"])
    assert kinds["copy"] >= 2 and kinds["unreadable"] >= 3 and kinds["ignored"] >= 5
    for f in truth["files"]:
        p = root / "inbox" / f["path"]
        assert hashlib.sha256(p.read_bytes()).hexdigest() == f["sha256"]
        name = f["path"].rsplit("/", 1)[-1]
        ext = name.rsplit(".", 1)[-1].lower()
        if f["kind"] == "ignored":
            assert name.startswith(("~$", ".")) or ext not in ("xlsx", "xlsm", "xls"), name
        else:
            assert not name.startswith(("~$", ".")) and ext in ("xlsx", "xls")
        if f["kind"] == "copy":
            assert f["sha256"] == by_path[f["duplicate_of"]]["sha256"]
        if f["kind"] == "unreadable":
            with pytest.raises(Exception):  # noqa: B017 - any failure to open is what we want
                pc.CalamineWorkbook.from_path(str(p)).get_sheet_by_index(0).to_python()
    assert {f["error"]["variant"] for f in truth["files"] if f["kind"] == "unreadable"} == set(
        UNREADABLE_VARIANTS
    )
    names = [f["path"] for f in truth["files"]]
    assert any(
        n.split("/")[0] != n.split("/")[0].upper() and "/" in n for n in names
    )  # lowercase code folder
    assert any(n[:4] == "2023" and "/" in n for n in names)  # the office's dated folder
    assert any("/" not in n and f["kind"] == "workbook" for n, f in by_path.items())  # top level


def test_township_forwards_and_forbidden(county):
    _, truth = county
    by_code = {u["code"]: u for u in truth["units"]}

    def below(a: str, b: str) -> bool:  # is b in a's subtree?
        while b:
            if b == a:
                return True
            b = by_code[b]["parent"]
        return False

    forwarded = 0
    for f in _workbooks(truth, ok_only=False):
        sub, unit = f["submitter"], f["intended_unit"]
        if not sub:
            continue
        err = (f["error"] or {}).get("code")
        if err == "E_UNIT_FORBIDDEN":
            assert not below(sub, unit)
        else:
            assert below(sub, unit), f["path"]
            forwarded += sub != unit
    assert forwarded


def test_versions_are_cumulative(county):
    _, truth = county
    by_unit: dict[str, list[dict]] = {}
    for f in _workbooks(truth):
        if not f.get("planted_warning"):
            by_unit.setdefault(f["intended_unit"], []).append(f)
    multi = 0
    for versions in by_unit.values():
        versions.sort(key=lambda f: f["as_of"])
        for a, b in zip(versions, versions[1:], strict=False):
            if a["as_of"] == b["as_of"]:
                continue
            multi += 1
            for t in ("meetings", "plans", "org", "research", "problems"):
                key = (
                    ("date", "kind", "topic")
                    if t == "meetings"
                    else tuple(C.TABLES[t][0:2][i].field for i in range(2))
                )
                old = Counter(tuple(r[k] for k in key) for r in a["ledger"][t])
                new = Counter(tuple(r[k] for k in key) for r in b["ledger"][t])
                assert not (old - new), (a["path"], b["path"], t)
            assert len(b["ledger"]["study"]) >= len(a["ledger"]["study"]) - 1
            assert b["ledger"]["info"]["members_with_plan"] >= a["ledger"]["info"]["members_with_plan"]
    assert multi >= 10


def test_dates_fit_the_campaign(county):
    _, truth = county
    as_of_days = set(truth["as_of_dates"])
    for f in _workbooks(truth):
        L = f["ledger"]
        assert f["as_of"] in as_of_days and dt.date.fromisoformat(f["as_of"]).weekday() == 4
        if f.get("planted_warning"):
            continue
        for t, cols in C.TABLES.items():
            for r in L[t]:
                for c in cols:
                    if c.kind == "date" and r[c.field]:
                        assert "2023-09-01" <= r[c.field] <= L["as_of"], (f["path"], t, c.field)
        assert L["info"]["members_with_plan"] <= L["info"]["members"]
        pids = {p["problem_id"] for p in L["problems"]}
        assert {x["problem_id"] for x in L["measures"]} == pids


def test_deterministic_for_a_seed(tmp_path):
    a = generate_county(tmp_path / "a", n_units=8, seed=7)
    b = generate_county(tmp_path / "b", n_units=8, seed=7)
    c = generate_county(tmp_path / "c", n_units=8, seed=8)
    assert (tmp_path / "a" / "truth.json").read_bytes() == (tmp_path / "b" / "truth.json").read_bytes()
    assert a == b
    assert a["files"] != c["files"]
    assert (tmp_path / "a" / "registry.xlsx").read_bytes() == (tmp_path / "b" / "registry.xlsx").read_bytes()


def test_plain_template_county(tmp_path):
    truth = generate_county(tmp_path, n_units=12, seed=3, messy=False, engines=("xlsxwriter",))
    assert {f["kind"] for f in truth["files"]} == {"workbook"}
    for f in truth["files"]:
        assert f["engine"] == "xlsxwriter" and not f["error"] and not f["warnings"]
        assert f["path"].split("/")[0] == f["intended_unit"] == f["submitter"]
        assert set(f["forms"]) == {"info_layout_pairs"}
        names = [s["name"] for s in f["layout"]["sheets"]]
        assert names == [
            "填报信息",
            "会议",
            "学习",
            "调研课题",
            "问题清单",
            "整改措施",
            "制度成果",
            "工作部署",
            "工作机构",
        ]
        assert D.diff_workbook(tmp_path / "inbox" / f["path"], _record(f), f["ledger"]) == []


# ------------------------------------------------------------------------------------------ writer


@pytest.mark.parametrize("engine", ["openpyxl", "xlsxwriter", "xlwt"])
def test_write_workbook_everything(tmp_path, engine):
    ledger = _rich_ledger("county")
    path = tmp_path / ("x.xls" if engine == "xlwt" else "x.xlsx")
    rec = write_workbook(path, ledger, Mess.everything(), engine, random.Random(1))
    assert rec["engine"] == engine
    expected = {f for forms in SECTION8_FORMS.values() for f in forms} - {"xls_legacy"}
    assert expected <= set(rec["forms"])
    assert D.diff_workbook(path, rec, canonical_ledger(ledger)) == []
    if engine == "openpyxl":
        assert "formula_uncached" not in rec["forms"] or any(
            w["code"] == "W_FORMULA" for w in rec["warnings"]
        )


@pytest.mark.parametrize("code", [*ERROR_CODES, *WARNING_CODES])
def test_one_defect_fixtures(tmp_path, code):
    ledger = _rich_ledger("county")
    assert code in applicable_defects(ledger)
    path = tmp_path / "f.xlsx"
    rec, d = write_defective_workbook(
        path, ledger, Mess.random(random.Random(code), 0.4), "xlsxwriter", random.Random(code), code
    )
    assert d.code == code
    clean = canonical_ledger(ledger)
    wb = pc.CalamineWorkbook.from_path(str(path))
    if code.startswith("W_"):
        assert d.ledger is not None
        skip = ("unit_name",) if code == "W_UNIT_NAME" else ()
        assert D.diff_workbook(path, rec, canonical_ledger(d.ledger), skip_info=skip) == []
        assert [w["code"] for w in rec["warnings"] if w["code"] != code] == []
    if d.cell:
        r, c = D._cell_pos(d.cell)
        raw = D.Sheets(path).get(d.sheet, r, c)
        if code == "E_REQUIRED":
            assert D.is_empty(raw)
        elif code == "W_FORMULA":
            assert d.engine == "openpyxl" and rec["engine"] == "openpyxl" and D.is_empty(raw)
        elif code == "W_CLOSED_NO_DATE":
            assert raw == d.value
        elif code not in ("W_EXTRA_COLUMN",):
            assert str(raw) == str(d.value) or (isinstance(raw, dt.date) and raw.isoformat() == d.value)
    if code in ("E_REQUIRED", "E_VOCAB", "E_DATE", "E_NUMBER", "E_UNKNOWN_PROBLEM"):
        diff = D.diff_workbook(path, rec, clean)
        assert [(x["sheet"], x["cell"]) for x in diff] == [(d.sheet, d.cell)]
    elif code == "E_DUPLICATE_ID":
        assert d.alt and D.text(D.Sheets(path).get(d.sheet, *D._cell_pos(d.alt[0]["cell"]))) == D.text(
            d.value
        )
    elif code == "E_COLUMNS":
        srec = next(s for s in rec["sheets"] if s["name"] == d.sheet)
        assert d.column not in {v["header"] for v in srec["columns"].values()}
        table = srec["role"]
        assert (
            d.variant.split(".")[0] == table and table in C.SHEET_NAMES and d.sheet == C.SHEET_NAMES[table][0]
        )
    elif code == "E_AS_OF" and d.variant == "no_info_sheet":
        assert not any(s["role"] == "info" for s in rec["sheets"])
    elif code == "W_SHEET_IGNORED":
        assert d.sheet in wb.sheet_names and any(s["role"] == "problems" for s in rec["sheets"])
    elif code == "W_EXTRA_COLUMN":
        assert D.Sheets(path).get(d.sheet, *D._cell_pos(d.cell)) == d.value
    elif code == "W_PLAN_EXCEEDS":
        assert d.ledger["info"]["members_with_plan"] > d.ledger["info"]["members"]
    elif code == "W_NO_MEASURE":
        assert d.value not in {x["problem_id"] for x in d.ledger["measures"]}


@pytest.mark.parametrize("variant", UNREADABLE_VARIANTS)
def test_unreadable_files(tmp_path, variant):
    path = tmp_path / ("x.xls" if variant == "pdf_named_xls" else "x.xlsx")
    d = write_unreadable(path, variant, random.Random(0))
    assert d.code == "E_FILE_UNREADABLE" and d.variant == variant
    with pytest.raises(Exception):  # noqa: B017
        pc.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    with pytest.raises(Exception):  # noqa: B017
        openpyxl.load_workbook(path)


def test_chinese_numerals_round_trip():
    import cn2an

    for n in (1, 10, 11, 20, 27, 30, 100, 105, 110, 258, 1000, 1020, 3005, 12034):
        assert cn2an.cn2an(C.chinese_numeral(n), "strict") == n
