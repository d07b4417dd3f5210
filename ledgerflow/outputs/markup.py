"""The clerk's own .xlsx/.xlsm, marked up in place: offending cells filled and commented, and a
校验结果 sheet put first. Every part of the package is copied untouched except the few a mark needs.

What changes, and how (everything else keeps its bytes, compressed data included):

* ``xl/styles.xml`` — a red and a yellow fill (and, for 校验结果, a blue fill, two bold fonts and a
  thin grey border) appended to their lists, and for each style a flagged cell uses a clone of its
  ``<xf>`` with the new fill: the cell keeps its font, border, alignment, protection and number
  format. The clones and 校验结果's own styles are appended to ``<cellXfs>``; counts updated.
* each flagged sheet — the ``s="…"`` of each flagged cell (the top-left cell of its merged range),
  or a new ``<c>`` (and ``<row>``) where the cell is not in the XML at all; a ``<legacyDrawing>``
  where the sheet had no comments; ``tabSelected`` dropped so that 校验结果 is the one selected tab.
  Nothing else of the sheet is re-serialised: the edits are splices into the original bytes.
* per flagged sheet, a comments part and its VML drawing, or the clerk's own ones with ours added:
  a cell that already has a comment keeps it, with our text put before the clerk's.
* the new 校验结果 worksheet (inline strings: sharedStrings.xml is not touched).
* ``xl/workbook.xml`` — 校验结果 first in ``<sheets>``, ``activeTab``/``firstSheet`` 0, every
  ``localSheetId`` shifted by one, the autofilter's ``_xlnm._FilterDatabase`` name added; its rels and
  ``[Content_Types].xml`` get the new parts.

Every XML part read is first checked by expat with DTDs refused (so no entity can be declared),
then edited by a tokenising pass over its bytes: a tag regex on a copy in which comments, CDATA
sections and processing instructions are blanked out (same length, so offsets hold).
VML drawings are not XML that Excel always keeps well-formed; they are only appended to.

:func:`mark_up` raises :class:`MarkupError` (or :class:`~.zippkg.PackageError`) for a package it
cannot edit safely (strict OOXML, UTF-16 parts, a broken relationship, …); the caller then falls
back to a values copy.
"""

from __future__ import annotations

import math
import posixpath
import re
import xml.parsers.expat
from dataclasses import dataclass, field
from typing import Any

from .zippkg import Package, PackageError

__all__ = ["CellMark", "MarkupError", "ResultTable", "mark_up", "sheet_names"]

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
STRICT_MAIN_NS = "http://purl.oclc.org/ooxml/spreadsheetml/main"
RT = REL_NS + "/"
RT_OFFICE_DOC = RT + "officeDocument"
RT_WORKSHEET = RT + "worksheet"
RT_STYLES = RT + "styles"
RT_COMMENTS = RT + "comments"
RT_VML = RT + "vmlDrawing"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_STYLES = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

AUTHOR = "ledgerflow 校验"
RED = "FFC7CE"
YELLOW = "FFEB9C"
HEAD_BLUE = "DDEBF7"
GREY = "999999"
#: Excel's limit on a cell's text.
MAX_TEXT = 32767
MAX_ROWS = 1_048_576
MAX_COLS = 16_384
#: Children of <worksheet> that come after <legacyDrawing> (CT_Worksheet's sequence).
_AFTER_LEGACY = {
    b"legacyDrawingHF",
    b"drawingHF",
    b"picture",
    b"oleObjects",
    b"controls",
    b"webPublishItems",
    b"tableParts",
    b"extLst",
}
#: Children of <styleSheet> in order (CT_Stylesheet), to insert a missing list at its place.
_STYLE_ORDER = [
    b"numFmts",
    b"fonts",
    b"fills",
    b"borders",
    b"cellStyleXfs",
    b"cellXfs",
    b"cellStyles",
    b"dxfs",
    b"tableStyles",
    b"colors",
    b"extLst",
]
#: Children of <workbook> after which <definedNames> may come (CT_Workbook's sequence).
_BEFORE_NAMES = [b"sheets", b"functionGroups", b"externalReferences"]


class MarkupError(Exception):
    """The package cannot be marked up in place."""


# --------------------------------------------------------------------------- the caller's data


@dataclass
class CellMark:
    """One offending cell: 0-based row and column, ``error`` or ``warning``, its comment lines."""

    row: int
    col: int
    severity: str
    lines: list[str]


@dataclass
class ResultTable:
    """What the 校验结果 sheet shows: a title, a verdict, a header row and one row per issue.
    ``rows`` hold 序号 (int) and texts; ``severities`` the severity of each row ('error' or
    'warning'), which colours its second column."""

    title: str
    verdict: str
    headers: list[str]
    widths: list[float]
    rows: list[list[Any]] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)
    tab: str = "70AD47"


# --------------------------------------------------------------------------- XML helpers

_TAG = re.compile(
    rb"<(/?)((?:[A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*))"
    rb"((?:\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(/?)>"
)
_ATTR = re.compile(rb"([^\s=/>]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_MASKABLE = re.compile(rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>", re.S)
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]{1,7})$")
_DECL_ENCODING = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*?\sencoding\s*=\s*[\"']([^\"']*)[\"']")


def _refuse(*_args: Any) -> None:
    raise MarkupError("DTD or entity declaration in a part")


