"""Hypothesis strategies: clean ledgers (ledger.md §4–§6) and the workbooks a unit may write them in
(§4 sheets, §4.1 label/value layouts, §7 where the table is, §8 what real submissions look like).

A drawn workbook is plain data (model.Book) plus what reading it must give (model.Expect) and, for
planting defects, where each value landed (Slot). Only freedoms the contract determines are
drawn; the ones it leaves open are listed in ``NOT_GENERATED``. Every choice shrinks towards the
plainer layout (sheet found by name, one-row header, no marks, no merges, no extra sheets).
"""

from __future__ import annotations

import calendar
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from contract import (
    COMBINED_SHEET_NAMES,
    HELPER_SHEET_EXAMPLES,
    LABEL_COLONS,
    NON_DATA_PREFIXES,
    TABLES,
    C,
    Column,
    fields_named,
    norm_header,
    tables_in_sheet_name,
)
from forms import (
    Raw,
    date_raw,
    deadline_raw,
    int_raw,
    list_raw,
    pick,
    rarely,
    text_raw,
    text_value,
    vocab_raw,
)
from hypothesis import assume
from hypothesis import strategies as st
from model import Book, Expect, Sheet, feature

# Freedoms a real clerk takes that the contract does not determine; never generated (see the report).
NOT_GENERATED = (
    "combined sheet: 责任人/责任领导, 时限/完成时限, 完成日期/完成时间, 状态, 编号 name a problem and a measure column",
    "combined sheet: 对应问题编号/所属问题编号 as its ID column (names only the measure's 问题编号)",
    "combined sheet: a problem's cells repeated on every measure row instead of merged",
    "combined sheet found by its header (Sheet1) rather than its name; beside only one separate sheet",
    "a merge across two problems' groups, or across a row that is not data",
    "two sheets for one table, or a table split over sheets",
    "Sheet1 whose header names as many required and as many columns of two tables; a two-row header on it",
    "a title that is itself a column name (merged across the table it names that column in ≥2 cells)",
    "a 填报信息 label merged across cells (its copy in the next cell is itself a label)",
    "a 填报信息 label with an empty value beside another label in the same row",
    "IDs, text and phone numbers in number cells (how a number becomes text is not said)",
    "one ID in two tables (a 课题编号 equal to a 措施编号: 'repeats within the submission'?)",
    "W_DATE_RANGE for a deadline after the 统计截止日期 (a deadline is a plan, not a date done)",
    "a deadline that also says 长期坚持 (the form of such a cell is not said)",
    "a date text with surrounding spaces or full-width digits; fractional serial numbers; 零 for 0",
    "a list cell with an empty item (`走访、、座谈`)",
    "E_COLUMNS for the problems' 问题编号 (do measures then name unknown problems?)",
    "E_REQUIRED for an empty measure 问题编号 (is it also E_UNKNOWN_PROBLEM?)",
)

# Freedoms switched off for an exploring session (comma list in LAYOUT_WITHOUT), to look behind a
# failure already known: "group-names-column", "nondata-between", "combined". Never set in CI.
WITHOUT = frozenset(filter(None, os.environ.get("LAYOUT_WITHOUT", "").split(",")))

WINDOW = C.window
TEXT_POOL = {
    "lead": "name",
    "owner": "name",
    "head": "name",
    "reporter": "name",
    "lead_title": "title",
    "owner_unit": "unit",
    "places": "place",
    "doc_no": "doc",
    "target": "unit",
}
ID_PREFIX = {"research": ("KT", "DY"), "problems": ("WT", "JS"), "measures": ("CS", "ZG")}
UNIT_NAMES = ("城关镇党委", "黄土岭乡党委", "周家社区党支部", "县教育局党组", "高岭村党支部", "孙家村党支部")
# §4.6: the two tables of the combined sheet
COMBINED = ("problems", "measures")


@dataclass(frozen=True)
class Bad:
    """A cell value no reading accepts (planted in records for the metamorphic property)."""

    raw: tuple
    code: str


# ---- clean ledgers --------------------------------------------------------------------------------


@dataclass
class Ledger:
    """One unit's whole ledger as values (§4): info fields and the records of every table, in the
    order they stand in the workbook. Absent optional values are their §6 default."""

    info: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    owner: list[int]  # for each measure, the index of its problem (the measures of a problem are adjacent)

    def combinable(self) -> bool:
        """Whether problems and measures can be written as one combined sheet (§4.6): every problem
        has a measure, and no value needs a column the contract leaves ambiguous there."""
        if set(self.owner) != set(range(len(self.tables["problems"]))) or self.owner != sorted(self.owner):
            return False
        return all(
            combined_allowed(C.tables[t].column(f)) or _is_default(C.tables[t].column(f), r[f])
            for t in COMBINED
            for r in self.tables[t]
            for f in r
        )


def _is_default(col: Column, v: Any) -> bool:
    return v is None or v == [] or (col.default is not None and v == col.default)


def empty_value(col: Column) -> Any:
    """What an empty or absent optional cell reads as (§6)."""
    if col.kind == "list":
        return []
    return col.default


