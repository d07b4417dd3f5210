"""The demo / benchmark county: 云岭县 (code ``YL``), its registry and a realistic inbox.

:func:`generate_county` writes ``root/registry.xlsx``, ``root/inbox/…`` (ledger.md §1, §2) and
``root/truth.json``, the generator's own ground truth computed from what it intended (never by
reading its files back): for every inbox file its kind, the intended unit and 统计截止日期, the
planted error or warnings, and for every workbook the clean ledger a correct reader gets from it.

The county scales: 40 units for the demo, 2,000 and 20,000 for benchmarks. Every unit's weekly
versions are cumulative snapshots of one activity history (later versions contain the earlier
rows plus more, statuses move forward, occasionally a row entered by mistake disappears).
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import random
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import content as C
from .writer import (
    ENGINES,
    SECTION8_FORMS,
    Defect,
    Mess,
    applicable_defects,
    build_book,
    canonical_ledger,
    plant_defect,
    render_book,
    write_unreadable,
)

GENERATOR_VERSION = 1
TEMPLATE_FIELDS = {t: [c.field for c in cols] for t, cols in C.TABLES.items()}

# ============================================================================================
# organisation tree
# ============================================================================================


@dataclass
class Unit:
    code: str
    name: str
    type: str  # 县委 · 乡镇党委 · 县直单位党组织 · 党总支 · 党支部
    parent: str
    level: str  # county | township | branch
    role: str  # county | township | department | general_branch | branch
    short: str  # used in file names and titles: 金沙镇, 张家村, 县教育体育局
    aliases: list[str] = field(default_factory=list)
    must_report: bool = True

    def registry_row(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "type": self.type,
            "parent": self.parent,
            "level": self.level,
            "aliases": list(self.aliases),
            "must_report": self.must_report,
        }


def _names(pool: tuple[str, ...], n: int, rng: random.Random) -> list[str]:
    """n distinct two-character names: the real-looking pool first, then character pairs."""
    out = list(pool)
    rng.shuffle(out)
    if n <= len(out):
        return out[:n]
    chars = sorted({ch for s in pool for ch in s})
    extra = [a + b for a in chars for b in chars if a != b and a + b not in pool]
    rng.shuffle(extra)
    return (out + extra)[:n]


def build_units(n_units: int, rng: random.Random) -> list[Unit]:
    """The organisation tree: one county root, townships and departments, branches, 党总支."""
    if n_units < 6:
        raise ValueError("n_units must be at least 6")
    cc = C.COUNTY_CODE
    units = [
        Unit(
            cc,
            f"中共{C.COUNTY}委员会",
            "县委",
            "",
            "county",
            "county",
            "县委",
            [f"{C.COUNTY_SHORT}县委", "县委"],
        )
    ]
    rest = n_units - 1
    n_dept = max(1, min(len(C.DEPARTMENTS), round(rest / 18)))
    n_town = max(2, round(rest / 13))
    n_branch = rest - n_dept - n_town
    if n_branch < 2:
        n_town, n_dept = max(1, rest - 3), 1
        n_branch = rest - n_dept - n_town
    dept_cap = 12
    dept_branches = min(n_branch // 4, n_dept * dept_cap)
    town_branches = n_branch - dept_branches
    wt = 2 if n_town < 100 else (3 if n_town < 1000 else 4)
    wd = 2

    def split(total: int, parts: int) -> list[int]:
        base, extra = divmod(total, parts)
        sizes = [base + (1 if i < extra else 0) for i in range(parts)]
        rng.shuffle(sizes)
        return sizes

    town_names = _names(C.TOWN_SYL, n_town, rng)
    for ti, (tn, nb) in enumerate(zip(town_names, split(town_branches, n_town), strict=True), start=1):
        short = tn + rng.choice(("镇", "镇", "乡"))
        tcode = f"{cc}-T{ti:0{wt}d}"
        units.append(
            Unit(
                tcode,
                f"中共{C.COUNTY}{short}委员会",
                "乡镇党委",
                cc,
                "township",
                "township",
                short,
                [f"{short}党委", short],
            )
        )
        # a 党总支 with its own 支部 in about every third township that is big enough
        zsize = 0
        if nb >= 6 and (ti == 1 or rng.random() < 0.33):
            zsize = min(nb - 3, rng.choice((2, 2, 3)))
        n_plain = nb - (zsize + 1 if zsize else 0)
        villages = _names(C.VILLAGE_SYL, max(0, n_plain - 1), rng)
        bi = 0
        for k in range(n_plain):
            bi += 1
            if k == 0:
                vshort = f"{short}机关"
            elif k - 1 < len(villages):
                v = villages[k - 1]
                vshort = v if v.endswith("村") else v + rng.choice(C.COMMUNITY_SUFFIX)
            else:
                vshort = rng.choice(C.BRANCH_KINDS_TOWN) + str(k)
            name = f"{short}{vshort}党支部" if not vshort.startswith(short) else f"{vshort}党支部"
            fshort = vshort if not vshort.startswith(short) else vshort
            units.append(Unit(f"{tcode}-B{bi:03d}", name, "党支部", tcode, "branch", "branch", fshort))
        if zsize:
            zcode = f"{tcode}-Z01"
            zname = f"{short}非公企业联合党总支"
            units.append(
                Unit(
                    zcode,
                    zname,
                    "党总支",
                    tcode,
                    "branch",
                    "general_branch",
                    f"{short}联合党总支",
                    [f"{short}联合党总支"],
                )
            )
            for k in range(1, zsize + 1):
                ordinal = "一二三四五六七八九"[k - 1]
                units.append(
                    Unit(
                        f"{zcode}-B{k:02d}",
                        f"{zname}第{ordinal}党支部",
                        "党支部",
                        zcode,
                        "branch",
                        "branch",
                        f"联合第{ordinal}支部",
                    )
                )
    depts = list(C.DEPARTMENTS)
    rng.shuffle(depts)
    for di, (dn, nb) in enumerate(zip(depts[:n_dept], split(dept_branches, n_dept), strict=True), start=1):
        dcode = f"{cc}-D{di:0{wd}d}"
        body = dn[1:] if dn.startswith("县") else dn
        if dn.endswith("局"):
            name = f"中共{C.COUNTY}{body}党组"
        elif dn == "团县委":
            name = f"共青团{C.COUNTY}委员会党组"
        else:
            name = f"中共{C.COUNTY}{body}委员会"
        units.append(
            Unit(dcode, name, "县直单位党组织", cc, "township", "department", dn, [dn, C.COUNTY + body])
        )
        ordinals = "一二三四五六七八九十"
        for k in range(1, nb + 1):
            if k <= 10:
                b = f"{dn}机关第{ordinals[k - 1]}党支部"
                fs = f"{dn}机关第{ordinals[k - 1]}支部"
            else:
                b = f"{dn}第{k}党支部"
                fs = f"{dn}第{k}支部"
            units.append(Unit(f"{dcode}-B{k:03d}", b, "党支部", dcode, "branch", "branch", fs))
    # 是否报送: the 党总支 itself and a few small branches need not report
    for u in units:
        if u.role == "general_branch" and rng.random() < 0.6:
            u.must_report = False
        elif u.role == "branch" and rng.random() < 0.05:
            u.must_report = False
    assert len(units) == n_units, (len(units), n_units)
    return units


# ============================================================================================
# activity history -> weekly cumulative ledgers
# ============================================================================================

LAST_DAY = C.AS_OF_DATES[-1]


def _rand_date(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    if hi <= lo:
        return lo
    return lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


_MONTH_ENDS = [dt.date(2023, 10, 31), dt.date(2023, 11, 30), dt.date(2023, 12, 31), dt.date(2024, 1, 31)]


@dataclass
class History:
    """Everything a unit does in the campaign, with the days rows are entered and change."""

    unit: Unit
    members: int
    reporter: str
    phone: str
    omit: set[str]  # "table.field" the unit's workbook never fills
    meetings: list[dict] = field(default_factory=list)
    study: list[dict] = field(default_factory=list)
    research: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)
    plans: list[dict] = field(default_factory=list)
    org: list[dict] = field(default_factory=list)


def _sizes(role: str, rng: random.Random) -> dict[str, int]:
    r = rng.randint
    if role == "county":
        return dict(
            meetings=r(14, 22),
            study=r(30, 48),
            research=r(10, 15),
            problems=r(6, 10),
            outcomes=r(3, 6),
            plans=r(6, 8),
            org=r(5, 7),
        )
    if role in ("township", "department"):
        return dict(
            meetings=r(7, 13),
            study=r(12, 22),
            research=r(3, 8),
            problems=r(2, 7),
            outcomes=r(1, 4),
            plans=r(2, 5),
            org=r(3, 5) if role == "township" else r(0, 3),
        )
    return dict(
        meetings=r(3, 9),
        study=r(4, 12),
        research=r(0, 2),
        problems=r(0, 3),
        outcomes=r(0, 1),
        plans=rng.choice((0, 0, 1)),
        org=0,
    )


_OMITTABLE = {
    "meetings.topic": 0.15,
    "meetings.phase": 0.3,
    "meetings.attendees": 0.1,
    "study.topic": 0.4,
    "study.mode": 0.3,
    "study.participants": 0.1,
    "research.topic_id": 0.2,
    "research.lead_title": 0.2,
    "research.places": 0.3,
    "research.start_date": 0.2,
    "research.methods": 0.1,
    "problems.owner": 0.3,
    "problems.owner_unit": 0.4,
    "problems.deadline": 0.3,
    "measures.measure_id": 0.35,
    "measures.owner": 0.35,
    "measures.deadline": 0.4,
    "measures.done_date": 0.25,
    "outcomes.date": 0.2,
    "outcomes.doc_no": 0.3,
    "plans.date": 0.2,
    "plans.target": 0.5,
    "org.head": 0.1,
    "org.members": 0.2,
}


def make_history(u: Unit, rng: random.Random) -> History:
    role = u.role
    members = {
        "county": rng.randint(18, 32),
        "township": rng.randint(40, 130),
        "department": rng.randint(20, 90),
    }.get(role, rng.randint(8, 60))
    omit = {k for k, p in _OMITTABLE.items() if rng.random() < (p if role not in ("county",) else p / 3)}
    if role == "branch" or role == "general_branch":
        if rng.random() < 0.5:
            omit.add("research.cadre_class")
    h = History(u, members, C.person(rng), C.phone(rng), omit)
    sz = _sizes(role, rng)
    start, end = C.CAMPAIGN_START, LAST_DAY
    unit_label = u.short if role != "county" else C.COUNTY

    # meetings
    kinds = {
        "county": ["standing_committee"] * 5 + ["mobilization"] * 2 + ["progress"] * 4 + ["other"],
        "township": ["committee"] * 5 + ["mobilization"] * 2 + ["progress"] * 3 + ["life_meeting", "other"],
        "department": ["committee"] * 5 + ["mobilization"] * 2 + ["progress"] * 2 + ["life_meeting", "other"],
    }.get(
        role,
        ["branch_committee"] * 4
        + ["members_meeting"] * 4
        + ["party_group"] * 3
        + ["life_meeting", "mobilization", "other"],
    )
    att = {"county": (20, 260), "township": (12, 130), "department": (10, 90)}.get(role, (5, 60))
    for _ in range(sz["meetings"]):
        d = _rand_date(rng, start, end)
        k = rng.choice(kinds)
        phase = rng.choice(("study", "research", "rectification", "general", "general"))
        h.meetings.append(
            {
                "date": d,
                "kind": k,
                "topic": rng.choice(C.MEETING_TOPICS[k]).format(unit=unit_label),
                "phase": phase,
                "attendees": rng.randint(*att),
                "_in": d,
            }
        )
    # study
    skinds = ["group_study"] * 6 + [
        "reading_class",
        "seminar",
        "video_seminar",
        "exchange",
        "red_education",
        "contest",
        "party_lecture",
        "party_lecture",
        "other",
    ]
    for _ in range(sz["study"]):
        d = _rand_date(rng, start, end)
        h.study.append(
            {
                "date": d,
                "kind": rng.choice(skinds),
                "topic": rng.choice(C.STUDY_TOPICS),
                "mode": rng.choice(("offline", "offline", "offline", "online", "mixed")),
                "participants": rng.randint(max(3, att[0] // 2), att[1]),
                "_in": d,
            }
        )
    # one row entered by mistake, deleted a few weeks later
    if rng.random() < 0.25 and h.study:
        bad = dict(rng.choice(h.study))
        bad["_in"] = _rand_date(rng, dt.date(2023, 11, 1), dt.date(2023, 12, 20))
        bad["date"] = min(bad["date"], bad["_in"])
        bad["_out"] = bad["_in"] + dt.timedelta(days=rng.randint(8, 30))
        h.study.append(bad)
    # research topics
    subjects = rng.sample(C.RESEARCH_SUBJECTS, k=min(sz["research"], len(C.RESEARCH_SUBJECTS)))
    id_style = rng.choice(("KT-{:02d}", "KT{:03d}", "KT-{}", "{}"))
    cadre = {"county": "county_leader", "township": "section_cadre", "department": "section_cadre"}.get(
        role, "other"
    )
    titles = C.LEAD_TITLES.get(role if role != "general_branch" else "branch", C.LEAD_TITLES["branch"])
    for i, (subj, domain) in enumerate(subjects, start=1):
        created = _rand_date(rng, dt.date(2023, 9, 5), dt.date(2023, 11, 20))
        s = created + dt.timedelta(days=rng.randint(0, 20))
        drafting = s + dt.timedelta(days=rng.randint(14, 45))
        formed = drafting + dt.timedelta(days=rng.randint(5, 30)) if rng.random() < 0.85 else None
        h.research.append(
            {
                "topic_id": id_style.format(i),
                "title": f"关于{subj}的调研",
                "lead": C.person(rng),
                "lead_title": rng.choice(titles),
                "cadre_class": cadre
                if rng.random() < 0.85
                else rng.choice(("county_leader", "section_cadre", "other")),
                "domain": domain if rng.random() < 0.9 else rng.choice(C.SLUGS["D"]),
                "section": rng.choice(C.SLUGS["B"]),
                "methods": rng.sample(C.SLUGS["R"], k=rng.choice((1, 1, 2, 2, 3))),
                "places": rng.choice(C.PLACES),
                "_in": created,
                "_start": s,
                "_drafting": drafting,
                "_formed": formed,
            }
        )
    # problems and measures
    pstyle = rng.choice(("WT{:03d}", "P{:03d}", "WT-{}", "问题{}"))
    mstyle = rng.choice(("CS{:03d}", "{pid}-{k}"))
    owners_units = C.OWNER_UNITS
    mcount = 0
    for i in range(1, sz["problems"] + 1):
        desc, source = rng.choice(C.PROBLEMS)
        created = _rand_date(rng, dt.date(2023, 10, 8), dt.date(2023, 12, 20))
        kind = rng.choice(("immediate", "time_bound", "time_bound", "long_term"))
        if kind == "immediate":
            deadline = created + dt.timedelta(days=rng.randint(7, 21))
        elif kind == "time_bound":
            deadline = rng.choice([m for m in _MONTH_ENDS if m > created] or [_MONTH_ENDS[-1]])
        else:
            deadline = rng.choice((None, None, dt.date(2024, 1, 31)))
        begun = created + dt.timedelta(days=rng.randint(0, 10))
        closed = None
        if kind != "long_term" and rng.random() < 0.6:
            closed = min(LAST_DAY, begun + dt.timedelta(days=rng.randint(7, 50)))
        pid = pstyle.format(i)
        ms = []
        for k in range(1, rng.choice((1, 2, 2, 3)) + 1):
            mcount += 1
            mbegun = begun + dt.timedelta(days=rng.randint(0, 5))
            if closed:
                done = _rand_date(rng, mbegun, closed)
            else:
                done = mbegun + dt.timedelta(days=rng.randint(7, 60)) if rng.random() < 0.4 else None
                if done and done > LAST_DAY:
                    done = None
            ms.append(
                {
                    "measure_id": mstyle.format(mcount, pid=pid, k=k),
                    "problem_id": pid,
                    "content": rng.choice(C.MEASURES),
                    "owner": C.person(rng),
                    "deadline": deadline if deadline and rng.random() < 0.8 else rng.choice(_MONTH_ENDS[1:]),
                    "_begun": mbegun,
                    "_done": done,
                }
            )
        h.problems.append(
            {
                "problem_id": pid,
                "description": desc,
                "source": source if rng.random() < 0.8 else rng.choice(C.SLUGS["Q"]),
                "kind": kind,
                "owner": C.person(rng),
                "owner_unit": rng.choice(owners_units),
                "deadline": deadline,
                "_in": created,
                "_begun": begun,
                "_closed": closed,
                "_measures": ms,
            }
        )
    # outcomes
    for _ in range(sz["outcomes"]):
        d = _rand_date(rng, dt.date(2023, 10, 1), end)
        if rng.random() < 0.7:
            name = f"《{C.COUNTY if role == 'county' else unit_label}{rng.choice(C.OUTCOME_RULES)}》"
            kind = "rule"
        else:
            name = f"{unit_label}{rng.choice(C.OUTCOME_EXPERIENCES)}"
            kind = "experience"
        h.outcomes.append(
            {
                "name": name,
                "kind": kind,
                "date": d,
                "doc_no": C.doc_number(rng) if kind == "rule" else None,
                "_in": d,
            }
        )
    # plans
    items = list(C.PLAN_ITEMS)
    rng.shuffle(items)
    for tmpl, kind in sorted(items[: sz["plans"]], key=lambda x: C.SLUGS["A"].index(x[1])):
        d = _rand_date(rng, dt.date(2023, 9, 1), dt.date(2023, 10, 20))
        h.plans.append(
            {
                "name": tmpl.format(unit=C.COUNTY if role == "county" else unit_label),
                "kind": kind,
                "date": d,
                "target": rng.choice(C.PLAN_TARGETS),
                "_in": d,
            }
        )
    # org
    for tmpl, kind in C.ORG_ITEMS[: sz["org"]]:
        h.org.append(
            {
                "name": tmpl.format(unit=C.COUNTY if role == "county" else unit_label),
                "kind": kind,
                "head": C.person(rng),
                "members": rng.randint(4, 25),
                "_in": dt.date(2023, 9, rng.randint(1, 8)),
            }
        )
    h.meetings.sort(key=lambda r: (r["date"], r["_in"]))
    h.study.sort(key=lambda r: (r["date"], r["_in"]))
    h.outcomes.sort(key=lambda r: r["date"])
    return h


def _blank(rec: dict, table: str, omit: set[str]) -> dict:
    out = {}
    for f in TEMPLATE_FIELDS[table]:
        v = rec.get(f)
        if isinstance(v, dt.date):
            v = v.isoformat()
        if f"{table}.{f}" in omit:
            v = {"meetings.phase": "general", "research.cadre_class": "other", "research.methods": []}.get(
                f"{table}.{f}"
            )
        out[f] = v
    return out


def snapshot(h: History, as_of: dt.date) -> dict:
    """The unit's cumulative ledger as of ``as_of`` (clean, canonical)."""
    D = as_of

    def live(r: dict) -> bool:
        return r["_in"] <= D and ("_out" not in r or D < r["_out"]) and r.get("date", D) <= D

    L: dict[str, Any] = {"unit": h.unit.code, "as_of": D.isoformat()}
    progress = min(1.0, 0.55 + 0.45 * max(0, (D - dt.date(2023, 11, 1)).days) / 80)
    L["info"] = {
        "unit_code": h.unit.code,
        "unit_name": h.unit.name,
        "as_of": D.isoformat(),
        "reporter": h.reporter,
        "phone": h.phone,
        "members": h.members,
        "members_with_plan": int(h.members * progress),
    }
    L["meetings"] = [_blank(r, "meetings", h.omit) for r in h.meetings if live(r)]
    L["study"] = [_blank(r, "study", h.omit) for r in h.study if live(r)]
    research = []
    for r in h.research:
        if r["_in"] > D:
            continue
        rec = dict(r)
        if r["_start"] > D:
            rec.update(status="not_started", start_date=None, report_date=None)
        elif r["_drafting"] > D:
            rec.update(status="in_progress", start_date=r["_start"], report_date=None)
        elif r["_formed"] is None or r["_formed"] > D:
            rec.update(status="drafting", start_date=r["_start"], report_date=None)
        else:
            rec.update(status="report_formed", start_date=r["_start"], report_date=r["_formed"])
        research.append(_blank(rec, "research", h.omit - {"research.report_date"}))
    L["research"] = research
    problems, measures = [], []
    for p in h.problems:
        if p["_in"] > D:
            continue
        rec = dict(p)
        if p["_closed"] and p["_closed"] <= D:
            rec.update(status="closed", closed_date=p["_closed"])
        elif p["_begun"] <= D:
            rec.update(status="in_progress", closed_date=None)
        else:
            rec.update(status="not_started", closed_date=None)
        problems.append(_blank(rec, "problems", h.omit))
        for x in p["_measures"]:
            mr = dict(x)
            if x["_done"] and x["_done"] <= D:
                mr.update(status="done", done_date=x["_done"])
            elif x["_begun"] <= D:
                mr.update(status="in_progress", done_date=None)
            else:
                mr.update(status="not_started", done_date=None)
            measures.append(_blank(mr, "measures", h.omit))
    L["problems"], L["measures"] = problems, measures
    L["outcomes"] = [_blank(r, "outcomes", h.omit) for r in h.outcomes if live(r)]
    L["plans"] = [_blank(r, "plans", h.omit) for r in h.plans if live(r)]
    L["org"] = [_blank(r, "org", h.omit) for r in h.org if r["_in"] <= D]
    return L