def check_xml(data: bytes) -> None:
    """Well-formed XML without a DTD (no entity can be declared): expat, no Python handlers but
    the ones refusing declarations."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] in (b"\x00<\x00?", b"<\x00?\x00"):
        raise MarkupError("UTF-16 part")
    decl = _DECL_ENCODING.match(data)
    if decl is not None and decl.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise MarkupError("part not in UTF-8")
    p = xml.parsers.expat.ParserCreate()
    p.StartDoctypeDeclHandler = _refuse
    p.EntityDeclHandler = _refuse
    p.UnparsedEntityDeclHandler = _refuse
    p.ExternalEntityRefHandler = _refuse
    p.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        p.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise MarkupError(f"not well-formed XML: {exc}") from None


def _mask(data: bytes) -> bytes:
    """``data`` with comments, CDATA sections and processing instructions blanked (same length)."""
    if b"<!" not in data and data.count(b"<?") <= 1:
        return data
    return _MASKABLE.sub(lambda m: b" " * len(m.group()), data)


def unescape(text: str) -> str:
    if "&" not in text:
        return text

    def one(m: re.Match) -> str:
        e = m.group(1)
        if e[0] == "#":
            try:
                return chr(int(e[2:], 16) if e[1] in "xX" else int(e[1:]))
            except (ValueError, OverflowError):
                return ""
        return _NAMED[e]

    return _ENTITY.sub(one, text)


def esc(text: str) -> str:
    """Text for an XML element or a double-quoted attribute, without characters XML cannot hold."""
    text = _ILLEGAL_XML.sub("", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
    )


def _attrs(blob: bytes) -> dict[bytes, str]:
    return {
        m.group(1): unescape((m.group(2) if m.group(2) is not None else m.group(3)).decode("utf-8"))
        for m in _ATTR.finditer(blob)
    }


def _set_attr(tag: bytes, name: bytes, value: str | None) -> bytes:
    """The start tag ``tag`` with attribute ``name`` set to ``value`` (removed when None)."""
    pat = re.compile(rb"\s" + re.escape(name) + rb"\s*=\s*(?:\"[^\"]*\"|'[^']*')")
    tag = pat.sub(b"", tag)
    if value is None:
        return tag
    m = re.match(rb"<[^\s/>]+", tag)
    assert m is not None
    return tag[: m.end()] + b" " + name + b'="' + esc(value).encode("utf-8") + b'"' + tag[m.end() :]


def _splice(data: bytes, edits: list[tuple[int, int, int, bytes]]) -> bytes:
    """Apply (start, end, order, new bytes) edits, sorted by position (inserts before replacements
    at one offset through ``order``); edits never overlap."""
    out = []
    pos = 0
    for start, end, _order, new in sorted(edits, key=lambda e: (e[0], e[2])):
        if start < pos:
            raise MarkupError("overlapping edits")
        out.append(data[pos:start])
        out.append(new)
        pos = end
    out.append(data[pos:])
    return b"".join(out)


@dataclass
class _Root:
    name: bytes  # qualified
    prefix: bytes  # b"" or b"x:"
    start: int
    end: int  # after the start tag
    close: int  # position of its end tag
    ns: dict[bytes, str]  # prefix (b"" default) -> namespace


def _root(masked: bytes) -> _Root:
    for m in _TAG.finditer(masked):
        if m.group(1):
            break
        qname = m.group(2)
        prefix = qname[: -len(m.group(3))]
        ns = {}
        for k, v in _attrs(m.group(4)).items():
            if k == b"xmlns":
                ns[b""] = v
            elif k.startswith(b"xmlns:"):
                ns[k[6:]] = v
        close = masked.rfind(b"</" + qname)
        if close < 0:
            if m.group(5):
                close = m.end()
            else:
                raise MarkupError("no end tag of the root")
        return _Root(qname, prefix, m.start(), m.end(), close, ns)
    raise MarkupError("no root element")


def _prefix_of(root: _Root, namespace: str) -> bytes | None:
    """``b"r:"`` for the prefix the root binds to ``namespace``, ``b""`` when it is the default."""
    for p, v in root.ns.items():
        if v == namespace:
            return p + b":" if p else b""
    return None


def _rel_id(tag: bytes, root: _Root) -> str | None:
    """The value of the ``r:id`` attribute of a start tag, whatever prefix binds the relationships
    namespace, on the root or on the element itself (openpyxl declares it on each <sheet>)."""
    a = _attrs(tag)
    for k, v in a.items():
        if k.endswith(b":id") and not k.startswith(b"xmlns"):
            prefix = k[:-3]
            if a.get(b"xmlns:" + prefix, root.ns.get(prefix)) == REL_NS:
                return v
    return None


def _tag_re(prefix: bytes, local: bytes) -> re.Pattern:
    return re.compile(rb"<" + re.escape(prefix) + re.escape(local) + rb"(?=[\s/>])[^>]*>")


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def col_letters(col: int) -> str:
    """0-based column → ``A``…``XFD``."""
    s = ""
    col += 1
    while col:
        col, r = divmod(col - 1, 26)
        s = chr(65 + r) + s
    return s


def parse_ref(ref: str) -> tuple[int, int] | None:
    """0-based (row, col) of ``E4``."""
    m = _REF.match(ref.strip())
    if not m:
        return None
    row, col = int(m.group(2)) - 1, _col_number(m.group(1)) - 1
    if not (0 <= row < MAX_ROWS and 0 <= col < MAX_COLS):
        return None
    return row, col


def _range(ref: str) -> tuple[int, int, int, int] | None:
    a, _, b = ref.partition(":")
    p, q = parse_ref(a), parse_ref(b or a)
    if p is None or q is None:
        return None
    return min(p[0], q[0]), min(p[1], q[1]), max(p[0], q[0]), max(p[1], q[1])


def _resolve(source_part: str, target: str) -> str:
    """A relationship target as a part name (no leading ``/``)."""
    target = target.replace("\\", "/")
    if target.startswith("/"):
        return posixpath.normpath(target).lstrip("/")
    base = posixpath.dirname(source_part)
    return posixpath.normpath(posixpath.join(base, target)).lstrip("/")


def _relative(source_part: str, target_part: str) -> str:
    return posixpath.relpath(target_part, posixpath.dirname(source_part) or ".")


def _rels_name(part: str) -> str:
    d, f = posixpath.split(part)
    return posixpath.join(d, "_rels", f + ".rels")


# --------------------------------------------------------------------------- relationships


@dataclass
class _Rels:
    part: str  # the .rels part name
    data: bytes | None  # None: no such part yet
    rels: list[dict[str, str]]  # Id, Type, Target, TargetMode
    added: list[bytes] = field(default_factory=list)

    @classmethod
    def read(cls, pkg: Package, source_part: str) -> _Rels:
        name = _rels_name(source_part)
        if pkg.get(name) is None:
            return cls(name, None, [])
        data = pkg.read(name)
        check_xml(data)
        masked = _mask(data)
        rels = []
        for m in _TAG.finditer(masked):
            if not m.group(1) and m.group(3) == b"Relationship":
                a = _attrs(m.group(4))
                rels.append({k.decode(): v for k, v in a.items()})
        return cls(name, data, rels)

    def by_id(self, rid: str) -> dict[str, str] | None:
        return next((r for r in self.rels if r.get("Id") == rid), None)

    def of_type(self, rtype: str) -> list[dict[str, str]]:
        return [r for r in self.rels if r.get("Type") == rtype and r.get("TargetMode") != "External"]

    def add(self, rtype: str, target: str) -> str:
        used = {r.get("Id") for r in self.rels}
        n = 1 + max((int(i[3:]) for i in used if i and re.fullmatch(r"rId\d{1,9}", i)), default=0)
        while f"rId{n}" in used:
            n += 1
        rid = f"rId{n}"
        self.rels.append({"Id": rid, "Type": rtype, "Target": target})
        self.added.append(f'<Relationship Id="{rid}" Type="{esc(rtype)}" Target="{esc(target)}"/>'.encode())
        return rid

    def render(self) -> bytes | None:
        if not self.added:
            return None
        body = b"".join(self.added)
        if self.data is None:
            return XML_DECL + f'<Relationships xmlns="{PKG_REL_NS}">'.encode() + body + b"</Relationships>"
        masked = _mask(self.data)
        root = _root(masked)
        if root.close == root.end and masked[root.end - 2 : root.end] == b"/>":  # <Relationships/>
            tag = self.data[root.start : root.end - 2].rstrip() + b">"
            return self.data[: root.start] + tag + body + b"</" + root.name + b">" + self.data[root.end :]
        if root.prefix:
            body = body.replace(b"<Relationship ", b"<" + root.prefix + b"Relationship ")
        return self.data[: root.close] + body + self.data[root.close :]


# --------------------------------------------------------------------------- content types


def _content_types(data: bytes, overrides: list[tuple[str, str]], defaults: list[tuple[str, str]]) -> bytes:
    check_xml(data)
    masked = _mask(data)
    root = _root(masked)
    have_defaults = set()
    have_parts = set()
    for m in _TAG.finditer(masked, root.end, root.close):
        if m.group(1):
            continue
        a = _attrs(m.group(4))
        if m.group(3) == b"Default":
            have_defaults.add(a.get(b"Extension", "").lower())
        elif m.group(3) == b"Override":
            have_parts.add(a.get(b"PartName", "").lower())
    p = root.prefix.decode()
    add = [
        f'<{p}Default Extension="{esc(ext)}" ContentType="{esc(ct)}"/>'
        for ext, ct in defaults
        if ext.lower() not in have_defaults
    ]
    add += [
        f'<{p}Override PartName="/{esc(part)}" ContentType="{esc(ct)}"/>'
        for part, ct in overrides
        if "/" + part.lower() not in have_parts
    ]
    if not add:
        return data
    return data[: root.close] + "".join(add).encode("utf-8") + data[root.close :]


def _is_macro_enabled(ct: bytes, wb_part: str) -> bool:
    """Whether the workbook part's content type is the macro-enabled one (an .xlsm)."""
    for m in _TAG.finditer(_mask(ct)):
        if not m.group(1) and m.group(3) == b"Override":
            a = _attrs(m.group(4))
            if a.get(b"PartName", "").lstrip("/").lower() == wb_part.lower():
                return "macroEnabled" in a.get(b"ContentType", "")
    return False