@st.composite
def dates_until(draw, last: date, deadline: bool = False) -> date:
    """A day in the campaign window up to ``last``; deadlines often a month's last day (§6)."""
    first = WINDOW[0]
    if deadline and draw(st.booleans()):
        ends, y, m = [], first.year, first.month
        while date(y, m, 1) <= last:
            end = date(y, m, calendar.monthrange(y, m)[1])
            if end <= last:
                ends.append(end)
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        if ends:
            return pick(draw, ends)
    return draw(st.dates(first, last))


@st.composite
def record(draw, table: str, as_of: date, next_id) -> dict[str, Any]:
    """One clean record of ``table``, driven by the §4 column types."""
    rec: dict[str, Any] = {}
    for col in C.tables[table].columns:
        empty = not col.required and draw(st.integers(0, 2)) == 0
        if col.kind == "ref":
            rec[col.field] = None  # set by the caller
        elif empty:
            rec[col.field] = empty_value(col)
        elif col.kind == "text":
            rec[col.field] = draw(text_value(TEXT_POOL.get(col.field, "topic")))
        elif col.kind == "id":
            rec[col.field] = next_id(table)
        elif col.kind == "date":
            rec[col.field] = draw(dates_until(as_of))
        elif col.kind == "deadline":
            rec[col.field] = draw(dates_until(as_of, deadline=True))
        elif col.kind == "integer":
            rec[col.field] = draw(st.integers(0, 300))
        elif col.kind == "vocab":
            rec[col.field] = pick(draw, C.slugs(col.voc))
        elif col.kind == "list":
            rec[col.field] = sorted(
                draw(st.lists(st.sampled_from(C.slugs(col.voc)), unique=True, max_size=3))
            )
        else:  # pragma: no cover - contract.py knows every kind
            raise ValueError(col.kind)
    # §9 W_CLOSED_NO_DATE: a closed problem has its 销号日期, a formed report its 报告完成日期.
    if table == "problems" and rec["status"] == "closed" and rec["closed_date"] is None:
        rec["closed_date"] = draw(dates_until(as_of))
    if table == "research" and rec["status"] == "report_formed" and rec["report_date"] is None:
        rec["report_date"] = draw(dates_until(as_of))
    return rec


@st.composite
def ledgers(
    draw, *, max_rows: int = 3, min_rows: dict[str, int] | None = None, combinable: bool | None = None
) -> Ledger:
    """A clean ledger (§4): valid values in the campaign window, every date on or before the
    统计截止日期, unique IDs, every measure naming a problem and every problem with a measure,
    制定个人学习计划人数 ≤ 党员人数."""
    min_rows = min_rows or {}
    as_of = draw(st.dates(WINDOW[0] + timedelta(days=20), WINDOW[1]))
    counters: dict[str, int] = {}
    prefix = {t: pick(draw, p) for t, p in ID_PREFIX.items()}
    start = draw(st.integers(1, 90))

    def next_id(table: str) -> str:
        counters[table] = counters.get(table, start) + 1
        return f"{prefix[table]}-{counters[table]:02d}"

    members = draw(st.none() | st.integers(0, 300))
    info = {
        "unit_code": pick(draw, ["QX-T01", "QX-T02-B003", "QX-D01", "QX-T03-B012"]),
        "unit_name": pick(draw, UNIT_NAMES),
        "as_of": as_of,
        "reporter": draw(st.none() | text_value("name")),
        "phone": pick(draw, (None, "0791-1234567", "13912345678", "0791-88776655")),
        "members": members,
        "members_with_plan": None if members is None else draw(st.none() | st.integers(0, members)),
    }
    tables: dict[str, list[dict[str, Any]]] = {}
    for t in TABLES:
        if t == "measures":
            continue
        lo = min_rows.get(t, 0)
        n = draw(st.integers(lo, max(lo, max_rows)))
        tables[t] = [draw(record(t, as_of, next_id)) for _ in range(n)]
    measures, owner = [], []
    for pi, p in enumerate(tables["problems"]):
        for _ in range(draw(st.integers(1, 2))):
            m = draw(record("measures", as_of, next_id))
            m["problem_id"] = p["problem_id"]
            measures.append(m)
            owner.append(pi)
    tables["measures"] = measures
    led = Ledger(info, {t: tables[t] for t in TABLES}, owner)
    if combinable is None:
        combinable = draw(st.booleans())
    if combinable:
        for t in COMBINED:
            for r in led.tables[t]:
                for f in r:
                    col = C.tables[t].column(f)
                    if not combined_allowed(col) and col.kind != "ref":
                        r[f] = empty_value(col)
    return led


# ---- headers ----------------------------------------------------------------------------------------


def combined_names(col: Column) -> tuple[str, ...]:
    """The names a column may carry in a combined sheet: those naming it and nothing else there
    (问题编号 names the problem's ID and each measure's 问题编号 at once, §4.6)."""
    if col.table == "measures" and col.field == "problem_id":
        return ()
    want = {(col.table, col.field)}
    if col.table == "problems" and col.field == "problem_id":
        want.add(("measures", "problem_id"))
    return tuple(n for n in col.names if fields_named(n, COMBINED) == want)


def combined_allowed(col: Column) -> bool:
    return col.kind == "ref" or bool(combined_names(col))


