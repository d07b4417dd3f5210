"""The summary report (report.md / report.docx) for one unit.

The text lives in ``templates/report.md.j2`` (Jinja2, Markdown), which the county office may edit.
The template is rendered once; ``report.md`` is that text, and ``report.docx`` is built from the
same text (headings, paragraphs, bullet lists and pipe tables), so the two never disagree.

Template context (see the template itself for an example of every item):

``unit``            ``{"code", "name", "level", "is_root"}`` of the reported unit
``as_of`` / ``as_of_text``   the report date, and the same written ``2023年12月15日``
``scope_own``       how the text names the unit's own work, e.g. ``县委本级``
``scope_total``     how it names the unit with every unit below it, e.g. ``全县`` (for the root)
``own[key]`` / ``total[key]``  the unit's figures, formatted: counts as integers, ratios as
                    ``78.1%``; ``—`` where a figure is empty (e.g. a ratio over zero). A key that
                    the rollup does not know at all raises an error, so a typo in an edited
                    template does not silently print ``—``.
``raw_own[key]`` / ``raw_total[key]``  the same figures unformatted (float or None)
``children``        one row per child unit (township-level units for the county report):
                    ``name, code, topics, reports, problems, closed, close_rate, overdue`` (formatted)
``child_label``     ``乡镇级单位`` for the county report, ``下级单位`` otherwise
``missing``         units of the subtree that must report and have no effective submission:
                    ``name, code``
``stale``           units of the subtree that must report and whose effective submission is more
                    than :data:`STALE_DAYS` days older than the report date: ``name, code,
                    as_of_text, days``
``stale_days``      :data:`STALE_DAYS`

Filters: ``md`` (escape a value for a Markdown table cell), ``count``, ``pct``, ``cn_date``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .safe import clean_text, is_missing

__all__ = [
    "COUNTY_REPORT_FIGURES",
    "DEFAULT_TEMPLATE_DIR",
    "RATIO_KEYS",
    "STALE_DAYS",
    "FigureTable",
    "UnknownFigureError",
    "cn_date",
    "format_count",
    "format_figure",
    "format_pct",
    "markdown_to_docx",
    "render_report",
    "render_report_markdown",
]

#: Repository's ``templates/`` folder.
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"
TEMPLATE_NAME = "report.md.j2"

#: A submission is stale when its 统计截止日期 is more than this many days before the report date.
STALE_DAYS = 14

#: figures.md "The county report": (key, scope) in the order the report uses them.
COUNTY_REPORT_FIGURES: tuple[tuple[str, str], ...] = (
    ("plans.by_kind.work_plan", "own"),
    ("plans.by_kind.responsibility_list", "own"),
    ("plans.units_with_progress_table", "total"),
    ("org.by_kind.working_group", "own"),
    ("study.by_kind.reading_class", "own"),
    ("study.by_kind.group_study", "own"),
    ("study.by_kind.video_seminar", "own"),
    ("study.members_with_plan", "total"),
    ("study.plan_coverage", "total"),
    ("research.topics", "total"),
    ("research.domains", "total"),
    ("research.sections", "total"),
    ("research.reports_formed", "total"),
    ("research.reports_pending", "total"),
    ("meetings.rectification.mobilization", "own"),
    ("meetings.rectification.progress", "own"),
    ("rectification.problems", "total"),
    ("rectification.measures", "total"),
    ("rectification.problems_closed", "total"),
    ("rectification.close_rate", "total"),
    ("rectification.problems_overdue", "total"),
    ("outcomes.rules", "total"),
    ("outcomes.experiences", "total"),
    ("submissions.received", "total"),
    ("submissions.expected", "total"),
)

#: Keys whose values are fractions in [0, 1] (formatted as percentages).
RATIO_KEYS: frozenset[str] = frozenset(
    {"study.plan_coverage", "rectification.close_rate", "submissions.rate"}
)

EMPTY = "—"


# --------------------------------------------------------------------------- formatting


def is_ratio_key(key: str) -> bool:
    return key in RATIO_KEYS or key.endswith((".rate", "_rate", ".coverage", "_coverage"))


def _num(value: object) -> float | None:
    if is_missing(value):
        return None
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def format_count(value: object) -> str:
    """A count as an integer (``12``); ``—`` when empty."""
    f = _num(value)
    if f is None:
        return EMPTY
    return str(int(Decimal(repr(f)).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def format_pct(value: object) -> str:
    """A fraction as a percentage with one decimal, rounded half up (0.78125 → ``78.1%``)."""
    f = _num(value)
    if f is None:
        return EMPTY
    pct = (Decimal(repr(f)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{pct}%"


def format_figure(key: str, value: object) -> str:
    return format_pct(value) if is_ratio_key(key) else format_count(value)


def cn_date(d: dt.date | str | None) -> str:
    """``2023年12月15日`` (no leading zeros)."""
    if d is None or (not isinstance(d, str) and is_missing(d)):
        return EMPTY
    if isinstance(d, str):
        parsed = _to_date(d)
        if parsed is None:
            return d
        d = parsed
    return f"{d.year}年{d.month}月{d.day}日"


def _to_date(value: object) -> dt.date | None:
    if value is None or (not isinstance(value, str) and is_missing(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    ts = pd.to_datetime(str(value).strip(), errors="coerce")
    if ts is None or pd.isna(ts):
        return None
    return ts.date()


def md_cell(value: object) -> str:
    """Escape a value for a cell of a Markdown pipe table (``|`` and line breaks)."""
    text = clean_text(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return text.replace("\\", "\\\\").replace("|", "\\|")


def md_text(value: object) -> str:
    """A value on one Markdown line (line breaks become spaces)."""
    return clean_text(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


# --------------------------------------------------------------------------- figures


class FigureTable:
    """The rollup as a lookup: ``(unit_code, key) -> (own, total)`` with floats or None.

    Held as two dense ``units × keys`` float arrays (NaN = no value) and two small indexes, so a
    county of 20,000 units × 94 keys costs ~30 MB instead of millions of Python tuples."""

    def __init__(self, rollup: pd.DataFrame):
        self._units: dict[str, int] = {}
        self._cols: dict[str, int] = {}
        self._own = self._total = np.empty((0, 0))
        if rollup is None or rollup.empty:
            return
        u_inv, codes = pd.factorize(rollup["unit_code"].astype(str))
        k_inv, keys = pd.factorize(rollup["key"].astype(str))
        self._units = {str(c): i for i, c in enumerate(codes)}
        self._cols = {str(k): i for i, k in enumerate(keys)}
        self._own = np.full((len(codes), len(keys)), np.nan)
        self._total = np.full((len(codes), len(keys)), np.nan)
        self._own[u_inv, k_inv] = pd.to_numeric(rollup["own"], errors="coerce").to_numpy(dtype=float)
        self._total[u_inv, k_inv] = pd.to_numeric(rollup["total"], errors="coerce").to_numpy(dtype=float)

    def get(self, unit_code: str, key: str, scope: str = "total") -> float | None:
        row = self._units.get(unit_code)
        col = self._cols.get(key)
        if row is None or col is None:
            return None
        v = (self._own if scope == "own" else self._total)[row, col]
        return None if np.isnan(v) else float(v)

    @property
    def keys(self):
        """The figure keys present (a view, not a copy)."""
        return self._cols.keys()

    def has_key(self, key: str) -> bool:
        return key in self._cols


class UnknownFigureError(ValueError):
    """A report template names a figure key that the rollup does not have."""


class _FigureView(Mapping[str, Any]):
    """``view[key]`` for templates: one unit, one scope, formatted or raw."""

    def __init__(self, table: FigureTable, unit_code: str, scope: str, formatted: bool):
        self._t, self._u, self._s, self._fmt = table, unit_code, scope, formatted

    def __getitem__(self, key: str) -> Any:
        if not self._t.has_key(key):
            raise UnknownFigureError(f"报告模板引用了未知的指标 {key!r}（rollup 中没有这个指标）")
        v = self._t.get(self._u, key, self._s)
        return format_figure(key, v) if self._fmt else v

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._t.has_key(key)

    def __iter__(self):
        return iter(sorted(self._t.keys))

    def __len__(self) -> int:
        return len(self._t.keys)


# --------------------------------------------------------------------------- units


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "t", "y", "yes", "是"}
    if is_missing(value):
        return True  # registry: an empty 是否报送 means 是
    return bool(value)


def _unit_records(units: pd.DataFrame) -> list[dict[str, Any]]:
    recs = []
    for r in units.to_dict("records"):
        parent = r.get("parent")
        recs.append(
            {
                "code": str(r["code"]),
                "name": "" if is_missing(r.get("name")) else str(r.get("name")),
                "parent": None if is_missing(parent) or str(parent) == "" else str(parent),
                "level": "" if is_missing(r.get("level")) else str(r.get("level")),
                "must_report": _truthy(r.get("must_report", True)),
            }
        )
    return recs


def subtree_codes(units: Iterable[dict[str, Any]], root: str) -> list[str]:
    """``root`` and every unit below it, in registry order."""
    recs = list(units)
    children: dict[str | None, list[str]] = {}
    for r in recs:
        children.setdefault(r["parent"], []).append(r["code"])
    seen: set[str] = set()
    stack = [root]
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        stack.extend(children.get(c, []))
    return [r["code"] for r in recs if r["code"] in seen]


def effective_as_of(submissions: pd.DataFrame) -> dict[str, dt.date | None]:
    """unit_code → 统计截止日期 of its effective submission (latest, should there be several)."""
    out: dict[str, dt.date | None] = {}
    if submissions is None or submissions.empty:
        return out
    eff = submissions[submissions["status"].astype(str) == "effective"]
    for code, as_of in zip(eff["unit_code"], eff["as_of"], strict=True):
        if is_missing(code) or str(code) == "":
            continue
        d = _to_date(as_of)
        prev = out.get(str(code))
        if str(code) not in out or (d is not None and (prev is None or d > prev)):
            out[str(code)] = d
    return out


# --------------------------------------------------------------------------- rendering


def build_context(
    rollup: pd.DataFrame,
    units: pd.DataFrame,
    submissions: pd.DataFrame,
    *,
    unit_code: str,
    as_of: dt.date,
) -> dict[str, Any]:
    """Everything the report template sees (documented in this module's docstring)."""
    table = FigureTable(rollup)
    recs = _unit_records(units)
    by_code = {r["code"]: r for r in recs}
    if unit_code not in by_code:
        raise ValueError(f"单位代码 {unit_code!r} 不在组织架构中")
    me = by_code[unit_code]
    is_root = me["parent"] is None or me["level"] == "county"
    name = me["name"] or unit_code

    children = [r for r in recs if r["parent"] == unit_code]
    child_rows = []
    for c in children:

        def t(key: str, code: str = c["code"]) -> float | None:
            return table.get(code, key, "total")

        child_rows.append(
            {
                "code": c["code"],
                "name": c["name"] or c["code"],
                "topics": format_count(t("research.topics")),
                "reports": format_count(t("research.reports_formed")),
                "problems": format_count(t("rectification.problems")),
                "closed": format_count(t("rectification.problems_closed")),
                "close_rate": format_pct(t("rectification.close_rate")),
                "overdue": format_count(t("rectification.problems_overdue")),
            }
        )

    eff = effective_as_of(submissions)
    missing, stale = [], []
    for code in subtree_codes(recs, unit_code):
        r = by_code[code]
        if not r["must_report"]:
            continue
        if code not in eff:
            missing.append({"code": code, "name": r["name"] or code})
            continue
        d = eff[code]
        if d is not None and (as_of - d).days > STALE_DAYS:
            stale.append(
                {"code": code, "name": r["name"] or code, "as_of_text": cn_date(d), "days": (as_of - d).days}
            )

    return {
        "unit": {"code": unit_code, "name": name, "level": me["level"], "is_root": is_root},
        "as_of": as_of,
        "as_of_text": cn_date(as_of),
        "scope_own": f"{name}本级",
        "scope_total": "全县" if is_root else f"{name}及所属单位",
        "own": _FigureView(table, unit_code, "own", True),
        "total": _FigureView(table, unit_code, "total", True),
        "raw_own": _FigureView(table, unit_code, "own", False),
        "raw_total": _FigureView(table, unit_code, "total", False),
        "children": child_rows,
        "child_label": "乡镇级单位" if is_root else "下级单位",
        "missing": missing,
        "stale": stale,
        "stale_days": STALE_DAYS,
    }


def _environment(template_dir: Path):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=False,  # Markdown, not HTML; table cells go through the md filter
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(md=md_cell, text=md_text, count=format_count, pct=format_pct, cn_date=cn_date)
    return env


def render_report_markdown(
    rollup: pd.DataFrame,
    units: pd.DataFrame,
    submissions: pd.DataFrame,
    *,
    unit_code: str,
    as_of: dt.date,
    template_dir: Path | None = None,
) -> str:
    """The report as Markdown text (what ``report.md`` holds)."""
    ctx = build_context(rollup, units, submissions, unit_code=unit_code, as_of=as_of)
    env = _environment(Path(template_dir) if template_dir else DEFAULT_TEMPLATE_DIR)
    text = env.get_template(TEMPLATE_NAME).render(**ctx)
    # at most one blank line in a row, and a single final newline
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return text


def render_report(
    rollup: pd.DataFrame,
    units: pd.DataFrame,
    submissions: pd.DataFrame,
    *,
    unit_code: str,
    as_of: dt.date,
    out_dir: Path,
    template_dir: Path | None = None,
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.docx`` for ``unit_code`` into ``out_dir``.

    ``unit_code`` is the registry's root for the county report, or any unit (``ledgerflow report
    --unit``). Returns ``(md_path, docx_path)``.
    """
    text = render_report_markdown(
        rollup, units, submissions, unit_code=unit_code, as_of=as_of, template_dir=template_dir
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path = out_dir / "report.md"
    md_path.write_text(text, encoding="utf-8", newline="\n")
    docx_path = out_dir / "report.docx"
    markdown_to_docx(text).save(str(docx_path))
    return md_path, docx_path


# --------------------------------------------------------------------------- Markdown → docx

BODY_FONT = "仿宋"
HEADING_FONT = "黑体"
TITLE_FONT = "宋体"
LATIN_FONT = "Times New Roman"

_TABLE_SEP = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells, buf, i = [], [], 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] in "|\\":
            buf.append(line[i + 1])
            i += 2
            continue
        if ch == "|":
            cells.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    cells.append("".join(buf).strip())
    return cells


def parse_markdown(text: str) -> list[tuple[str, Any]]:
    """Blocks of the small Markdown subset the template uses.

    ``("heading", (level, text))``, ``("para", text)``, ``("bullet", text)``,
    ``("table", (header, rows))``. Consecutive text lines form one paragraph (joined without a
    space, as Chinese text is).
    """
    blocks: list[tuple[str, Any]] = []
    para: list[str] = []
    lines = text.splitlines()

    def flush() -> None:
        if para:
            blocks.append(("para", "".join(s.strip() for s in para)))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if m:
            flush()
            blocks.append(("heading", (len(m.group(1)), m.group(2).strip())))
            i += 1
            continue
        if stripped.startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1].strip()):
            flush()
            header = _split_row(stripped)
            rows = []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_split_row(lines[i]))
                i += 1
            blocks.append(("table", (header, rows)))
            continue
        if re.match(r"^[-*]\s+", stripped):
            flush()
            blocks.append(("bullet", re.sub(r"^[-*]\s+", "", stripped)))
            i += 1
            continue
        para.append(stripped)
        i += 1
    flush()
    return blocks


def _set_run_fonts(rpr_owner, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Set ascii/hAnsi and eastAsia fonts on a style or run, dropping theme fonts."""
    from docx.oxml.ns import qn

    rpr = rpr_owner.element.get_or_add_rPr() if hasattr(rpr_owner.element, "get_or_add_rPr") else None
    if rpr is None:
        return
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.insert(0, rfonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:ascii"), latin)
    rfonts.set(qn("w:hAnsi"), latin)
    rfonts.set(qn("w:eastAsia"), east_asia)


def _style_document(doc) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    normal = doc.styles["Normal"]
    normal.font.size = Pt(14)
    _set_run_fonts(normal, BODY_FONT)
    normal.paragraph_format.line_spacing = 1.5
    normal.paragraph_format.first_line_indent = Pt(28)

    for name, font, size in (
        ("Title", TITLE_FONT, 20),
        ("Heading 1", HEADING_FONT, 16),
        ("Heading 2", "楷体", 15),
        ("Heading 3", BODY_FONT, 14),
    ):
        st = doc.styles[name]
        st.font.size = Pt(size)
        st.font.bold = name != "Heading 2"
        st.font.color.rgb = RGBColor(0, 0, 0)
        _set_run_fonts(st, font)
        st.paragraph_format.first_line_indent = Pt(0) if name == "Title" else Pt(28)
        if name == "Title":
            st.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
            # the default Title style draws a coloured rule under the text
            from docx.oxml.ns import qn

            ppr = st.element.pPr
            if ppr is not None:
                for b in ppr.findall(qn("w:pBdr")):
                    ppr.remove(b)
    bullet = doc.styles["List Bullet"]
    _set_run_fonts(bullet, BODY_FONT)
    bullet.paragraph_format.first_line_indent = Pt(0)


def _add_inline(paragraph, text: str, *, bold: bool = False) -> None:
    pos = 0
    for m in _BOLD.finditer(text):
        if m.start() > pos:
            paragraph.add_run(clean_text(text[pos : m.start()])).bold = bold or None
        paragraph.add_run(clean_text(m.group(1))).bold = True
        pos = m.end()
    if pos < len(text):
        paragraph.add_run(clean_text(text[pos:])).bold = bold or None


def markdown_to_docx(text: str):
    """A ``docx.Document`` built from the Markdown of :func:`render_report_markdown`.

    ``#`` → Title, ``##`` → Heading 1, ``###`` → Heading 2, ``-`` → List Bullet, pipe tables →
    Word tables (style Table Grid, bold repeated header row), anything else → body paragraphs.
    Chinese text is set in 仿宋 (headings 黑体), via ``w:eastAsia``.
    """
    import docx
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = docx.Document()
    _style_document(doc)
    # style ids, looked up once: python-docx resolves a style name or object by scanning every
    # style of the document (~2 ms a paragraph, seconds for a county's list of missing units)
    style_ids = {
        n: doc.styles[n].style_id for n in ("Title", "Heading 1", "Heading 2", "Heading 3", "List Bullet")
    }
    grid = doc.styles["Table Grid"]
    for kind, payload in parse_markdown(text):
        if kind == "heading":
            level, title = payload
            style = "Title" if level == 1 else f"Heading {min(level - 1, 3)}"
            p = doc.add_paragraph()
            p._p.style = style_ids[style]
            _add_inline(p, title)
        elif kind == "para":
            _add_inline(doc.add_paragraph(), payload)
        elif kind == "bullet":
            p = doc.add_paragraph()
            p._p.style = style_ids["List Bullet"]
            _add_inline(p, payload)
        elif kind == "table":
            header, rows = payload
            ncols = max([len(header)] + [len(r) for r in rows])
            table = doc.add_table(rows=1 + len(rows), cols=ncols)
            table.style = grid
            table.alignment = WD_TABLE_ALIGNMENT.CENTER
            for r_idx, values in enumerate([header, *rows]):
                row = table.rows[r_idx]
                cells = row.cells  # computed from the grid on every access: once per row
                if r_idx == 0:
                    trpr = row._tr.get_or_add_trPr()
                    el = OxmlElement("w:tblHeader")
                    el.set(qn("w:val"), "true")
                    trpr.append(el)
                for c_idx in range(ncols):
                    cell = cells[c_idx]
                    value = values[c_idx] if c_idx < len(values) else ""
                    p = cell.paragraphs[0]
                    p.paragraph_format.first_line_indent = Pt(0)
                    p.paragraph_format.line_spacing = 1.0
                    run = p.add_run(clean_text(value))
                    run.font.size = Pt(11)
                    if r_idx == 0:
                        run.bold = True
            doc.add_paragraph()
    return doc
