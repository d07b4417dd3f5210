"""Cheap checks before a workbook is parsed (ledger.md §9 E_FILE_UNREADABLE).

python-calamine aborts the whole process on some malformed files, a zip bomb costs every reader
gigabytes, and XML parts may carry DOCTYPE/entity tricks. These checks look at the bytes first:
the container type against the extension, encryption, declared and actual uncompressed sizes,
compression ratio, DOCTYPE in any XML part, the cell grid's extent and sharedStrings' counts.
While the sheet XML is in hand it also finds formula cells without a computed value (W_FORMULA).

What it costs matters (it runs on every workbook, and ought to cost a fraction of calamine's own
read; ``benchmarks/precheck.py`` measures both), so:

* the zip's central directory is read straight from the bytes where the archive is plain, and
  through :mod:`zipfile` wherever anything is unusual (:func:`_directory`);
* the parts a reader opens (workbook.xml and its relationships, sharedStrings, styles, the sheets,
  and anything not known to be left alone) are decompressed whole, size and CRC checked, and get
  every check. The parts nobody opens (:func:`_prolog_only`: docProps, the theme, drawings, media,
  [Content_Types].xml, ...) are decompressed only as far as their prolog: a DOCTYPE or entity
  declaration can only stand before the root element (after it, it is no declaration, expat refuses
  it outright), so that is where it is looked for (:func:`_prolog_clean`). Anything unusual there
  and the part is checked whole, as before;
* a sheet's extent is first bounded by one search (no cell reference with two letters or five
  digits: within A1:Z9999) and by its length; only a sheet beyond those bounds gets the exact
  count. Likewise W_FORMULA only looks at the cells where a formula can be.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from ledgerflow.settings import Limits

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 1 << 20

# Cell positions come from r="..." attributes of <row> and <c> (any namespace prefix). calamine
# also accepts them single-quoted, with blanks around "=", in lower case and with leading zeros,
# so the checks do too: a fast literal pattern for what Excel/WPS write, the general one only where
# the part holds one of the unusual spellings.
_REF_FAST = re.compile(rb' r="([A-Za-z]*)(\d+)"')
_REF_ANY = re.compile(rb"\sr\s*=\s*[\"']\s*([A-Za-z]*)(\d+)")
# r= after a tab/CR/LF, or blanks around "=", or a quote other than ' "' (one pass, literal prefix)
_REF_ODD = re.compile(rb"r(?:(?<=[\t\r\n]r)=|[ \t\r\n]+=|=[ \t\r\n']|=\"[ \t\r\n])")
# Matches wherever _REF_ANY (and so _REF_FAST) would find a reference with two letters or five
# digits: where it finds nothing, every reference lies within A1:Z9999. One pass, literal prefix.
_REF_BIG = re.compile(rb"r(?<=\sr)\s*=\s*[\"']\s*(?:[A-Za-z]{2}|[A-Za-z]?\d{5})")
_SMALL_ROWS, _SMALL_COLS = 9_999, 26
_MERGE = re.compile(rb"mergeCell\b[^>]*?\sref\s*=\s*[\"']\s*([A-Za-z]+)(\d+)(?::([A-Za-z]+)(\d+))?", re.S)
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_R_ATTR = re.compile(rb'\br="([A-Z]{1,4}\d{1,8})"')
_HAS_V = re.compile(rb"<v>\s*[^<\s][^<]*</v>", re.S)
_INLINE_T = re.compile(rb"<t[^>]*>[^<]+</t>", re.S)
_COUNT = re.compile(rb"\b(?:uniqueCount|count)\s*=\s*[\"']\s*(\d+)")
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
# An XML prolog: byte order mark, blanks, processing instructions (the XML declaration) and comments.
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:[ \t\r\n]++|<\?.*?\?>|<!--.*?-->)*+", re.S)
_NAME_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_:" + bytes(range(0x80, 0x100)))
_HEAD = 256  # decompressed first for a prolog; more (x4 each time) while it goes on

_SST_TAG = re.compile(rb"sst\b[^>]*>", re.S)

MAX_ROWS, MAX_COLS = 1_048_576, 16_384
MAX_MERGES = 100_000

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# Parts that neither calamine (_rels/.rels, workbook.xml, its relationships, sharedStrings.xml,
# styles.xml, the sheets; found case-insensitively) nor ledgerflow's own code parse as they stand
# (the feedback markup reads [Content_Types].xml through expat with DTDs refused, and only appends
# to VML): only their prolog is checked. Lower case; a part a sheet relationship points at is never
# one. tests/hostile/test_precheck_parts.py checks that calamine still leaves them alone.
_PROLOG_ONLY_PARTS = frozenset({"[content_types].xml", "xl/calcchain.xml", "xl/vbaproject.bin"})
_PROLOG_ONLY_DIRS = (
    "docprops/",
    "xl/theme/",
    "xl/drawings/",
    "xl/media/",
    "xl/printersettings/",
    "xl/embeddings/",
    "customxml/",
)


class Unreadable(Exception):
    """The file is not a readable workbook; ``str(e)`` is a Chinese reason for the clerk."""


@dataclass
class PreCheck:
    kind: str  # "xlsx" | "xls"
    formula_cells: dict[str, list[str]] = field(default_factory=dict)  # sheet name -> ["G11", ...]


def _col_number(letters: bytes) -> int:
    if len(letters) > 3:
        return MAX_COLS + 1
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ch - 64)
    return n


def _xml_text(data: bytes) -> bytes:
    """The part as UTF-8-ish bytes for the pattern checks: UTF-16 parts (allowed by OPC, and read by
    calamine) are decoded first, so a DOCTYPE cannot hide behind NUL bytes."""
    head = data[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) >= 2 and (head[0] == 0 or head[1] == 0)):
        enc = "utf-16-be" if head.startswith(b"\xfe\xff") or head[0] == 0 else "utf-16-le"
        return data.decode(enc, errors="replace").encode("utf-8")
    return data


def _looks_xml(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") or data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:1] == b"\x00"


def _long_text(data: bytes, limit: int) -> bool:
    """True where some run between two "<" is longer than ``limit`` bytes (one cell's value; Excel
    itself stops at 32 767 characters). Any such run covers a multiple of ``limit // 2``, so only
    the runs through those points are measured: linear, and nothing is copied."""
    half = max(1, limit // 2)
    for point in range(half, len(data), half):
        lo = max(0, point - limit - 1)
        left = data.rfind(b"<", lo, point + 1)
        if left < 0 and lo > 0:
            return True
        start = left + 1 if left >= 0 else 0
        hi = min(len(data), start + limit + 1)
        right = data.find(b"<", point, hi)
        if (right if right >= 0 else hi) - start > limit:
            return True
    return False


def _extent_within_bounds(data: bytes, limits: Limits) -> bool:
    """True where the exact count (:func:`_check_extent`) cannot find anything wrong: no cell
    reference beyond A1:Z9999, and too few ``<row``/``<c`` tags to matter (bounded by the part's
    length first: each takes at least 2 bytes, a row 4; counted only where that bound is too high)."""
    if _REF_BIG.search(data) is not None:
        return False
    rows, cells = len(data) // 4, len(data) // 2
    if cells > limits.max_cells or max(rows, _SMALL_ROWS) * _SMALL_COLS > limits.max_cells:
        rows = data.count(b"<row") + data.count(b":row")
        cells = data.count(b"<c") + data.count(b":c")
    max_row = max(rows, _SMALL_ROWS)
    return max_row <= MAX_ROWS and cells <= limits.max_cells and max_row * _SMALL_COLS <= limits.max_cells


def _check_extent(data: bytes, limits: Limits) -> None:
    refs = (_REF_ANY if _REF_ODD.search(data) else _REF_FAST).findall(data)
    max_row = max_col = 0
    if refs:
        letters, numbers = zip(*refs, strict=True)
        del refs
        max_row = max(map(int, set(numbers)))
        letters = set(letters)
        letters.discard(b"")
        max_col = max(map(_col_number, letters), default=0)
        del letters, numbers
    # rows and cells without r= are placed one after the other: count the tags too
    # (over-counted a little: <rowBreaks>, <col>, <cfRule>, ... are few)
    rows = data.count(b"<row") + data.count(b":row")
    cells = data.count(b"<c") + data.count(b":c")
    max_row = max(max_row, rows)
    if max_row > MAX_ROWS or max_col > MAX_COLS:
        raise Unreadable("单元格位置超出Excel范围")
    if cells > limits.max_cells or max_row * max(max_col, 1) > limits.max_cells:
        raise Unreadable(f"工作表范围过大（{max_row}行×{max_col}列）")


def _check_sheet(name: str, data: bytes, limits: Limits) -> None:
    """Extent, cell count and merged ranges of one worksheet part, as calamine would see them."""
    if not _extent_within_bounds(data, limits):
        _check_extent(data, limits)
    first = data.find(b"mergeCell")
    if first < 0:
        return
    merges = _MERGE.findall(data, first)
    if len(merges) > MAX_MERGES:
        raise Unreadable(f"合并单元格数量异常（{len(merges)}个）")
    area = 0
    for c0, r0, c1, r1 in merges:
        c1, r1 = (c1 or c0), (r1 or r0)
        cols = (_col_number(c0), _col_number(c1))
        rws = (int(r0), int(r1))
        if max(cols) > MAX_COLS or max(rws) > MAX_ROWS:
            raise Unreadable("合并单元格超出Excel范围")
        area += (abs(rws[1] - rws[0]) + 1) * (abs(cols[1] - cols[0]) + 1)
        if max(rws) * max(cols) > limits.max_cells or area > limits.max_cells:
            raise Unreadable("合并单元格范围过大")


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """Decompress one member, never more than ``budget`` bytes (declared sizes may lie)."""
    parts: list[bytes] = []
    total = 0
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > budget:
                raise Unreadable("解压后体积超出安全上限（疑似压缩炸弹）")
            parts.append(chunk)
    return b"".join(parts)


class _Forbidden(Exception):
    pass


def _expat_starts(data: bytes, wanted: str) -> list[dict[str, str]]:
    """The attributes of every ``wanted`` element ("namespace}local", as ElementTree names them) of
    one XML part, read with expat itself (C, no tree). The part has passed the DOCTYPE check; a DTD
    or entity declaration that expat still sees (say, behind an unusual encoding) is refused here."""
    found: list[dict[str, str]] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == wanted:
            found.append(attrs)

    def forbid(*_args) -> None:
        raise _Forbidden

    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = forbid
    parser.EntityDeclHandler = forbid
    parser.UnparsedEntityDeclHandler = forbid
    parser.ExternalEntityRefHandler = forbid
    parser.Parse(data, True)
    return found


_SHEET_TAG = NS_MAIN[1:-1] + "}sheet"
_SHEET_RID = NS_REL[1:-1] + "}id"
_REL_TAG = NS_PKG_REL[1:-1] + "}Relationship"


def _sheet_names_by_part(workbook: bytes, rels: bytes) -> dict[str, str]:
    """xl/worksheets/sheetN.xml -> sheet name, from workbook.xml and its relationships."""
    try:
        sheets = _expat_starts(workbook, _SHEET_TAG)
        relations = _expat_starts(rels, _REL_TAG)
    except _Forbidden as exc:
        raise Unreadable("工作簿结构无法解析（EntitiesForbidden）") from exc
    except expat.ExpatError as exc:  # junk
        raise Unreadable("工作簿结构无法解析（ParseError）") from exc
    targets = {}
    for rel in relations:
        target = rel.get("Target", "")
        target = target.lstrip("/")
        if not target.startswith("xl/"):
            target = "xl/" + target
        targets[rel.get("Id")] = target
    out = {}
    for sheet in sheets:
        rid = sheet.get(_SHEET_RID)
        if rid in targets:
            out[targets[rid]] = sheet.get("name", "")
    return out


def _formula_cells(xml: bytes) -> list[str]:
    # a cell's body ends at a "</c>": a "<f" after the last one is in no cell (<formula1> of a
    # data validation, say)
    last = xml.rfind(b"</c>")
    if last < 0 or xml.find(b"<f", 0, last) < 0:
        return []
    found = []
    for attrs, body in _CELL.findall(xml):  # body is b"" for <c .../>
        if b"<f" not in body:
            continue
        if _HAS_V.search(body) or _INLINE_T.search(body):
            continue
        ref = _R_ATTR.search(attrs)
        if ref:
            found.append(ref.group(1).decode())
    return found


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile.structFileHeader
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # zipfile.structCentralDir
_END_RECORD = struct.Struct("<4s4H2LH")  # zipfile.structEndArchive
_FLAGS_FOR_ZIPFILE = 0x01 | 0x20 | 0x40  # encrypted, compressed patch data, strong encryption


def _decode_name(name: bytes, flags: int) -> str | None:
    """A member's name as zipfile decodes it (UTF-8 where flagged, else cp437; the same for ASCII)."""
    if name.isascii():
        return name.decode("ascii")
    try:
        return name.decode("utf-8" if flags & 0x800 else "cp437")
    except UnicodeDecodeError:
        return None