def header_owner(headers: list[str]) -> str | None:
    """§4: the table a header row of an unnamed sheet belongs to (most required columns named, then
    most columns), or None where that does not decide or fewer than two columns are named."""
    score = {}
    for t in TABLES:
        named = {f for h in headers for (_, f) in fields_named(h, (t,))}
        req = {f for f in named if C.tables[t].column(f).required}
        score[t] = (len(req), len(named))
    best = max(score.values())
    winners = [t for t, s in score.items() if s == best]
    return winners[0] if len(winners) == 1 and best[1] >= 2 else None


@st.composite
def marked(draw, name: str) -> str:
    """A header as written (§7): the name with any of `*`, `（必填）`, `(必填)`, line breaks, spaces
    and a trailing `：`."""
    h = name
    mask = draw(st.integers(0, 31)) if rarely(draw, 2) else 0
    ops = {op for i, op in enumerate(("star", "must", "newline", "space", "colon")) if mask >> i & 1}
    if "space" in ops and len(h) > 1:
        i = draw(st.integers(1, len(h) - 1))
        h = h[:i] + pick(draw, [" ", "\u3000", "  "]) + h[i:]
    if "newline" in ops and len(h) > 1:
        i = draw(st.integers(1, len(h) - 1))
        h = h[:i] + "\n" + h[i:]
    if "star" in ops:
        h = pick(draw, ["*", "＊", "* "]) + h
    if "must" in ops:
        h += pick(draw, ["（必填）", "(必填)", "\n（必填）", "\n(必填)"])
    if "colon" in ops:
        h += "："
    if rarely(draw, 5):
        h = " " + h + pick(draw, [" ", "\n"])
    assert norm_header(h) == norm_header(name), (h, name)
    return h


# ---- sheet names (§4) --------------------------------------------------------------------------------

_NAME_PREFIX = ("", "", "", "1.", "2.", "3、", "附件3：", "表2-")
_NAME_SUFFIX = ("", "", "", "（11月）", "(第三周)", "（12.15）", "_v2", "（修改版）")
_GENERIC = tuple(f"Sheet{i}" for i in range(1, 10))
_HELPER = ("下拉选项", "数据源", "选项", "字典")


@st.composite
def sheet_name(draw, bases: tuple[str, ...], want: set[str], taken: set[str]) -> str:
    """A sheet name that contains one of ``bases`` (maybe decorated, `2.学习台账（11月）`) and names
    exactly the tables ``want`` (§4), unused so far."""
    for _ in range(20):
        name = pick(draw, _NAME_PREFIX) + pick(draw, bases) + pick(draw, _NAME_SUFFIX)
        if len(name) <= 31 and name.lower() not in taken and tables_in_sheet_name(name) == want:
            taken.add(name.lower())
            return name
    for base in bases:
        if base.lower() not in taken and tables_in_sheet_name(base) == want:
            taken.add(base.lower())
            return base
    assume(False)
    raise AssertionError  # pragma: no cover


def generic_name(taken: set[str]) -> str:
    name = next(n for n in _GENERIC if n.lower() not in taken)
    taken.add(name.lower())
    return name


# ---- table sheets -------------------------------------------------------------------------------------


@dataclass
class Col:
    """A column of a drawn table sheet."""

    role: str  # field | seq | extra
    table: str = ""
    field: str = ""
    header: str = ""  # as written
    name: str = ""  # the contract name it carries (for E_COLUMNS: the missing column's name)
    group: int | None = None

    def column(self) -> Column:
        return C.tables[self.table].column(self.field)


@dataclass(frozen=True)
class Slot:
    """Where a value of a record landed: for planting a defect at that cell."""

    sheet: str
    row: int
    col: int
    table: str
    index: int  # record index in its table
    field: str
    merged: bool


@dataclass
class Built:
    """A drawn sheet or workbook: its sheets, expected reading, and the slots of its values."""

    sheets: list[Sheet] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    tolerated: list[dict[str, Any]] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    columns: dict[str, list[Col]] = field(default_factory=dict)  # sheet -> its columns


_EXTRA_HEADERS = ("备注", "佐证材料", "联系方式", "附件", "录入人", "是否公开", "所在村")
_EXTRA_VALUES = ("见附件", "已归档", "是", "否", "有", "已上传", None)
_GROUP_TEXTS = ("基本情况", "责任落实", "时间节点", "工作情况", "具体安排")
_TITLES = ("{unit}主题教育{what}", "{unit}{what}（第三周）", "主题教育{what}", "{what}")


def _raw_for(draw, col: Column, value: Any, formulas: bool) -> Raw | None:
    if isinstance(value, Bad):
        return list(value.raw)
    if col.kind in ("text", "id", "ref"):
        return draw(text_raw(value))
    if col.kind == "date":
        return None if value is None else draw(date_raw(value))
    if col.kind == "deadline":
        return draw(deadline_raw(value, col.none_words))
    if col.kind == "integer":
        if value is None:
            return None
        if formulas and value > 0 and rarely(draw, 4):
            a = draw(st.integers(0, value))
            return ["fx", f"={a}+{value - a}", value]  # §6: the value Excel last computed
        return draw(int_raw(value))
    if col.kind == "vocab":
        return draw(vocab_raw(col.voc, value, col.default))
    if col.kind == "list":
        return draw(list_raw(col.voc, value))
    raise ValueError(col.kind)  # pragma: no cover