# ============================================================================================
# registry
# ============================================================================================

_REG_HEADERS = {
    "zh": ("单位代码", "单位名称", "单位类型", "上级单位代码", "别名", "是否报送"),
    "syn": ("党组织代码", "党组织名称", "组织类型", "上级组织代码", "曾用名", "需报送"),
    "en": ("code", "name", "type", "parent", "aliases", "must_report"),
}


def write_registry(path: Path, units: list[Unit], rng: random.Random, *, messy: bool) -> dict:
    """registry.xlsx (ledger.md §1). Returns how it was written."""
    import xlsxwriter

    style = rng.choice(("zh", "syn", "en")) if messy else "zh"
    heads = list(_REG_HEADERS[style])
    if messy and style == "zh" and rng.random() < 0.5:
        heads[0], heads[1] = "组织代码", "名称"
    wb = xlsxwriter.Workbook(
        str(path), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    )
    wb.set_properties({"created": dt.datetime(2023, 9, 1, 9, 0)})
    bold = wb.add_format({"bold": True})
    ws = wb.add_worksheet("组织架构")
    for c, hd in enumerate(heads):
        ws.write_string(0, c, hd, bold)
    yes = ("是", "Y", "1", "true", "")
    no = ("否", "N", "0", "false")
    for r, u in enumerate(units, start=1):
        sep = rng.choice(("、", "，", ",", ";", "；", "|")) if messy else "、"
        mr = (
            (rng.choice(yes) if u.must_report else rng.choice(no))
            if messy
            else ("是" if u.must_report else "否")
        )
        vals = [u.code, u.name, u.type, u.parent, sep.join(u.aliases), mr]
        for c, v in enumerate(vals):
            if v != "":
                ws.write_string(r, c, v)
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 36)
    ws.set_column(2, 5, 14)
    wb.close()
    return {"path": "registry.xlsx", "headers": heads}


