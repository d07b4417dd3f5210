"""Cell value forms (ledger.md §5, §6): every way the contract says a value may be written, each
drawn with hypothesis and returned as a raw cell ``[kind, value]`` that reads back as the value.

Raw cell kinds (JSON-serialisable, written by writers.py):

- ``["s", text]``   a text cell
- ``["n", 30]``     a number cell holding an integer
- ``["f", 30.0]``   a number cell holding a float
- ``["d", "2023-09-15"]``           an Excel date cell
- ``["dt", "2023-09-15T10:30:00"]`` an Excel date-time cell
- ``["fx", "=10+20", 30]``           a formula with the value Excel last computed (xlsxwriter only)

``None`` is an empty cell.
"""

from __future__ import annotations

import calendar
import unicodedata
from datetime import date, timedelta
from typing import Any

from contract import (
    COUNTING_WORDS,
    DEADLINE_SUFFIXES,
    LIST_SEPARATORS,
    NON_DATA_PREFIXES,
    YEAR_END_WORD,
    C,
    all_header_names,
    label_names,
    norm_text,
    norm_vocab,
)
from hypothesis import strategies as st

Raw = list[Any]  # [kind, value]

WINDOW = C.window
EXCEL_EPOCH = date(1899, 12, 30)
# §6: text dates without a year take "the year in the campaign window"; the window spans < 12 months.
MONTH_YEAR = {
    (WINDOW[0] + timedelta(days=d)).month: (WINDOW[0] + timedelta(days=d)).year
    for d in range((WINDOW[1] - WINDOW[0]).days + 1)
}
YEAR_END = date(WINDOW[0].year, 12, 31)  # §6: 年底 = 31 December 2023
SPACES = (" ", "\u3000", "\t", "\n")  # white space a clerk leaves (full-width space, line break)


def pick(draw, seq):
    """One element of ``seq`` (shrinks to the first); cheaper than building ``sampled_from`` anew."""
    seq = tuple(seq)
    return seq[draw(st.integers(0, len(seq) - 1))] if len(seq) > 1 else seq[0]


def rarely(draw, n: int) -> bool:
    """True once in ``n + 1`` draws; shrinks to False (the plainer layout)."""
    return draw(st.integers(0, n)) == n


def serial(d: date) -> int:
    """The Excel serial number of a day (1900 date system)."""
    return (d - EXCEL_EPOCH).days


def in_window(d: date) -> bool:
    return WINDOW[0] <= d <= WINDOW[1]


# ---- Chinese numerals (our own; never the project's) ---------------------------------------------

_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1..9999 in the usual Chinese form: 十, 十二, 二十七, 一百零五, 一百一十, 一千零二十."""
    if not 0 < n < 10000:
        raise ValueError(n)
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n - 10] if n > 10 else "")
    out = ""
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = (n // value) % 10
        if d:
            if zero and out:
                out += "零"
            out += _DIGITS[d] + unit
            zero = False
        elif out:
            zero = True
    return out


def fullwidth(s: str) -> str:
    """ASCII printable characters as their full-width forms (NFKC maps them back)."""
    return "".join(chr(ord(c) + 0xFEE0) if 0x21 <= ord(c) <= 0x7E else c for c in s)


# ---- dates (§6) ----------------------------------------------------------------------------------


def text_date_forms(d: date) -> list[str]:
    """§6's text forms of a day (no-year forms only where the day is in the campaign window)."""
    forms = [
        d.isoformat(),
        f"{d.year}/{d.month}/{d.day}",
        f"{d.year}.{d.month}.{d.day}",
        f"{d.year}年{d.month}月{d.day}日",
        f"{d.year}年{d.month:02d}月{d.day:02d}日",
        f"{d.year}{d.month:02d}{d.day:02d}",
    ]
    if in_window(d) and MONTH_YEAR.get(d.month) == d.year:
        forms += [f"{d.month}月{d.day}日", f"{d.month}.{d.day}"]
    return forms