# --------------------------------------------------------------------------- the workbook


@dataclass
class _SheetRef:
    name: str
    rid: str
    part: str | None  # the worksheet part, None for a broken relationship


def _read_workbook(pkg: Package) -> tuple[str, bytes, _Rels, list[_SheetRef]]:
    root_rels = _Rels.read(pkg, "")
    docs = root_rels.of_type(RT_OFFICE_DOC)
    if not docs:
        raise MarkupError("no officeDocument relationship")
    wb_part = _resolve("", docs[0]["Target"])
    if pkg.get(wb_part) is None:
        raise MarkupError("no workbook part")
    data = pkg.read(wb_part)
    check_xml(data)
    masked = _mask(data)
    root = _root(masked)
    if root.ns.get(root.prefix[:-1] if root.prefix else b"") != MAIN_NS:
        raise MarkupError("not a transitional SpreadsheetML workbook")
    rels = _Rels.read(pkg, wb_part)
    sheets = []
    for m in _tag_re(root.prefix, b"sheet").finditer(masked, root.end, root.close):
        a = _attrs(m.group())
        rid = _rel_id(m.group(), root) or ""
        rel = rels.by_id(rid)
        part = _resolve(wb_part, rel["Target"]) if rel and rel.get("TargetMode") != "External" else None
        sheets.append(_SheetRef(a.get(b"name", ""), rid, part))
    return wb_part, data, rels, sheets


def sheet_names(data: bytes) -> list[str]:
    """The sheet names of an .xlsx/.xlsm held in ``data``, in workbook order."""
    return [s.name for s in _read_workbook(Package(data))[3]]


def _edit_workbook(data: bytes, sheet_name: str, rid: str, n_rows: int, n_cols: int) -> bytes:
    masked = _mask(data)
    root = _root(masked)
    p = root.prefix
    r = _prefix_of(root, REL_NS)
    edits: list[tuple[int, int, int, bytes]] = []
    ids = [int(v) for v in re.findall(rb'\ssheetId\s*=\s*["\']([0-9]{1,9})["\']', masked)]
    sheet_id = max(ids, default=0) + 1
    r_attr = (r or b"r:") + b"id"
    xmlns = b"" if r is not None else b' xmlns:r="' + REL_NS.encode() + b'"'
    new_sheet = (
        b"<"
        + p
        + b'sheet name="'
        + esc(sheet_name).encode("utf-8")
        + b'" sheetId="'
        + str(sheet_id).encode()
        + b'"'
        + xmlns
        + b" "
        + r_attr
        + b'="'
        + rid.encode()
        + b'"/>'
    )
    m = _tag_re(p, b"sheets").search(masked, root.end, root.close)
    if m is None:
        raise MarkupError("no <sheets> in the workbook")
    if m.group().endswith(b"/>"):
        edits.append((m.start(), m.end(), 1, b"<" + p + b"sheets>" + new_sheet + b"</" + p + b"sheets>"))
    else:
        edits.append((m.end(), m.end(), 0, new_sheet))
    for v in _tag_re(p, b"workbookView").finditer(masked, root.end, root.close):
        tag = v.group()
        new = tag
        a = _attrs(tag)
        if b"activeTab" in a:
            new = _set_attr(new, b"activeTab", "0")
        if b"firstSheet" in a:
            new = _set_attr(new, b"firstSheet", "0")
        if new != tag:
            edits.append((v.start(), v.end(), 1, new))
    last = col_letters(n_cols - 1)
    quoted = "'" + sheet_name.replace("'", "''") + "'"
    filter_name = b""
    if n_rows > 3:
        filter_name = (
            b"<"
            + p
            + b'definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
            + esc(f"{quoted}!$A$3:${last}${n_rows}").encode("utf-8")
            + b"</"
            + p
            + b"definedName>"
        )
    names = _tag_re(p, b"definedNames").search(masked, root.end, root.close)
    for d in _tag_re(p, b"definedName").finditer(masked, root.end, root.close):
        a = _attrs(d.group())
        if b"localSheetId" in a:
            try:
                n = int(a[b"localSheetId"])
            except ValueError:
                continue
            edits.append((d.start(), d.end(), 1, _set_attr(d.group(), b"localSheetId", str(n + 1))))
    if filter_name:
        wrapped = b"<" + p + b"definedNames>" + filter_name + b"</" + p + b"definedNames>"
        if names is not None and not names.group().endswith(b"/>"):
            close = masked.find(b"</" + p + b"definedNames>", names.end())
            edits.append((close, close, 0, filter_name))
        elif names is not None:
            edits.append((names.start(), names.end(), 1, wrapped))
        else:  # after <sheets>, <functionGroups> and <externalReferences>, whichever come last
            pos = -1
            for local in _BEFORE_NAMES:
                e = _tag_re(p, local).search(masked, root.end, root.close)
                if e is None:
                    continue
                if e.group().endswith(b"/>"):
                    pos = max(pos, e.end())
                else:
                    c = masked.find(b"</" + p + local + b">", e.end())
                    pos = max(pos, masked.find(b">", c) + 1)
            edits.append((pos, pos, 2, wrapped))
    return _splice(data, edits)


# --------------------------------------------------------------------------- styles


@dataclass
class _List:
    local: bytes
    start: int = -1  # start tag
    end: int = -1  # after the start tag
    close: int = -1  # position of the end tag (== end for <x/>)
    empty: bool = False
    children: list[tuple[int, int]] = field(default_factory=list)  # spans of direct children


