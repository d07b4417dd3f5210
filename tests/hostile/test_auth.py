"""Authorisation (ledger.md §2) through discover.submitter_of and resolve, and registries that must
be refused as a whole (§1) by ``ledgerflow run`` (exit 2, rows named, warehouse untouched)."""

from __future__ import annotations

import csv
import subprocess

import pytest
from hostile_env import LEDGERFLOW, SAMPLE

from ledgerflow.discover import FileRef, submitter_of
from ledgerflow.registry import read_registry
from ledgerflow.resolve import resolve
from ledgerflow.settings import Settings
from ledgerflow.template import load_template


@pytest.fixture(scope="module")
def tpl():
    return load_template(str(Settings().template))


@pytest.fixture(scope="module")
def registry(tpl):
    if not (SAMPLE / "registry.xlsx").is_file():
        pytest.skip("sample registry not found")
    return read_registry(SAMPLE / "registry.xlsx", tpl)


def verdict(rel: str, code: str, name: str, registry, tpl, *, sha: str = "a" * 64) -> dict:
    ref = FileRef(rel, "/nonexistent/" + rel, 10, sha, submitter_of(rel, registry), "workbook")
    parsed = {
        sha: {
            "status": "parsed",
            "unit_code": code,
            "unit_name": name,
            "info_sheet": "填报信息",
            "unit_code_cell": "B1",
            "unit_name_cell": "B2",
        }
    }
    res = resolve([ref], parsed, {}, {}, registry, tpl)
    (row,) = res.files
    row["codes"] = [i["code"] for i in res.issues]
    return row


FORBIDDEN = [
    ("QX-T01/x.xlsx", "QX-T02-B001", "", "a township forwards another township's branch"),
    ("QX-T01/x.xlsx", "QX-T02", "", "a township reports for another township"),
    ("QX-T01/x.xlsx", "QX", "", "a township reports for the county"),
    ("QX-T01-B001/x.xlsx", "QX-T01", "", "a branch reports for its township"),
    ("QX-T01-B001/x.xlsx", "QX-T01-B002", "", "a branch reports for a sibling"),
    ("QX-T01-Z01-B01/x.xlsx", "QX-T01-Z01", "", "a branch reports for its 党总支"),
    ("QX-D01/x.xlsx", "QX-T01-B001", "", "a county department reports for a township's branch"),
    ("qx-t01/x.xlsx", "QX-T02", "", "folder codes are case-insensitive"),
    ("QX-T01/QX-T02/x.xlsx", "QX-T02", "", "the first folder decides, not a deeper one"),
    ("QX-T01/x.xlsx", "", "龙泉镇", "unit found by alias only, still outside the subtree"),
    ("QX-T01-B001/sub/deeper/x.xlsx", "qx-t01", "", "code written in lower case"),
]

ALLOWED = [
    ("QX-T01-Z01/x.xlsx", "QX-T01-Z01-B01", "", "a 党总支 forwards its 支部"),
    ("QX-T01/a/b/x.xlsx", "QX-T01-Z01-B02", "", "a township forwards a grandchild"),
    ("QX-T01/x.xlsx", "QX-T01", "", "a township for itself"),
    ("2023-11-20/x.xlsx", "QX-T02-B003", "", "a folder the office made: county office"),
    ("x.xlsx", "QX", "", "top of the inbox: county office"),
    ("黄土岭乡/x.xlsx", "QX-T02", "", "a folder named after a unit's name is not an upload folder"),
]


@pytest.mark.parametrize("rel,code,name,why", FORBIDDEN, ids=[c[3] for c in FORBIDDEN])
def test_forbidden(rel, code, name, why, registry, tpl):
    row = verdict(rel, code, name, registry, tpl)
    assert row["verdict"] == "rejected" and "E_UNIT_FORBIDDEN" in row["codes"], row
    assert row["charged_unit"] == row["submitter"]