def deadline_only_forms(d: date) -> list[str]:
    """§6, deadlines only: a month (its last day) and 年底."""
    forms: list[str] = []
    if d.day == calendar.monthrange(d.year, d.month)[1]:
        forms += [f"{d.year}年{d.month}月", f"{d.year}年{d.month}月底"]
        if in_window(d) and MONTH_YEAR.get(d.month) == d.year:
            forms.append(f"{d.month}月底")
    if d == YEAR_END:
        forms.append(YEAR_END_WORD)
    return forms


@st.composite
def date_raw(draw, d: date, deadline: bool = False) -> Raw:
    """A cell that §6 reads as the day ``d``: a date cell, a date-time, a serial number (number cell
    or whole-number text), or any text form; deadlines also a month, 年底, and a 前/之前 suffix."""
    kind = pick(draw, ["d", "dt", "n", "f", "serial_text", "text", "text"])
    if kind == "d":
        return ["d", d.isoformat()]
    if kind == "dt":
        h, m = draw(st.integers(0, 23)), draw(st.integers(0, 59))
        return ["dt", f"{d.isoformat()}T{h:02d}:{m:02d}:00"]
    if kind == "n":
        return ["n", serial(d)]
    if kind == "f":
        return ["f", float(serial(d))]
    if kind == "serial_text":
        return ["s", str(serial(d))]
    forms = text_date_forms(d) + (deadline_only_forms(d) if deadline else [])
    text = pick(draw, forms)
    if deadline and draw(st.booleans()):
        text += pick(draw, DEADLINE_SUFFIXES)
    return ["s", text]


@st.composite
def deadline_raw(draw, d: date | None, none_words: tuple[str, ...]) -> Raw | None:
    """A deadline cell (§4.5): a date in any form, or for none: empty or one of the none-words."""
    if d is None:
        return pick(draw, [None, *(["s", w] for w in none_words)])
    return draw(date_raw(d, deadline=True))


# ---- integers (§6) -------------------------------------------------------------------------------


@st.composite
def int_raw(draw, n: int) -> Raw:
    """A cell §6 reads as the integer ``n`` ≥ 0: a number, `30.0`, full-width digits, a counting word
    (with or without a space), Chinese numerals (with or without a counting word)."""
    kinds = ["n", "f", "text", "fullwidth", "counted"]
    if 0 < n < 1000:
        kinds += ["chinese", "chinese_counted"]
    kind = pick(draw, kinds)
    if kind == "n":
        return ["n", n]
    if kind == "f":
        return ["f", float(n)]
    if kind == "text":
        return ["s", str(n)]
    if kind == "fullwidth":
        return ["s", fullwidth(str(n))]
    number = chinese_numeral(n) if kind.startswith("chinese") else pick(draw, [str(n), fullwidth(str(n))])
    if kind in ("counted", "chinese_counted"):
        sep = pick(draw, ["", " "])
        return ["s", number + sep + pick(draw, COUNTING_WORDS)]
    return ["s", number]


# ---- vocabularies (§5) ----------------------------------------------------------------------------


@st.composite
def stray(draw, s: str, *, newlines: bool = True) -> str:
    """``s`` with stray white space, full-/half-width punctuation swapped and maybe a trailing 。:
    the same value after §5 normalisation."""
    spaces = SPACES if newlines else SPACES[:3]
    out = []
    for ch in s:
        if 0x21 <= ord(ch) <= 0x7E and draw(st.booleans()):
            ch = chr(ord(ch) + 0xFEE0)
        elif 0xFF01 <= ord(ch) <= 0xFF5E and draw(st.booleans()):
            ch = chr(ord(ch) - 0xFEE0)
        out.append(ch)
    n = draw(st.integers(0, 2))
    for _ in range(n):
        pos = draw(st.integers(0, len(out)))
        out.insert(pos, pick(draw, spaces))
    text = "".join(out)
    if rarely(draw, 3):
        text += pick(draw, ["。", "\uff61"])  # 。 or its half-width form
    assert norm_vocab(text) == norm_vocab(s), (text, s)
    return text


@st.composite
def vocab_raw(draw, voc: str, slug: str | None, default: str | None = None) -> Raw | None:
    """A cell §5 reads as ``slug`` of vocabulary ``voc``; ``None`` slug (or the column's §6 default)
    may be an empty cell."""
    if slug is None:
        return None
    if slug == default and draw(st.booleans()):
        return None
    term = C.term(voc, slug)
    form = pick(draw, term.forms)
    if draw(st.booleans()):
        form = draw(stray(form))
    return ["s", form]