class _Styles:
    """Appends fills, fonts, borders and xfs to styles.xml, by splicing its lists."""

    def __init__(self, data: bytes | None) -> None:
        self.data = data
        self.new: dict[bytes, list[bytes]] = {b"fonts": [], b"fills": [], b"borders": [], b"cellXfs": []}
        if data is None:
            self.prefix = b""
            self.lists: dict[bytes, _List] = {}
            self.has_style_xfs = True
            self.masked = b""
            return
        check_xml(data)
        self.masked = masked = _mask(data)
        self.root = root = _root(masked)
        if root.ns.get(root.prefix[:-1] if root.prefix else b"") != MAIN_NS:
            raise MarkupError("styles.xml is not transitional SpreadsheetML")
        self.prefix = p = root.prefix
        self.lists = {}
        for local, child in (
            (b"fonts", b"font"),
            (b"fills", b"fill"),
            (b"borders", b"border"),
            (b"cellXfs", b"xf"),
            (b"cellStyleXfs", b"xf"),
        ):
            m = _tag_re(p, local).search(masked, root.end, root.close)
            if m is None:
                continue
            lst = _List(local, m.start(), m.end())
            if m.group().endswith(b"/>"):
                lst.close, lst.empty = m.end(), True
            else:
                lst.close = masked.find(b"</" + p + local + b">", m.end())
                if lst.close < 0:
                    raise MarkupError(f"no end of <{local.decode()}>")
                if local == b"cellXfs":
                    lst.children = self._children(child, lst.end, lst.close)
                else:
                    lst.children = [(0, 0)] * len(
                        re.findall(rb"<" + re.escape(p) + child + rb"(?=[\s/>])", masked[lst.end : lst.close])
                    )
            self.lists[local] = lst
        csx = self.lists.get(b"cellStyleXfs")
        self.has_style_xfs = csx is not None and bool(csx.children)

    def _children(self, child: bytes, start: int, stop: int) -> list[tuple[int, int]]:
        """Spans of the direct ``<child>`` elements in [start, stop)."""
        p = self.prefix
        spans = []
        opener = re.compile(rb"<" + re.escape(p) + child + rb"(?=[\s/>])[^>]*>")
        closer = b"</" + p + child + b">"
        pos = start
        while True:
            m = opener.search(self.masked, pos, stop)
            if m is None:
                break
            if m.group().endswith(b"/>"):
                end = m.end()
            else:
                c = self.masked.find(closer, m.end(), stop)
                if c < 0:
                    raise MarkupError("unclosed <xf>")
                end = c + len(closer)
            spans.append((m.start(), end))
            pos = end
        return spans

    def _count(self, local: bytes) -> int:
        lst = self.lists.get(local)
        if lst is not None and not lst.empty:
            base = len(lst.children)
        else:  # written with the defaults Excel needs
            base = {b"fonts": 1, b"fills": 2, b"borders": 1, b"cellXfs": 1}[local]
        return base + len(self.new[local])

    def add(self, local: bytes, xml_: str | bytes) -> int:
        """Append one element to a list; its index."""
        idx = self._count(local)
        b = xml_.encode("utf-8") if isinstance(xml_, str) else xml_
        if self.prefix:
            b = re.sub(rb"<(/?)(?=[A-Za-z])", rb"<\1" + self.prefix, b)
        self.new[local].append(b)
        return idx

    def fill(self, rgb: str) -> int:
        return self.add(
            b"fills",
            f'<fill><patternFill patternType="solid"><fgColor rgb="FF{rgb}"/><bgColor indexed="64"/>'
            "</patternFill></fill>",
        )

    def xf_clone(self, s: int, fill_id: int) -> int:
        """A copy of cellXfs[s] with ``fill_id``; its index."""
        lst = self.lists.get(b"cellXfs")
        if lst and 0 <= s < len(lst.children):
            a, b = lst.children[s]
            xf = self.data[a:b]  # type: ignore[index]
            m = re.match(rb"<[^>]*>", xf)
            assert m is not None
            tag = _set_attr(_set_attr(m.group(), b"fillId", str(fill_id)), b"applyFill", "1")
            xf = tag + xf[m.end() :]
            self.new[b"cellXfs"].append(xf)
            return self._count(b"cellXfs") - 1
        xf_id = ' xfId="0"' if self.has_style_xfs else ""
        return self.add(
            b"cellXfs",
            f'<xf numFmtId="0" fontId="0" fillId="{fill_id}" borderId="0"{xf_id} applyFill="1"/>',
        )

    def xf(self, font: int = 0, fill: int = 0, border: int = 0, align: str = "") -> int:
        xf_id = ' xfId="0"' if self.has_style_xfs else ""
        applies = ""
        if font:
            applies += ' applyFont="1"'
        if fill:
            applies += ' applyFill="1"'
        if border:
            applies += ' applyBorder="1"'
        if align:
            applies += ' applyAlignment="1"'
            return self.add(
                b"cellXfs",
                f'<xf numFmtId="0" fontId="{font}" fillId="{fill}" borderId="{border}"{xf_id}{applies}>'
                f"<alignment {align}/></xf>",
            )
        return self.add(
            b"cellXfs",
            f'<xf numFmtId="0" fontId="{font}" fillId="{fill}" borderId="{border}"{xf_id}{applies}/>',
        )

    def render(self) -> bytes:
        p = self.prefix
        if self.data is None:
            parts = [
                b'<fonts count="%d"><font><sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font>%s</fonts>'
                % (self._count(b"fonts"), b"".join(self.new[b"fonts"])),
                b'<fills count="%d"><fill><patternFill patternType="none"/></fill><fill><patternFill '
                b'patternType="gray125"/></fill>%s</fills>'
                % (self._count(b"fills"), b"".join(self.new[b"fills"])),
                b'<borders count="%d"><border><left/><right/><top/><bottom/><diagonal/></border>%s</borders>'
                % (self._count(b"borders"), b"".join(self.new[b"borders"])),
                b'<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>',
                b'<cellXfs count="%d"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>%s</cellXfs>'
                % (self._count(b"cellXfs"), b"".join(self.new[b"cellXfs"])),
                b'<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>',
            ]
            return XML_DECL + f'<styleSheet xmlns="{MAIN_NS}">'.encode() + b"".join(parts) + b"</styleSheet>"
        data, masked, root = self.data, self.masked, self.root
        edits: list[tuple[int, int, int, bytes]] = []
        defaults = {
            b"fonts": b'<font><sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/><scheme val="minor"/></font>',
            b"fills": b'<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>',
            b"borders": b"<border><left/><right/><top/><bottom/><diagonal/></border>",
            b"cellXfs": b'<xf numFmtId="0" fontId="0" fillId="0" borderId="0"'
            + (b' xfId="0"' if self.has_style_xfs else b"")
            + b"/>",
        }
        for local, items in self.new.items():
            if not items:
                continue
            body = b"".join(items)
            count = str(self._count(local))
            lst = self.lists.get(local)
            if lst is not None and not lst.empty:
                tag = _set_attr(data[lst.start : lst.end], b"count", count)
                edits.append((lst.start, lst.end, 1, tag))
                edits.append((lst.close, lst.close, 0, body))
                continue
            default = defaults[local]
            if p:
                default = re.sub(rb"<(/?)(?=[A-Za-z])", rb"<\1" + p, default)
            whole = (
                b"<"
                + p
                + local
                + b' count="'
                + count.encode()
                + b'">'
                + default
                + body
                + b"</"
                + p
                + local
                + b">"
            )
            if lst is not None:  # <fills/>
                edits.append((lst.start, lst.end, 1, whole))
                continue
            pos = root.close
            for later in _STYLE_ORDER[_STYLE_ORDER.index(local) + 1 :]:
                m = _tag_re(p, later).search(masked, root.end, root.close)
                if m is not None:
                    pos = m.start()
                    break
            edits.append((pos, pos, 2 + _STYLE_ORDER.index(local), whole))
        return _splice(data, edits)


# --------------------------------------------------------------------------- a flagged sheet


@dataclass
class _Anchor:
    row: int
    col: int
    severity: str
    lines: list[str]
    s: int = 0  # the cell's style now
    found: bool = False
    tag: tuple[int, int] | None = None  # span of its <c …> start tag
    had_comment: bool = False


_ROW = re.compile(rb"<((?:[\w.\-]+:)?)row(?=[\s/>])([^>]*?)(/?)>")
_CELL = re.compile(rb"<(?:[\w.\-]+:)?c(?=[\s/>])([^>]*?)(/?)>")
_R_ATTR = re.compile(rb"\sr\s*=\s*[\"']([^\"']*)[\"']")
_S_ATTR = re.compile(rb"\ss\s*=\s*[\"']([0-9]*)[\"']")


class NotAWorksheet(MarkupError):
    """The sheet an issue names is a chart sheet, a dialog sheet or a macro sheet."""


