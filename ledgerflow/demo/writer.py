"""Low-level writer: one clean ledger -> one messy (or plain) workbook, and one-defect fixtures.

A *clean ledger* is a dict shaped like one value of ``samples/small/ledgers.json``::

    {"unit": "YL-T01", "as_of": "2023-12-08",
     "info": {"unit_code", "unit_name", "as_of", "reporter", "phone", "members", "members_with_plan"},
     "meetings": [...], "study": [...], "research": [...], "problems": [...], "measures": [...],
     "outcomes": [...], "plans": [...], "org": [...]}

with canonical values: vocabulary fields hold slugs (ledger.md §5), dates ISO strings, integers
ints, ``methods`` a list of slugs (``[]`` when empty), ``None`` for an empty cell. Defaults are
already resolved: an empty 所属环节 is ``"general"``, an empty 干部类别 ``"other"``.

The writer works in two steps: :func:`build_book` lays the ledger out into an engine-neutral
:class:`Book` (cells, merges, hidden flags, validations) applying the forms of ledger.md §8 that a
:class:`Mess` asks for, and :func:`render_book` writes the book with ``openpyxl``, ``xlsxwriter``
(.xlsx) or ``xlwt`` (.xls). Forms never change what the workbook means: read correctly, the file
yields exactly the ledger it was built from. Defects are planted on purpose by :func:`plant_defect`
(one error or warning per fixture, with the expected code/sheet/row/cell/column/value).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import random
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from . import content as C

ENGINES = ("openpyxl", "xlsxwriter", "xlwt")
ERROR_CODES = (
    "E_AS_OF",
    "E_UNIT_UNKNOWN",
    "E_COLUMNS",
    "E_REQUIRED",
    "E_VOCAB",
    "E_DATE",
    "E_NUMBER",
    "E_DUPLICATE_ID",
    "E_UNKNOWN_PROBLEM",
)
WARNING_CODES = (
    "W_SHEET_IGNORED",
    "W_EXTRA_COLUMN",
    "W_UNIT_NAME",
    "W_FORMULA",
    "W_DATE_RANGE",
    "W_CLOSED_NO_DATE",
    "W_NO_MEASURE",
    "W_PLAN_EXCEEDS",
)
UNREADABLE_VARIANTS = ("text_named_xlsx", "truncated_zip", "pdf_named_xls")

#: ledger.md §8 item -> manifest form names that cover it (items 12 and 13 are inbox-level).
SECTION8_FORMS: dict[int, tuple[str, ...]] = {
    1: ("title_rows",),
    2: ("two_row_header",),
    3: ("header_marks", "header_synonyms", "column_shuffle", "extra_columns"),
    4: ("prenumbered_rows", "blank_rows_between", "total_row", "notes_below"),
    5: ("combined_sheet",),
    6: ("date_forms",),
    7: ("int_forms",),
    8: ("vocab_mess",),
    9: ("list_separators",),
    10: (
        "sheet_named_sheetn",
        "sheet_numbered_names",
        "sheets_reordered",
        "hidden_helper_sheet",
        "empty_extra_sheet",
    ),
    11: ("xls_legacy",),
}

_EPOCH = dt.date(1899, 12, 30)
FIXED_TIMESTAMP = dt.datetime(2023, 12, 1, 9, 0, 0)


# ============================================================================================
# Mess: which §8 forms to apply
# ============================================================================================


@dataclass
class Mess:
    """Which forms of ledger.md §8 a workbook shows. All off = the office's plain template.

    A form that is on is applied to at least one eligible sheet (or cell); the record returned by
    :func:`write_workbook` lists the forms actually applied (a form with nothing to apply to, e.g.
    ``list_separators`` on a ledger without research topics, is not listed).
    """

    title_rows: bool = False  # §8.1 title, 填报单位 line, empty row above the header
    two_row_header: bool = False  # §8.2 group cell merged over sub-headers
    header_marks: bool = False  # §8.3 *问题编号, 整改时限\n（必填）, (必填), trailing ：
    header_synonyms: bool = False  # §8.3 synonym headers (and info label synonyms)
    column_shuffle: bool = False  # §8.3 columns in any order
    extra_columns: bool = False  # §8.3 佐证材料/审核意见/录入人 ... (W_EXTRA_COLUMN)
    prenumbered_rows: bool = False  # §8.4 序号 1-50 on empty rows, whitespace-only cells
    blank_rows_between: bool = False  # §8.4 empty rows between data rows
    total_row: bool = False  # §8.4 合计 row
    notes_below: bool = False  # §8.4 填表说明/注/填表人 lines under the data
    combined_sheet: bool = False  # §8.5 problems+measures in one sheet, problem cells merged
    date_forms: bool = False  # §8.6 every date form of §6 in one column
    int_forms: bool = False  # §8.7 30, 30.0, ３０, 30人, 30 人次, 三十
    vocab_mess: bool = False  # §8.8 stray spaces, full-width spaces, trailing 。, synonyms
    list_separators: bool = False  # §8.9 、 ， , ; ； / 和 + newline, repeated value
    sheet_numbered_names: bool = False  # §8.10 2.学习台账（11月）, 附件3：会议记录
    sheet_named_sheetn: bool = False  # §8.10 a table sheet renamed Sheet1 (found by header)
    sheets_reordered: bool = False  # §8.10
    hidden_helper_sheet: bool = False  # §8.10 hidden 下拉选项 sheet + dropdown validations
    instructions_sheet: bool = False  # §8.10 填表说明 sheet
    empty_extra_sheet: bool = False  # §8.10 an empty Sheet3
    hidden_decoy_sheet: bool = False  # hidden sheet with stale rows (must be ignored)
    info_layout: str = "pairs"  # pairs | pairs2 | rows | stack
    formulas: bool = False  # formulas WITH a cached value (xlsxwriter only)
    formula_uncached: bool = False  # one formula WITHOUT a cached value (openpyxl only; W_FORMULA)
    omit_empty_columns: bool = False  # leave out optional columns that are empty in every row

    INFO_LAYOUTS = ("pairs", "pairs2", "rows", "stack")

    @classmethod
    def template(cls) -> Mess:
        """The plain office template: every sheet and column, canonical names, cell types."""
        return cls()

    @classmethod
    def everything(cls, info_layout: str = "pairs") -> Mess:
        """Every form on (engine-specific ones apply where the engine allows)."""
        m = cls(**{f.name: True for f in fields(cls) if f.type in ("bool", bool)})
        m.info_layout = info_layout
        return m

    @classmethod
    def random(cls, rng: random.Random, level: float = 0.35) -> Mess:
        """Each boolean form on with probability ``level``; a random info layout."""
        m = cls()
        for f in fields(cls):
            if f.type in ("bool", bool):
                setattr(m, f.name, rng.random() < level)
        m.formula_uncached = False  # a warning: only when asked for explicitly
        m.info_layout = rng.choice(cls.INFO_LAYOUTS)
        return m

    def bool_forms(self) -> list[str]:
        return [f.name for f in fields(self) if f.type in ("bool", bool) and getattr(self, f.name)]


@dataclass
class Plan:
    """Structural directives used to plant one defect (see :func:`plant_defect`)."""

    drop_column: tuple[str, str] | None = None  # (table, field): E_COLUMNS
    extra_column: tuple[str, str] | None = None  # (table, header): W_EXTRA_COLUMN
    combined_beside_separate: bool = False  # W_SHEET_IGNORED
    uncached_formula: tuple[str, int, str] | None = None  # (table, index, field): W_FORMULA
    no_info_sheet: bool = False  # E_AS_OF
    force_separate: bool = False  # never the combined sheet
    plain_sheet: tuple[str, ...] = ()  # tables whose sheet keeps a canonical name (E_COLUMNS)


# ============================================================================================
# the engine-neutral book
# ============================================================================================


@dataclass
class Formula:
    """A formula cell; ``cached`` is the value Excel last computed (None: not computed)."""

    text: str
    cached: Any = None


@dataclass
class SheetModel:
    name: str
    role: str  # info | <table> | combined | helper | instructions | empty | decoy
    hidden: bool = False
    cells: dict[tuple[int, int], Any] = field(default_factory=dict)  # 0-based (row, col)
    formats: dict[tuple[int, int], str] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2
    validations: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    widths: dict[int, float] = field(default_factory=dict)

    def set(self, r: int, c: int, value: Any, fmt: str | None = None) -> None:
        if value is None or value == "":
            self.cells.pop((r, c), None)
            self.formats.pop((r, c), None)
            return
        self.cells[(r, c)] = value
        if fmt:
            self.formats[(r, c)] = fmt
        else:
            self.formats.pop((r, c), None)

    def set_raw(self, r: int, c: int, value: Any) -> None:
        """Write a value exactly (also whitespace-only strings)."""
        self.cells[(r, c)] = value
        self.formats.pop((r, c), None)


@dataclass
class Book:
    sheets: list[SheetModel]
    ledger: dict
    record: dict
    #: (table, index, field) -> (sheet name, row0, col0); info fields under ("info", 0, field)
    locs: dict[tuple[str, int, str], tuple[str, int, int]]

    def sheet(self, name: str) -> SheetModel:
        for s in self.sheets:
            if s.name == name:
                return s
        raise KeyError(name)


def col_letter(c: int) -> str:
    """0-based column index -> Excel letters."""
    s = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        s = chr(65 + rem) + s
    return s


def cell_ref(r: int, c: int) -> str:
    """0-based (row, col) -> ``C4``."""
    return f"{col_letter(c)}{r + 1}"


def excel_serial(d: dt.date) -> int:
    return (d - _EPOCH).days


def _d(s: str | None) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def _in_window(d: dt.date) -> bool:
    return C.CAMPAIGN_START <= d <= C.CAMPAIGN_END


def _month_end(d: dt.date) -> bool:
    return (d + dt.timedelta(days=1)).day == 1


# ============================================================================================
# builder
# ============================================================================================

SEQ = "__seq__"

_HEADER_MARKS = (
    "star",
    "required_cn",
    "required_ascii",
    "newline_required",
    "colon",
    "spaces",
    "inner_break",
)


@dataclass
class _ColPlan:
    key: str  # field name, SEQ, or "extra:<header>"
    header: str  # as written
    kind: str
    required: bool
    table: str  # owning table (for the combined sheet: problems / measures)


class _Builder:
    def __init__(
        self, ledger: dict, mess: Mess, rng: random.Random, engine: str, plan: Plan, written: dict | None
    ):
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}")
        self.L = ledger
        self.m = mess
        self.rng = rng
        self.engine = engine
        self.plan = plan
        self.written = written or {}
        self.forms: set[str] = set()
        self.value_forms: Counter = Counter()
        self.locs: dict[tuple[str, int, str], tuple[str, int, int]] = {}
        self.rows: dict[str, list[dict]] = {t: [] for t in C.TABLE_ORDER}
        self.sheet_recs: list[dict] = []
        self.warnings: list[dict] = []
        self.info_rec: dict[str, dict] = {}
        self.names_used: set[str] = set()
        self.uncached_done = False
        if engine == "xlwt":
            self.forms.add("xls_legacy")

    # ---------------------------------------------------------------- value forms
    def date_cell(
        self, d: dt.date, *, deadline: bool = False, full_only: bool = False
    ) -> tuple[Any, str | None]:
        """A clean date -> (cell value, format key). Records the form used."""
        rng = self.rng
        form = "cell"
        if self.m.date_forms and rng.random() < 0.75:
            forms = [
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
            ]
            if _in_window(d) and not full_only:
                forms += ["md_cn", "md_dot"]
            if deadline and _month_end(d) and _in_window(d):
                forms += ["ym", "ym_end", "m_end", "ym", "m_end"]
                if d == dt.date(2023, 12, 31):
                    forms += ["year_end"]
            if deadline and _in_window(d):
                forms += ["before", "before", "long_with_date"]
            if self.engine == "xlsxwriter" and self.m.formulas and not deadline:
                forms += ["formula"]
            form = rng.choice(forms)
        self.value_forms["date:" + form] += 1
        y, mo, da = d.year, d.month, d.day
        if form == "cell":
            return d, rng.choice(("date", "date", "date_cn"))
        if form == "datetime":
            return dt.datetime(
                y, mo, da, rng.choice((8, 9, 10, 14, 15, 16)), rng.choice((0, 0, 30, 15))
            ), "datetime"
        if form == "serial_num":
            return excel_serial(d), None
        if form == "serial_text":
            return str(excel_serial(d)), None
        if form == "formula":
            self.forms.add("formulas")
            return Formula(f"=DATE({y},{mo},{da})", excel_serial(d)), "date"
        texts = {
            "iso": d.isoformat(),
            "slash": f"{y}/{mo}/{da}",
            "dot": f"{y}.{mo}.{da}",
            "cn": f"{y}年{mo}月{da}日",
            "cn0": f"{y}年{mo:02d}月{da:02d}日",
            "compact": f"{y}{mo:02d}{da:02d}",
            "md_cn": f"{mo}月{da}日",
            "md_dot": f"{mo}.{da}",
            "ym": f"{y}年{mo}月",
            "ym_end": f"{y}年{mo}月底",
            "m_end": f"{mo}月底",
            "year_end": "年底",
        }
        if form in texts:
            return texts[form], None
        if form == "before":
            base = rng.choice(
                [f"{mo}月{da}日", f"{y}年{mo}月{da}日"]
                + ([f"{mo}月底", f"{y}年{mo}月底"] if _month_end(d) else [])
                + (["年底"] if d == dt.date(2023, 12, 31) else [])
            )
            return base + rng.choice(("前", "前", "之前")), None
        # long_with_date
        return f"{y}年{mo}月{da}日前，长期坚持", None

    def deadline_cell(self, s: str | None) -> tuple[Any, str | None]:
        if s is None:
            if self.m.date_forms and self.rng.random() < 0.5:
                self.value_forms["date:long"] += 1
                return self.rng.choice(("长期坚持", "长期", "长期坚持")), None
            return None, None
        return self.date_cell(_d(s), deadline=True)

    def int_cell(self, n: int, unit: str = "人") -> Any:
        rng = self.rng
        form = "num"
        if self.m.int_forms and rng.random() < 0.6:
            forms = ["num", "float", "text", "fw", "unit", "unit2"]
            if n > 0:
                forms += ["cn", "cn"]
            if self.engine == "xlsxwriter" and self.m.formulas and n >= 2:
                forms += ["formula"]
            form = rng.choice(forms)
        self.value_forms["int:" + form] += 1
        if form == "num":
            return n
        if form == "float":
            return rng.choice((float(n), f"{n}.0"))
        if form == "text":
            return str(n)
        if form == "fw":
            return C.fullwidth_digits(str(n))
        if form == "unit":
            return f"{n}{unit}"
        if form == "unit2":
            return f"{n} {unit}次" if unit == "人" else f"{n} {unit}"
        if form == "cn":
            return C.chinese_numeral(n)
        a = rng.randint(1, n - 1)
        self.forms.add("formulas")
        return Formula(f"={a}+{n - a}", n)

    def _mess_text(self, s: str) -> str:
        rng = self.rng
        kind = rng.choice(("lead", "trail", "inner", "fw", "dot", "fwdot", "newline", "both"))
        if kind == "lead":
            return " " * rng.randint(1, 2) + s
        if kind == "trail":
            return s + " "
        if kind == "inner" and len(s) >= 2:
            i = rng.randint(1, len(s) - 1)
            return s[:i] + " " + s[i:]
        if kind == "fw":
            return s + "\u3000"
        if kind == "dot":
            return s + "。"
        if kind == "fwdot":
            return s + "\u3000。"
        if kind == "newline":
            return s + "\n"
        return " " + s + " "

    def vocab_cell(self, letter: str, slug: str | None) -> Any:
        if slug is None:
            return None
        rng = self.rng
        if letter == "P" and slug == "general" and self.m.vocab_mess and rng.random() < 0.35:
            self.value_forms["vocab:empty_default"] += 1
            return None
        text = C.CANONICAL[letter][slug]
        if self.m.vocab_mess and rng.random() < 0.3 and C.SYNONYMS[letter][slug]:
            text = rng.choice(C.SYNONYMS[letter][slug])
            self.value_forms["vocab:synonym"] += 1
        if self.m.vocab_mess and rng.random() < 0.3:
            text = self._mess_text(text)
            self.value_forms["vocab:mess"] += 1
        return text

    def list_cell(self, letter: str, slugs: list[str] | None) -> Any:
        if not slugs:
            return None
        rng = self.rng
        names = []
        for s in slugs:
            if self.m.vocab_mess and rng.random() < 0.25 and C.SYNONYMS[letter][s]:
                names.append(rng.choice(C.SYNONYMS[letter][s]))
            else:
                names.append(C.CANONICAL[letter][s])
        if not self.m.list_separators:
            return "、".join(names)
        if rng.random() < 0.3:  # a repeated value, after its first appearance (order is kept)
            k = rng.randrange(len(slugs))
            names.insert(rng.randint(k + 1, len(names)), C.CANONICAL[letter][slugs[k]])
            self.value_forms["list:repeated"] += 1
        seps = ["、", "，", ",", ";", "；", "/", "和", "+", "\n", "、 "]
        out = names[0]
        used = set()
        for n in names[1:]:
            sep = rng.choice(seps)
            used.add(sep)
            out += sep + n
        if len(names) > 1:
            self.value_forms["list:mixed" if len(used) > 1 or "、" not in used else "list:plain"] += 1
        return out

    def text_cell(self, s: str | None) -> Any:
        if s is None:
            return None
        if self.m.vocab_mess and self.rng.random() < 0.05:
            self.value_forms["text:padded"] += 1
            return self.rng.choice((" ", "\u3000", "")) + s + self.rng.choice((" ", "\n", ""))
        return s

    def render_value(self, kind: str, value: Any, table: str, fname: str) -> tuple[Any, str | None]:
        if kind in ("text", "id"):
            return self.text_cell(value), None
        if kind == "date":
            return self.date_cell(_d(value)) if value else (None, None)
        if kind == "deadline":
            return self.deadline_cell(value)
        if kind == "int":
            if value is None:
                return None, None
            unit = "人" if fname in ("attendees", "participants", "members") else ""
            return self.int_cell(value, unit or "人"), None
        if kind.startswith("vocab:"):
            return self.vocab_cell(kind[6:], value), None
        if kind.startswith("list:"):
            return self.list_cell(kind[5:], value), None
        raise ValueError(kind)

    # ---------------------------------------------------------------- sheet names
    def _unique(self, name: str) -> str:
        name = name[:31]
        base, k = name, 2
        while name.lower() in self.names_used:
            name = f"{base[:28]}{k}"
            k += 1
        self.names_used.add(name.lower())
        return name

    # ---------------------------------------------------------------- header text
    def header_text(
        self, canonical: str, synonyms: tuple[str, ...], required: bool, syn: bool, marks: bool
    ) -> str:
        rng = self.rng
        h = canonical
        if syn and synonyms and rng.random() < 0.45:
            h = rng.choice(synonyms)
            self.value_forms["header:synonym"] += 1
        if marks and rng.random() < 0.4:
            mk = rng.choice(_HEADER_MARKS)
            if mk == "star" and required:
                h = "*" + h
            elif mk == "required_cn" and required:
                h += "（必填）"
            elif mk == "required_ascii" and required:
                h += "(必填)"
            elif mk == "newline_required" and required:
                h += "\n（必填）"
            elif mk == "colon":
                h += "："
            elif mk == "spaces":
                h = " " + h + " "
            elif mk == "inner_break" and len(h) >= 4:
                h = h[:2] + "\n" + h[2:]
            else:
                h = h + " "
            self.value_forms["header:mark"] += 1
        return h

    # ---------------------------------------------------------------- plan of sheets
    def build(self) -> Book:
        rng, m, L = self.rng, self.m, self.L
        sheets: list[SheetModel] = []
        tables = [t for t in C.TABLE_ORDER]
        problems, measures = L["problems"], L["measures"]
        pids = [p["problem_id"] for p in problems]
        can_combine = (
            bool(problems)
            and len(set(pids)) == len(pids)
            and all(any(x["problem_id"] == p for x in measures) for p in pids)
            and all(x["problem_id"] in pids for x in measures)
        )
        combined = (
            (m.combined_sheet or self.plan.combined_beside_separate)
            and can_combine
            and not self.plan.force_separate
        )
        if self.plan.combined_beside_separate and not combined:
            raise ValueError("W_SHEET_IGNORED needs problems that all have measures")
        separate_pm = not combined or self.plan.combined_beside_separate
        self.separate_pm = separate_pm

        # which table sheets exist
        present: list[str] = []
        for t in tables:
            if t in ("problems", "measures") and not separate_pm:
                continue
            has_rows = bool(L[t])
            if (
                has_rows
                or not any(m.bool_forms())
                or rng.random() < 0.55
                or (self.plan.drop_column and self.plan.drop_column[0] == t)
            ):
                present.append(t)
        keys = present + (["combined"] if combined else [])

        # forms spread over sheets: each form on -> a non-empty random subset of eligible sheets
        def subset(flag: bool, eligible: list[str], p: float = 0.6) -> set[str]:
            if not flag or not eligible:
                return set()
            chosen = {k for k in eligible if rng.random() < p}
            return chosen or {rng.choice(eligible)}

        def nrows(k: str) -> int:
            return len(L["measures"]) if k == "combined" else len(L[k])

        with_rows = [k for k in keys if nrows(k)]
        self.sf = {
            "title_rows": subset(m.title_rows, keys),
            "two_row_header": subset(m.two_row_header, [k for k in keys if k != "combined"]),
            "header_marks": subset(m.header_marks, keys),
            "header_synonyms": subset(m.header_synonyms, keys),
            "column_shuffle": subset(m.column_shuffle, keys),
            "extra_columns": subset(m.extra_columns, with_rows or keys, 0.4),
            "prenumbered_rows": subset(m.prenumbered_rows, keys, 0.5),
            "blank_rows_between": subset(m.blank_rows_between, [k for k in keys if nrows(k) >= 2], 0.5),
            "total_row": subset(m.total_row, with_rows, 0.4),
            "notes_below": subset(m.notes_below, keys, 0.4),
            "numbered": subset(m.sheet_numbered_names, keys, 0.7),
        }
        if self.plan.extra_column:
            self.sf["extra_columns"] = {self.plan.extra_column[0]}
        sheetn: str | None = None
        if m.sheet_named_sheetn:
            cand = [
                k for k in present if k in C.HEADER_DETECTABLE and L[k] and k not in self.plan.plain_sheet
            ]
            if cand:
                sheetn = rng.choice(cand)
                self.sf["header_synonyms"].discard(sheetn)

        # info sheet
        if not self.plan.no_info_sheet:
            sheets.append(self._build_info())
        # table sheets
        for i, k in enumerate(keys):
            if k == "combined":
                name = rng.choice(C.COMBINED_SHEET_NAMES)
            elif k in self.plan.plain_sheet:
                name = C.SHEET_NAMES[k][0]
            elif m.header_synonyms or m.sheet_numbered_names:
                name = rng.choice(C.SHEET_NAMES[k][:3])
            else:
                name = C.SHEET_NAMES[k][0]
            if k in self.sf["numbered"] and k not in self.plan.plain_sheet:
                idx = i + 1
                name = rng.choice(
                    (
                        f"{idx}.{name}",
                        f"{idx}、{name}",
                        f"附件{idx}：{name}",
                        f"表{idx} {name}",
                        f"{idx}.{name}（更新）",
                    )
                )
                if rng.random() < 0.4:
                    name += rng.choice(("（11月）", "（12月）", "（第三周）", "（截至12月8日）"))
                self.forms.add("sheet_numbered_names")
            if k == sheetn:
                name = f"Sheet{i + 2}"
                self.forms.add("sheet_named_sheetn")
            name = self._unique(name)
            if k == "combined":
                sheets.append(self._build_combined(name))
            else:
                sheets.append(self._build_table(k, name))
        if combined:
            self.forms.add("combined_sheet")
            if self.plan.combined_beside_separate:
                cname = next(s.name for s in sheets if s.role == "combined")
                self.warnings.append({"code": "W_SHEET_IGNORED", "sheet": cname})

        # extra sheets
        if m.hidden_helper_sheet:
            sheets.append(self._build_helper(sheets))
            self.forms.add("hidden_helper_sheet")
        if m.hidden_decoy_sheet and L["meetings"]:
            sheets.append(self._build_decoy())
            self.forms.add("hidden_decoy_sheet")
        if m.instructions_sheet:
            s = SheetModel(self._unique("填表说明"), "instructions")
            for r, line in enumerate(C.INSTRUCTIONS):
                s.set(r, 0, line, "title" if r == 0 else None)
            s.widths[0] = 90
            sheets.insert(rng.choice((0, len(sheets))), s)
            self.forms.add("instructions_sheet")
        if m.empty_extra_sheet:
            free = [
                n
                for n in ("Sheet3", "Sheet6", "工作表1", "Sheet2", "Sheet9")
                if n.lower() not in self.names_used
            ]
            nm = self._unique(rng.choice(free))
            sheets.append(SheetModel(nm, "empty"))
            self.forms.add("empty_extra_sheet")
        if m.sheets_reordered and len(sheets) > 2:
            before = [s.name for s in sheets]
            rng.shuffle(sheets)
            if [s.name for s in sheets] != before:
                self.forms.add("sheets_reordered")
        # the first sheet must be visible (it is the active one)
        if sheets and sheets[0].hidden:
            j = next(i for i, s in enumerate(sheets) if not s.hidden)
            sheets.insert(0, sheets.pop(j))
        if self.plan.uncached_formula and not self.uncached_done:
            raise ValueError("could not place the uncached formula")
        vf = self.value_forms
        if any(v for k, v in vf.items() if k.startswith("date:") and k != "date:cell"):
            self.forms.add("date_forms")
        if any(v for k, v in vf.items() if k.startswith("int:") and k != "int:num"):
            self.forms.add("int_forms")
        if vf["vocab:mess"] or vf["vocab:synonym"] or vf["vocab:empty_default"]:
            self.forms.add("vocab_mess")
        if vf["list:mixed"] or vf["list:repeated"]:
            self.forms.add("list_separators")
        if vf["combined:vertical_merges"]:
            self.forms.add("combined_vertical_merges")

        record = {
            "engine": self.engine,
            "forms": sorted(self.forms),
            "mess": asdict(m),
            "sheets": self.sheet_recs,
            "rows": self.rows,
            "info": self.info_rec,
            "warnings": self.warnings,
            "value_forms": dict(sorted(self.value_forms.items())),
        }
        return Book(sheets, self.L, record, self.locs)

    # ---------------------------------------------------------------- info sheet
    def _build_info(self) -> SheetModel:
        rng, m, L = self.rng, self.m, self.L
        info = L["info"]
        name = self._unique(rng.choice(C.SHEET_NAMES["info"]) if m.header_synonyms else "填报信息")
        s = SheetModel(name, "info")
        layout = m.info_layout
        items: list[tuple[str, str, Any, str | None]] = []  # field, label, value, fmt
        for f, canon, syns in C.INFO_LABELS:
            label = canon
            if m.header_synonyms and syns and rng.random() < 0.4:
                label = rng.choice(syns)
                self.value_forms["info:label_synonym"] += 1
            if m.header_marks and rng.random() < 0.5:
                label += rng.choice(("：", ":", "："))
                self.value_forms["info:label_colon"] += 1
            v = info.get(f)
            fmt = None
            if f == "unit_code":
                v = self.written.get("code", v)
                if v and m.vocab_mess and rng.random() < 0.3:
                    v = rng.choice((v.lower(), f" {v} ", f"{v.lower()} "))
                    self.value_forms["info:code_case"] += 1
            elif f == "unit_name":
                v = self.written.get("name", v)
            elif f == "as_of":
                v = self.written.get("as_of", v)
                if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                    v, fmt = self.date_cell(_d(v), full_only=True)
            elif f in ("members", "members_with_plan") and v is not None:
                v = self.int_cell(v)
            if (
                v is None
                and f not in ("unit_code", "unit_name", "as_of")
                and layout != "rows"
                and rng.random() < 0.5
            ):
                continue  # label left out entirely
            items.append((f, label, v, fmt))
        if layout == "pairs2" and any(v in (None, "") for _, _, v, _ in items):
            layout = "pairs"
        r0 = 0
        if m.title_rows and rng.random() < 0.7:
            s.set(0, 0, f"{C.COUNTY}第二批主题教育台账", "title")
            s.merges.append((0, 0, 0, 1 if layout != "rows" else len(items) - 1))
            r0 = 2 if rng.random() < 0.5 else 1
        if layout == "pairs":
            for i, (f, label, v, fmt) in enumerate(items):
                self._info_put(s, f, label, r0 + i, 0, v, r0 + i, 1, fmt)
            s.widths.update({0: 22, 1: 30})
        elif layout == "pairs2":
            for i, (f, label, v, fmt) in enumerate(items):
                r, c = r0 + i // 2, (i % 2) * 2
                self._info_put(s, f, label, r, c, v, r, c + 1, fmt)
            s.widths.update({0: 18, 1: 28, 2: 18, 3: 28})
        elif layout == "rows":
            for i, (f, label, v, fmt) in enumerate(items):
                self._info_put(s, f, label, r0, i, v, r0 + 1, i, fmt)
                s.widths[i] = 18
        else:  # stack: label, value below, same column
            for i, (f, label, v, fmt) in enumerate(items):
                self._info_put(s, f, label, r0 + 2 * i, 0, v, r0 + 2 * i + 1, 0, fmt)
            s.widths[0] = 30
        self.forms.add("info_layout_" + layout)
        self.sheet_recs.append({"name": s.name, "role": "info", "hidden": False, "layout": layout})
        return s

    def _info_put(
        self, s: SheetModel, f: str, label: str, lr: int, lc: int, v: Any, vr: int, vc: int, fmt
    ) -> None:
        s.set(lr, lc, label, "label")
        if v is not None and v != "":
            s.set(vr, vc, v, fmt)
        self.locs[("info", 0, f)] = (s.name, vr, vc)
        self.info_rec[f] = {
            "sheet": s.name,
            "cell": cell_ref(vr, vc),
            "label": label,
            "label_cell": cell_ref(lr, lc),
        }

    # ---------------------------------------------------------------- columns of a table sheet
    def _columns(self, table: str, key: str) -> list[_ColPlan]:
        rng, m, L = self.rng, self.m, self.L
        rows = L[table]
        syn = key in self.sf["header_synonyms"]
        marks = key in self.sf["header_marks"]
        template = not any(m.bool_forms())
        cols: list[_ColPlan] = []
        for col in C.TABLES[table]:
            if self.plan.drop_column == (table, col.field):
                continue
            if not col.required:
                empty = all(self._is_default(table, col.field, r.get(col.field)) for r in rows)
                if empty and m.omit_empty_columns and not template:
                    if self.plan.uncached_formula and self.plan.uncached_formula[::2] == (table, col.field):
                        pass
                    else:
                        continue
            header = self.header_text(col.header, col.synonyms, col.required, syn, marks)
            cols.append(_ColPlan(col.field, header, col.kind, col.required, table))
        if key in self.sf["column_shuffle"]:
            before = [c.key for c in cols]
            rng.shuffle(cols)
            if [c.key for c in cols] != before:
                self.forms.add("column_shuffle")
        if key in self.sf["extra_columns"]:
            names = list(C.EXTRA_COLUMNS)
            rng.shuffle(names)
            extra = names[: rng.choice((1, 1, 2))]
            if self.plan.extra_column:
                extra = [self.plan.extra_column[1]]
            for h in extra:
                cols.insert(rng.randint(1, len(cols)), _ColPlan("extra:" + h, h, "extra", False, table))
        seq_p = 1.0 if template or key in self.sf["prenumbered_rows"] else 0.75
        if rng.random() < seq_p:
            cols.insert(0, _ColPlan(SEQ, "序号", "seq", False, table))
        if syn:
            self.forms.add("header_synonyms")
        if marks:
            self.forms.add("header_marks")
        return cols

    @staticmethod
    def _is_default(table: str, f: str, v: Any) -> bool:
        if v is None or v == []:
            return True
        return (table, f, v) in (("meetings", "phase", "general"), ("research", "cadre_class", "other"))

    def _groups(self, table: str, cols: list[_ColPlan]) -> list[tuple[str, list[int]]]:
        """Pick a header group whose fields are present; make them adjacent. Returns [(label, idxs)]."""
        rng = self.rng
        opts = [(lab, [f for f in fs if any(c.key == f for c in cols)]) for lab, fs in C.HEADER_GROUPS[table]]
        opts = [(lab, fs) for lab, fs in opts if len(fs) >= 2]
        if not opts:
            return []
        lab, fs = rng.choice(opts)
        members = [c for c in cols if c.key in fs]
        first = min(i for i, c in enumerate(cols) if c.key in fs)
        rest = [c for c in cols if c.key not in fs]
        cols[:] = rest[:first] + members + rest[first:]
        return [(lab, list(range(first, first + len(members))))]

    # ---------------------------------------------------------------- title and header
    def _title(self, s: SheetModel, key: str, ncols: int) -> int:
        """Write title rows when asked; returns the header row (0-based)."""
        if key not in self.sf["title_rows"]:
            return 0
        rng = self.rng
        unit = self.written.get("name") or self.L["info"].get("unit_name") or ""
        title_core = C.TABLE_TITLES.get(key, "台账")
        short = unit.replace("中共", "").replace("委员会", "")
        title = f"{short}主题教育{title_core}"
        if rng.random() < 0.3:
            d = _d(self.L["as_of"])
            title += f"（截至{d.year}年{d.month}月{d.day}日）"
        s.set(0, 0, title, "title")
        last = max(ncols - 1, 0)
        if last:
            s.merges.append((0, 0, 0, last))
        style = rng.choice(("unit_blank", "blank", "unit"))
        self.forms.add("title_rows")
        if style == "blank":
            return 2
        line = rng.choice((f"填报单位：{unit}", f"单位：{unit}  （盖章）", f"填报单位（盖章）：{unit}"))
        s.set(1, 0, line)
        if last:
            s.merges.append((1, 0, 1, last))
        return 3 if style == "unit_blank" else 2

    def _header(self, s: SheetModel, key: str, table: str, cols: list[_ColPlan], h: int) -> int:
        """Write the header (one or two rows); returns the first data row."""
        groups = []
        if key in self.sf["two_row_header"] and table != "combined":
            groups = self._groups(table, cols)
        if not groups:
            for c, cp in enumerate(cols):
                s.set(h, c, cp.header, "header")
            return h + 1
        in_group = {}
        for lab, idxs in groups:
            s.set(h, idxs[0], lab, "header")
            s.merges.append((h, idxs[0], h, idxs[-1]))
            for i in idxs:
                in_group[i] = lab
        for c, cp in enumerate(cols):
            if c in in_group:
                s.set(h + 1, c, cp.header, "header")
            else:
                s.set(h, c, cp.header, "header")
                s.merges.append((h, c, h + 1, c))
        self.forms.add("two_row_header")
        return h + 2

    # ---------------------------------------------------------------- a separate table sheet
    def _build_table(self, table: str, name: str) -> SheetModel:
        rng, L = self.rng, self.L
        s = SheetModel(name, table)
        cols = self._columns(table, table)
        h = self._title(s, table, len(cols))
        r = self._header(s, table, table, cols, h)
        header_row = h
        first_data = r
        rows = L[table]
        seq_col = next((i for i, c in enumerate(cols) if c.key == SEQ), None)
        blank_between = table in self.sf["blank_rows_between"]
        for idx, rec in enumerate(rows):
            if blank_between and idx > 0 and rng.random() < 0.25:
                r += 1
                self.forms.add("blank_rows_between")
            for c, cp in enumerate(cols):
                if cp.key == SEQ:
                    if self.engine == "xlsxwriter" and self.m.formulas and rng.random() < 0.2:
                        s.set(r, c, Formula(f"=ROW()-{first_data}", idx + 1))
                        self.forms.add("formulas")
                    else:
                        s.set(r, c, idx + 1)
                    continue
                if cp.kind == "extra":
                    if rng.random() < 0.5:
                        s.set(r, c, rng.choice(C.EXTRA_COLUMNS[cp.header]))
                    continue
                value = rec.get(cp.key)
                if self.plan.uncached_formula == (table, idx, cp.key) or (
                    self.m.formula_uncached
                    and not self.uncached_done
                    and self.engine == "openpyxl"
                    and cp.kind == "int"
                    and value is None
                    and not self.plan.uncached_formula
                ):
                    a, b = rng.randint(3, 20), rng.randint(3, 20)
                    s.set(r, c, Formula(f"={a}+{b}", None))
                    self.uncached_done = True
                    self.forms.add("formula_uncached")
                    self.warnings.append(
                        {
                            "code": "W_FORMULA",
                            "sheet": name,
                            "row": r + 1,
                            "cell": cell_ref(r, c),
                            "column": cp.header,
                        }
                    )
                else:
                    v, fmt = self.render_value(cp.kind, value, table, cp.key)
                    s.set(r, c, v, fmt)
                self.locs[(table, idx, cp.key)] = (name, r, c)
            self.rows[table].append({"sheet": name, "row": r + 1})
            r += 1
        last_data = r - 1
        self._trailer(s, table, cols, first_data, r, len(rows), seq_col)
        self._validations(s, cols, first_data, max(r, first_data + 30))
        self._record_sheet(s, table, cols, header_row, first_data, last_data)
        for c, cp in enumerate(cols):
            s.widths[c] = (
                6
                if cp.key == SEQ
                else (34 if cp.key in ("topic", "title", "description", "content", "name") else 14)
            )
        return s

    def _record_sheet(
        self, s: SheetModel, role: str, cols: list[_ColPlan], header_row: int, first: int, last: int
    ) -> None:
        columns = {}
        extra = []
        for c, cp in enumerate(cols):
            if cp.key == SEQ:
                continue
            if cp.kind == "extra":
                extra.append({"header": cp.header, "col": col_letter(c)})
                self.warnings.append(
                    {"code": "W_EXTRA_COLUMN", "sheet": s.name, "column": cp.header, "col": col_letter(c)}
                )
                self.forms.add("extra_columns")
                continue
            k = cp.key if role != "combined" else f"{cp.table}.{cp.key}"
            columns[k] = {"header": cp.header, "col": col_letter(c)}
        self.sheet_recs.append(
            {
                "name": s.name,
                "role": role,
                "hidden": s.hidden,
                "header_row": header_row + 1,
                "first_data_row": first + 1,
                "last_data_row": last + 1 if last >= first else None,
                "columns": columns,
                "extra_columns": extra,
            }
        )

    def _trailer(
        self, s: SheetModel, key: str, cols: list[_ColPlan], first: int, r: int, n: int, seq_col: int | None
    ) -> None:
        """Pre-numbered rows, 合计 row and notes under the data, starting at row ``r``."""
        rng = self.rng
        extra_cols = [i for i, c in enumerate(cols) if c.kind == "extra"]
        if key in self.sf["prenumbered_rows"] and seq_col is not None:
            upto = max(n + 5, rng.choice((20, 30, 50)))
            ws_rows = set(rng.sample(range(n + 1, upto + 1), k=min(2, upto - n)))
            only_extra = rng.choice(range(n + 1, upto + 1)) if extra_cols else None
            for k in range(n + 1, upto + 1):
                s.set(r, seq_col, k)
                if k in ws_rows:
                    c = rng.choice([i for i in range(len(cols)) if i != seq_col] or [seq_col])
                    s.set_raw(r, c, rng.choice((" ", "\u3000", "  ")))
                    self.value_forms["row:whitespace_only_cell"] += 1
                if k == only_extra:
                    c = rng.choice(extra_cols)
                    s.set(r, c, rng.choice([v for v in C.EXTRA_COLUMNS[cols[c].header] if v]))
                    self.value_forms["row:only_extra_value"] += 1
                r += 1
            self.forms.add("prenumbered_rows")
        elif extra_cols and rng.random() < 0.3 and key in self.sf["extra_columns"]:
            c = rng.choice(extra_cols)
            s.set(r, c, rng.choice([v for v in C.EXTRA_COLUMNS[cols[c].header] if v]))
            self.value_forms["row:only_extra_value"] += 1
            r += 1
        if key in self.sf["total_row"] and n:
            s.set(r, 0, rng.choice(("合计", "合计", "总计", "小计")))
            wrote = False
            for c, cp in enumerate(cols):
                if cp.kind == "int" and c != 0:
                    locs = [
                        v
                        for (t, _, f), v in self.locs.items()
                        if f == cp.key and t == cp.table and v[0] == s.name and v[2] == c
                    ]
                    total = sum(
                        self._table_value(cp.table, i, cp.key) or 0 for i in range(len(self.L[cp.table]))
                    )
                    if self.engine == "xlsxwriter" and self.m.formulas and locs:
                        s.set(r, c, Formula(f"=SUM({cell_ref(first, c)}:{cell_ref(r - 1, c)})", total))
                        self.forms.add("formulas")
                    else:
                        s.set(r, c, total)
                    wrote = True
            if not wrote and len(cols) > 1:
                s.set(r, 1, f"共{n}条")
            r += 1
            self.forms.add("total_row")
        if key in self.sf["notes_below"]:
            if rng.random() < 0.5:
                r += 1
            lines = rng.sample(C.NOTES_BELOW, k=rng.choice((1, 2)))
            if rng.random() < 0.5:
                lines.append(f"填表人：{C.person(rng)}        审核人：{C.person(rng)}")
            for line in lines:
                s.set(r, 0, line)
                if len(cols) > 1 and rng.random() < 0.5:
                    s.merges.append((r, 0, r, len(cols) - 1))
                r += 1
            self.forms.add("notes_below")

    def _table_value(self, table: str, idx: int, f: str) -> Any:
        return self.L[table][idx].get(f)

    def _validations(self, s: SheetModel, cols: list[_ColPlan], first: int, last: int) -> None:
        if not self.m.hidden_helper_sheet or self.engine == "xlwt":
            return
        for c, cp in enumerate(cols):
            if cp.kind.startswith("vocab:"):
                letter = cp.kind[6:]
                s.validations.append((first, c, last, c, letter))

    # ---------------------------------------------------------------- the combined sheet
    def _build_combined(self, name: str) -> SheetModel:
        rng, L = self.rng, self.L
        s = SheetModel(name, "combined")
        key = "combined"
        syn = key in self.sf["header_synonyms"]
        marks = key in self.sf["header_marks"]
        pcols: list[_ColPlan] = []
        specs = {c.field: c for c in C.TABLES["problems"]}
        for f, heads in C.COMBINED_PROBLEM_HEADERS.items():
            col = specs[f]
            if (
                not col.required
                and all(p.get(f) is None for p in L["problems"])
                and self.m.omit_empty_columns
            ):
                continue
            hd = self.header_text(heads[0], heads[1:], col.required, syn, marks)
            pcols.append(_ColPlan(f, hd, col.kind, col.required, "problems"))
        mcols: list[_ColPlan] = []
        mspecs = {c.field: c for c in C.TABLES["measures"]}
        for f, heads in C.COMBINED_MEASURE_HEADERS.items():
            col = mspecs[f]
            if (
                not col.required
                and all(x.get(f) is None for x in L["measures"])
                and (self.m.omit_empty_columns or f == "measure_id")
            ):
                continue
            hd = self.header_text(heads[0], heads[1:], col.required, syn, marks)
            mcols.append(_ColPlan(f, hd, col.kind, col.required, "measures"))
        if key in self.sf["column_shuffle"]:
            head, tail = pcols[:1], pcols[1:]
            rng.shuffle(tail)
            pcols = head + tail
            rng.shuffle(mcols)
            self.forms.add("column_shuffle")
        cols = pcols + mcols
        if key in self.sf["extra_columns"]:
            h = self.plan.extra_column[1] if self.plan.extra_column else rng.choice(list(C.EXTRA_COLUMNS))
            cols.append(_ColPlan("extra:" + h, h, "extra", False, "measures"))
        seq = rng.random() < 0.8 or key in self.sf["prenumbered_rows"]
        if seq:
            cols.insert(0, _ColPlan(SEQ, "序号", "seq", False, "problems"))
        if syn:
            self.forms.add("header_synonyms")
        if marks:
            self.forms.add("header_marks")
        h = self._title(s, key, len(cols))
        r = self._header(s, key, "combined", cols, h)
        first = r
        rec_rows = not self.separate_pm  # beside separate sheets the combined one is ignored
        locs: dict = self.locs if rec_rows else {}
        rows: dict[str, list[dict]] = self.rows if rec_rows else {"problems": [], "measures": []}
        by_pid: dict[str, list[int]] = {}
        for j, x in enumerate(L["measures"]):
            by_pid.setdefault(x["problem_id"], []).append(j)
        merged_any = False
        for pi, p in enumerate(L["problems"]):
            mids = by_pid[p["problem_id"]]
            top, k = r, len(mids)
            for c, cp in enumerate(cols):
                if cp.table != "problems":
                    continue
                if cp.key == SEQ:
                    s.set(top, c, pi + 1)
                else:
                    v, fmt = self.render_value(cp.kind, p.get(cp.key), "problems", cp.key)
                    s.set(top, c, v, fmt)
                    locs[("problems", pi, cp.key)] = (name, top, c)
                if k > 1:
                    s.merges.append((top, c, top + k - 1, c))
                    merged_any = True
            rows["problems"].append({"sheet": name, "row": top + 1})
            for off, j in enumerate(mids):
                x = L["measures"][j]
                rr = top + off
                for c, cp in enumerate(cols):
                    if cp.table != "measures":
                        continue
                    if cp.kind == "extra":
                        if rng.random() < 0.4:
                            s.set(rr, c, rng.choice(C.EXTRA_COLUMNS[cp.header]))
                        continue
                    v, fmt = self.render_value(cp.kind, x.get(cp.key), "measures", cp.key)
                    s.set(rr, c, v, fmt)
                    locs[("measures", j, cp.key)] = (name, rr, c)
                pcol = next((c for c, cp in enumerate(cols) if cp.key == "problem_id"), None)
                if pcol is not None:
                    locs[("measures", j, "problem_id")] = (name, top, pcol)
                rows["measures"].append({"sheet": name, "row": rr + 1})
            r = top + k
        # measures are reported in sheet order; keep the ledger's order for the record
        order = [j for p in L["problems"] for j in by_pid[p["problem_id"]]]
        recs = dict(zip(order, rows["measures"][-len(order) :], strict=True))
        rows["measures"][-len(order) :] = [recs[j] for j in range(len(L["measures"]))]
        if merged_any:
            self.value_forms["combined:vertical_merges"] += 1
        seq_col = 0 if seq else None
        self._trailer(s, key, cols, first, r, len(L["problems"]), seq_col)
        self._validations(s, cols, first, max(r, first + 30))
        self._record_sheet(s, "combined", cols, h, first, r - 1)
        for c, cp in enumerate(cols):
            s.widths[c] = 6 if cp.key == SEQ else (34 if cp.key in ("description", "content") else 12)
        return s

    # ---------------------------------------------------------------- helper and decoy sheets
    def _build_helper(self, sheets: list[SheetModel]) -> SheetModel:
        name = self._unique(self.rng.choice(("下拉选项", "下拉选项", "数据字典", "选项")))
        s = SheetModel(name, "helper", hidden=True)
        lists = [
            ("会议类型", "M"),
            ("所属环节", "P"),
            ("学习形式", "S"),
            ("开展方式", "O"),
            ("干部类别", "C"),
            ("所属领域", "D"),
            ("所属版块", "B"),
            ("进展情况", "T"),
            ("问题来源", "Q"),
            ("整改类型", "K"),
            ("整改状态", "Z"),
            ("完成情况", "W"),
            ("成果类型", "G"),
            ("方案类型", "A"),
            ("机构类型", "J"),
        ]
        ranges = {}
        for c, (head, letter) in enumerate(lists):
            s.set(0, c, head, "header")
            vals = [C.CANONICAL[letter][sl] for sl in C.SLUGS[letter]]
            for r, v in enumerate(vals, start=1):
                s.set(r, c, v)
            ranges[letter] = f"='{name}'!${col_letter(c)}$2:${col_letter(c)}${len(vals) + 1}"
        for sh in sheets:
            sh.validations = [
                (a, b, c2, d, ranges[src]) for a, b, c2, d, src in sh.validations if src in ranges
            ]
        return s

    def _build_decoy(self) -> SheetModel:
        rng = self.rng
        s = SheetModel(
            self._unique(rng.choice(("会议台账（旧）", "会议记录备份", "原表"))), "decoy", hidden=True
        )
        heads = ["序号", "会议日期", "会议类型", "会议主题", "参会人数"]
        for c, h in enumerate(heads):
            s.set(0, c, h, "header")
        for i, rec in enumerate(self.L["meetings"][:5]):
            s.set(i + 1, 0, i + 1)
            s.set(i + 1, 1, "2023年13月" if i == 0 else rec["date"])
            s.set(i + 1, 2, "座谈会议" if i == 1 else C.CANONICAL["M"][rec["kind"]])
            s.set(i + 1, 3, rec.get("topic") or "")
            s.set(i + 1, 4, "若干")
        return s


def build_book(
    ledger: dict,
    mess: Mess,
    rng: random.Random,
    *,
    engine: str = "xlsxwriter",
    plan: Plan | None = None,
    written: dict | None = None,
) -> Book:
    """Lay a clean ledger out into an engine-neutral :class:`Book`.

    ``written`` overrides the texts written in 填报信息 without changing the ledger:
    ``{"code": "yl-t01 " or "", "name": "云岭县…党支部", "as_of": "待定"}``.
    """
    b = _Builder(ledger, mess, rng, engine, plan or Plan(), written)
    book = b.build()
    # validations referring to a helper sheet that does not exist are dropped
    for s in book.sheets:
        s.validations = [v for v in s.validations if isinstance(v[4], str) and v[4].startswith("=")]
    return book


def canonical_ledger(ledger: dict, *, inplace: bool = False) -> dict:
    """The ledger a correct reader returns: text fields NFKC-normalised and trimmed (§6).

    Writers keep full-width punctuation (``，`` ``（）``) as clerks type it; a reader NFKC-normalises
    text, so ``建立长效管护机制，落实网格化管理`` reads as ``建立长效管护机制,落实网格化管理``.
    """
    out = ledger if inplace else copy.deepcopy(ledger)
    for t, cols in C.TABLES.items():
        texts = [c.field for c in cols if c.kind in ("text", "id")]
        for rec in out.get(t, []):
            for f in texts:
                if isinstance(rec.get(f), str):
                    rec[f] = unicodedata.normalize("NFKC", rec[f]).strip() or None
    info = out.get("info", {})
    for f in ("unit_code", "unit_name", "reporter", "phone"):
        if isinstance(info.get(f), str):
            info[f] = unicodedata.normalize("NFKC", info[f]).strip() or None
    return out


# ============================================================================================
# renderers
# ============================================================================================

_NUM_FORMATS = {"date": "yyyy-mm-dd", "date_cn": 'yyyy"年"m"月"d"日"', "datetime": "yyyy-mm-dd hh:mm"}


def _merged_cells(s: SheetModel) -> set[tuple[int, int]]:
    inner = set()
    for r1, c1, r2, c2 in s.merges:
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                if (r, c) != (r1, c1):
                    inner.add((r, c))
    return inner


def _render_xlsxwriter(book: Book, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {
            "in_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    wb.set_properties({"created": FIXED_TIMESTAMP, "author": "云岭县委主题教育办公室"})
    F = {
        "header": wb.add_format(
            {"bold": True, "border": 1, "text_wrap": True, "align": "center", "valign": "vcenter"}
        ),
        "label": wb.add_format({"bold": True}),
        "title": wb.add_format({"bold": True, "font_size": 14, "align": "center"}),
    }
    for k, nf in _NUM_FORMATS.items():
        F[k] = wb.add_format({"num_format": nf, "align": "left"})
    for s in book.sheets:
        ws = wb.add_worksheet(s.name)
        if s.hidden:
            ws.hide()
        for c, w in s.widths.items():
            ws.set_column(c, c, w)
        skip = _merged_cells(s)
        for r1, c1, r2, c2 in s.merges:
            v = s.cells.get((r1, c1))
            fmt = F.get(s.formats.get((r1, c1), ""))
            ws.merge_range(r1, c1, r2, c2, "", fmt)
            if v is not None:
                _xw_write(ws, r1, c1, v, fmt)
        merged_tl = {(m[0], m[1]) for m in s.merges}
        for (r, c), v in s.cells.items():
            if (r, c) in skip or (r, c) in merged_tl:
                continue
            _xw_write(ws, r, c, v, F.get(s.formats.get((r, c), "")))
        for r1, c1, r2, c2, src in s.validations:
            ws.data_validation(r1, c1, r2, c2, {"validate": "list", "source": src, "error_type": "warning"})
    wb.close()


def _xw_write(ws, r: int, c: int, v: Any, fmt) -> None:
    if isinstance(v, Formula):
        cached = v.cached if v.cached is not None else ""
        ws.write_formula(r, c, v.text, fmt, cached)
    elif isinstance(v, bool):
        ws.write_boolean(r, c, v, fmt)
    elif isinstance(v, (int, float)):
        ws.write_number(r, c, v, fmt)
    elif isinstance(v, (dt.date, dt.datetime)):
        ws.write_datetime(r, c, v, fmt)
    else:
        ws.write_string(r, c, str(v), fmt)


def _render_openpyxl(book: Book, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    big = Font(bold=True, size=14)
    wrap = Alignment(wrap_text=True, horizontal="center", vertical="center")
    for s in book.sheets:
        ws = wb.create_sheet(s.name)
        if s.hidden:
            ws.sheet_state = "hidden"
        for c, w in s.widths.items():
            ws.column_dimensions[col_letter(c)].width = w
        skip = _merged_cells(s)
        for (r, c), v in s.cells.items():
            if (r, c) in skip:
                continue
            if isinstance(v, Formula):
                v = v.text  # openpyxl cannot store a cached value
            cell = ws.cell(row=r + 1, column=c + 1, value=v)
            fmt = s.formats.get((r, c))
            if fmt in _NUM_FORMATS:
                cell.number_format = _NUM_FORMATS[fmt]
            elif fmt == "header":
                cell.font = bold
                cell.alignment = wrap
            elif fmt == "label":
                cell.font = bold
            elif fmt == "title":
                cell.font = big
        for r1, c1, r2, c2 in s.merges:
            ws.merge_cells(start_row=r1 + 1, start_column=c1 + 1, end_row=r2 + 1, end_column=c2 + 1)
        for r1, c1, r2, c2, src in s.validations:
            dv = DataValidation(
                type="list", formula1=src.lstrip("="), allow_blank=True, showErrorMessage=False
            )
            dv.add(f"{cell_ref(r1, c1)}:{cell_ref(r2, c2)}")
            ws.add_data_validation(dv)
    wb.properties.creator = "云岭县委主题教育办公室"
    wb.properties.created = FIXED_TIMESTAMP
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_normalise_zip(buf.getvalue()))


def _normalise_zip(data: bytes) -> bytes:
    """Make an openpyxl file byte-reproducible: fixed zip timestamps and modified date."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(<)",
                    lambda m: m.group(1) + stamp.encode() + m.group(2),
                    body,
                )
            zi = zipfile.ZipInfo(info.filename, (1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, body)
    return out.getvalue()


def _render_xlwt(book: Book, path: Path) -> None:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    styles = {
        "date": xlwt.easyxf(num_format_str="YYYY-MM-DD"),
        "date_cn": xlwt.easyxf(num_format_str='YYYY"年"M"月"D"日"'),
        "datetime": xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM"),
        "header": xlwt.easyxf(
            "font: bold on; align: wrap on, horiz center, vert center; borders: left thin, right thin, top thin, bottom thin"
        ),
        "label": xlwt.easyxf("font: bold on"),
        "title": xlwt.easyxf("font: bold on, height 280; align: horiz center"),
    }
    plain = xlwt.Style.default_style
    for s in book.sheets:
        ws = wb.add_sheet(s.name, cell_overwrite_ok=True)
        if s.hidden:
            ws.visibility = 1
        for c, w in s.widths.items():
            ws.col(c).width = int(256 * w)
        skip = _merged_cells(s)
        merged_tl = {}
        for r1, c1, r2, c2 in s.merges:
            merged_tl[(r1, c1)] = (r2, c2)
        for (r, c), v in s.cells.items():
            if (r, c) in skip:
                continue
            if isinstance(v, Formula):
                v = v.cached if v.cached is not None else ""
            st = styles.get(s.formats.get((r, c), ""), plain)
            if (r, c) in merged_tl:
                r2, c2 = merged_tl.pop((r, c))
                ws.write_merge(r, r2, c, c2, v, st)
            else:
                ws.write(r, c, v, st)
        for (r1, c1), (r2, c2) in merged_tl.items():  # merges with an empty top-left cell
            ws.write_merge(r1, r2, c1, c2, "", plain)
    wb.save(str(path))


def render_book(book: Book, path: Path, engine: str) -> None:
    """Write ``book`` to ``path`` with ``engine`` (openpyxl / xlsxwriter: .xlsx; xlwt: .xls)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if engine == "xlsxwriter":
        _render_xlsxwriter(book, path)
    elif engine == "openpyxl":
        _render_openpyxl(book, path)
    elif engine == "xlwt":
        _render_xlwt(book, path)
    else:
        raise ValueError(f"unknown engine {engine!r}")


def write_workbook(
    path: Path,
    ledger: dict,
    mess: Mess,
    engine: str,
    rng: random.Random,
    *,
    written: dict | None = None,
) -> dict:
    """Write ONE workbook holding ``ledger`` with the forms ``mess`` asks for.

    Returns the record: ``engine``, ``forms`` (applied form names, see :data:`SECTION8_FORMS`),
    ``sheets`` (name, role, hidden, header row, columns as written with their letters),
    ``rows[table][i] = {"sheet", "row"}`` (1-based Excel row of the i-th clean record; a problem in
    the combined sheet is at the top row of its merged group), ``info[field] = {"sheet", "cell",
    "label"}``, ``warnings`` the forms imply (W_EXTRA_COLUMN, W_SHEET_IGNORED, W_FORMULA) and
    ``value_forms`` (how many cells were written in each form).
    """
    book = build_book(ledger, mess, rng, engine=engine, written=written)
    render_book(book, path, engine)
    return book.record


# ============================================================================================
# defects
# ============================================================================================


@dataclass
class Defect:
    """One planted error or warning and where a correct reader reports it."""

    code: str
    variant: str = ""
    sheet: str | None = None
    row: int | None = None  # 1-based Excel row
    cell: str | None = None  # e.g. "C4"
    column: str | None = None  # header (or info label) as written
    value: Any = None  # the offending value as written ("" for an empty cell)
    alt: list[dict] = field(default_factory=list)  # other acceptable {row, cell}
    engine: str | None = None  # engine the defect needs (W_FORMULA: openpyxl)
    #: the ledger a correct reader loads (warnings: the file still loads). None for errors.
    ledger: dict | None = None

    @property
    def severity(self) -> str:
        return "error" if self.code.startswith("E_") else "warning"

    def expected(self) -> tuple:
        """(code, sheet, row, cell, column, value)."""
        return (self.code, self.sheet, self.row, self.cell, self.column, self.value)

    def to_json(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k != "ledger"}
        d["severity"] = self.severity
        if isinstance(d["value"], (dt.date,)):
            d["value"] = d["value"].isoformat()
        return d


_ID_FIELDS = {"research": "topic_id", "problems": "problem_id", "measures": "measure_id"}


def _cell_target(
    book: Book, pred, rng: random.Random, *, separate_only: bool = True
) -> tuple[str, int, str, str, int, int]:
    """Pick a located table cell (table, idx, field, sheet, r, c) with ``pred(table, field, value)``."""
    combined = {s.name for s in book.sheets if s.role == "combined"}
    merged = set()
    for s in book.sheets:
        for r1, c1, r2, c2 in s.merges:
            if r2 > r1 or c2 > c1:
                merged.add((s.name, r1, c1))
    cands = []
    for (t, i, f), (sh, r, c) in sorted(book.locs.items()):
        if t == "info":
            continue
        if separate_only and sh in combined:
            continue
        if (sh, r, c) in merged:
            continue
        if pred(t, f, book.ledger[t][i].get(f)):
            cands.append((t, i, f, sh, r, c))
    if not cands:
        raise ValueError("no cell fits this defect")
    return rng.choice(cands)


def _header_of(book: Book, sheet: str, c: int) -> str:
    for rec in book.record["sheets"]:
        if rec["name"] == sheet:
            for v in rec["columns"].values():
                if v["col"] == col_letter(c):
                    return v["header"]
    raise KeyError((sheet, c))


def _at(book: Book, code: str, variant: str, t: str, i: int, f: str, value: Any) -> Defect:
    """A defect at the cell holding field ``f`` of record ``i``; its value as written there."""
    sh, r, c = book.locs[(t, i, f)]
    cell = book.sheet(sh).cells.get((r, c))
    return Defect(
        code,
        variant,
        sh,
        r + 1,
        cell_ref(r, c),
        _header_of(book, sh, c),
        value if cell is None else _as_written(cell),
    )


def _spec(table: str, f: str) -> C.Col:
    return next(c for c in C.TABLES[table] if c.field == f)


def _no_side_warnings(mess: Mess, keep: str | None = None) -> Mess:
    """A copy of ``mess`` without the forms that raise warnings of their own."""
    m = replace(mess)
    if keep != "W_EXTRA_COLUMN":
        m.extra_columns = False
    if keep != "W_FORMULA":
        m.formula_uncached = False
    return m


def _as_written(v: Any) -> Any:
    """A cell value as a reader shows it: dates as ISO text, formulas as their cached value."""
    if isinstance(v, Formula):
        v = v.cached
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    return v


def applicable_defects(ledger: dict) -> list[str]:
    """Defect codes :func:`plant_defect` can plant into this ledger."""
    L = ledger
    out = ["E_AS_OF", "E_UNIT_UNKNOWN", "E_REQUIRED", "W_UNIT_NAME", "W_EXTRA_COLUMN"]
    tables_with_rows = [t for t in C.TABLE_ORDER if L[t]]
    if tables_with_rows:
        out.append("E_COLUMNS")
    if any(L[t] for t in C.TABLE_ORDER if any(c.kind.startswith(("vocab", "list")) for c in C.TABLES[t])):
        out.append("E_VOCAB")
    if any(
        r.get(c.field)
        for t in C.TABLE_ORDER
        for r in L[t]
        for c in C.TABLES[t]
        if c.kind in ("date", "deadline")
    ):
        out.append("E_DATE")
    if any(
        r.get(c.field) is not None
        for t in C.TABLE_ORDER
        for r in L[t]
        for c in C.TABLES[t]
        if c.kind == "int"
    ):
        out.append("E_NUMBER")
    if any(sum(1 for r in L[t] if r.get(f)) >= 2 for t, f in _ID_FIELDS.items()):
        out.append("E_DUPLICATE_ID")
    if L["problems"] and L["measures"]:
        out.append("E_UNKNOWN_PROBLEM")
    pids = [p["problem_id"] for p in L["problems"]]
    if L["problems"] and all(any(x["problem_id"] == p for x in L["measures"]) for p in pids):
        out.append("W_SHEET_IGNORED")
    if any(
        r.get(c.field) is None for t in C.TABLE_ORDER for r in L[t] for c in C.TABLES[t] if c.kind == "int"
    ) or any(L[t] for t in ("meetings", "study", "org")):
        out.append("W_FORMULA")
    if L["meetings"] or L["study"]:
        out.append("W_DATE_RANGE")
    if L["problems"] or L["research"]:
        out.append("W_CLOSED_NO_DATE")
    if any(any(x["problem_id"] == p["problem_id"] for x in L["measures"]) for p in L["problems"]):
        out.append("W_NO_MEASURE")
    if L["info"].get("members"):
        out.append("W_PLAN_EXCEEDS")
    return out


def plant_defect(
    ledger: dict,
    mess: Mess,
    code: str,
    rng: random.Random,
    *,
    engine: str = "xlsxwriter",
    variant: str | None = None,
    written: dict | None = None,
) -> tuple[Book, Defect]:
    """Build a book from ``ledger`` carrying exactly ONE planted defect ``code``.

    Other warning-raising forms (extra columns, the uncached formula) are switched off so the
    fixture shows one defect only. For warnings the returned ``Defect.ledger`` is the clean ledger
    a correct reader loads (e.g. with the W_FORMULA cell empty). Raises ``ValueError`` when the
    ledger has nothing to plant the defect into (see :func:`applicable_defects`).
    """
    L = copy.deepcopy(ledger)
    m = _no_side_warnings(mess, code)
    w = dict(written or {})
    info = L["info"]

    def build(plan: Plan | None = None, led: dict = L, wr: dict | None = None) -> Book:
        return build_book(led, m, rng, engine=engine, plan=plan, written=wr if wr is not None else w)

    def info_defect(book: Book, code: str, var: str, f: str, value: Any) -> Defect:
        rec = book.record["info"][f]
        sh, r, c = book.locs[("info", 0, f)]
        cell = book.sheet(sh).cells.get((r, c), "")
        return Defect(code, var, rec["sheet"], r + 1, rec["cell"], rec["label"], _as_written(cell))

    if code == "E_AS_OF":
        var = variant or rng.choice(("missing", "not_a_date", "future", "no_info_sheet"))
        if var == "no_info_sheet":
            return build(Plan(no_info_sheet=True)), Defect(code, var)
        value = {
            "missing": "",
            "not_a_date": rng.choice(("待定", "本周五", "12月第二周", "2023.12")),
            "future": "2032-12-08",
        }[var]
        w["as_of"] = value
        book = build()
        return book, info_defect(book, code, var, "as_of", value)

    if code == "E_UNIT_UNKNOWN":
        var = variant or rng.choice(("unknown_code_and_name", "no_code_unknown_name"))
        w["code"] = "" if var == "no_code_unknown_name" else f"{C.COUNTY_CODE}-T00-B{rng.randint(100, 999)}"
        w["name"] = f"{C.COUNTY}凤凰{rng.choice(('镇', '乡'))}{rng.choice(('茶山', '石岩', '龙井'))}村党支部"
        book = build()
        f = "unit_code" if w["code"] else "unit_name"
        return book, info_defect(book, code, var, f, w["code"] or w["name"])

    if code == "W_UNIT_NAME":
        name = info["unit_name"]
        var = variant or rng.choice(("name_variant", "other_name"))
        if var == "name_variant":
            bad = name.replace("党支部", "支部委员会") if "党支部" in name else name.replace("委员会", "党委")
            if bad == name:
                bad = name + "（临时）"
        else:
            bad = f"{C.COUNTY}{rng.choice(('金沙', '白马', '青云'))}镇机关党支部"
        w["name"] = bad
        w["code"] = info["unit_code"]
        book = build()
        d = info_defect(book, code, var, "unit_name", bad)
        d.ledger = L
        return book, d

    if code == "W_PLAN_EXCEEDS":
        if not info.get("members"):
            raise ValueError("no 党员人数")
        info["members_with_plan"] = info["members"] + rng.randint(1, 5)
        book = build()
        d = info_defect(book, code, "plan_gt_members", "members_with_plan", info["members_with_plan"])
        d.ledger = L
        return book, d

    if code == "E_COLUMNS":
        var = variant
        cands = [(t, c.field) for t in C.TABLE_ORDER if L[t] for c in C.TABLES[t] if c.required]
        if var:
            t, f = var.split(".")
        else:
            t, f = rng.choice(cands)
        m.combined_sheet = False
        m.omit_empty_columns = False
        book = build(Plan(drop_column=(t, f), force_separate=True, plain_sheet=(t,)))
        sheet = next(s["name"] for s in book.record["sheets"] if s["role"] == t)
        return book, Defect(code, f"{t}.{f}", sheet, None, None, _spec(t, f).header, None)

    if code == "E_REQUIRED":
        book = build()

        def ok(t, f, v):
            col = _spec(t, f)
            return (
                col.required
                and v not in (None, "", [])
                and (t, f) not in (("problems", "problem_id"), ("measures", "problem_id"))
            )

        t, i, f, sh, r, c = _cell_target(book, ok, rng)
        blank = rng.choice(("", "", " ", "\u3000"))
        s = book.sheet(sh)
        if blank:
            s.set_raw(r, c, blank)
        else:
            s.set(r, c, None)
        return book, Defect(code, f"{t}.{f}", sh, r + 1, cell_ref(r, c), _header_of(book, sh, c), "")

    if code == "E_VOCAB":
        book = build()

        def ok(t, f, v):
            return _spec(t, f).kind.startswith("vocab:") and v is not None

        t, i, f, sh, r, c = _cell_target(book, ok, rng)
        bad = rng.choice(C.BAD_VOCAB[_spec(t, f).kind[6:]])
        book.sheet(sh).set(r, c, bad)
        return book, Defect(code, f"{t}.{f}", sh, r + 1, cell_ref(r, c), _header_of(book, sh, c), bad)

    if code == "E_DATE":
        book = build()

        def ok(t, f, v):
            return _spec(t, f).kind in ("date", "deadline") and bool(v)

        t, i, f, sh, r, c = _cell_target(book, ok, rng)
        bad = rng.choice(
            ("2023年13月5日", "2023-02-30", "2023.11.31", "9月31日", "十月中旬", "2023-9-", "20231135")
        )
        book.sheet(sh).set(r, c, bad)
        return book, Defect(code, f"{t}.{f}:{bad}", sh, r + 1, cell_ref(r, c), _header_of(book, sh, c), bad)

    if code == "E_NUMBER":
        book = build()

        def ok(t, f, v):
            return _spec(t, f).kind == "int" and v is not None

        t, i, f, sh, r, c = _cell_target(book, ok, rng)
        bad = rng.choice((12.5, "12.5", "-3", "若干", "待统计", "1/2"))
        book.sheet(sh).set(r, c, bad)
        return book, Defect(
            code, f"{t}.{f}:{bad}", sh, r + 1, cell_ref(r, c), _header_of(book, sh, c), str(bad)
        )

    if code == "E_DUPLICATE_ID":
        cands = [t for t, f in _ID_FIELDS.items() if sum(1 for r in L[t] if r.get(f)) >= 2]
        if variant:
            cands = [variant]
        if not cands:
            raise ValueError("no ids to duplicate")
        t = rng.choice(cands)
        f = _ID_FIELDS[t]
        idxs = [i for i, r in enumerate(L[t]) if r.get(f)]
        i, j = sorted(rng.sample(idxs, 2))
        old = L[t][j][f]
        L[t][j][f] = L[t][i][f]
        if t == "problems":
            for x in L["measures"]:
                if x["problem_id"] == old:
                    x["problem_id"] = L[t][i][f]
            m.combined_sheet = False
        book = build(Plan(force_separate=True), L)
        d = _at(book, code, t, t, j, f, L[t][j][f])
        sh, r, c = book.locs[(t, i, f)]
        d.alt = [{"row": r + 1, "cell": cell_ref(r, c)}]
        return book, d

    if code == "E_UNKNOWN_PROBLEM":
        if not (L["problems"] and L["measures"]):
            raise ValueError("no measures")
        pids = {p["problem_id"] for p in L["problems"]}
        bad = next(b for b in ("P099", "问题99", "WT-99", "WT099x") if b not in pids)
        counts = Counter(x["problem_id"] for x in L["measures"])
        multi = [j for j, x in enumerate(L["measures"]) if counts[x["problem_id"]] >= 2]
        if multi:
            j = rng.choice(multi)
            L["measures"][j]["problem_id"] = bad
        else:  # append a stray measure at the end
            x = dict(L["measures"][-1])
            x.update(problem_id=bad, measure_id=None, content=rng.choice(C.MEASURES))
            L["measures"].append(x)
            j = len(L["measures"]) - 1
        m.combined_sheet = False
        book = build(Plan(force_separate=True), L)
        return book, _at(book, code, "measure", "measures", j, "problem_id", bad)

    if code == "W_SHEET_IGNORED":
        book = build(Plan(combined_beside_separate=True))
        sheet = next(s.name for s in book.sheets if s.role == "combined")
        return book, Defect(code, "combined_beside_separate", sheet, ledger=L)

    if code == "W_EXTRA_COLUMN":
        tables = [t for t in C.TABLE_ORDER if L[t] and t not in ("problems", "measures")] or ["meetings"]
        t = rng.choice(tables)
        h = rng.choice(list(C.EXTRA_COLUMNS))
        m.extra_columns = True
        book = build(Plan(extra_column=(t, h), force_separate=True))
        rec = next(s for s in book.record["sheets"] if s["role"] == t)
        col = rec["extra_columns"][0]["col"]
        return book, Defect(
            code, h, rec["name"], rec["header_row"], f"{col}{rec['header_row']}", h, h, ledger=L
        )

    if code == "W_FORMULA":
        cands = [
            (t, i, c.field)
            for t in ("meetings", "study", "org")
            for i, r in enumerate(L[t])
            for c in C.TABLES[t]
            if c.kind == "int"
        ]
        if not cands:
            raise ValueError("no integer cell")
        t, i, f = rng.choice(cands)
        L[t][i][f] = None
        m.formula_uncached = False
        book = build_book(L, m, rng, engine="openpyxl", plan=Plan(uncached_formula=(t, i, f)), written=w)
        sh, r, c = book.locs[(t, i, f)]
        text = book.sheet(sh).cells[(r, c)].text
        d = Defect(
            code,
            f"{t}.{f}",
            sh,
            r + 1,
            cell_ref(r, c),
            _header_of(book, sh, c),
            text,
            engine="openpyxl",
            ledger=L,
        )
        return book, d

    if code == "W_DATE_RANGE":
        tables = [t for t in ("meetings", "study") if L[t]]
        if not tables:
            raise ValueError("no meetings or study")
        t = rng.choice(tables)
        i = rng.randrange(len(L[t]))
        var = variant or rng.choice(("before_window", "after_as_of"))
        as_of = _d(L["as_of"])
        if var == "after_as_of" and as_of + dt.timedelta(days=3) <= C.CAMPAIGN_END:
            new = as_of + dt.timedelta(days=rng.randint(2, 6))
        else:
            var = "before_window"
            new = dt.date(2023, 8, rng.randint(20, 31))
        L[t][i]["date"] = new.isoformat()
        book = build(led=L)
        d = _at(book, code, var, t, i, "date", new.isoformat())
        d.ledger = L
        return book, d

    if code == "W_CLOSED_NO_DATE":
        closed = [i for i, p in enumerate(L["problems"]) if p["status"] == "closed"]
        formed = [i for i, r in enumerate(L["research"]) if r["status"] == "report_formed"]
        if closed and (not formed or rng.random() < 0.5):
            i = rng.choice(closed)
            L["problems"][i]["closed_date"] = None
            t, f = "problems", "status"
        elif formed:
            i = rng.choice(formed)
            L["research"][i]["report_date"] = None
            t, f = "research", "status"
        elif L["problems"]:
            i = 0
            L["problems"][0].update(status="closed", closed_date=None)
            for x in L["measures"]:
                if x["problem_id"] == L["problems"][0]["problem_id"] and x["status"] != "done":
                    x.update(status="done", done_date=L["as_of"])
            t, f = "problems", "status"
        elif L["research"]:
            i = 0
            L["research"][0].update(status="report_formed", report_date=None)
            t, f = "research", "status"
        else:
            raise ValueError("no problems or research")
        book = build(led=L)
        d = _at(book, code, t, t, i, f, C.CANONICAL["Z" if t == "problems" else "T"][L[t][i]["status"]])
        d.value = book.sheet(d.sheet).cells.get(book.locs[(t, i, f)][1:])
        dfield = "closed_date" if t == "problems" else "report_date"
        if (t, i, dfield) in book.locs:
            sh, r, c = book.locs[(t, i, dfield)]
            d.alt = [{"row": r + 1, "cell": cell_ref(r, c)}]
        d.ledger = L
        return book, d

    if code == "W_NO_MEASURE":
        with_m = [
            i
            for i, p in enumerate(L["problems"])
            if any(x["problem_id"] == p["problem_id"] for x in L["measures"])
        ]
        if not with_m:
            raise ValueError("no problem with measures")
        i = rng.choice(with_m)
        pid = L["problems"][i]["problem_id"]
        L["measures"] = [x for x in L["measures"] if x["problem_id"] != pid]
        m.combined_sheet = False
        book = build(Plan(force_separate=True), L)
        d = _at(book, code, "problem", "problems", i, "problem_id", pid)
        d.ledger = L
        return book, d

    raise ValueError(f"unknown defect code {code!r}")


def write_defective_workbook(
    path: Path,
    ledger: dict,
    mess: Mess,
    engine: str,
    rng: random.Random,
    code: str,
    *,
    variant: str | None = None,
    written: dict | None = None,
) -> tuple[dict, Defect]:
    """Write one workbook carrying exactly one planted defect; returns (record, defect).

    E_FILE_UNREADABLE is written by :func:`write_unreadable` instead. W_FORMULA always uses
    openpyxl (the only engine that writes a formula without a cached value).
    """
    if code == "E_FILE_UNREADABLE":
        return {"engine": None, "forms": []}, write_unreadable(
            path, variant or rng.choice(UNREADABLE_VARIANTS), rng
        )
    if code == "W_FORMULA" and Path(path).suffix.lower() == ".xls":
        raise ValueError(
            "W_FORMULA needs an .xlsx path: only openpyxl writes a formula without a cached value"
        )
    book, defect = plant_defect(ledger, mess, code, rng, engine=engine, variant=variant, written=written)
    eng = defect.engine or engine
    render_book(book, path, eng)
    book.record["engine"] = eng
    return book.record, defect


_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


def write_unreadable(path: Path, variant: str, rng: random.Random, *, source: bytes | None = None) -> Defect:
    """Write a file that is not a readable workbook (E_FILE_UNREADABLE).

    ``text_named_xlsx``: a text file named .xlsx; ``truncated_zip``: a real .xlsx cut off in the
    middle (``source`` bytes, or a small generated workbook); ``pdf_named_xls``: a PDF named .xls.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if variant == "text_named_xlsx":
        body = "主题教育台账\r\n单位,会议日期,会议类型\r\n见附件，纸质版已报送。\r\n".encode("gb18030")
    elif variant == "truncated_zip":
        if source is None:
            buf = io.BytesIO()
            import xlsxwriter

            wb = xlsxwriter.Workbook(buf, {"in_memory": True})
            wb.set_properties({"created": FIXED_TIMESTAMP})
            ws = wb.add_worksheet("填报信息")
            for i in range(40):
                ws.write_string(i, 0, f"第{i}行 {rng.random()}")
            wb.close()
            source = buf.getvalue()
        body = source[: max(64, len(source) * rng.randint(35, 65) // 100)]
    elif variant == "pdf_named_xls":
        body = _PDF
    else:
        raise ValueError(variant)
    path.write_bytes(body)
    return Defect("E_FILE_UNREADABLE", variant)