@st.composite
def _columns(
    draw,
    tables: tuple[str, ...],
    recs: dict[str, list[dict]],
    *,
    by_header: bool,
    drop: tuple[str, str] | None,
) -> list[Col]:
    """The columns of a table sheet: required ones (less ``drop``), optional ones where a record
    needs them or at will, a 序号 anywhere, extra columns; in any order, with synonyms and marks."""
    combined = len(tables) == 2
    cols: list[Col] = []
    for t in tables:
        for col in C.tables[t].columns:
            if combined and t == "measures" and col.field == "problem_id":
                continue  # the combined sheet's 问题编号 is the problem's (§4.6)
            if drop == (t, col.field):
                continue
            names = combined_names(col) if combined else col.names
            needed = col.required or any(not _is_default(col, r[col.field]) for r in recs[t])
            if not names:
                assert not needed, f"{t}.{col.field} cannot stand in a combined sheet"
                continue
            if needed or draw(st.booleans()):
                name = pick(draw, names) if draw(st.booleans()) else names[0]
                cols.append(Col("field", t, col.field, name=name))
    if drop is not None:  # the header must still name two columns (§7) for E_COLUMNS to be determined
        for t in tables:
            for col in C.tables[t].columns:
                named = [c for c in cols if c.role == "field"]
                names = combined_names(col) if combined else col.names
                if (
                    len(named) < 2
                    and names
                    and (t, col.field) != drop
                    and all(c.field != col.field or c.table != t for c in named)
                ):
                    cols.append(Col("field", t, col.field, name=names[0]))
    if by_header:
        owner = header_owner([c.name for c in cols])
        if owner != tables[0]:  # synonyms shared with another table: canonical names, all columns
            cols = [Col("field", tables[0], c.field, name=c.header) for c in C.tables[tables[0]].columns]
            assume(header_owner([c.name for c in cols]) == tables[0])
    if draw(st.booleans()):
        cols.append(Col("seq", name="序号"))
    for h in draw(st.lists(st.sampled_from(_EXTRA_HEADERS), unique=True, max_size=2)):
        assert not fields_named(h)
        cols.append(Col("extra", name=h))
    cols = list(draw(st.permutations(cols)))
    for c in cols:
        c.header = draw(marked(c.name)) if c.role == "field" else c.name
    return cols


_PREFIX_ROWS = {
    "合计": ("合计", "合计：", " 合计", "合计（截至本周）"),
    "总计": ("总计", "总计："),
    "小计": ("小计（本月）", "小计（10月）", "小计"),
    "注": ("注：以上数据截至本周。", "注：10月起按新模板填写", "注1：日期按实际填写"),
    "备注：": ("备注：以下为第二批", "备注:无"),
    "说明": ("说明：数据来源于各支部",),
    "填表说明": ("填表说明：1.日期格式为2023-09-15；2.类型从下拉选项中选择。",),
    "填表人": ("填表人：张三", "填表人：李四  审核人：王五"),
    "审核人": ("审核人：王五",),
    "联系人": ("联系人：赵六 13900000000",),
}
assert set(_PREFIX_ROWS) == set(NON_DATA_PREFIXES)