@pytest.mark.parametrize("rel,code,name,why", ALLOWED, ids=[c[3] for c in ALLOWED])
def test_allowed(rel, code, name, why, registry, tpl):
    row = verdict(rel, code, name, registry, tpl)
    assert row["verdict"] == "accepted" and not row["codes"], row


def test_forbidden_copy_does_not_suppress_the_owners_upload(registry, tpl):
    sha = "b" * 64
    refs = [
        FileRef("QX-T01/copy.xlsx", "/x/1", 10, sha, "QX-T01", "workbook"),
        FileRef("QX-T02/mine.xlsx", "/x/2", 10, sha, "QX-T02", "workbook"),
    ]
    parsed = {
        sha: {
            "status": "parsed",
            "unit_code": "QX-T02",
            "unit_name": "",
            "info_sheet": "填报信息",
            "unit_code_cell": "B1",
        }
    }
    res = resolve(refs, parsed, {}, {}, registry, tpl)
    own = next(r for r in res.files if r["path"] == "QX-T02/mine.xlsx")
    assert own["verdict"] == "accepted", own


# ---- registries refused as a whole -----------------------------------------------------------------

HEADER = ["单位代码", "单位名称", "单位类型", "上级单位代码"]
BASE = [
    ["QX", "县委", "县委", ""],
    ["QX-T01", "甲乡党委", "乡镇党委", "QX"],
    ["QX-T01-B001", "甲乡一支部", "党支部", "QX-T01"],
    ["QX-T02", "乙镇党委", "乡镇党委", "QX"],
]

BAD_REGISTRIES = {
    "cycle": (
        BASE
        + [["QX-T09", "丙乡党委", "乡镇党委", "QX-T09-B1"], ["QX-T09-B1", "丙乡支部", "党支部", "QX-T09"]],
        ["循环", "第6行", "第7行"],
    ),
    "self_parent": (BASE + [["QX-T09", "丙乡党委", "乡镇党委", "QX-T09"]], ["循环", "第6行"]),
    "two_roots": (BASE + [["XX", "另一县委", "县委", ""]], ["根单位", "第2行", "第6行"]),
    "unknown_parent": (BASE + [["QX-T09", "丙乡党委", "乡镇党委", "QX-NOPE"]], ["第6行", "QX-NOPE"]),
    "duplicate_code": (BASE + [["qx-t01 ", "丁乡党委", "乡镇党委", "QX"]], ["第3行", "第6行", "QX-T01"]),
    "duplicate_name": (BASE + [["QX-T09", "甲乡 党委", "乡镇党委", "QX"]], ["第3行", "第6行", "甲乡 党委"]),
}


@pytest.mark.parametrize("kind", sorted(BAD_REGISTRIES))
@pytest.mark.parametrize("warehouse_exists", [False, True], ids=["no-warehouse", "warehouse"])
def test_bad_registry_is_refused(kind, warehouse_exists, tmp_path):
    rows, must_name = BAD_REGISTRIES[kind]
    reg = tmp_path / "registry.csv"
    with open(reg, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    (tmp_path / "inbox").mkdir()
    wh = tmp_path / "wh" / "warehouse.duckdb"
    wh.parent.mkdir()
    if warehouse_exists:
        wh.write_bytes(b"not touched" * 100)
    before = {p.name: p.read_bytes() for p in wh.parent.iterdir()}
    p = subprocess.run(
        [
            str(LEDGERFLOW),
            "run",
            "--inbox",
            str(tmp_path / "inbox"),
            "--registry",
            str(reg),
            "--warehouse",
            str(wh),
            "--out",
            str(tmp_path / "out"),
            "--as-of",
            "2023-12-15",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    for text in must_name:
        assert text in p.stderr, (kind, text, p.stderr)
    assert {q.name: q.read_bytes() for q in wh.parent.iterdir()} == before
    assert not (tmp_path / "out").exists()