class _SheetEdit:
    """One flagged sheet: where its cells are and the edits that mark them."""

    def __init__(self, data: bytes, marks: list[CellMark]) -> None:
        check_xml(data)
        self.data = data
        self.masked = masked = _mask(data)
        self.root = root = _root(masked)
        if root.ns.get(root.prefix[:-1] if root.prefix else b"") != MAIN_NS:
            raise MarkupError("not a transitional worksheet")
        if root.name[len(root.prefix) :] != b"worksheet":
            raise NotAWorksheet(root.name.decode("utf-8", "replace"))
        self.p = p = root.prefix
        self.r = _prefix_of(root, REL_NS)
        self.edits: list[tuple[int, int, int, bytes]] = []
        sd = _tag_re(p, b"sheetData").search(masked, root.end, root.close)
        if sd is None:
            raise MarkupError("no <sheetData>")
        self.sd = sd
        if sd.group().endswith(b"/>"):
            self.sd_close = tail = sd.end()
        else:
            self.sd_close = masked.find(b"</" + p + b"sheetData>", sd.end())
            if self.sd_close < 0:
                raise MarkupError("no </sheetData>")
            tail = masked.find(b">", self.sd_close) + 1
        # 校验结果 is the only selected tab
        for v in _tag_re(p, b"sheetView").finditer(masked, root.end, sd.start()):
            if _TAB_SELECTED.search(v.group()):
                self.edits.append((v.start(), v.end(), 1, _set_attr(v.group(), b"tabSelected", None)))
        self.dimension = _tag_re(p, b"dimension").search(masked, root.end, sd.start())
        merges = []
        for m in _tag_re(p, b"mergeCell").finditer(masked, tail, root.close):
            rg = _range(_attrs(m.group()).get(b"ref", ""))
            if rg is not None:
                merges.append(rg)
        self.legacy_rid: str | None = None
        lg = _tag_re(p, b"legacyDrawing").search(masked, tail, root.close)
        if lg is not None:
            self.legacy_rid = _rel_id(lg.group(), root)
            if not self.legacy_rid:
                raise MarkupError("<legacyDrawing> without a relationship")
        self.legacy_at = self._legacy_position(tail) if lg is None else -1
        # marks by anchor: the top-left cell of a merged range
        anchors: dict[tuple[int, int], _Anchor] = {}
        for mk in marks:
            r, c = mk.row, mk.col
            for r0, c0, r1, c1 in merges:
                if r0 <= r <= r1 and c0 <= c <= c1:
                    r, c = r0, c0
                    break
            a = anchors.get((r, c))
            if a is None:
                anchors[(r, c)] = _Anchor(r, c, mk.severity, list(mk.lines))
            else:
                if mk.severity == "error":
                    a.severity = "error"
                a.lines.extend(x for x in mk.lines if x not in a.lines)
        self.anchors = anchors
        self.rows: dict[int, tuple[re.Match, int]] = {}  # 0-based row -> (its tag, end of its content)
        self.row_at: dict[int, int] = {}  # a row not in the XML -> where it goes
        self.cell_at: dict[tuple[int, int], int] = {}  # a cell not in the XML -> where it goes
        self._locate()

    def _legacy_position(self, tail: int) -> int:
        """Where <legacyDrawing> goes: before the first child of <worksheet> that must follow it
        (looking inside mc:AlternateContent, which Excel wraps around <controls> and <oleObjects>)."""
        masked, root = self.masked, self.root
        depth = 0
        alt_start = -1
        for m in _TAG.finditer(masked, tail, root.close):
            closing, local, empty = m.group(1), m.group(3), m.group(5)
            if closing:
                depth -= 1
                if depth == 0:
                    alt_start = -1
                continue
            if depth == 0:
                if local == b"AlternateContent":
                    alt_start = m.start()
                elif local in _AFTER_LEGACY:
                    return m.start()
            elif depth == 2 and alt_start >= 0 and local in _AFTER_LEGACY:
                return alt_start
            if not empty:
                depth += 1
        return root.close

    def _locate(self) -> None:
        """Find each anchor's <c> (its span and style), or where a new one goes. Rows and cells
        without an ``r`` attribute are counted from the previous one, as Excel does."""
        masked = self.masked
        wanted: dict[int, list[_Anchor]] = {}
        for a in self.anchors.values():
            wanted.setdefault(a.row, []).append(a)
        if not wanted:
            return
        top = max(wanted)
        missing = set(wanted)
        n = -1
        stop = self.sd_close
        if self.sd.group().endswith(b"/>"):
            self.row_at = {w: self.sd.start() for w in missing}
            return
        for m in _ROW.finditer(masked, self.sd.end(), stop):
            rm = _R_ATTR.search(m.group(2))
            n = int(rm.group(1)) - 1 if rm and rm.group(1).isdigit() else n + 1
            for w in [w for w in missing if w < n]:
                self.row_at[w] = m.start()
                missing.discard(w)
            if n in missing:
                if m.group(3):
                    content_end = m.end()
                else:
                    content_end = masked.find(b"</" + m.group(1) + b"row>", m.end(), stop)
                    if content_end < 0:
                        raise MarkupError("unclosed <row>")
                    self._locate_cells(m, content_end, wanted[n])
                self.rows[n] = (m, content_end)
                missing.discard(n)
            if n >= top and not missing:
                break
        for w in missing:
            self.row_at[w] = stop

    def _locate_cells(self, m: re.Match, content_end: int, anchors: list[_Anchor]) -> None:
        by_col = {a.col: a for a in anchors}
        left = {a.col for a in anchors}  # columns whose place is not known yet
        col = -1
        for c in _CELL.finditer(self.masked, m.end(), content_end):
            rm = _R_ATTR.search(c.group(1))
            ref = parse_ref(rm.group(1).decode("ascii", "replace")) if rm else None
            col = ref[1] if ref else col + 1
            for k in [k for k in left if k < col]:  # a missing cell goes before this one
                self.cell_at[(by_col[k].row, k)] = c.start()
                left.discard(k)
            a = by_col.get(col)
            if a is not None:
                a.found = True
                a.tag = (c.start(), c.end())
                sm = _S_ATTR.search(c.group(1))
                a.s = int(sm.group(1)) if sm and sm.group(1) else 0
                left.discard(col)
        for k in left:
            self.cell_at[(by_col[k].row, k)] = content_end

    def finish(self, xf_for: dict[tuple[int, str], int], legacy_rid: str | None) -> bytes:
        """The sheet with each flagged cell's new style (``xf_for[(s, severity)]``) and, when
        given, a new <legacyDrawing r:id>."""
        data, p = self.data, self.p
        edits = list(self.edits)

        def cell(prefix: bytes, a: _Anchor) -> bytes:
            ref = f"{col_letters(a.col)}{a.row + 1}".encode()
            return (
                b"<" + prefix + b'c r="' + ref + b'" s="' + str(xf_for[(a.s, a.severity)]).encode() + b'"/>'
            )

        new_in_row: dict[int, list[_Anchor]] = {}
        for a in sorted(self.anchors.values(), key=lambda x: (x.row, x.col)):
            if a.found:
                assert a.tag is not None
                s, e = a.tag
                edits.append((s, e, 1, _set_attr(data[s:e], b"s", str(xf_for[(a.s, a.severity)]))))
            else:
                new_in_row.setdefault(a.row, []).append(a)
        new_rows: dict[int, list[bytes]] = {}
        for row, anchors in new_in_row.items():
            if row not in self.rows:
                pos = self.row_at[row]
                cells = b"".join(cell(p, a) for a in anchors)
                new_rows.setdefault(pos, []).append(
                    b"<" + p + b'row r="' + str(row + 1).encode() + b'">' + cells + b"</" + p + b"row>"
                )
                continue
            m, _end = self.rows[row]
            tag = _widen_spans(data[m.start() : m.end()], [a.col for a in anchors])
            if m.group(3):  # <row …/>: opened and closed around the new cells
                tag = tag[: tag.rindex(b"/")].rstrip() + b">"
                cells = b"".join(cell(m.group(1), a) for a in anchors)
                edits.append((m.start(), m.end(), 1, tag + cells + b"</" + m.group(1) + b"row>"))
                continue
            if tag != data[m.start() : m.end()]:
                edits.append((m.start(), m.end(), 1, tag))
            at: dict[int, list[bytes]] = {}
            for a in anchors:
                at.setdefault(self.cell_at[(a.row, a.col)], []).append(cell(m.group(1), a))
            for pos, cells in at.items():
                edits.append((pos, pos, 0, b"".join(cells)))
        if new_rows:
            if self.sd.group().endswith(b"/>"):
                body = b"".join(b"".join(v) for _k, v in sorted(new_rows.items()))
                edits.append(
                    (
                        self.sd.start(),
                        self.sd.end(),
                        1,
                        b"<" + p + b"sheetData>" + body + b"</" + p + b"sheetData>",
                    )
                )
            else:
                for pos, rows in new_rows.items():
                    edits.append((pos, pos, 0, b"".join(rows)))
        self._widen_dimension(edits)
        if legacy_rid is not None:
            r = self.r
            attr = (r if r is not None else b"r:") + b'id="' + legacy_rid.encode() + b'"'
            decl = b"" if r is not None else b'xmlns:r="' + REL_NS.encode() + b'" '
            edits.append(
                (self.legacy_at, self.legacy_at, 3, b"<" + p + b"legacyDrawing " + decl + attr + b"/>")
            )
        return _splice(data, edits)

    def _widen_dimension(self, edits: list) -> None:
        d = self.dimension
        if d is None:
            return
        rg = _range(_attrs(d.group()).get(b"ref", ""))
        if rg is None:
            return
        r0, c0, r1, c1 = rg
        for a in self.anchors.values():
            r0, c0, r1, c1 = min(r0, a.row), min(c0, a.col), max(r1, a.row), max(c1, a.col)
        if (r0, c0, r1, c1) != rg:
            ref = f"{col_letters(c0)}{r0 + 1}:{col_letters(c1)}{r1 + 1}"
            edits.append((d.start(), d.end(), 1, _set_attr(self.data[d.start() : d.end()], b"ref", ref)))