@st.composite
def table_sheet(
    draw,
    tables: tuple[str, ...],
    recs: dict[str, list[dict[str, Any]]],
    name: str,
    *,
    by_header: bool = False,
    drop: tuple[str, str] | None = None,
    formulas: bool = False,
    unit_name: str = "城关镇党委",
    owner: list[int] | None = None,
) -> Built:
    """A table sheet (§4, §7, §8): rows above the header, a one- or two-row header, data rows with
    rows that are not data among them, vertical merges of equal values; ``tables`` is one table or
    ("problems", "measures") for the combined sheet (§4.6)."""
    combined = len(tables) == 2
    cols = draw(_columns(tables, recs, by_header=by_header, drop=drop))
    ncol = len(cols)
    if combined:
        _combined_events(cols)
    sheet = Sheet(name)
    out = Built(sheets=[sheet], records={t: [] for t in tables})
    out.columns[name] = cols

    # two-row header: group cells over runs of ≥2 adjacent field columns (§7)
    two_row = not by_header and rarely(draw, 3)
    groups: list[tuple[int, int, str]] = []  # (first col index, last col index, text)
    if two_row:
        i = 0
        while i < ncol - 1:
            if cols[i].role == "field" and cols[i + 1].role == "field" and draw(st.booleans()):
                j = i + 1
                if j + 1 < ncol and cols[j + 1].role == "field" and draw(st.booleans()):
                    j += 1
                under = cols[i : j + 1]
                own = [
                    n
                    for c in under
                    for n in c.column().names
                    if fields_named(n, tables) == {(c.table, c.field)}
                ]
                text = pick(draw, list(_GROUP_TEXTS) + ([] if "group-names-column" in WITHOUT else own))
                groups.append((i, j, text))
                for c in under:
                    c.group = len(groups) - 1
                i = j + 1
            else:
                i += 1
        loose = [c for c in cols if c.group is None and c.role == "field"]
        if not groups or len(loose) < 2:  # the first header row must name two columns (§7)
            two_row = False
            groups = []
            for c in cols:
                c.group = None

    # rows above the header (§7, §8.1): titles, a 填报单位 line, empty rows; header in rows 1–10
    pre: list[str] = draw(
        st.lists(st.sampled_from(["title", "unit", "empty"]), max_size=9 - (1 if two_row else 0))
    )
    row = 1
    what = C.tables[tables[0]].sheet if not combined else COMBINED_SHEET_NAMES[0]
    for kind in pre:
        if kind == "title":
            titles = [t.format(unit=unit_name, what=what) for t in _TITLES]
            title = pick(draw, [t for t in titles if not fields_named(t)])
            sheet.put(row, 1, ["s", title])
            if ncol > 1 and draw(st.booleans()):
                sheet.merge(row, 1, row, ncol)
        elif kind == "unit":
            sheet.put(row, 1, ["s", f"填报单位：{unit_name}"])
            if ncol > 2 and draw(st.booleans()):
                sheet.put(row, ncol, ["s", "填报日期：2023年12月15日"])
        row += 1
    top = row
    if two_row:
        feature(
            "two-row header"
            + (
                " (a group text names a sub-header's column)"
                if any(fields_named(g[2], tables) for g in groups)
                else ""
            )
        )
        for ci, c in enumerate(cols):
            if c.group is None:
                sheet.put(top, ci + 1, ["s", c.header])
                sheet.merge(top, ci + 1, top + 1, ci + 1)
            else:
                sheet.put(top + 1, ci + 1, ["s", c.header])
        for i, j, text in groups:
            sheet.put(top, i + 1, ["s", text])
            sheet.merge(top, i + 1, top, j + 1)
        row = top + 2
    else:
        for ci, c in enumerate(cols):
            sheet.put(top, ci + 1, ["s", c.header])
        row = top + 1
    for c in cols:
        if c.role == "extra":
            out.issues.append({"code": "W_EXTRA_COLUMN", "sheet": name, "column": c.header})

    # the data units: one record per row, or in the combined sheet one problem with its measures
    if combined:
        units = []
        for pi in range(len(recs["problems"])):
            ms = [(mi, m) for mi, m in enumerate(recs["measures"]) if owner[mi] == pi]
            units.append((pi, ms))
    else:
        units = [(i, None) for i in range(len(recs[tables[0]]))]
    n_gaps = len(units) + 1
    first_gap = len(units) if "nondata-between" in WITHOUT else 0
    nondata = draw(st.lists(st.tuples(st.integers(first_gap, n_gaps - 1), _nondata_kind(cols)), max_size=4))
    trailing = draw(st.integers(0, 3)) if any(c.role == "seq" for c in cols) else 0
    seq_no = 1
    data_rows: list[tuple[int, int]] = []  # (excel row, unit index) of data rows, for merges
    if any(0 < g < len(units) for g, k in nondata if k != "empty"):
        feature("rows that are not data between data rows")
    for g in range(n_gaps):
        for _, kind in [x for x in nondata if x[0] == g]:
            seq_no = draw(_nondata_row(sheet, row, cols, kind, seq_no, recs, tables, formulas))
            row += 1
        if g == len(units):
            break
        idx, ms = units[g]
        if not combined:
            t = tables[0]
            rec = recs[t][idx]
            _data_row(draw, sheet, out, row, cols, {t: (idx, rec)}, seq_no, formulas)
            out.records[t].append({"sheet": name, "row": row, **rec})
            data_rows.append((row, g))
            seq_no += 1
            row += 1
        else:
            p = recs["problems"][idx]
            first = row
            per_group_seq = draw(st.booleans())
            for k, (mi, m) in enumerate(ms):
                entries = {"measures": (mi, m)}
                if k == 0:
                    entries["problems"] = (idx, p)
                _data_row(draw, sheet, out, row, cols, entries, seq_no, formulas)
                out.records["measures"].append({"sheet": name, "row": row, **m})
                data_rows.append((row, g))
                if not per_group_seq:
                    seq_no += 1
                row += 1
            if per_group_seq:
                seq_no += 1
            out.records["problems"].append({"sheet": name, "row": first, **p})
            if len(ms) > 1:  # the problem's cells merged over its measures' rows (§4.6)
                for ci, c in enumerate(cols):
                    if (c.role == "field" and c.table == "problems") or (c.role == "seq" and per_group_seq):
                        sheet.merge(first, ci + 1, row - 1, ci + 1)
    for _ in range(trailing):  # pre-numbered empty rows under the data (§8.4)
        seq_col = next(ci for ci, c in enumerate(cols) if c.role == "seq")
        sheet.put(row, seq_col + 1, ["n", seq_no])
        seq_no += 1
        row += 1

    # vertical merges of equal values in consecutive data rows (§6 merged cells)
    _merge_equal(draw, sheet, out, cols, data_rows, combined)
    out.slots = [
        Slot(s.sheet, s.row, s.col, s.table, s.index, s.field, sheet.in_merge(s.row, s.col))
        for s in out.slots
    ]
    return out