@st.composite
def list_raw(draw, voc: str, slugs: list[str]) -> Raw | None:
    """A list cell (§5): the values joined by any mix of separators and line breaks, maybe a value
    twice (in another form)."""
    if not slugs:
        return None
    items = [pick(draw, C.term(voc, s).forms) for s in slugs]
    if draw(st.booleans()):
        again = pick(draw, slugs)
        items.insert(draw(st.integers(0, len(items))), pick(draw, C.term(voc, again).forms))
    items = [draw(stray(i, newlines=False)) if draw(st.booleans()) else i for i in items]
    text = items[0]
    for item in items[1:]:
        sep = pick(draw, [*LIST_SEPARATORS, "\n"])
        pad = pick(draw, ["", " "])
        text += pad + sep + pad + item
    return ["s", text]


# ---- text (§6) -----------------------------------------------------------------------------------

_NAMES = ("张三", "李四", "王五", "赵六", "钱七", "孙八", "周九", "吴十", "郑一", "陈红", "刘洋", "黄敏")
_TITLES = ("党委书记", "镇长", "副书记", "组织委员", "宣传委员", "支部书记", "局长", "副镇长")
_UNITS = ("党政办", "组织办", "经发办", "社会事务办", "综治办", "财政所", "农业站", "文化站")
_SUBJECTS = (
    "理论学习",
    "调查研究",
    "乡村振兴",
    "基层治理",
    "作风建设",
    "营商环境",
    "民生实事",
    "党建引领",
    "安全生产",
    "生态保护",
    "产业发展",
    "干部队伍",
    "农村电商",
    "矛盾纠纷",
    "村级集体经济",
    "为民办实事",
)
_TAILS = (
    "",
    "专题研讨",
    "推进情况",
    "调研",
    "工作",
    "制度",
    "实施方案",
    "第一期",
    "（第二期）",
    "落实不够到位",
)
_PLACES = ("各村", "城关社区", "工业园区", "镇卫生院", "中心小学", "农贸市场", "三个行政村")
_DOCS = ("城委发〔2023〕5号", "城办字〔2023〕12号", "县委办〔2023〕8号", "镇党发[2023]3号")

_FORBIDDEN = all_header_names() | {n.rstrip("：:") for n in label_names()}


def text_ok(s: str) -> bool:
    """A clean text value (§7): not empty, never starting with a non-data prefix or `=`, never a
    header or label name."""
    t = norm_text(s)
    if not t or t.startswith("=") or t in _FORBIDDEN:
        return False
    return not any(t.startswith(norm_text(p)) for p in NON_DATA_PREFIXES)


_POOLS = {"name": _NAMES, "title": _TITLES, "unit": _UNITS, "place": _PLACES, "doc": _DOCS}


def _pool_value(draw, kind: str) -> str:
    if kind in _POOLS:
        return pick(draw, _POOLS[kind])
    return pick(draw, _SUBJECTS) + pick(draw, _TAILS) + pick(draw, ("", "", "2023", "（一）", "A"))


@st.composite
def text_value(draw, kind: str = "topic") -> str:
    """A clean normalised text value; ``kind`` picks a plausible pool (name, title, unit, …)."""
    s = _pool_value(draw, kind)
    if kind == "topic" and rarely(draw, 5):
        s = s + "\n" + _pool_value(draw, "topic")  # inner line break: kept (§6)
    s = norm_text(s)
    assert text_ok(s), s
    return s


@st.composite
def text_raw(draw, value: str | None) -> Raw | None:
    """A text cell §6 reads as ``value``: surrounding white space, full-width ASCII."""
    if value is None:
        return None
    s = value
    if draw(st.booleans()):
        s = "".join(fullwidth(c) if draw(st.booleans()) else c for c in s)
    if draw(st.booleans()):
        s = pick(draw, SPACES) + s
    if draw(st.booleans()):
        s = s + pick(draw, SPACES)
    assert norm_text(s) == value, (s, value)
    return ["s", s]


def is_nfkc(s: str) -> bool:
    return unicodedata.normalize("NFKC", s) == s