class _Member:
    """One central directory record: the attributes of :class:`zipfile.ZipInfo` the checks use, with
    the values zipfile gives them, and ``index``, its place in ``ZipFile.infolist()``."""

    __slots__ = (
        "index",
        "filename",
        "orig_filename",
        "flag_bits",
        "compress_type",
        "CRC",
        "compress_size",
        "file_size",
        "header_offset",
        "_end_offset",
    )

    def is_dir(self) -> bool:
        return self.filename[-1] == "/"


def _directory(raw: bytes) -> list[_Member] | None:
    """The members as ``zipfile.ZipFile(...).infolist()`` lists them, read straight from the central
    directory where the archive is plain: its end record last in the file with no comment and no
    ZIP64 record before it, the directory right before that (nothing prepended to the archive), every
    record complete and without extra fields, names that decode and hold no NUL. None wherever
    anything is unusual: zipfile then reads the directory, and raises what it raises.
    ``_end_offset`` (where the next member starts) is set as newer zipfile versions set it."""
    n = len(raw)
    if n < 22:
        return None
    sig, disk, cd_disk, _, _, cd_size, cd_off, comment = _END_RECORD.unpack_from(raw, n - 22)
    if sig != b"PK\x05\x06" or comment or disk or cd_disk or cd_off + cd_size != n - 22:
        return None
    if n >= 42 and raw[n - 42 : n - 38] == b"PK\x06\x07":  # ZIP64 end of central directory locator
        return None
    members: list[_Member] = []
    pos, end = cd_off, n - 22
    unpack = _CENTRAL.unpack_from
    while pos < end:
        if pos + 46 > end:
            return None
        (sig, _, _, version, _, flags, method, _, _, crc, csize, usize, nlen, xlen, clen, _, _, _, offset) = (
            unpack(raw, pos)
        )
        if sig != b"PK\x01\x02" or version > 63 or xlen:  # zipfile's MAX_EXTRACT_VERSION
            return None
        start = pos + 46
        pos = start + nlen + clen
        if pos > end:
            return None
        name = _decode_name(raw[start : start + nlen], flags)
        if not name or "\x00" in name:
            return None
        m = _Member()
        m.index = len(members)
        m.filename = m.orig_filename = name
        m.flag_bits, m.compress_type, m.CRC = flags, method, crc
        m.compress_size, m.file_size, m.header_offset = csize, usize, offset
        members.append(m)
    following = cd_off
    for m in sorted(members, key=lambda m: m.header_offset, reverse=True):
        m._end_offset, following = following, m.header_offset
    return members