def _combined_events(cols: list[Col]) -> None:
    """Statistics (pytest --hypothesis-show-statistics): where the problem columns stand (§4.6)."""
    pos = {(c.table, c.field): i for i, c in enumerate(cols) if c.role == "field"}
    content = pos.get(("measures", "content"))
    pid = pos.get(("problems", "problem_id"))
    if content is not None and pid is not None:
        feature(f"combined: 问题编号 {'right' if pid > content else 'left'} of 整改措施")
    m = [i for (t, _), i in pos.items() if t == "measures"]
    if m and any(min(m) < i < max(m) for (t, _), i in pos.items() if t == "problems"):
        feature("combined: a problem column between measure columns")


def _nondata_kind(cols: list[Col]) -> st.SearchStrategy[str]:
    kinds = ["empty", "prefix", "prefix"]
    if any(c.role == "seq" for c in cols):
        kinds.append("seq")
    if any(c.role == "extra" for c in cols):
        kinds.append("extra")
    return st.sampled_from(tuple(kinds))


@st.composite
def _nondata_row(draw, sheet, row, cols, kind, seq_no, recs, tables, formulas) -> int:
    """A row that is not data (§7): empty, only 序号 (or only an extra column), or whose first
    non-empty cell starts with 合计, 小计, 注, 备注：, 填表说明, … (with sums or a second note)."""
    ncol = len(cols)
    if kind == "seq":
        ci = next(i for i, c in enumerate(cols) if c.role == "seq")
        sheet.put(row, ci + 1, ["n", seq_no])
        return seq_no + 1
    if kind == "extra":
        ci = next(i for i, c in enumerate(cols) if c.role == "extra")
        sheet.put(row, ci + 1, ["s", "见附件"])
        return seq_no
    if kind == "empty":
        return seq_no
    prefix = pick(draw, NON_DATA_PREFIXES)
    text = pick(draw, _PREFIX_ROWS[prefix])
    at = draw(st.integers(0, ncol - 1))
    sheet.put(row, at + 1, ["s", text])
    if prefix in ("合计", "总计", "小计"):
        for ci in range(at + 1, ncol):
            c = cols[ci]
            if c.role == "field" and c.column().kind == "integer" and draw(st.booleans()):
                total = sum(r[c.field] or 0 for r in recs[c.table] if isinstance(r[c.field], int))
                if formulas and draw(st.booleans()):
                    sheet.put(row, ci + 1, ["fx", f"=SUM({total})", total])
                else:
                    sheet.put(row, ci + 1, ["n", total])
            elif c.role == "field" and c.column().kind == "text" and rarely(draw, 3):
                sheet.put(row, ci + 1, ["s", f"共{len(recs[c.table])}项"])
    elif at + 1 < ncol and rarely(draw, 2):
        sheet.merge(row, at + 1, row, ncol)  # a note line merged across the table
    return seq_no


def _data_row(draw, sheet, out, row, cols, entries, seq_no, formulas) -> None:
    """Writes one data row: each field column from its record (``entries``: table -> (index, rec))."""
    for ci, c in enumerate(cols):
        if c.role == "seq":
            sheet.put(row, ci + 1, ["n", seq_no])
            continue
        if c.role == "extra":
            v = pick(draw, _EXTRA_VALUES)
            if v is not None:
                sheet.put(row, ci + 1, ["s", v])
            continue
        if c.table not in entries:
            continue
        idx, rec = entries[c.table]
        raw = _raw_for(draw, c.column(), rec[c.field], formulas)
        sheet.put(row, ci + 1, raw)
        out.slots.append(Slot(sheet.name, row, ci + 1, c.table, idx, c.field, False))
        if c.table == "problems" and c.field == "problem_id" and "measures" in entries and len(entries) == 2:
            midx, _ = entries["measures"]
            out.slots.append(Slot(sheet.name, row, ci + 1, "measures", midx, "problem_id", False))


def _merge_equal(draw, sheet: Sheet, out: Built, cols: list[Col], data_rows, combined: bool) -> None:
    """Merges some runs of equal values in consecutive data rows of a column (never across a row
    that is not data, never across two problems' groups in the combined sheet)."""
    if len(data_rows) < 2 or draw(st.integers(0, 2)) == 0:
        return
    by_row = {r: g for r, g in data_rows}
    for ci, c in enumerate(cols):
        if c.role != "field" or c.column().kind == "id" or (combined and c.table == "problems"):
            continue
        values = {s.row: s for s in out.slots if s.sheet == sheet.name and s.col == ci + 1}
        recs = out.records[c.table]
        val = {}
        for r in by_row:
            if r in values:
                rec = next(x for x in recs if x["row"] == r)
                val[r] = rec[c.field]
        rows = sorted(val)
        i = 0
        while i < len(rows):
            j = i
            while (
                j + 1 < len(rows)
                and rows[j + 1] == rows[j] + 1
                and (not combined or by_row[rows[j + 1]] == by_row[rows[i]])
                and val[rows[j + 1]] == val[rows[i]]
                and val[rows[i]] not in (None, [])
                and not isinstance(val[rows[i]], Bad)
                and (rows[i], ci + 1) in sheet.cells
            ):
                j += 1
            if j > i and draw(st.booleans()):
                feature("vertical merge of equal values")
                sheet.merge(rows[i], ci + 1, rows[j], ci + 1)
            i = j + 1


# ---- the 填报信息 sheet (§4.1) -------------------------------------------------------------------------