_TAB_SELECTED = re.compile(rb"\stabSelected\s*=\s*[\"'](?:1|true)[\"']")


def _widen_spans(tag: bytes, cols: list[int]) -> bytes:
    """A <row> start tag whose ``spans`` (an optimisation hint, 1-based) also covers ``cols``."""
    m = re.search(rb"\sspans\s*=\s*[\"']([0-9: ]*)[\"']", tag)
    if not m:
        return tag
    ranges = [(int(a), int(b)) for a, b in re.findall(rb"([0-9]+):([0-9]+)", m.group(1))]
    if not ranges or all(any(a <= c + 1 <= b for a, b in ranges) for c in cols):
        return tag
    lo = min(min(a for a, _ in ranges), min(cols) + 1)
    hi = max(max(b for _, b in ranges), max(cols) + 1)
    return _set_attr(tag, b"spans", f"{lo}:{hi}")


# --------------------------------------------------------------------------- comments and VML


def _runs(lines: list[str]) -> bytes:
    head = (
        '<r><rPr><b/><sz val="9"/><color rgb="FFC00000"/><rFont val="宋体"/><family val="3"/>'
        '<charset val="134"/></rPr><t xml:space="preserve">' + esc(AUTHOR + "：") + "</t></r>"
    )
    body = (
        '<r><rPr><sz val="9"/><color indexed="81"/><rFont val="宋体"/><family val="3"/><charset val="134"/>'
        '</rPr><t xml:space="preserve">' + esc("\n" + "\n".join(lines)) + "</t></r>"
    )
    return (head + body).encode("utf-8")


def _comment_lines_height(lines: list[str]) -> int:
    """Rows of text the comment box needs (about 22 Chinese characters a line)."""
    n = 1
    for line in lines:
        width = sum(2 if ord(ch) > 0x2E7F else 1 for ch in line)
        n += max(1, math.ceil(width / 44))
    return n


def _comment_xml(pkg: Package, part: str | None, anchors: list[_Anchor]) -> bytes:
    """The comments part: the clerk's (``part``) with ours merged in, or a new one."""
    if part is None:
        body = b"".join(
            b'<comment ref="'
            + f"{col_letters(a.col)}{a.row + 1}".encode()
            + b'" authorId="0"><text>'
            + _runs(a.lines)
            + b"</text></comment>"
            for a in anchors
        )
        return (
            XML_DECL
            + f'<comments xmlns="{MAIN_NS}"><authors><author>{esc(AUTHOR)}</author></authors><commentList>'.encode()
            + body
            + b"</commentList></comments>"
        )
    data = pkg.read(part)
    check_xml(data)
    masked = _mask(data)
    root = _root(masked)
    p = root.prefix
    edits: list[tuple[int, int, int, bytes]] = []
    authors = _tag_re(p, b"authors").search(masked, root.end, root.close)
    pfx = (lambda b: re.sub(rb"<(/?)(?=[A-Za-z])", rb"<\1" + p, b)) if p else (lambda b: b)
    author_xml = pfx(f"<author>{esc(AUTHOR)}</author>".encode())
    if authors is None:
        n_authors = 0
        edits.append((root.end, root.end, 0, pfx(b"<authors>") + author_xml + pfx(b"</authors>")))
    elif authors.group().endswith(b"/>"):
        n_authors = 0
        edits.append((authors.start(), authors.end(), 1, pfx(b"<authors>") + author_xml + pfx(b"</authors>")))
    else:
        close = masked.find(b"</" + p + b"authors>", authors.end())
        n_authors = len(
            re.findall(rb"<" + re.escape(p) + rb"author(?=[\s/>])", masked[authors.end() : close])
        )
        edits.append((close, close, 0, author_xml))
    existing: dict[tuple[int, int], tuple[int, int]] = {}  # cell -> span of <text> content
    for m in _tag_re(p, b"comment").finditer(masked, root.end, root.close):
        rc = parse_ref(_attrs(m.group()).get(b"ref", "").split(":")[0])
        if rc is None or m.group().endswith(b"/>"):
            continue
        end = masked.find(b"</" + p + b"comment>", m.end())
        t = _tag_re(p, b"text").search(masked, m.end(), end)
        if t is not None and not t.group().endswith(b"/>"):
            existing[rc] = (t.end(), masked.find(b"</" + p + b"text>", t.end(), end))
    new_comments = []
    for a in anchors:
        runs = pfx(_runs(a.lines))
        span = existing.get((a.row, a.col))
        if span is not None:
            a.had_comment = True
            start, stop = span
            inner = masked[start:stop]
            # CT_Rst: a plain <t> must come before any <r>; wrap the clerk's plain text in a run
            if re.match(rb"\s*<" + re.escape(p) + rb"t(?=[\s/>])", inner):
                tend = masked.find(b"</" + p + b"t>", start, stop)
                tend = stop if tend < 0 else tend + len(b"</" + p + b"t>")
                sep = pfx(b'<r><t xml:space="preserve">\n</t></r>')
                edits.append((start, start, 0, runs + sep + pfx(b"<r>")))
                edits.append((tend, tend, 0, pfx(b"</r>")))
            else:
                sep = pfx(b'<r><t xml:space="preserve">\n</t></r>')
                edits.append((start, start, 0, runs + sep))
        else:
            new_comments.append(
                pfx(b'<comment ref="' + f"{col_letters(a.col)}{a.row + 1}".encode() + b'" authorId="')
                + str(n_authors).encode()
                + b'">'
                + pfx(b"<text>")
                + runs
                + pfx(b"</text></comment>")
            )
    if new_comments:
        cl = _tag_re(p, b"commentList").search(masked, root.end, root.close)
        if cl is None:
            edits.append(
                (
                    root.close,
                    root.close,
                    5,
                    pfx(b"<commentList>") + b"".join(new_comments) + pfx(b"</commentList>"),
                )
            )
        elif cl.group().endswith(b"/>"):
            edits.append(
                (
                    cl.start(),
                    cl.end(),
                    1,
                    pfx(b"<commentList>") + b"".join(new_comments) + pfx(b"</commentList>"),
                )
            )
        else:
            close = masked.find(b"</" + p + b"commentList>", cl.end())
            edits.append((close, close, 0, b"".join(new_comments)))
    return _splice(data, edits)


_SHAPETYPE = (
    '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
    '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
)
_VML_NS = (
    'xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:x="urn:schemas-microsoft-com:office:excel"'
)


