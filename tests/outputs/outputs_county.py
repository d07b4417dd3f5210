"""A small hand-built county for the output tests.

QX 县委 (root)
├── QX-T01 甲镇党委 ── QX-T01-B001 甲镇一村党支部, QX-T01-B002 甲镇二村党支部
├── QX-T02 乙镇党委 ── QX-T02-B001 乙镇一村党支部
├── QX-D01 县档案馆党组 (need not report, but submitted: stale date, must not be listed)
└── QX-D02 县史志办党支部 (need not report, no submission: must not be listed as missing)

Report date 2023-12-15. Every figure of the county below is chosen by hand, with own and total
different, so a test can tell which scope a sentence used.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pandas as pd

AS_OF = dt.date(2023, 12, 15)
ROOT = "QX"

UNITS = [
    # code, name, type, parent, level, depth, must_report
    ("QX", "某某县委", "县委", None, "county", 0, True),
    ("QX-T01", "甲镇党委", "乡镇党委", "QX", "township", 1, True),
    ("QX-T02", "乙镇党委", "乡镇党委", "QX", "township", 1, True),
    ("QX-D01", "县档案馆党组", "县直单位党组织", "QX", "township", 1, False),
    ("QX-D02", "县史志办党支部", "县直单位党组织", "QX", "township", 1, False),
    ("QX-T01-B001", "甲镇一村党支部", "党支部", "QX-T01", "branch", 2, True),
    ("QX-T01-B002", "甲镇二村党支部", "党支部", "QX-T01", "branch", 2, True),
    ("QX-T02-B001", "乙镇一村党支部", "党支部", "QX-T02", "branch", 2, True),
]

# The county's figures: key -> (own, total).
ROOT_FIGURES: dict[str, tuple[float | None, float | None]] = {
    "plans.by_kind.work_plan": (3, 41),
    "plans.by_kind.responsibility_list": (4, 38),
    "plans.units_with_progress_table": (1, 17),
    "org.by_kind.working_group": (6, 33),
    "study.by_kind.reading_class": (7, 52),
    "study.by_kind.group_study": (27, 260),
    "study.by_kind.video_seminar": (5, 31),
    "study.members": (45, 1040),
    "study.members_with_plan": (40, 812),
    "study.plan_coverage": (40 / 45, 812 / 1040),  # total 78.0769…% -> 78.1%
    "research.topics": (11, 169),
    "research.domains": (3, 9),
    "research.sections": (2, 4),
    "research.reports_formed": (10, 132),
    "research.reports_pending": (1, 37),
    "meetings.total": (9, 88),
    "meetings.rectification.mobilization": (2, 19),
    "meetings.rectification.progress": (3, 23),
    "rectification.problems": (20, 256),
    "rectification.measures": (35, 436),
    "rectification.problems_closed": (16, 190),
    "rectification.close_rate": (16 / 20, 190 / 256),  # total 74.21875% -> 74.2%
    "rectification.problems_overdue": (1, 13),
    "rectification.by_status.closed": (16, 190),
    "rectification.by_status.in_progress": (3, 50),
    "rectification.by_status.not_started": (1, 16),
    "outcomes.rules": (2, 21),
    "outcomes.experiences": (1, 29),
    "submissions.expected": (1, 6),
    "submissions.received": (1, 4),
    "submissions.rate": (1.0, 4 / 6),  # total 66.7%
    "submissions.stale": (0, 1),
    "submissions.rejected_files": (0, 2),
}

# Township-level figures used by the report table and the summary (total unless said).
TOWNSHIP_FIGURES: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "QX-T01": {
        "research.topics": (8, 60),
        "research.reports_formed": (6, 51),
        "rectification.problems": (10, 100),
        "rectification.problems_closed": (9, 80),
        "rectification.close_rate": (0.9, 0.8),
        "rectification.problems_overdue": (0, 6),
        "rectification.by_status.closed": (9, 80),
        "rectification.by_status.in_progress": (1, 14),
        "rectification.by_status.not_started": (0, 6),
        "study.by_kind.reading_class": (2, 5),
        "submissions.expected": (1, 3),
        "submissions.received": (1, 2),
        "submissions.stale": (0, 0),
    },
    "QX-T02": {
        "research.topics": (7, 90),
        "research.reports_formed": (5, 71),
        "rectification.problems": (12, 130),
        "rectification.problems_closed": (10, 95),
        "rectification.close_rate": (10 / 12, 95 / 130),  # total 73.1%
        "rectification.problems_overdue": (2, 7),
        "rectification.by_status.closed": (10, 95),
        "rectification.by_status.in_progress": (1, 30),
        "rectification.by_status.not_started": (1, 5),
        "study.by_kind.reading_class": (3, 8),
        "submissions.expected": (1, 2),
        "submissions.received": (1, 1),
        "submissions.stale": (1, 1),
    },
}

SUBMISSIONS = [
    # path, unit_code, as_of, status
    ("县委/台账1214.xlsx", "QX", "2023-12-14", "effective"),
    ("县委/台账1201.xlsx", "QX", "2023-12-01", "superseded"),
    ("QX-T01/甲镇台账.xlsx", "QX-T01", "2023-12-10", "effective"),
    ("QX-T02/乙镇台账.xlsx", "QX-T02", "2023-11-20", "effective"),  # 25 days old: stale
    ("QX-T01/一村.xlsx", "QX-T01-B001", "2023-12-12", "effective"),
    ("QX-T01/二村.xlsx", "QX-T01-B002", "2023-12-11", "rejected"),  # no effective: missing
    ("QX-T02/一村.xls", "QX-T02-B001", "", "rejected"),  # no effective: missing
    ("档案馆.xlsx", "QX-D01", "2023-10-01", "effective"),  # old, but need not report
    ("~$甲镇台账.xlsx", "", "", "ignored"),
]

ALL_KEYS = sorted(set(ROOT_FIGURES) | {k for f in TOWNSHIP_FIGURES.values() for k in f})


def make_units(names: dict[str, str] | None = None) -> pd.DataFrame:
    rows = []
    for code, name, typ, parent, level, depth, must in UNITS:
        rows.append(
            {
                "code": code,
                "name": (names or {}).get(code, name),
                "type": typ,
                "parent": parent,
                "level": level,
                "depth": depth,
                "must_report": must,
            }
        )
    return pd.DataFrame(rows)


def make_rollup(names: dict[str, str] | None = None) -> pd.DataFrame:
    units = make_units(names)
    rows = []
    for u in units.to_dict("records"):
        if u["code"] == ROOT:
            figs = ROOT_FIGURES
        else:
            figs = TOWNSHIP_FIGURES.get(u["code"], {})
        for key in ALL_KEYS:
            default = (None, None) if key.endswith(("rate", "coverage")) else (0, 0)
            own, total = figs.get(key, default)
            rows.append(
                {
                    "unit_code": u["code"],
                    "unit_name": u["name"],
                    "level": u["level"],
                    "parent_code": u["parent"],
                    "key": key,
                    "own": own,
                    "total": total,
                }
            )
    return pd.DataFrame(rows)


def make_submissions() -> pd.DataFrame:
    rows = []
    for i, (path, code, as_of, status) in enumerate(SUBMISSIONS):
        rows.append(
            {
                "path": path,
                "sha256": f"{i:064x}",
                "submitter": code.split("-")[0] if code else "",
                "unit_code": code,
                "as_of": as_of,
                "status": status,
                "errors": 1 if status == "rejected" else 0,
                "warnings": 0,
            }
        )
    return pd.DataFrame(rows)


DANGEROUS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    "https://example.com",
    '=HYPERLINK("https://example.com","点我")',
]


def assert_no_formulas_or_links(path: Path) -> None:
    """No formula cell, hyperlink or external link anywhere in the xlsx package."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        sheets = [n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        assert sheets, f"{path} has no worksheets"
        for n in sheets:
            xml = zf.read(n).decode("utf-8")
            assert "<f>" not in xml and "<f " not in xml, f"formula cell in {path.name}:{n}"
            assert "<hyperlink" not in xml, f"hyperlink in {path.name}:{n}"
        for n in names:
            if n.endswith(".rels"):
                rels = zf.read(n).decode("utf-8")
                assert "relationships/hyperlink" not in rels, f"hyperlink relation in {path.name}:{n}"
                assert "externalLink" not in rels, f"external link relation in {path.name}:{n}"
        assert not any(n.startswith("xl/externalLinks/") for n in names)