# ============================================================================================
# inbox plan
# ============================================================================================

_VERSION_SUFFIX = ("v2", "（修改版）", "(1)", "_最终版", "v3", "（更新）")


@dataclass
class Job:
    """One workbook to write."""

    path: str  # relative to inbox, with '/'
    unit: str
    as_of: str
    ledger: dict
    mess: Mess
    engine: str
    seed: str
    submitter: str
    written: dict = field(default_factory=dict)
    defect: str | None = None
    variant: str | None = None
    traps: list[str] = field(default_factory=list)
    error: dict | None = None  # inbox-level error (E_UNIT_FORBIDDEN)


def _engine_weights(n_units: int, engines: tuple[str, ...], messy: bool) -> list[tuple[str, float]]:
    if n_units <= 300:
        w = {"openpyxl": 0.33, "xlsxwriter": 0.47, "xlwt": 0.20}
    else:
        w = {"openpyxl": 0.03, "xlsxwriter": 0.95, "xlwt": 0.02}
    if not messy:
        w = {"openpyxl": 0.02, "xlsxwriter": 0.97, "xlwt": 0.01}
    out = [(e, w[e]) for e in engines if e in w]
    if not out:
        raise ValueError(f"no usable engine in {engines!r}")
    return out


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([e for e, _ in weighted], [w for _, w in weighted])[0]