@st.composite
def info_sheet(draw, info: dict[str, Any], name: str, *, omit: tuple[str, ...] = ()) -> Built:
    """The 填报信息 sheet in a label/value layout (§4.1): labels beside their values (maybe a gap
    column), two pairs to a row, or a row of labels over a row of values; labels may end in ：/:;
    a title row above. ``omit`` drops those labels entirely."""
    layout = pick(draw, ["rows", "pairs", "over"])
    feature(f"填报信息 layout: {layout}")
    sheet = Sheet(name)
    out = Built(sheets=[sheet])
    fields = [lb for lb in C.labels if lb.field not in omit]
    present = []
    for lb in fields:
        v = info.get(lb.field)
        if v is None and (layout == "pairs" or draw(st.booleans())):
            continue  # no label at all; beside another pair an empty value is not determined
        present.append((lb, v))
    present = list(draw(st.permutations(present))) if draw(st.booleans()) else present
    row = 1
    c0 = draw(st.integers(1, 2))
    if draw(st.booleans()):
        sheet.put(row, c0, ["s", pick(draw, ["主题教育工作台账 填报信息", "基本情况", "封面"])])
        if draw(st.booleans()):
            sheet.merge(row, c0, row, c0 + 3)  # a title merged across the form
        row += 1 + draw(st.integers(0, 1))

    def label(lb) -> Raw:
        text = pick(draw, lb.names) if draw(st.booleans()) else lb.label
        if draw(st.booleans()):
            text += pick(draw, LABEL_COLONS)
        return ["s", text]

    def value(lb, v) -> Raw | None:
        if v is None:
            return None
        if lb.kind == "date":
            return draw(date_raw(v))
        if lb.kind == "integer":
            return draw(int_raw(v))
        return draw(text_raw(v))

    slots: dict[str, tuple[int, int]] = {}
    if layout == "rows":
        gap = draw(st.integers(1, 2))
        span = draw(st.integers(1, 3)) if gap == 1 else 1  # a value cell merged across the form
        for lb, v in present:
            sheet.put(row, c0, label(lb))
            sheet.put(row, c0 + gap, value(lb, v))
            if span > 1 and v is not None:
                sheet.merge(row, c0 + gap, row, c0 + gap + span - 1)
            slots[lb.field] = (row, c0 + gap)
            row += 1
    elif layout == "pairs":
        span = draw(st.integers(1, 2))
        for k in range(0, len(present), 2):
            c = c0
            for lb, v in present[k : k + 2]:
                sheet.put(row, c, label(lb))
                sheet.put(row, c + 1, value(lb, v))
                if span > 1:
                    sheet.merge(row, c + 1, row, c + span)
                slots[lb.field] = (row, c + 1)
                c += 1 + span
            row += 1
    else:
        per = draw(st.integers(3, 7))
        for k in range(0, len(present), per):
            for j, (lb, v) in enumerate(present[k : k + per]):
                sheet.put(row, c0 + j, label(lb))
                sheet.put(row + 1, c0 + j, value(lb, v))
                slots[lb.field] = (row + 1, c0 + j)
            row += 2 + draw(st.integers(0, 1))
    for f, (r, c) in slots.items():
        out.slots.append(Slot(name, r, c, "info", 0, f, False))
    return out


# ---- helper sheets (§4, §8.10) ------------------------------------------------------------------------


def helper_sheet(name: str) -> Sheet:
    """A dropdown helper sheet: column names of several tables over their vocabularies."""
    sheet = Sheet(name)
    heads = [("会议类型", "M"), ("学习形式", "S"), ("整改状态", "Z"), ("完成情况", "W"), ("类型", "G")]
    for ci, (h, voc) in enumerate(heads, start=1):
        sheet.put(1, ci, ["s", h])
        for ri, term in enumerate(C.vocab[voc], start=2):
            sheet.put(ri, ci, ["s", term.canonical])
    return sheet


def junk_sheet(name: str, table: str) -> Sheet:
    """A hidden sheet named like a table, with that table's header and rows no reading accepts."""
    sheet = Sheet(name, hidden=True)
    cols = C.tables[table].columns
    for ci, col in enumerate(cols, start=1):
        sheet.put(1, ci, ["s", col.header])
        sheet.put(2, ci, ["s", "旧数据XX"])
        sheet.put(3, ci, ["n", -1])
    return sheet


def notes_sheet(name: str) -> Sheet:
    sheet = Sheet(name)
    for r, text in enumerate(["填表说明", "1.本表按周报送，累计填写。", "2.日期请按实际填写。"], start=1):
        sheet.put(r, 1, ["s", text])
    return sheet


# ---- whole workbooks ---------------------------------------------------------------------------------


@dataclass
class Knobs:
    """Constraints a planted defect puts on the layout (all off for a clean layout)."""

    separate: bool = False  # problems and measures on separate sheets
    drop: tuple[str, str] | None = None  # a required column left out (E_COLUMNS), sheet found by name
    no_info: bool = False  # no 填报信息 sheet
    info_omit: tuple[str, ...] = ()


@dataclass
class Drawn:
    """A drawn workbook: the book, what reading it gives, the slots and the layout's choices."""

    book: Book
    expect: Expect
    slots: list[Slot]
    info_slots: dict[str, Slot]
    sheet_of: dict[str, str]  # table -> the sheet it is read from
    found_by: dict[str, str]  # table -> "name" | "header" | "combined"
    columns: dict[str, list[Col]]


