"""Cell normalisation (ledger.md §6): text, dates, deadlines, integers, vocabularies, lists.

Every function takes any cell value python-calamine can return (str, int, float, bool, date,
datetime, time, None) and returns ``(value, problem)``: the normalised value, or ``None`` and a
short problem description. They never raise on user input.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Any

from ledgerflow.template import Template, Vocabulary, nfkc, vocab_key

Result = tuple[Any, str | None]

_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_MIN, _SERIAL_MAX = 20000, 80000  # 1954 .. 2119: anything else is not a plausible serial
_SPACE = re.compile(r"\s+")
_STRIP_CHARS = " \t\r\n\u3000\u00a0\ufeff"

_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_YMD_CN = re.compile(
    r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?(?:\d{1,2}[:：时点]\d{0,2}(?:[:：分]\d{0,2}秒?)?分?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MD_CN = re.compile(r"^(\d{1,2})月(\d{1,2})[日号]?$")
_MD_DOT = re.compile(r"^(\d{1,2})[./](\d{1,2})$")
_SERIAL_TEXT = re.compile(r"^\d{5}$")  # a serial typed as a whole number in a text cell
_YM_CN = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(?:底|末|份)?$")
_YM_DASH = re.compile(r"^(\d{4})[-/.](\d{1,2})$")
_YEAR_END = re.compile(r"^(?:(\d{4})年)?(?:年底|年末|底)$")
_BEFORE = re.compile(r"(?:之前|以前|前)$")
_CN_NUM = re.compile(r"^[零〇一二两三四五六七八九十百千万]+$")
_INT_TEXT = re.compile(r"^\d{1,19}(?:\.0+)?$")
INT_MAX = 2**63 - 1  # the warehouse stores integers as BIGINT: anything larger is not a count


def is_empty(value: Any) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, str):
        # str.isspace and the regex \s are the same Unicode white space (Py_UNICODE_ISSPACE): a
        # string that is not all white space keeps a character after removing the white space
        return value.isspace()
    if isinstance(value, float) and math.isnan(value):
        return True
    return False


def _num_to_text(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_text(value: Any) -> Result:
    """Free text: NFKC, surrounding white space trimmed, inner line breaks kept."""
    if is_empty(value):
        return None, None
    if isinstance(value, str):
        text = value if unicodedata.is_normalized("NFKC", value) else nfkc(value)
        text = text.strip(_STRIP_CHARS)
        if "\n" in text or "\r" in text:
            text = "\n".join(line.strip(_STRIP_CHARS) for line in text.replace("\r\n", "\n").split("\n"))
        return text, None
    if isinstance(value, bool):
        return ("是" if value else "否"), None
    if isinstance(value, (int, float)):
        return _num_to_text(value), None
    if isinstance(value, datetime):
        return value.date().isoformat(), None
    if isinstance(value, date):
        return value.isoformat(), None
    return str(value), None


def to_id(value: Any) -> Result:
    text, _ = to_text(value)
    if text is None:
        return None, None
    return _SPACE.sub("", text), None


def _year_for(tpl: Template, month: int) -> int:
    return tpl.year_for_month.get(month, tpl.window[1].year)


def _make(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _serial(n: float) -> date | None:
    if not (_SERIAL_MIN <= n <= _SERIAL_MAX):
        return None
    return _EXCEL_EPOCH + timedelta(days=int(math.floor(n)))


def _month_end(y: int, m: int) -> date | None:
    if not 1 <= m <= 12:
        return None
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _parse_date_text(text: str, tpl: Template, *, deadline: bool) -> date | None:
    s = _SPACE.sub("", nfkc(text))
    if deadline:
        s = _BEFORE.sub("", s)
    m = _YMD.match(nfkc(text).strip()) or _YMD.match(s)
    if m:
        return _make(int(m[1]), int(m[2]), int(m[3]))
    m = _YMD_CN.match(s)
    if m:
        return _make(int(m[1]), int(m[2]), int(m[3]))
    m = _COMPACT.match(s)
    if m:
        return _make(int(m[1]), int(m[2]), int(m[3]))
    m = _MD_CN.match(s) or _MD_DOT.match(s)
    if m:
        month, day = int(m[1]), int(m[2])
        return _make(_year_for(tpl, month), month, day) if 1 <= month <= 12 else None
    if _SERIAL_TEXT.match(s):
        return _serial(float(s))
    if deadline:
        m = _YEAR_END.match(s)
        if m:
            return date(int(m[1]), 12, 31) if m[1] else tpl.year_end
        m = _YM_CN.match(s) or _YM_DASH.match(s)
        if m:
            month = int(m[2])
            year = int(m[1]) if m[1] else _year_for(tpl, month) if 1 <= month <= 12 else 0
            return _month_end(year, month) if year else None
    return None


def to_date(value: Any, tpl: Template, *, deadline: bool = False) -> Result:
    """A date in any form of ledger.md §6; ``deadline`` also accepts months, 年底 and …前."""
    if is_empty(value):
        return None, None
    if isinstance(value, datetime):
        return value.date(), None
    if isinstance(value, date):
        return value, None
    if isinstance(value, bool):
        return None, "not a date"
    if isinstance(value, time):
        return None, "a time of day, not a date"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None, "not a date"
        d = _serial(float(value))
        if d is None:
            d = _parse_date_text(_num_to_text(value), tpl, deadline=deadline)
        return (d, None) if d else (None, "not a date")
    if isinstance(value, str):
        d = _parse_date_text(value, tpl, deadline=deadline)
        return (d, None) if d else (None, "not a date")
    return None, "not a date"


def to_deadline(value: Any, tpl: Template) -> Result:
    """A deadline: a date, or none for empty / 长期 / 长期坚持; a date beside 长期坚持 is kept."""
    if is_empty(value):
        return None, None
    if isinstance(value, str):
        key = vocab_key(value)
        if key in tpl.deadline_none:
            return None, None
        rest = key
        for word in sorted(tpl.deadline_none, key=len, reverse=True):
            rest = rest.replace(word, "")
        rest = rest.strip("()（）,，;；、。.:：")
        if rest != key:
            if not rest:
                return None, None
            return to_date(rest, tpl, deadline=True)
    return to_date(value, tpl, deadline=True)


def _cn_int(text: str) -> int | None:
    import cn2an  # imported lazily: ~0.3 s to import, needed only for Chinese numerals

    try:
        n = cn2an.cn2an(text.replace("两", "二").replace("〇", "零"), "strict")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    if isinstance(n, float):
        if not n.is_integer():
            return None
        n = int(n)
    return n if isinstance(n, int) and n >= 0 else None


_UNITS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _unit_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    pattern = _UNITS.get(words)
    if pattern is None:
        alts = "|".join(re.escape(nfkc(w)) for w in sorted(words, key=len, reverse=True))
        pattern = _UNITS[words] = re.compile(f"(?:{alts})$" if alts else r"(?!)")
    return pattern


def to_int(value: Any, tpl: Template) -> Result:
    """An integer ≥ 0 from a number, full-width digits, text with a counting word (the template's
    ``counting_words``) or Chinese numerals."""
    if is_empty(value):
        return None, None
    if isinstance(value, bool):
        return None, "not an integer"
    if isinstance(value, int):
        return _in_range(value)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None, "not a whole number"
        return _in_range(int(value))
    if isinstance(value, str):
        s = _SPACE.sub("", nfkc(value))
        s = _unit_pattern(tpl.counting_words).sub("", s)
        if _INT_TEXT.match(s):
            return _in_range(int(s.split(".")[0]))
        if _CN_NUM.match(s) and len(s) <= 40:
            n = _cn_int(s)
            if n is not None:
                return _in_range(n)
        return None, "not an integer"
    return None, "not an integer"


def _in_range(n: int) -> Result:
    if n < 0:
        return None, "negative"
    if n > INT_MAX:
        return None, "too large"
    return n, None


def to_vocab(value: Any, vocab: Vocabulary) -> Result:
    if is_empty(value):
        return None, None
    text, _ = to_text(value)
    slug = vocab.lookup.get(vocab_key(text or ""))
    return (slug, None) if slug else (None, "not in vocabulary")


def split_list(text: str, separators: tuple[str, ...]) -> list[str]:
    s = nfkc(text)
    pattern = "|".join(re.escape(nfkc(sep)) for sep in sorted(separators, key=len, reverse=True))
    return [p for p in (vocab_key(x) for x in re.split(pattern + r"|\r|\n", s)) if p]


def to_vocab_list(value: Any, vocab: Vocabulary, tpl: Template) -> Result:
    """A list cell: every part must match; repeated values count once (order kept)."""
    if is_empty(value):
        return [], None
    text, _ = to_text(value)
    slugs: list[str] = []
    bad: list[str] = []
    for part in split_list(text or "", tpl.list_separators):
        slug = vocab.lookup.get(part)
        if slug is None:
            bad.append(part)
        elif slug not in slugs:
            slugs.append(slug)
    if bad:
        return None, "not in vocabulary: " + "、".join(bad)
    return slugs, None