def _unit_mess(rng: random.Random) -> Mess:
    m = Mess.random(rng, level=rng.choice((0.2, 0.3, 0.4, 0.5)))
    m.omit_empty_columns = rng.random() < 0.6
    return m


def _version_mess(base: Mess, rng: random.Random) -> Mess:
    m = replace(base)
    for name in (
        "sheets_reordered",
        "extra_columns",
        "total_row",
        "notes_below",
        "date_forms",
        "int_forms",
        "column_shuffle",
    ):
        if rng.random() < 0.15:
            setattr(m, name, not getattr(m, name))
    return m


def _file_base(u: Unit, rng: random.Random) -> str:
    tmpl = rng.choice(
        ("{s}主题教育工作台账", "{s}台账", "{s}主题教育四张清单", "{s}第二批主题教育台账", "{s}主题教育台账")
    )
    return tmpl.format(s=u.short)


def _dated_folder(as_of: dt.date, rng: random.Random) -> str:
    return (as_of + dt.timedelta(days=rng.choice((0, 3, 4, 6)))).isoformat()


class _Planner:
    def __init__(
        self,
        units: list[Unit],
        seed: int,
        messy: bool,
        engines: tuple[str, ...],
        as_of_dates: list[dt.date] | None = None,
    ):
        self.units = units
        self.as_of_dates = list(as_of_dates or C.AS_OF_DATES)
        self.by_code = {u.code: u for u in units}
        self.seed = seed
        self.messy = messy
        self.rng = random.Random(f"{seed}:plan")
        self.weights = _engine_weights(len(units), engines, messy)
        self.jobs: list[Job] = []
        self.paths: set[str] = set()
        self.lower_folders: set[str] = set()
        self.histories: dict[str, History] = {}
        self.protected: set[int] = set()  # kitchen-sink jobs that guarantee §8 coverage

    def unique(self, path: str) -> str:
        p, k = path, 2
        stem, dot, ext = path.rpartition(".")
        while p.lower() in self.paths:
            p = f"{stem}_{k}.{ext}" if dot else f"{path}_{k}"
            k += 1
        self.paths.add(p.lower())
        return p

    def ancestors(self, u: Unit) -> list[Unit]:
        out = []
        while u.parent:
            u = self.by_code[u.parent]
            out.append(u)
        return out

    def folder_for(self, u: Unit, rng: random.Random) -> tuple[str, str]:
        """(folder relative to inbox, submitter code or '' for the office)."""
        anc = self.ancestors(u)
        r = rng.random()
        if not self.messy:
            return u.code, u.code
        own = u.code.lower() if u.code in self.lower_folders else u.code
        if u.level == "county":
            return ("", "") if r < 0.15 else (own, u.code)
        if u.level == "township":
            if r < 0.12:
                return u.short, ""  # a folder the office made, named after the township
            if r < 0.2:
                return "", ""
            return own, u.code
        # branches
        if r < 0.4:
            return own, u.code
        if r < 0.72:
            up = anc[0] if (anc[0].level != "county") else None
            if anc[0].role == "general_branch" and rng.random() < 0.5:
                up = anc[1]  # the township forwards its 党总支's 支部
            if up is not None:
                upf = up.code.lower() if up.code in self.lower_folders else up.code
                sub = rng.choice(("", "", u.code, u.short))
                return (f"{upf}/{sub}" if sub else upf), up.code
            return own, u.code
        if r < 0.86:
            return "", ""
        return "@dated", ""

    def plan(self) -> None:
        rng = self.rng
        units = self.units
        if self.messy:
            towns = [u.code for u in units if u.level == "township"]
            for c in rng.sample(towns, k=max(1, len(towns) // 8)):
                self.lower_folders.add(c)
        for u in units:
            urng = random.Random(f"{self.seed}:unit:{u.code}")
            h = make_history(u, urng)
            self.histories[u.code] = h
            p_submit = 1.0 if u.level == "county" else (0.9 if u.must_report else 0.5)
            if not self.messy:
                p_submit = 1.0 if u.must_report else 0.6
            if urng.random() >= p_submit:
                continue
            k = (
                urng.choices((1, 2, 3, 4), (0.3, 0.35, 0.25, 0.1))[0]
                if self.messy
                else urng.choices((1, 2, 3), (0.4, 0.4, 0.2))[0]
            )
            if u.level == "county":
                k = max(k, 3)
            dates = sorted(urng.sample(self.as_of_dates, min(k, len(self.as_of_dates))))
            base_mess = _unit_mess(urng) if self.messy else Mess.template()
            folder, submitter = self.folder_for(u, urng)
            base_engine = _pick(urng, self.weights)
            stem = _file_base(u, urng)
            suffixes = list(_VERSION_SUFFIX)
            urng.shuffle(suffixes)
            written: dict = {}
            if self.messy and urng.random() < 0.06:
                written = {"code": "", "name": urng.choice([u.name] + u.aliases)}
            for vi, d in enumerate(dates):
                engine = base_engine if urng.random() < 0.8 else _pick(urng, self.weights)
                ext = "xls" if engine == "xlwt" else "xlsx"
                if vi == 0:
                    name = stem
                elif urng.random() < 0.35:
                    name = (
                        f"{stem}_{d.month:02d}{d.day:02d}"
                        if urng.random() < 0.5
                        else f"{stem}（{d.month}.{d.day}）"
                    )
                else:
                    name = stem + suffixes[(vi - 1) % len(suffixes)]
                fold, sub = folder, submitter
                if self.messy and urng.random() < 0.1:
                    fold, sub = ("", "") if urng.random() < 0.5 else ("@dated", "")
                if fold == "@dated":
                    fold = _dated_folder(d, urng)
                path = self.unique(f"{fold}/{name}.{ext}" if fold else f"{name}.{ext}")
                mess = _version_mess(base_mess, urng) if self.messy else Mess.template()
                job = Job(
                    path,
                    u.code,
                    d.isoformat(),
                    snapshot(h, d),
                    mess,
                    engine,
                    f"{self.seed}:wb:{path}",
                    sub,
                    dict(written),
                )
                if written:
                    job.traps.append(
                        "identified_by_name" if written["name"] == u.name else "identified_by_alias"
                    )
                self.jobs.append(job)

    # ------------------------------------------------------------------ coverage and defects
    def force_coverage(self) -> None:
        """Make sure every §8 form shows up: a kitchen-sink root version and an xls one."""
        if not self.messy or not self.jobs:
            return
        rng = self.rng
        root = [j for j in self.jobs if j.unit == self.units[0].code]
        if root:
            j = root[-1]
            j.mess = Mess.everything(info_layout="rows")
            j.mess.formula_uncached = False
            self.protected.add(id(j))
            if "xlsxwriter" in [e for e, _ in self.weights]:
                j.engine = "xlsxwriter"
                j.path = self._retype(j.path, "xlsx")
        towns = [j for j in self.jobs if self.by_code[j.unit].level == "township" and j.ledger["problems"]]
        if towns and "xlwt" in [e for e, _ in self.weights]:
            j = rng.choice(towns)
            j.mess = Mess.everything(info_layout="stack")
            j.mess.formula_uncached = False
            self.protected.add(id(j))
            j.engine = "xlwt"
            j.path = self._retype(j.path, "xls")
        if "openpyxl" in [e for e, _ in self.weights]:
            rest = [j for j in self.jobs if j.engine != "xlwt" and j not in root[-1:]]
            if rest:
                j = rng.choice(rest)
                j.mess = Mess.everything(info_layout="pairs2")
                j.mess.formula_uncached = False
                self.protected.add(id(j))
                j.engine = "openpyxl"
                j.path = self._retype(j.path, "xlsx")

    def _retype(self, path: str, ext: str) -> str:
        stem = path.rsplit(".", 1)[0]
        if path.endswith("." + ext):
            return path
        self.paths.discard(path.lower())
        return self.unique(f"{stem}.{ext}")

    def plant(self) -> None:
        """Assign planted errors and warnings (messy counties only)."""
        if not self.messy:
            return
        rng = self.rng
        n = len(self.jobs)
        errors = [
            "E_AS_OF",
            "E_UNIT_UNKNOWN",
            "E_COLUMNS",
            "E_REQUIRED",
            "E_VOCAB",
            "E_DATE",
            "E_NUMBER",
            "E_DUPLICATE_ID",
            "E_UNKNOWN_PROBLEM",
        ]
        warns = [
            "W_SHEET_IGNORED",
            "W_EXTRA_COLUMN",
            "W_UNIT_NAME",
            "W_FORMULA",
            "W_DATE_RANGE",
            "W_CLOSED_NO_DATE",
            "W_NO_MEASURE",
            "W_PLAN_EXCEEDS",
        ]
        rounds = max(1, min(40, round(n * 0.03 / len(errors))))
        by_unit: dict[str, list[Job]] = {}
        for j in self.jobs:
            by_unit.setdefault(j.unit, []).append(j)
        busy = {id(j) for j in self.jobs if j.mess.formula_uncached}
        protected = self.protected
        # a sample of jobs is enough to find candidates; keeps planting cheap at 20,000 units
        pool = [j for j in self.jobs if id(j) not in protected and not j.written]
        if len(pool) > 600:
            pool = rng.sample(pool, 600)
        app = {id(j): set(applicable_defects(j.ledger)) for j in pool}

        def choose(code: str, prefer_later: bool) -> Job | None:
            cands = [j for j in pool if id(j) not in busy and code in app[id(j)]]
            if prefer_later:
                later = [j for j in cands if by_unit[j.unit].index(j) > 0]
                cands = later or cands
            else:  # warnings: the unit's latest version, so the warning is in effect
                latest = [j for j in cands if by_unit[j.unit][-1] is j]
                cands = latest or cands
            return rng.choice(cands) if cands else None

        for _ in range(rounds):
            for code in errors:
                j = choose(code, True)
                if j:
                    j.defect = code
                    busy.add(id(j))
            for code in warns:
                j = choose(code, False)
                if j:
                    j.defect = code
                    busy.add(id(j))
                    if code == "W_FORMULA":  # only openpyxl writes a formula without a cached value
                        j.engine = "openpyxl"
                        j.path = self._retype(j.path, "xlsx")
            # E_UNIT_FORBIDDEN: a branch ledger in another township's folder, a township in its branch's
            j = choose("E_REQUIRED", True)  # any workbook job will do
            towns = [u for u in self.units if u.role == "township"]
            if j and len(towns) >= 2:
                u = self.by_code[j.unit]
                anc = {a.code for a in self.ancestors(u)} | {u.code}
                other = rng.choice([t for t in towns if t.code not in anc])
                self.paths.discard(j.path.lower())
                j.path = self.unique(f"{other.code}/{j.path.rsplit('/', 1)[-1]}")
                j.submitter = other.code
                j.error = {"code": "E_UNIT_FORBIDDEN", "level": "file", "variant": "folder_of_unrelated_unit"}
                busy.add(id(j))


# ============================================================================================
# writing
# ============================================================================================


def _run_job(args: tuple[str, Job]) -> tuple[dict, dict | None, dict | None]:
    """Write one job's workbook; returns (record, defect json, effective ledger for warnings)."""
    inbox, job = args
    rng = random.Random(job.seed)
    path = Path(inbox) / job.path
    written = job.written or None
    if job.defect:
        try:
            book, d = plant_defect(
                job.ledger, job.mess, job.defect, rng, engine=job.engine, variant=job.variant, written=written
            )
        except ValueError:
            book, d = build_book(job.ledger, job.mess, rng, engine=job.engine, written=written), None
    else:
        book, d = build_book(job.ledger, job.mess, rng, engine=job.engine, written=written), None
    engine = d.engine if d and d.engine else job.engine
    render_book(book, path, engine)
    rec = book.record
    rec["engine"] = engine
    return rec, (d.to_json() if d else None), (d.ledger if d and d.ledger is not None else None)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _junk(inbox: Path, planner: _Planner, rng: random.Random, files: list[dict], scale: int) -> None:
    """Ignored files, exact copies, lock files and unreadable files (messy counties)."""
    wb_files = [f for f in files if f["kind"] == "workbook" and not f.get("error")]
    if not wb_files:
        return

    def add_ignored(rel: str, body: bytes, why: str) -> None:
        rel = planner.unique(rel)
        p = inbox / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
        files.append({"path": rel, "kind": "ignored", "reason": why})

    folders = sorted({f["path"].rsplit("/", 1)[0] for f in wb_files if "/" in f["path"]})
    add_ignored(".DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(64), "dot_file")
    for _ in range(scale):
        fo = rng.choice(folders) if folders else ""
        pre = f"{fo}/" if fo else ""
        src = rng.choice(wb_files)
        sname = src["path"].rsplit("/", 1)[-1]
        sdir = src["path"].rsplit("/", 1)[0] + "/" if "/" in src["path"] else ""
        user = C.person(rng).encode("utf-16-le")
        lock = bytes([len(user) // 2]) + user + bytes(165 - 1 - len(user))
        lname = "~$" + (sname if rng.random() < 0.5 else sname[2:])
        add_ignored(f"{sdir}{lname}", lock[:165], "excel_lock_file")
        add_ignored(f"{pre}.DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(32), "dot_file")
        add_ignored(f"{sdir}._{sname}", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ", "appledouble")
        add_ignored(
            f"{pre}主题教育阶段性工作总结.docx",
            b"PK\x03\x04" + "主题教育阶段性工作总结".encode() + bytes(40),
            "docx",
        )
        add_ignored(
            f"{pre}会议记录扫描件.pdf",
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
            "pdf",
        )
        csv = "问题编号,问题描述,整改状态\r\nWT001,理论学习不够深入系统,整改中\r\n".encode("gb18030")
        add_ignored(f"{pre}问题清单导出.csv", csv, "csv")
        add_ignored(
            f"{pre}{rng.choice(('城关镇', '乡镇'))}台账.et",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(120),
            "wps_et",
        )
        add_ignored(f"{sdir}{sname}.bak", (inbox / src["path"]).read_bytes(), "backup_extension")
        # exact byte copies: beside the original, and in the office's dated folder
        for target in (
            f"{sdir}{sname.rsplit('.', 1)[0]}副本.{sname.rsplit('.', 1)[1]}",
            f"{_dated_folder(dt.date.fromisoformat(src['as_of']), rng)}/{sname}",
        ):
            rel = planner.unique(target)
            (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(inbox / src["path"], inbox / rel)
            top = rel.split("/", 1)[0] if "/" in rel else ""
            sub = planner.by_code.get(top.upper(), None)
            files.append(
                {
                    "path": rel,
                    "kind": "copy",
                    "duplicate_of": src["path"],
                    "unit_code": src["unit_code"],
                    "as_of": src["as_of"],
                    "submitter": sub.code if sub else "",
                }
            )
    # unreadable files, each a newer version of some unit
    for i in range(max(3, scale)):
        variant = ("text_named_xlsx", "truncated_zip", "pdf_named_xls")[i % 3]
        src = rng.choice(wb_files)
        sdir = src["path"].rsplit("/", 1)[0] + "/" if "/" in src["path"] else ""
        stem = src["path"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        ext = "xls" if variant == "pdf_named_xls" else "xlsx"
        rel = planner.unique(f"{sdir}{stem}{rng.choice(('（最新）', 'v9', '（修改版2）'))}.{ext}")
        body = (
            (inbox / src["path"]).read_bytes()
            if variant == "truncated_zip" and src["path"].endswith(".xlsx")
            else None
        )
        d = write_unreadable(inbox / rel, variant, rng, source=body)
        top = rel.split("/", 1)[0] if "/" in rel else ""
        sub = planner.by_code.get(top.upper(), None)
        files.append(
            {
                "path": rel,
                "kind": "unreadable",
                "unit_code": src["unit_code"],
                "as_of": None,
                "submitter": sub.code if sub else "",
                "error": {"code": "E_FILE_UNREADABLE", "level": "file", "variant": d.variant},
                "warnings": [],
            }
        )


def generate_county(
    root: Path,
    *,
    n_units: int = 40,
    seed: int = 2023,
    messy: bool = True,
    engines: tuple[str, ...] = ("openpyxl", "xlsxwriter", "xlwt"),
    workers: int | None = None,
    with_ledgers: bool = True,
    as_of_dates: list[dt.date] | None = None,
) -> dict:
    """Write a county: ``root/registry.xlsx``, ``root/inbox/…`` (replaced) and ``root/truth.json``.

    ``n_units`` units (one 县委 root, townships and departments, branches, 党总支 with their own
    支部); ``messy=False`` writes plain template workbooks in each unit's own folder and nothing
    else. ``engines`` limits the writers used. ``workers`` processes write the workbooks (default:
    one per CPU when there are more than 150 workbooks). Deterministic for a seed: the same files
    (byte for byte) and the same truth. Returns the truth dict (also written to ``truth.json``; with
    ``with_ledgers=False`` the ledgers are left out of both to keep benchmark truth small).
    ``as_of_dates`` replaces the weekly 统计截止日期 the units' versions are drawn from (default: every
    Friday from November 2023 to January 2024, ``content.AS_OF_DATES``); the activity histories stay
    those of the campaign.
    """
    root = Path(root)
    inbox = root / "inbox"
    if inbox.exists():
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True)
    engines = tuple(e for e in engines if e in ENGINES)
    rng = random.Random(f"{seed}:county")
    units = build_units(n_units, random.Random(f"{seed}:units"))
    reg = write_registry(root / "registry.xlsx", units, random.Random(f"{seed}:registry"), messy=messy)

    planner = _Planner(units, seed, messy, engines, as_of_dates)
    planner.plan()
    planner.force_coverage()
    planner.plant()
    jobs = planner.jobs

    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if len(jobs) > 150 else 1
    args = [(str(inbox), j) for j in jobs]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(_run_job, args, chunksize=max(1, min(64, len(args) // (workers * 8)))))
    else:
        results = [_run_job(a) for a in args]

    files: list[dict] = []
    form_counts: Counter = Counter()
    value_forms: Counter = Counter()
    for j, (rec, defect, eff) in zip(jobs, results, strict=True):
        error = j.error
        warnings = [dict(w) for w in rec["warnings"]]
        planted_warning = None
        if defect and defect["severity"] == "error":
            error = {"level": "row" if defect["row"] else ("sheet" if defect["sheet"] else "file"), **defect}
        elif defect:
            planted_warning = defect
            warnings.append(
                {
                    k: defect[k]
                    for k in ("code", "sheet", "row", "cell", "column", "value")
                    if defect.get(k) is not None
                }
            )
        ledger = canonical_ledger(eff if eff is not None else j.ledger, inplace=True)
        entry = {
            "path": j.path,
            "kind": "workbook",
            "submitter": j.submitter,
            "unit_code": j.unit if not (error and error["code"] == "E_UNIT_UNKNOWN") else "",
            "intended_unit": j.unit,
            "as_of": j.as_of if not (error and error["code"] == "E_AS_OF") else None,
            "intended_as_of": j.as_of,
            "engine": rec["engine"],
            "forms": rec["forms"],
            "error": error,
            "planted_warning": planted_warning,
            "warnings": sorted({w["code"] for w in warnings}),
            "warning_details": warnings,
            "traps": j.traps,
            "rows": rec["rows"] if with_ledgers else None,
            "layout": {"sheets": rec["sheets"], "info": rec["info"]} if with_ledgers else None,
            "value_forms": rec["value_forms"],
            "ledger": ledger if with_ledgers else None,
        }
        files.append(entry)
        form_counts.update(rec["forms"])
        value_forms.update(rec["value_forms"])
    if messy:
        _junk(inbox, planner, rng, files, scale=max(1, len(jobs) // 40))
    for f in files:
        f["sha256"] = _sha(inbox / f["path"])
    files.sort(key=lambda f: f["path"])

    coverage = {str(k): sorted(f for f in forms if form_counts[f]) for k, forms in SECTION8_FORMS.items()}
    if messy:
        kinds = Counter(f["kind"] for f in files)
        n_versions = Counter(f.get("intended_unit") for f in files if f["kind"] == "workbook")
        coverage["12"] = sorted(
            (["versions"] if any(v > 1 for v in n_versions.values()) else [])
            + (["exact_copy"] if kinds["copy"] else [])
            + (["lock_file"] if any(f.get("reason") == "excel_lock_file" for f in files) else [])
        )
        coverage["13"] = (
            ["township_folder"]
            if any(
                f["kind"] == "workbook"
                and f["submitter"]
                and f["submitter"] != f["intended_unit"]
                and not f["error"]
                for f in files
            )
            else []
        )

    truth = {
        "generator": {
            "name": "ledgerflow.demo",
            "version": GENERATOR_VERSION,
            "seed": seed,
            "n_units": n_units,
            "messy": messy,
            "engines": list(engines),
        },
        "county": {"name": C.COUNTY, "root": units[0].code},
        "campaign": {"start": C.CAMPAIGN_START.isoformat(), "end": C.CAMPAIGN_END.isoformat()},
        "as_of_dates": [d.isoformat() for d in planner.as_of_dates],
        "registry": reg,
        "units": [u.registry_row() for u in units],
        "files": files,
        "form_counts": dict(sorted(form_counts.items())),
        "value_form_counts": dict(sorted(value_forms.items())),
        "section8_coverage": coverage,
        "notes": [
            "files[].kind: workbook | copy (byte-identical to duplicate_of) | unreadable | ignored.",
            "files[].ledger: the clean ledger a correct reader gets (for rejected files: the ledger before the defect).",
            "files[].rows[table][i]: 1-based sheet/row of the i-th ledger record as written.",
            "files[].intended_as_of: the 统计截止日期 the unit meant (also where E_AS_OF left as_of empty).",
            "files[].error: the one planted error (code, sheet, row, cell, column, value) or None.",
            "files[].warnings: codes a correct reader raises: planted ones plus those the forms imply (W_EXTRA_COLUMN, W_FORMULA).",
            "A unit's 是否报送/phase/cadre defaults are resolved in the ledgers: empty 所属环节 = general, absent 干部类别 = other.",
        ],
    }
    (root / "truth.json").write_text(
        json.dumps(truth, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    return truth


def truth_ledgers(truth: dict) -> dict[str, dict]:
    """path -> clean ledger, for the workbooks of a truth dict (like samples' ledgers.json)."""
    return {f["path"]: f["ledger"] for f in truth["files"] if f["kind"] == "workbook" and f.get("ledger")}


def copy_ledger(ledger: dict) -> dict:
    return copy.deepcopy(ledger)


__all__ = [
    "Defect",
    "Unit",
    "build_units",
    "generate_county",
    "make_history",
    "snapshot",
    "truth_ledgers",
    "write_registry",
]