def _shapes(anchors: list[_Anchor], first_id: int, ns: str = "") -> bytes:
    """A note shape per anchor without a comment of the clerk's; ``ns``: namespace declarations
    for each shape (when the drawing's root does not bind v:, o: and x:)."""
    out = []
    for i, a in enumerate(anchors):
        if a.had_comment:
            continue
        rows = max(4, min(_comment_lines_height(a.lines) + 1, 30))
        top = max(a.row - 1, 0)
        height = rows * 15
        out.append(
            f'<v:shape{ns} id="_x0000_s{first_id + i}" type="#_x0000_t202" style="position:absolute;'
            f"margin-left:60pt;margin-top:2pt;width:240pt;height:{height * 0.75:.2f}pt;z-index:{i + 1};"
            'visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
            '<v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
            '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
            '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
            f"<x:Anchor>{a.col + 1}, 15, {top}, 10, {a.col + 5}, 15, {top + rows}, 4</x:Anchor>"
            f"<x:AutoFill>False</x:AutoFill><x:Row>{a.row}</x:Row><x:Column>{a.col}</x:Column>"
            "</x:ClientData></v:shape>"
        )
    return "".join(out).encode("utf-8")


_IDMAP = re.compile(rb"<(?:[\w.\-]+:)?idmap\b[^>]*?\sdata\s*=\s*[\"']([0-9,\s]*)[\"']")
_VML_BINDINGS = (
    (b"v", b"urn:schemas-microsoft-com:vml"),
    (b"o", b"urn:schemas-microsoft-com:office:office"),
    (b"x", b"urn:schemas-microsoft-com:office:excel"),
)


def _vml(existing: bytes | None, anchors: list[_Anchor], block: int) -> bytes:
    """A VML drawing with a note shape per new comment, shape ids in ``block`` (× 1024): a new
    drawing, or the clerk's with the shapes appended and the block added to its id map. The
    clerk's drawing is not parsed as XML (VML from old Excel versions is not always well-formed):
    our elements go before its last ``</xml>``, declaring v:, o: and x: themselves unless its root
    binds them (openpyxl, for one, declares them on every element)."""
    if existing is None:
        return (
            f'<xml {_VML_NS}><o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{block}"/>'
            f"</o:shapelayout>{_SHAPETYPE}".encode()
            + _shapes(anchors, block * 1024 + 1)
            + b"</xml>"
        )
    if all(a.had_comment for a in anchors):
        return existing
    start = re.search(rb"<xml(?=[\s>])[^>]*>", existing)
    close = existing.rfind(b"</xml>")
    if start is None or close < start.end():
        raise MarkupError("unexpected VML drawing")
    root = start.group()
    bound = all(
        re.search(rb"\sxmlns:" + pfx + rb"\s*=\s*[\"']" + re.escape(uri) + rb"[\"']", root)
        for pfx, uri in _VML_BINDINGS
    )
    ns = "" if bound else " " + _VML_NS
    shapes = _shapes(anchors, block * 1024 + 1, ns)
    head = (
        b""
        if b"_x0000_t202" in existing
        else _SHAPETYPE.replace("<v:shapetype", f"<v:shapetype{ns}", 1).encode()
    )
    body = existing[start.end() : close]
    m = _IDMAP.search(body)
    if m is not None:
        blocks = [x for x in re.split(rb"[,\s]+", m.group(1)) if x]
        body = body[: m.start(1)] + b",".join([*blocks, str(block).encode()]) + body[m.end(1) :]
    elif not re.search(rb"<(?:[\w.\-]+:)?shapelayout\b", body):
        layout = f'<o:shapelayout{ns} v:ext="edit"><o:idmap v:ext="edit" data="{block}"/></o:shapelayout>'
        body = layout.encode() + body
    else:
        raise MarkupError("VML shape layout without an id map")
    return existing[: start.end()] + body + head + shapes + existing[close:]


# --------------------------------------------------------------------------- 校验结果


def _result_sheet(t: ResultTable, st: dict[str, int]) -> tuple[bytes, int, int]:
    """The 校验结果 worksheet XML; (xml, last row, number of columns)."""
    ncol = len(t.headers)
    last_col = col_letters(ncol - 1)
    rows = []

    def s_cell(ref: str, text: str, style: int) -> str:
        return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{esc(text[:MAX_TEXT])}</t></is></c>'

    rows.append(f'<row r="1" spans="1:{ncol}">{s_cell("A1", t.title, st["title"])}</row>')
    rows.append(
        f'<row r="2" spans="1:{ncol}" ht="36" customHeight="1">{s_cell("A2", t.verdict, st["verdict"])}</row>'
    )
    head = "".join(s_cell(f"{col_letters(c)}3", h, st["head"]) for c, h in enumerate(t.headers))
    rows.append(f'<row r="3" spans="1:{ncol}">{head}</row>')
    for i, (vals, sev) in enumerate(zip(t.rows, t.severities, strict=True)):
        r = 4 + i
        cells = []
        for c, v in enumerate(vals):
            ref = f"{col_letters(c)}{r}"
            style = st["body"] if c != 1 else st["error" if sev == "error" else "warning"]
            if isinstance(v, int) and not isinstance(v, bool):
                cells.append(f'<c r="{ref}" s="{style}"><v>{v}</v></c>')
            else:
                cells.append(s_cell(ref, "" if v is None else str(v), style))
        rows.append(f'<row r="{r}" spans="1:{ncol}">{"".join(cells)}</row>')
    last_row = 3 + len(t.rows)
    cols = "".join(
        f'<col min="{c + 1}" max="{c + 1}" width="{w}" customWidth="1"/>' for c, w in enumerate(t.widths)
    )
    auto = f'<autoFilter ref="A3:{last_col}{last_row}"/>' if t.rows else ""
    x = (
        f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        f'<sheetPr><tabColor rgb="FF{t.tab}"/></sheetPr>'
        f'<dimension ref="A1:{last_col}{last_row}"/>'
        '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
        '<pane ySplit="3" topLeftCell="A4" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A4" sqref="A4"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        f"<cols>{cols}</cols>"
        f"<sheetData>{''.join(rows)}</sheetData>"
        f"{auto}"
        f'<mergeCells count="2"><mergeCell ref="A1:{last_col}1"/><mergeCell ref="A2:{last_col}2"/></mergeCells>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        "</worksheet>"
    )
    return XML_DECL + x.encode("utf-8"), last_row, ncol


def _result_name(names: list[str], base: str) -> str:
    used = {n.lower() for n in names} | {"history"}
    if base.lower() not in used:
        return base
    n = 2
    while f"{base}({n})".lower() in used:
        n += 1
    return f"{base}({n})"


# --------------------------------------------------------------------------- the package


def _find_sheet(sheets: list[_SheetRef], name: str) -> _SheetRef | None:
    for s in sheets:
        if s.name == name:
            return s
    norm = name.strip().lower()
    for s in sheets:
        if s.name.strip().lower() == norm:
            return s
    return None


def _free_name(pkg: Package, taken: set[str], pattern: str, start: int = 1) -> str:
    n = start
    while True:
        name = pattern.format(n)
        if pkg.get(name) is None and name.lower() not in taken:
            taken.add(name.lower())
            return name
        n += 1


