"""The input contract, read from ``shared/spec/ledger.md`` at import time (never from the project's
code or template): the tables of §4 with their sheet names, headers, synonyms, fields and types,
the 填报信息 labels of §4.1, the vocabularies of §5, and the few prose lists of §4–§7.

Everything the property suite generates is derived from this model, so a change to the contract
changes what is generated; a change this parser does not understand fails at import.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "ledger.md"

# §4.2 … §4.9: section number -> the table key of Parsed.tables (the API's names, not the spec's).
SECTION_TABLE: dict[str, str] = {
    "4.2": "meetings",
    "4.3": "study",
    "4.4": "research",
    "4.5": "problems",
    "4.6": "measures",
    "4.7": "outcomes",
    "4.8": "plans",
    "4.9": "org",
}
INFO_SECTION = "4.1"

# ---- prose lists, hard-coded from the text (each is checked to occur in the spec below) ----------

# §4: names of the combined problem/measure sheet (problems + measures in one sheet).
COMBINED_SHEET_NAMES: tuple[str, ...] = ("问题整改台账", "问题清单及整改措施", "查摆问题及整改措施")
# §5 (last paragraph): separators of a list cell (besides line breaks).
LIST_SEPARATORS: tuple[str, ...] = ("、", "，", ",", ";", "；", "/", "和", "+")
# §6 Integers: counting words after a number (`30人`, `30 人次`, also 名, 个, …).
COUNTING_WORDS: tuple[str, ...] = ("人", "人次", "名", "个", "次", "场", "期", "篇", "份", "项", "条")
# §7: marks a header cell may carry that are not part of its name (line breaks and spaces aside).
HEADER_MARKS: tuple[str, ...] = ("*", "（必填）", "(必填)", "：")
# §7: a row whose first non-empty cell starts with one of these is not data (after §6 normalisation).
NON_DATA_PREFIXES: tuple[str, ...] = (
    "合计",
    "总计",
    "小计",
    "注",
    "备注：",
    "说明",
    "填表说明",
    "填表人",
    "审核人",
    "联系人",
)
# §4.1: a label may end in one of these.
LABEL_COLONS: tuple[str, ...] = ("：", ":")
# §6 Dates: deadline-only words (`年底`) and the suffixes any deadline form may carry.
YEAR_END_WORD = "年底"
DEADLINE_SUFFIXES: tuple[str, ...] = ("前", "之前")
# §4: sheet name for no table (the cover of §4.1 aside), e.g. helper sheets.
HELPER_SHEET_EXAMPLES: tuple[str, ...] = ("下拉选项", "填表说明")


@dataclass(frozen=True)
class Column:
    """One row of a §4 table: a header with its synonyms, the field it fills and its type."""

    table: str
    header: str
    synonyms: tuple[str, ...]
    field: str
    required: bool
    kind: str  # text | id | ref | date | deadline | integer | vocab | list
    voc: str | None = None  # vocabulary letter for vocab / list
    default: str | None = None  # slug an empty cell stands for (§6), e.g. phase 'general'
    none_words: tuple[str, ...] = ()  # deadline words that mean "no date" (§4.5)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.header, *self.synonyms)


@dataclass(frozen=True)
class Table:
    """A §4 table: its key, the sheet name with synonyms, and its columns in contract order."""

    key: str
    section: str
    sheet: str
    sheet_synonyms: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def sheet_names(self) -> tuple[str, ...]:
        return (self.sheet, *self.sheet_synonyms)

    def column(self, fld: str) -> Column:
        return next(c for c in self.columns if c.field == fld)

    @property
    def required(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)


@dataclass(frozen=True)
class Label:
    """A §4.1 label of the 填报信息 sheet."""

    label: str
    synonyms: tuple[str, ...]
    field: str
    required: bool
    kind: str  # text | date | integer

    @property
    def names(self) -> tuple[str, ...]:
        return (self.label, *self.synonyms)


@dataclass(frozen=True)
class Term:
    """A §5 vocabulary entry."""

    voc: str
    slug: str
    canonical: str
    also: tuple[str, ...]
    also_empty: bool = False

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.canonical, *self.also)


@dataclass(frozen=True)
class Contract:
    window: tuple[date, date]
    info_sheet: str
    info_sheet_synonyms: tuple[str, ...]
    labels: tuple[Label, ...]
    tables: dict[str, Table]
    vocab: dict[str, tuple[Term, ...]] = field(default_factory=dict)

    @property
    def info_sheet_names(self) -> tuple[str, ...]:
        return (self.info_sheet, *self.info_sheet_synonyms)

    def label(self, fld: str) -> Label:
        return next(lb for lb in self.labels if lb.field == fld)

    def slugs(self, voc: str) -> tuple[str, ...]:
        return tuple(t.slug for t in self.vocab[voc])

    def term(self, voc: str, slug: str) -> Term:
        return next(t for t in self.vocab[voc] if t.slug == slug)


# ---- normalisation the contract defines (§5, §6, §7) -----------------------------------------------


def norm_text(s: str) -> str:
    """§6 Text: NFKC, surrounding white space (full-width spaces, line breaks) trimmed."""
    return unicodedata.normalize("NFKC", s).strip()


def norm_vocab(s: str) -> str:
    """§5: NFKC, all white space removed, trailing 。 removed."""
    s = "".join(unicodedata.normalize("NFKC", s).split())
    return s[:-1] if s.endswith("。") else s


def norm_header(s: str) -> str:
    """§7: a header cell without its marks (`*`, `（必填）`, `(必填)`, line breaks, spaces, a trailing
    `：`). NFKC first, as everywhere in §6 (so `(必填)` and `（必填）` are one mark)."""
    s = "".join(unicodedata.normalize("NFKC", s).split())
    s = s.replace("*", "").replace("(必填)", "")
    return s.rstrip(":")


def norm_sheet(s: str) -> str:
    """§4: sheet names are compared after normalisation (NFKC, white space removed)."""
    return "".join(unicodedata.normalize("NFKC", s).split())


# ---- parsing the markdown ---------------------------------------------------------------------------

_HEADING = re.compile(r"^### (4\.\d) (\S+) — [^(]*\(synonyms: ([^)]*)\)\s*$")
_CELL_NAME = re.compile(r"^(\*\*)?([^*(]+?)(\*\*)?\s*(?:\(([^)]*)\))?$")


def _split(s: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in s.split(",") if x.strip())


def _table_rows(lines: list[str], start: int) -> list[list[str]]:
    """The body rows of the markdown table that follows line ``start``."""
    rows: list[list[str]] = []
    i = start
    while i < len(lines) and not lines[i].startswith("|"):
        i += 1
    i += 2  # header and |---| separator
    while i < len(lines) and lines[i].startswith("|"):
        rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
        i += 1
    return rows


def _name_cell(cell: str) -> tuple[str, tuple[str, ...], bool]:
    m = _CELL_NAME.match(cell.strip())
    if not m:
        raise ValueError(f"ledger.md: cannot read header cell {cell!r}")
    bold = bool(m.group(1)) and bool(m.group(3))
    return m.group(2).strip(), _split(m.group(4) or ""), bold


def _column_type(table: str, text: str, defaults: dict[str, str]) -> dict:
    t = text.strip()
    if t.startswith("list of vocabulary "):
        return {"kind": "list", "voc": t.split()[-1]}
    if t.startswith("vocabulary "):
        voc = t.split()[1].rstrip(";")
        out = {"kind": "vocab", "voc": voc}
        m = re.search(r"empty = (\S+)", t)
        if m:
            out["default_word"] = m.group(1)
        return out
    if t.startswith("integer"):
        return {"kind": "integer"}
    if t.startswith("date, or empty") or t.startswith("date or none"):
        words = tuple(re.findall(r'"([^"]+)"', t))
        return {"kind": "deadline", "none_words": words}
    if t == "date":
        return {"kind": "date"}
    if t.startswith("text; unique"):
        return {"kind": "id"}
    if t.startswith("text; must name"):
        return {"kind": "ref"}
    if t == "text" or t.startswith("text"):
        return {"kind": "text"}
    raise ValueError(f"ledger.md: unknown type {text!r} in table {table}")


def _parse(text: str) -> Contract:
    lines = text.splitlines()
    for item in (
        *COMBINED_SHEET_NAMES,
        *COUNTING_WORDS,
        *NON_DATA_PREFIXES,
        "（必填）",
        "(必填)",
        YEAR_END_WORD,
        "之前",
        *HELPER_SHEET_EXAMPLES,
    ):
        if item not in text:
            raise ValueError(f"ledger.md no longer mentions {item!r}: update contract.py")
    m = re.search(r"Campaign window: (\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d)", text)
    if not m:
        raise ValueError("ledger.md: no campaign window")
    window = (date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2)))

    # §6: "An optional column that is absent is empty in every row (no 所属环节: 综合; no 干部类别: 其他)."
    default_words = dict(re.findall(r"no ([\u4e00-\u9fff]+): ([^;)\s]+)", text))

    # §5 vocabularies
    vocab: dict[str, list[Term]] = {}
    start = next(i for i, ln in enumerate(lines) if ln.startswith("## 5."))
    for row in _table_rows(lines, start):
        voc, slug, canonical, also = row[0], row[1], row[2], row[3] if len(row) > 3 else ""
        also_empty = "(and empty)" in also
        also = also.replace("(and empty)", "")
        vocab.setdefault(voc, []).append(Term(voc, slug, canonical, _split(also), also_empty))

    def slug_of(voc: str, word: str) -> str:
        return next(t.slug for t in vocab[voc] if word in t.forms)

    tables: dict[str, Table] = {}
    labels: tuple[Label, ...] = ()
    info_sheet, info_syn = "", ()
    for i, ln in enumerate(lines):
        h = _HEADING.match(ln)
        if not h:
            continue
        section, sheet, syn = h.group(1), h.group(2), _split(h.group(3))
        rows = _table_rows(lines, i + 1)
        if section == INFO_SECTION:
            info_sheet, info_syn = sheet, syn
            labels = tuple(
                Label(name, syns, r[1], bold, _column_type("info", r[2], {})["kind"])
                for r in rows
                for name, syns, bold in [_name_cell(r[0])]
            )
            continue
        key = SECTION_TABLE[section]
        cols = []
        for r in rows:
            name, syns, bold = _name_cell(r[0])
            ty = _column_type(key, r[2], default_words)
            default = None
            word = ty.pop("default_word", None) or default_words.get(name)
            if word is not None:
                default = slug_of(ty["voc"], word)
            cols.append(Column(key, name, syns, r[1], bold, default=default, **ty))
        # "date or none, as above": the none-words of the deadline defined above (§4.5)
        above = next((c.none_words for t in tables.values() for c in t.columns if c.none_words), ())
        cols = [
            Column(**{**c.__dict__, "none_words": above}) if c.kind == "deadline" and not c.none_words else c
            for c in cols
        ]
        tables[key] = Table(key, section, sheet, syn, tuple(cols))
    if set(tables) != set(SECTION_TABLE.values()) or not labels:
        raise ValueError("ledger.md: not every table of §4 was read")
    return Contract(window, info_sheet, info_syn, labels, tables, {k: tuple(v) for k, v in vocab.items()})


@cache
def contract() -> Contract:
    return _parse(SPEC.read_text(encoding="utf-8"))


C = contract()
TABLES = tuple(C.tables)

# ---- derived name sets, for the generator's "is this determined?" checks ---------------------------


_NAME_INDEX: dict[str, frozenset[tuple[str, str]]] = {}
for _t in C.tables.values():
    for _c in _t.columns:
        for _n in _c.names:
            _NAME_INDEX[norm_header(_n)] = _NAME_INDEX.get(norm_header(_n), frozenset()) | {
                (_t.key, _c.field)
            }


def fields_named(header: str, tables: tuple[str, ...] = TABLES) -> set[tuple[str, str]]:
    """The (table, field) pairs a header cell names (§7: after its marks are removed)."""
    return {tf for tf in _NAME_INDEX.get(norm_header(header), ()) if tf[0] in tables}


def tables_in_sheet_name(name: str) -> set[str]:
    """The tables whose name or synonym a sheet name contains (§4); "info" for §4.1's sheet."""
    n = norm_sheet(name)
    out = {t for t, tb in C.tables.items() if any(norm_sheet(s) in n for s in tb.sheet_names)}
    if any(norm_sheet(s) in n for s in C.info_sheet_names):
        out.add("info")
    return out


def all_header_names() -> set[str]:
    """Every header, synonym and label of the contract, normalised: text values never equal one."""
    out = {norm_header(n) for t in C.tables.values() for c in t.columns for n in c.names}
    out |= {norm_header(n) for lb in C.labels for n in lb.names}
    out |= {"序号"}
    return out


def label_names() -> set[str]:
    return {n for lb in C.labels for n in lb.names}


def _self_check() -> None:
    """Facts the generator relies on, asserted so a contract change cannot silently break them."""
    for t in C.tables.values():
        seen: dict[str, str] = {}
        for c in t.columns:
            for n in c.names:
                assert norm_header(n) not in seen, f"{t.key}: {n} names two columns"
                seen[norm_header(n)] = c.field
    for voc, terms in C.vocab.items():
        owner: dict[str, str] = {}
        for t in terms:
            for f in t.forms:
                assert owner.setdefault(norm_vocab(f), t.slug) == t.slug, (
                    f"vocabulary {voc}: {f} is two slugs"
                )
    for term in C.vocab["R"]:
        for f in term.forms:
            assert not any(s in f for s in LIST_SEPARATORS), f"list value {f} holds a separator"


_self_check()