@st.composite
def workbooks(draw, led: Ledger, knobs: Knobs | None = None, writer: str | None = None) -> Drawn:
    """A workbook holding ``led`` in a layout drawn from every freedom the contract allows."""
    knobs = knobs or Knobs()
    writer = writer or pick(draw, ["openpyxl", "xlsxwriter", "xlwt"])
    feature(f"writer: {writer}")
    formulas = writer == "xlsxwriter"
    taken: set[str] = set()
    sheets: list[Sheet] = []
    expect = Expect(
        info={k: led.info[k] for k in (lb.field for lb in C.labels)}, tables={t: [] for t in TABLES}
    )
    slots: list[Slot] = []
    info_slots: dict[str, Slot] = {}
    sheet_of: dict[str, str] = {}
    found_by: dict[str, str] = {}
    columns: dict[str, list[Col]] = {}

    if not knobs.no_info:
        name = draw(sheet_name(C.info_sheet_names, {"info"}, taken))
        built = draw(info_sheet(led.info, name, omit=knobs.info_omit))
        sheets += built.sheets
        info_slots = {s.field: s for s in built.slots}

    def add(built: Built) -> None:
        sheets.extend(built.sheets)
        slots.extend(built.slots)
        expect.issues.extend(built.issues)
        columns.update(built.columns)
        for t, recs in built.records.items():
            expect.tables[t] = recs

    combined = (
        "combined" not in WITHOUT
        and not knobs.separate
        and led.combinable()
        and (knobs.drop is None or knobs.drop[0] not in COMBINED or knobs.drop[1] != "problem_id")
        and rarely(draw, 2)
    )
    units: list[tuple[str, ...]] = [(t,) for t in TABLES if not (combined and t in COMBINED)]
    if combined:
        units.insert(0, COMBINED)
    unit_name = led.info["unit_name"] or "城关镇党委"
    for tables in units:
        recs = {t: led.tables[t] for t in tables}
        dropped = knobs.drop if knobs.drop and knobs.drop[0] in tables else None
        if not any(recs.values()) and dropped is None and draw(st.integers(0, 2)) == 0:
            continue  # an absent table sheet is an empty table (§4)
        by_header = len(tables) == 1 and dropped is None and rarely(draw, 4)
        if by_header:
            name = generic_name(taken)
        elif len(tables) == 2:
            name = draw(sheet_name(COMBINED_SHEET_NAMES, set(COMBINED), taken))
        else:
            name = draw(sheet_name(C.tables[tables[0]].sheet_names, {tables[0]}, taken))
        built = draw(
            table_sheet(
                tables,
                recs,
                name,
                by_header=by_header,
                drop=dropped,
                formulas=formulas,
                unit_name=unit_name,
                owner=led.owner,
            )
        )
        for t in tables:
            sheet_of[t] = name
            found_by[t] = "combined" if len(tables) == 2 else "header" if by_header else "name"
        feature(f"sheet found by {found_by[tables[0]]}")
        add(built)

    # a combined sheet beside both separate sheets (found by name): passed over (§4.6)
    if (
        not combined
        and found_by.get("problems") == "name"
        and found_by.get("measures") == "name"
        and rarely(draw, 5)
    ):
        other = draw(ledgers(max_rows=2, min_rows={"problems": 1}, combinable=True))
        name = draw(sheet_name(COMBINED_SHEET_NAMES, set(COMBINED), taken))
        recs = {t: other.tables[t] for t in COMBINED}
        ignored = draw(table_sheet(COMBINED, recs, name, unit_name=unit_name, owner=other.owner))
        sheets.extend(ignored.sheets)
        feature("a combined sheet beside both separate sheets")
        expect.issues.append({"code": "W_SHEET_IGNORED", "sheet": name})

    # helper sheets: hidden dropdown lists, a hidden sheet named like a table, an empty sheet, notes
    for kind in draw(
        st.lists(st.sampled_from(["helper", "junk", "empty", "notes"]), unique=True, max_size=3)
    ):
        if kind == "helper":
            name = next(n for n in _HELPER if n.lower() not in taken)
            taken.add(name.lower())
            sheet = helper_sheet(name)
            sheet.hidden = True  # a visible one would name columns of several tables
        elif kind == "junk":
            t = pick(draw, TABLES)
            name = draw(sheet_name(C.tables[t].sheet_names, {t}, taken))
            sheet = junk_sheet(name, t)
        elif kind == "empty":
            sheet = Sheet(generic_name(taken))
        else:
            name = HELPER_SHEET_EXAMPLES[1]
            if name.lower() in taken:
                continue
            taken.add(name.lower())
            sheet = notes_sheet(name)
        sheets.append(sheet)
        feature(f"extra sheet: {kind}")
        expect.tolerated.append({"code": "W_SHEET_IGNORED", "sheet": sheet.name})
    assume(any(not s.hidden for s in sheets))
    order = list(draw(st.permutations(sheets)))
    for t in TABLES:  # records expected as read: problem_id of a measure is a string like any text
        expect.tables[t] = [dict(r) for r in expect.tables[t]]
    return Drawn(Book(writer, order), expect, slots, info_slots, sheet_of, found_by, columns)