def mark_up(
    data: bytes, marks: dict[str, list[CellMark]], table: ResultTable, *, result_name: str = "校验结果"
) -> tuple[bytes, dict[str, Any]]:
    """The package ``data`` with ``marks`` (by the sheet names of the issues) applied and the
    result sheet first. Returns (bytes, info): info holds ``sheets`` (the workbook's sheet names),
    ``result_sheet`` (the name given to 校验结果), ``marked`` (cells marked per sheet) and
    ``unmatched`` (issue sheet names not found in the workbook)."""
    pkg = Package(data)
    wb_part, wb_data, wb_rels, sheets = _read_workbook(pkg)
    info: dict[str, Any] = {"sheets": [s.name for s in sheets], "marked": {}, "unmatched": []}
    replace: dict[str, bytes] = {}
    add: list[tuple[str, bytes]] = []
    overrides: list[tuple[str, str]] = []
    defaults: list[tuple[str, str]] = []
    taken: set[str] = set()

    # the flagged sheets: where their cells are
    by_part: dict[str, tuple[_SheetRef, list[CellMark]]] = {}
    for name, cell_marks in marks.items():
        ref = _find_sheet(sheets, name)
        if ref is None or ref.part is None or pkg.get(ref.part) is None:
            info["unmatched"].append(name)
            continue
        if cell_marks:
            by_part.setdefault(ref.part, (ref, []))[1].extend(cell_marks)
    edits: dict[str, tuple[_SheetRef, _SheetEdit]] = {}
    for part, (ref, cell_marks) in by_part.items():
        try:
            edits[part] = (ref, _SheetEdit(pkg.read(part), cell_marks))
        except NotAWorksheet:
            info["unmatched"].append(ref.name)

    # styles
    style_rels = wb_rels.of_type(RT_STYLES)
    styles_part = _resolve(wb_part, style_rels[0]["Target"]) if style_rels else None
    if styles_part is not None and pkg.get(styles_part) is None:
        styles_part = None
    st = _Styles(pkg.read(styles_part) if styles_part else None)
    red, yellow, blue = st.fill(RED), st.fill(YELLOW), st.fill(HEAD_BLUE)
    bold = st.add(
        b"fonts", '<font><b/><sz val="11"/><name val="宋体"/><family val="3"/><charset val="134"/></font>'
    )
    big = st.add(
        b"fonts", '<font><b/><sz val="13"/><name val="宋体"/><family val="3"/><charset val="134"/></font>'
    )
    grey = st.add(
        b"borders",
        "<border>"
        + "".join(
            f'<{side} style="thin"><color rgb="FF{GREY}"/></{side}>'
            for side in ("left", "right", "top", "bottom")
        )
        + "<diagonal/></border>",
    )
    xf_for: dict[tuple[int, str], int] = {}
    for _ref, se in edits.values():
        for a in se.anchors.values():
            key = (a.s, a.severity)
            if key not in xf_for:
                xf_for[key] = st.xf_clone(a.s, red if a.severity == "error" else yellow)
    body_align = 'vertical="top" wrapText="1"'
    roles = {
        "title": st.xf(font=big, align='vertical="center"'),
        "verdict": st.xf(align=body_align),
        "head": st.xf(
            font=bold, fill=blue, border=grey, align='horizontal="center" vertical="center" wrapText="1"'
        ),
        "body": st.xf(border=grey, align=body_align),
        "error": st.xf(fill=red, border=grey, align=body_align),
        "warning": st.xf(fill=yellow, border=grey, align=body_align),
    }
    if styles_part is None:
        styles_part = posixpath.join(posixpath.dirname(wb_part), "styles.xml")
        if pkg.get(styles_part) is not None:
            raise MarkupError("styles.xml present but not related")
        add.append((styles_part, st.render()))
        taken.add(styles_part.lower())
        wb_rels.add(RT_STYLES, _relative(wb_part, styles_part))
        overrides.append((styles_part, CT_STYLES))
    else:
        replace[styles_part.lower()] = st.render()

    # VML id blocks already in use
    used_blocks: set[int] = set()
    for m in pkg.members:
        if m.name.lower().endswith(".vml"):
            for b in _IDMAP.findall(pkg.read(m)):
                used_blocks.update(int(x) for x in re.split(rb"[,\s]+", b) if x.isdigit())

    def new_block() -> int:
        b = 1
        while b in used_blocks:
            b += 1
        used_blocks.add(b)
        return b

    # each flagged sheet: cells, comments, VML
    for part, (ref, se) in edits.items():
        anchors = sorted(se.anchors.values(), key=lambda a: (a.row, a.col))
        info["marked"][ref.name] = [f"{col_letters(a.col)}{a.row + 1}" for a in anchors]
        rels = _Rels.read(pkg, part)
        comments = rels.of_type(RT_COMMENTS)
        comments_part = _resolve(part, comments[0]["Target"]) if comments else None
        if comments_part is not None and pkg.get(comments_part) is None:
            raise MarkupError("comments relationship to a missing part")
        vml_part = None
        if se.legacy_rid is not None:
            rel = rels.by_id(se.legacy_rid)
            if rel is None or rel.get("TargetMode") == "External":
                raise MarkupError("broken <legacyDrawing> relationship")
            vml_part = _resolve(part, rel["Target"])
            if pkg.get(vml_part) is None:
                raise MarkupError("legacy drawing relationship to a missing part")
        comment_xml = _comment_xml(pkg, comments_part, anchors)
        if comments_part is None:
            comments_part = _free_name(
                pkg, taken, posixpath.join(posixpath.dirname(wb_part), "comments{}.xml")
            )
            add.append((comments_part, comment_xml))
            rels.add(RT_COMMENTS, _relative(part, comments_part))
            overrides.append((comments_part, CT_COMMENTS))
        else:
            replace[comments_part.lower()] = comment_xml
        block = new_block()
        new_rid = None
        if vml_part is None:
            vml_part = _free_name(
                pkg, taken, posixpath.join(posixpath.dirname(wb_part), "drawings/vmlDrawing{}.vml")
            )
            add.append((vml_part, _vml(None, anchors, block)))
            new_rid = rels.add(RT_VML, _relative(part, vml_part))
            defaults.append(("vml", CT_VML))
        else:
            old_vml = pkg.read(vml_part)
            vml = _vml(old_vml, anchors, block)
            if vml != old_vml:
                replace[vml_part.lower()] = vml
        replace[part.lower()] = se.finish(xf_for, new_rid)
        rendered = rels.render()
        if rendered is not None:
            if rels.data is None:
                add.append((rels.part, rendered))
                defaults.append(("rels", "application/vnd.openxmlformats-package.relationships+xml"))
            else:
                replace[rels.part.lower()] = rendered

    # 校验结果 is the one selected tab: the sheets not edited above that have tabSelected
    for s in sheets:
        if s.part is None or s.part.lower() in replace:
            continue
        m = pkg.get(s.part)
        if m is None:
            continue
        raw = pkg.read(m)
        if b"tabSelected" not in raw:
            continue
        check_xml(raw)
        masked = _mask(raw)
        root = _root(masked)
        ed = [
            (v.start(), v.end(), 1, _set_attr(v.group(), b"tabSelected", None))
            for v in _tag_re(root.prefix, b"sheetView").finditer(masked, root.end, root.close)
            if _TAB_SELECTED.search(v.group())
        ]
        if ed:
            replace[s.part.lower()] = _splice(raw, ed)

    # 校验结果
    name = _result_name(info["sheets"], result_name)
    info["result_sheet"] = name
    sheet_xml, last_row, ncol = _result_sheet(table, roles)
    sheet_part = _free_name(pkg, taken, posixpath.join(posixpath.dirname(wb_part), "worksheets/sheet{}.xml"))
    add.append((sheet_part, sheet_xml))
    overrides.append((sheet_part, CT_WORKSHEET))
    rid = wb_rels.add(RT_WORKSHEET, _relative(wb_part, sheet_part))
    replace[wb_part.lower()] = _edit_workbook(wb_data, name, rid, last_row if table.rows else 0, ncol)
    if wb_rels.data is None:
        raise MarkupError("workbook without relationships")
    replace[wb_rels.part.lower()] = wb_rels.render() or wb_rels.data
    ct = pkg.read("[Content_Types].xml")
    replace["[content_types].xml"] = _content_types(ct, overrides, defaults)
    info["macro_enabled"] = _is_macro_enabled(ct, wb_part)
    return pkg.write(replace, add), info


__all__ += ["PackageError", "check_xml", "col_letters", "esc", "parse_ref", "unescape"]