class _Archive:
    """The zip's members, from :func:`_directory` where it can, and zipfile itself only when a
    member has to be read through it (or the directory is unusual)."""

    def __init__(self, raw: bytes):
        self.raw = raw
        self._zf: zipfile.ZipFile | None = None
        members = _directory(raw)
        if members is None:
            self._zf = self._open()
            members = self._zf.infolist()
        self.members: list = members

    def _open(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(io.BytesIO(self.raw))
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise Unreadable("压缩包已损坏（文件可能未完整上传）") from exc

    def zipinfo(self, member) -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
        if self._zf is None:
            self._zf = self._open()
        if isinstance(member, _Member):
            infos = self._zf.infolist()
            info = infos[member.index] if member.index < len(infos) else None
            same = info is not None and info.orig_filename == member.orig_filename
            if not same or info.header_offset != member.header_offset:
                # zipfile sees another directory: cannot happen where _directory reads it
                raise Unreadable("压缩包已损坏（文件可能未完整上传）")
            return self._zf, info
        return self._zf, member

    def close(self) -> None:
        if self._zf is not None:
            self._zf.close()


def _data_span(raw: bytes, info) -> tuple[int, int] | None:
    """Where one member's compressed data lies in the file's bytes, when it is plainly stored or
    deflated and its local header agrees with the directory; None wherever anything is unusual."""
    ctype = info.compress_type
    if (
        info.flag_bits & _FLAGS_FOR_ZIPFILE
        or ctype not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        or info.file_size <= 0
    ):
        return None
    off = info.header_offset
    if off < 0 or off + _LOCAL_HEADER.size > len(raw):
        return None
    head = _LOCAL_HEADER.unpack_from(raw, off)
    if head[0] != ZIP_MAGIC:
        return None
    start = off + _LOCAL_HEADER.size
    if _decode_name(raw[start : start + head[10]], head[3]) != info.orig_filename:
        return None
    start += head[10] + head[11]
    end = start + info.compress_size
    limit = getattr(info, "_end_offset", None)  # newer zipfile refuses overlapping entries
    if end > len(raw) or (limit is not None and end > limit):
        return None
    if ctype == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        return None
    return start, end


def _read_plain(raw: bytes, info) -> bytes | None:
    """One member straight from the file's bytes, where it is plainly stored or deflated; None
    wherever anything is unusual (then zipfile reads it, and raises what it raises). What is
    returned is what zipfile would return: the same local header checks, never more than the
    declared size, and the CRC must match."""
    span = _data_span(raw, info)
    if span is None:
        return None
    start, end = span
    size = info.file_size
    if info.compress_type == zipfile.ZIP_STORED:
        data = raw[start:end]
    else:
        try:
            data = zlib.decompressobj(-15).decompress(memoryview(raw)[start:end], size)
        except zlib.error:
            return None
    if len(data) != size or zlib.crc32(data) != info.CRC:
        return None
    return data


def _read_member(archive: _Archive, info, budget: int) -> bytes:
    data = _read_plain(archive.raw, info) if info.file_size <= budget else None
    if data is not None:
        return data
    zf, zinfo = archive.zipinfo(info)
    try:
        return _read_capped(zf, zinfo, budget)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
            raise Unreadable("文件已加密") from exc
        raise Unreadable("压缩包已损坏（文件可能未完整上传）") from exc
    except NotImplementedError as exc:
        raise Unreadable("不支持的压缩方式") from exc


def _doctype(info) -> Unreadable:
    return Unreadable(f"XML部件{info.filename}含有DOCTYPE/实体声明，出于安全原因拒绝读取")


def _prolog_only(name: str, is_sheet: bool) -> bool:
    lname = name.lower()
    return not is_sheet and (lname in _PROLOG_ONLY_PARTS or lname.startswith(_PROLOG_ONLY_DIRS))


def _prolog_clean(raw: bytes, info, budget: int) -> bool:
    """The DOCTYPE check of a part no reader opens, on as little of it as will do: decompressed up
    to its root element's start tag (past the byte order mark, blanks, the XML declaration, comments
    and processing instructions, however long), the prolog searched as :func:`_check_part` searches
    the whole part. Raises :class:`Unreadable` for a DOCTYPE or entity declaration there; True when
    the prolog is clean (or the part is not XML at all); False where the caller must check the whole
    part as any other (the member is not plainly stored/deflated, is larger than the budget, its
    data ends early or goes on beyond its declared size, or no start tag follows its prolog)."""
    size = info.file_size
    if size > budget:
        return False
    span = _data_span(raw, info)
    if span is None:
        return False
    start, end = span
    lname = info.filename.lower()
    xml_name = lname.endswith((".xml", ".rels", ".vml"))
    stored = info.compress_type == zipfile.ZIP_STORED
    inflate = None if stored else zlib.decompressobj(-15)
    pending: bytes | memoryview = memoryview(raw)[start:end]
    head = b""
    want = _HEAD
    while True:
        # the first ``want`` bytes, and whether that is all of it (never more than size + 1)
        want = min(want, size + 1)
        if stored:
            head = raw[start : start + min(want, size)]
            whole = len(head) == size
        else:
            try:
                head += inflate.decompress(pending, want - len(head))
            except zlib.error:
                return False
            pending = inflate.unconsumed_tail
            whole = inflate.eof
            if len(head) > size or (whole and len(head) != size) or (not whole and len(head) < want):
                return False  # longer or shorter than declared, or the stream is cut: zipfile says
        if whole and zlib.crc32(head) != info.CRC:
            return False
        if not xml_name and not _looks_xml(head):
            return True  # images, vbaProject.bin, printer settings: calamine does not read them
        text = _xml_text(head)
        pos = _PROLOG.match(text).end()
        if _DTD.search(text, 0, pos) or _DTD.match(text, pos):
            raise _doctype(info)
        if pos + 1 < len(text) and text[pos] == 0x3C and text[pos + 1] in _NAME_START:
            return True  # the root element's start tag: no declaration can follow
        if whole:
            return False  # no start tag after the prolog: not the XML it claims, check it whole
        want *= 4


def _check_part(info, data: bytes, is_sheet: bool, limits: Limits) -> bytes | None:
    """The checks every XML part gets; returns its text for the worksheet checks (None: not XML)."""
    if not (is_sheet or info.filename.lower().endswith((".xml", ".rels", ".vml")) or _looks_xml(data)):
        return None  # images, vbaProject.bin, printer settings: calamine does not read them
    text = _xml_text(data)
    if _DTD.search(text):
        raise _doctype(info)
    if len(text) > limits.max_string_bytes and _long_text(text, limits.max_string_bytes):
        raise Unreadable(f"XML部件{info.filename}中有超长文本（超过{limits.max_string_bytes // 1024} KB）")
    sst = _SST_TAG.search(text, 0, 4096)
    if sst and any(int(n) > limits.max_cells for n in _COUNT.findall(sst.group(0))):
        raise Unreadable("共享字符串数量异常")
    return text


def _is_sheet(name: str, sheet_names: dict[str, str]) -> bool:
    return name in sheet_names or name.lower().startswith("xl/worksheets/")


def _check_cells(
    name: str, text: bytes, is_sheet: bool, sheet_names: dict[str, str], formulas: dict, limits: Limits
) -> None:
    if is_sheet or text.find(b"sheetData", 0, 65536) >= 0:
        _check_sheet(name, text, limits)
        cells = _formula_cells(text)
        if cells:
            formulas[sheet_names.get(name, name)] = cells


def check_zip(raw: bytes, limits: Limits) -> PreCheck:
    """``raw``: the whole file (at most Limits.max_file_bytes, see :func:`precheck`); each member is
    read from it."""
    archive = _Archive(raw)
    try:
        return _check_members(archive, limits)
    finally:
        archive.close()


def _check_members(archive: _Archive, limits: Limits) -> PreCheck:
    infos = archive.members
    by_name = {i.filename: i for i in infos}  # the last of a name, as zipfile's getinfo
    if "xl/workbook.xml" not in by_name:
        if "EncryptedPackage" in by_name:
            raise Unreadable("文件已加密")
        raise Unreadable("不是Excel工作簿（缺少xl/workbook.xml）")
    if len(infos) > 10_000:
        raise Unreadable("压缩包内文件数量异常")
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_uncompressed_bytes:
        raise Unreadable("解压后体积超出安全上限（疑似压缩炸弹）")
    for i in infos:
        if i.file_size > (1 << 20) and i.compress_size and i.file_size / i.compress_size > limits.max_ratio:
            raise Unreadable("压缩比异常（疑似压缩炸弹）")
    budget = limits.max_uncompressed_bytes
    formulas: dict[str, list[str]] = {}
    # Every member is decompressed once at most. workbook.xml and its relationships come first (the
    # members a reader opens by name: the last of that name): they name the worksheet parts, and
    # are only parsed after the checks every XML part gets (DOCTYPE first).
    sheet_names: dict[str, str] = {}
    first: list[tuple[object, bytes, bytes | None]] = []
    for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
        if name in by_name:
            info = by_name[name]
            data = _read_member(archive, info, budget)
            budget -= len(data)
            first.append((info, data, _check_part(info, data, False, limits)))
    if len(first) == 2:
        sheet_names = _sheet_names_by_part(first[0][1], first[1][1])
    for info, _, text in first:
        if text is not None:
            _check_cells(
                info.filename, text, _is_sheet(info.filename, sheet_names), sheet_names, formulas, limits
            )
    done = {id(info) for info, _, _ in first}
    del first
    for i in infos:
        if i.is_dir() or id(i) in done:
            continue
        is_sheet = _is_sheet(i.filename, sheet_names)
        if _prolog_only(i.filename, is_sheet) and _prolog_clean(archive.raw, i, budget):
            budget -= i.file_size  # what reading it whole takes off (read whole, its size is checked)
            continue
        data = _read_member(archive, i, budget)
        budget -= len(data)
        text = _check_part(i, data, is_sheet, limits)
        del data
        if text is not None:
            _check_cells(i.filename, text, is_sheet, sheet_names, formulas, limits)
    return PreCheck(kind="xlsx", formula_cells=formulas)


_FREE, _END = 0xFFFFFFFF, 0xFFFFFFFE


class _Cfb:
    """Just enough of the compound file format (MS-CFB) to list the streams and read one of them,
    with every chain bounded (a loop or an out-of-range sector is an error, never a hang)."""

    def __init__(self, data: bytes):
        if len(data) < 512:
            raise Unreadable("文件已损坏（复合文档头不完整）")
        shift, mini_shift = struct.unpack_from("<HH", data, 30)
        if shift not in (9, 12) or mini_shift != 6:
            raise Unreadable("文件已损坏（复合文档头无效）")
        self.data = data
        self.ssz = 1 << shift
        n_fat, self.dir_start = struct.unpack_from("<II", data, 44)
        self.mini_cutoff, self.minifat_start, n_minifat, difat_start, n_difat = struct.unpack_from(
            "<IIIII", data, 56
        )
        self.n_sectors = max(0, (len(data) - self.ssz) // self.ssz + 1)
        difat = list(struct.unpack_from("<109I", data, 76))
        sec, seen = difat_start, 0
        while sec not in (_END, _FREE) and seen < n_difat:
            block = self._sector(sec)
            vals = struct.unpack_from(f"<{self.ssz // 4}I", block)
            difat.extend(vals[:-1])
            sec, seen = vals[-1], seen + 1
        fat_secs = [x for x in difat[:n_fat] if x not in (_END, _FREE)]
        if len(fat_secs) > self.n_sectors:
            raise Unreadable("文件已损坏（复合文档分配表无效）")
        self.fat = [v for x in fat_secs for v in struct.unpack_from(f"<{self.ssz // 4}I", self._sector(x))]
        dir_bytes = self._chain(self.dir_start, self.fat, self._sector)
        self.entries = []
        for off in range(0, len(dir_bytes) - 127, 128):
            nlen = struct.unpack_from("<H", dir_bytes, off + 64)[0]
            typ = dir_bytes[off + 66]
            start, size = struct.unpack_from("<IQ", dir_bytes, off + 116)
            if shift == 9:
                size &= 0xFFFFFFFF
            name = dir_bytes[off : off + min(nlen, 64)].decode("utf-16-le", errors="replace").rstrip("\x00")
            self.entries.append((name, typ, start, size))

    def _sector(self, i: int) -> bytes:
        if i >= self.n_sectors:
            raise Unreadable("文件已损坏（扇区越界，文件可能未完整上传）")
        off = (i + 1) * self.ssz
        return self.data[off : off + self.ssz]

    def _chain(self, start: int, fat: list[int], read) -> bytes:
        out, sec, n = [], start, 0
        while sec not in (_END, _FREE):
            if sec >= len(fat) or n > len(fat):
                raise Unreadable("文件已损坏（复合文档扇区链无效）")
            out.append(read(sec))
            sec, n = fat[sec], n + 1
        return b"".join(out)

    def names(self) -> set[str]:
        return {e[0] for e in self.entries if e[1] in (1, 2)}

    def stream(self, name: str) -> bytes | None:
        for ename, typ, start, size in self.entries:
            if typ == 2 and ename.lower() == name.lower():
                if size >= self.mini_cutoff:
                    return self._chain(start, self.fat, self._sector)[:size]
                root = self.entries[0]
                ministream = self._chain(root[2], self.fat, self._sector)
                minifat_b = self._chain(self.minifat_start, self.fat, self._sector)
                minifat = list(struct.unpack_from(f"<{len(minifat_b) // 4}I", minifat_b))

                def mini(i: int, ministream: bytes = ministream) -> bytes:
                    return ministream[i * 64 : (i + 1) * 64]

                return self._chain(start, minifat, mini)[:size]
        return None


# BIFF8 records that hold one cell (row, col first), and the two that hold a run of cells.
_BIFF_CELLS = {0x0006, 0x0201, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x00D6, 0x0406}
_BIFF_MULTI = {0x00BD, 0x00BE}
_BIFF_BOF, _BIFF_FILEPASS, _BIFF_MERGED, _BIFF_SST = 0x0809, 0x002F, 0x00E5, 0x00FC


def _check_biff(stream: bytes, limits: Limits) -> None:
    """Extent and cell count of every sheet of a BIFF workbook stream, as calamine will size it."""
    pos, end = 0, len(stream)
    max_row = max_col = cells = merged = 0
    unpack = struct.unpack_from

    def sheet_done() -> None:
        if cells > limits.max_cells or (max_row + 1) * (max_col + 1) > limits.max_cells and cells:
            raise Unreadable(f"工作表范围过大（{max_row + 1}行×{max_col + 1}列）")

    while pos + 4 <= end:
        typ, ln = unpack("<HH", stream, pos)
        body = pos + 4
        pos = body + ln
        if typ in _BIFF_CELLS and ln >= 4:
            r, c = unpack("<HH", stream, body)
            cells += 1
            if r > max_row:
                max_row = r
            if c > max_col:
                max_col = c
        elif typ in _BIFF_MULTI and ln >= 6:
            r, c0 = unpack("<HH", stream, body)
            c1 = unpack("<H", stream, body + ln - 2)[0]
            cells += max(0, c1 - c0 + 1)
            max_row, max_col = max(max_row, r), max(max_col, c1)
        elif typ == _BIFF_BOF:
            sheet_done()
            max_row = max_col = cells = 0
        elif typ == _BIFF_FILEPASS:
            raise Unreadable("文件已加密")
        elif typ == _BIFF_SST and ln >= 8:
            total, unique = unpack("<II", stream, body)
            if unique > limits.max_cells or total > 16 * limits.max_cells:
                raise Unreadable("共享字符串数量异常")
        elif typ == _BIFF_MERGED and ln >= 2:
            n = unpack("<H", stream, body)[0]
            for k in range(min(n, (ln - 2) // 8)):
                r0, r1, c0, c1 = unpack("<HHHH", stream, body + 2 + 8 * k)
                merged += (abs(r1 - r0) + 1) * (abs(c1 - c0) + 1)
                if merged > limits.max_cells:
                    raise Unreadable("合并单元格范围过大")
    sheet_done()


def check_ole(data: bytes, ext: str, limits: Limits | None = None) -> PreCheck:
    limits = limits or Limits()
    try:
        cfb = _Cfb(data)
        names = cfb.names()
    except (struct.error, IndexError) as exc:
        raise Unreadable("文件已损坏（复合文档结构无效）") from exc
    if {"EncryptedPackage", "EncryptionInfo"} & names:
        raise Unreadable("文件已加密")
    if ext != ".xls":
        raise Unreadable("文件内容是旧版.xls格式，与扩展名不符")
    try:
        stream = cfb.stream("Workbook") or cfb.stream("Book")
    except (struct.error, IndexError) as exc:
        raise Unreadable("文件已损坏（复合文档结构无效）") from exc
    if stream is None:
        raise Unreadable("不是Excel工作簿（复合文档中没有Workbook流）")
    del data
    _check_biff(stream, limits)
    return PreCheck(kind="xls")


def read_bounded(path: Path, limits: Limits) -> bytes:
    """The file's bytes, read once (a file replaced meanwhile is read whole, old or new, never a
    mix of both); refused when empty or over the size limit."""
    with open(path, "rb") as fh:
        data = fh.read(limits.max_file_bytes + 1)
    if not data:
        raise Unreadable("文件为空")
    if len(data) > limits.max_file_bytes:
        raise Unreadable(f"文件过大（超过 {limits.max_file_bytes // (1 << 20)} MB）")
    return data


def precheck(path: Path, limits: Limits, data: bytes | None = None) -> PreCheck:
    """Raise :class:`Unreadable` with a clerk-readable reason, or say how to read the file.
    ``data``: the file's bytes when already read (:func:`read_bounded`)."""
    ext = Path(path).suffix.lower()
    if data is None:
        data = read_bounded(Path(path), limits)
    head = data[:8]
    if head.startswith(OLE_MAGIC):
        return check_ole(data, ext, limits)
    if head.startswith(ZIP_MAGIC):
        if ext == ".xls":
            raise Unreadable("文件内容是.xlsx格式，与扩展名.xls不符")
        return check_zip(data, limits)
    if head.startswith(b"%PDF"):
        raise Unreadable("文件是PDF，不是Excel工作簿")
    lowered = head.lower()
    if lowered.startswith((b"<", b"\xef\xbb\xbf<")):
        raise Unreadable("文件是网页/XML文本，不是Excel工作簿")
    raise Unreadable("文件内容不是Excel工作簿（可能是文本或其他格式改了扩展名）")
