"""The campaign template: one declarative YAML file the code reads (sheets, headers, vocabularies,
rules, messages). Everything that varies by campaign is here, as data."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_WS = re.compile(r"\s+", re.UNICODE)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=65536)
def squash(text: str) -> str:
    """NFKC with every white space removed (incl. full-width spaces and line breaks)."""
    return _WS.sub("", nfkc(text))


@lru_cache(maxsize=65536)
def vocab_key(text: str) -> str:
    """Key a vocabulary cell matches on (ledger.md §5): NFKC, no white space, no trailing 。."""
    key = squash(text)
    while key.endswith(("。", ".")):
        key = key[:-1]
    return key


@dataclass(frozen=True)
class Column:
    field: str
    names: tuple[str, ...]
    type: str  # text | id | date | deadline | int | vocab | vocab_list
    required: bool = False
    vocab: str | None = None
    default: str | None = None

    @property
    def label(self) -> str:
        return self.names[0]


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    sheet_names: tuple[str, ...]
    columns: tuple[Column, ...]

    def column(self, field_name: str) -> Column:
        for col in self.columns:
            if col.field == field_name:
                return col
        raise KeyError(field_name)


@dataclass(frozen=True)
class Vocabulary:
    name: str
    slugs: tuple[str, ...]
    canonical: dict[str, str]  # slug -> canonical Chinese label
    lookup: dict[str, str]  # vocab_key(written form) -> slug


@dataclass
class Template:
    path: Path
    raw: dict[str, Any]
    window: tuple[date, date]
    year_for_month: dict[int, int]
    year_end: date
    stale_days: int
    timezone: str
    registry_fields: dict[str, tuple[str, ...]]
    alias_separators: str
    true_words: frozenset[str]
    false_words: frozenset[str]
    extensions: tuple[str, ...]
    ignore_prefixes: tuple[str, ...]
    info_sheet_names: tuple[str, ...]
    info_labels: tuple[Column, ...]
    header_search_rows: int
    min_header_matches: int
    stop_pattern: re.Pattern[str]
    header_marks: tuple[str, ...]
    ignored_columns: frozenset[str]
    tables: dict[str, Table]
    combined_parent: str
    combined_child: str
    combined_key: str
    combined_split: str
    non_data_sheets: tuple[str, ...]
    list_separators: tuple[str, ...]
    counting_words: tuple[str, ...]
    deadline_none: frozenset[str]
    vocabularies: dict[str, Vocabulary]
    messages: dict[str, str]
    figures: list[dict[str, Any]] = field(default_factory=list)
    source_sha256: str = ""  # of the template file: parsed results depend on it

    # ---- name matching -------------------------------------------------------------------------
    def header_key(self, text: str) -> str:
        """A header cell or label as a name: marks, white space and trailing colons removed."""
        cache = self.__dict__.setdefault("_header_keys", {})
        key = cache.get(text)
        if key is None:
            key = self._header_key(text)
            if len(cache) < 100_000:
                cache[text] = key
        return key

    def _header_key(self, text: str) -> str:
        key = squash(text)  # NFKC, no white space: line breaks and inner spaces are not the name
        for mark in self.header_marks:
            key = key.replace(squash(mark), "")
        key = key.rstrip(":：")
        return key.lstrip("*")

    def message(self, issue_code: str, /, **values: Any) -> str:
        template = self.messages.get(issue_code, issue_code)
        try:
            return template.format(**values)
        except (KeyError, IndexError):
            return template

    @property
    def table_order(self) -> tuple[str, ...]:
        return tuple(self.tables)


def _columns(spec: dict[str, Any]) -> tuple[Column, ...]:
    cols = []
    for name, c in spec.items():
        cols.append(
            Column(
                field=name,
                names=tuple(str(n) for n in c["names"]),
                type=c.get("type", "text"),
                required=bool(c.get("required", False)),
                vocab=c.get("vocab"),
                default=c.get("default"),
            )
        )
    return tuple(cols)


def _vocab(name: str, spec: dict[str, list[str]]) -> Vocabulary:
    lookup: dict[str, str] = {}
    canonical: dict[str, str] = {}
    for slug, forms in spec.items():
        canonical[slug] = str(forms[0])
        for form in forms:
            lookup.setdefault(vocab_key(str(form)), slug)
    return Vocabulary(name=name, slugs=tuple(spec), canonical=canonical, lookup=lookup)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def parse_template(path: Path) -> Template:
    source = Path(path).read_bytes()
    raw = yaml.safe_load(source.decode("utf-8"))
    camp = raw["campaign"]
    layout = raw["layout"]
    comb = raw["combined"]
    tables = {
        name: Table(
            name=name,
            title=spec.get("title", name),
            sheet_names=tuple(spec["sheet"]),
            columns=_columns(spec["columns"]),
        )
        for name, spec in raw["tables"].items()
    }
    return Template(
        path=Path(path),
        raw=raw,
        window=(_as_date(camp["window"][0]), _as_date(camp["window"][1])),
        year_for_month={int(k): int(v) for k, v in camp["year_for_month"].items()},
        year_end=_as_date(camp["year_end"]),
        stale_days=int(camp["stale_days"]),
        timezone=camp.get("timezone", "Asia/Shanghai"),
        registry_fields={k: tuple(v) for k, v in raw["registry"]["fields"].items()},
        alias_separators=raw["registry"]["alias_separators"],
        true_words=frozenset(str(w).lower() for w in raw["registry"]["true_words"]),
        false_words=frozenset(str(w).lower() for w in raw["registry"]["false_words"]),
        extensions=tuple(e.lower() for e in raw["inbox"]["extensions"]),
        ignore_prefixes=tuple(raw["inbox"]["ignore_prefixes"]),
        info_sheet_names=tuple(raw["info"]["sheet"]),
        info_labels=_columns(raw["info"]["labels"]),
        header_search_rows=int(layout["header_search_rows"]),
        min_header_matches=int(layout["min_header_matches"]),
        stop_pattern=re.compile(nfkc(layout["stop_pattern"])),
        header_marks=tuple(layout["header_marks"]),
        ignored_columns=frozenset(layout["ignored_columns"]),
        tables=tables,
        combined_parent=comb["parent"],
        combined_child=comb["child"],
        combined_key=comb["key"],
        combined_split=comb["split_field"],
        non_data_sheets=tuple(raw.get("non_data_sheets", [])),
        list_separators=tuple(raw["list_separators"]),
        counting_words=tuple(str(w) for w in raw.get("counting_words", [])),
        deadline_none=frozenset(vocab_key(s) for s in raw["deadline_none"]),
        vocabularies={k: _vocab(k, v) for k, v in raw["vocabularies"].items()},
        messages=dict(raw["messages"]),
        figures=list(raw.get("figures", [])),
        source_sha256=hashlib.sha256(source).hexdigest(),
    )


def figure_keys(tpl: Template) -> list[dict[str, Any]]:
    """Every figure key in order, ``{slug}`` expanded over its vocabulary."""
    out: list[dict[str, Any]] = []
    for spec in tpl.figures:
        slugs = tpl.vocabularies[spec["vocab"]].slugs if spec.get("vocab") else (None,)
        for slug in slugs:
            key = spec["key"].replace("{slug}", slug) if slug else spec["key"]
            out.append(
                {
                    "ord": len(out),
                    "key": key,
                    "agg": spec["agg"],
                    "numerator": spec.get("numerator"),
                    "denominator": spec.get("denominator"),
                }
            )
    return out


def load_template(path: str | Path | None = None) -> Template:
    """The campaign template at ``path`` (default: Settings), parsed once per content: the cache
    is keyed by the file's size and modification time too, so a long-lived process (the served
    deployment's warm fork server) never keeps an edited template's old version."""
    from ledgerflow.settings import Settings

    p = Path(path) if path else Settings().template
    try:
        st = p.stat()
        stamp = (st.st_size, st.st_mtime_ns)
    except OSError:
        stamp = None  # parse_template says what is wrong with the path
    return _load_template(str(p), stamp)


@lru_cache(maxsize=8)
def _load_template(path: str, stamp: tuple[int, int] | None) -> Template:
    return parse_template(Path(path))
