"""The pre-check's cheaper paths (ledgerflow/safety.py), each on real workbook bytes:

* the parts no reader opens (docProps, the theme, drawings, media, [Content_Types].xml) are
  decompressed only as far as their prolog: a DOCTYPE or entity declaration anywhere in it
  (after comments and processing instructions, beyond the first chunk decompressed, in UTF-16, behind
  a byte order mark) is refused as before; the parts calamine reads get the whole check still;
* the central directory is read without zipfile where the archive is plain, and gives what zipfile
  gives (anything unusual goes through zipfile);
* a sheet's extent is bounded first (A1:Z9999 and the part's length) and counted only beyond that:
  the reasons name the same rows and columns;
* W_FORMULA looks only where a formula can be, and finds the same cells.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
from pathlib import Path

import pytest
from hostile_env import SAMPLE
from hostile_files import (
    BILLION_LAUGHS,
    XML_DECL,
    XXE,
    Member,
    base_book,
    build_all,
    repeated_deflate,
    write_zip,
)

from ledgerflow import safety
from ledgerflow.settings import Limits

LIMITS = Limits()
DRAWING_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"

THEME = (
    XML_DECL
    + f'<a:theme xmlns:a="{DRAWING_NS}" name="Office Theme"><a:themeElements><a:clrScheme name="Office">'
    + "".join(
        f'<a:accent{i % 6 + 1}><a:srgbClr val="{i * 99991 % 0xFFFFFF:06X}"/></a:accent{i % 6 + 1}>'
        for i in range(160)
    )
    + "</a:clrScheme></a:themeElements></a:theme>"
).encode()
APP = (
    XML_DECL
    + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity></Properties>"
).encode()
CORE = (
    XML_DECL
    + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>县委办</dc:creator></cp:coreProperties>'
).encode()
DRAWING = (
    XML_DECL + '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"/>'
).encode()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40

# parts no reader of ours opens: only their prolog is checked
UNREAD = ["docProps/app.xml", "docProps/core.xml", "xl/theme/theme1.xml", "xl/drawings/drawing1.xml"]
UNREAD_ALL = [*UNREAD, "[Content_Types].xml"]
# parts calamine (or our own expat) reads: checked whole
READ = [
    "_rels/.rels",
    "xl/workbook.xml",
    "xl/_rels/workbook.xml.rels",
    "xl/sharedStrings.xml",
    "xl/styles.xml",
]
SHEET = "xl/worksheets/sheet2.xml"


def book_parts() -> dict[str, bytes]:
    parts = base_book().parts()
    parts.update(
        {
            "docProps/app.xml": APP,
            "docProps/core.xml": CORE,
            "xl/theme/theme1.xml": THEME,
            "xl/drawings/drawing1.xml": DRAWING,
            "xl/media/image1.png": PNG,
        }
    )
    return parts


def xlsx(parts: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return out.getvalue()


def verdict(data: bytes, limits: Limits = LIMITS) -> str | safety.PreCheck:
    try:
        return safety.precheck(Path("book.xlsx"), limits, data)
    except safety.Unreadable as exc:
        return str(exc)


def doctype_reason(part: str) -> str:
    return f"XML部件{part}含有DOCTYPE/实体声明，出于安全原因拒绝读取"


def split_prolog(xml: bytes) -> tuple[bytes, bytes]:
    """(XML declaration, the rest) of a part built here."""
    decl = XML_DECL.encode()
    assert xml.startswith(decl), xml[:80]
    return decl, xml[len(decl) :]


def _calamine_reads(parts: dict[str, bytes]) -> bool:
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(xlsx(parts)))
        rows = [wb.get_sheet_by_name(n).to_python() for n in wb.sheet_names]
    except BaseException:  # noqa: BLE001 - CalamineError, a Rust panic: it did not read the book
        return False
    return rows[1][1][2] == "学习动员"


GARBAGE = b"<<<not xml & </x></y> \x00\xff"


@pytest.mark.parametrize(
    "part",
    [
        *UNREAD_ALL,
        "docProps/custom.xml",
        "xl/drawings/vmlDrawing1.vml",
        "xl/drawings/_rels/drawing1.xml.rels",
        "xl/media/image1.png",
        "xl/calcChain.xml",
        "xl/vbaProject.bin",
        "xl/printerSettings/printerSettings1.bin",
        "xl/embeddings/oleObject1.bin",
        "customXml/item1.xml",
    ],
)
def test_calamine_leaves_alone_the_parts_checked_only_to_their_prolog(part):
    """Garbage in such a part, and calamine reads the book all the same: it does not parse it (if a
    newer calamine does, the part must leave safety._PROLOG_ONLY_*)."""
    assert safety._prolog_only(part, False)
    parts = book_parts()
    parts[part] = GARBAGE
    assert _calamine_reads(parts)


@pytest.mark.parametrize("part", READ)
def test_calamine_parses_the_parts_checked_whole(part):
    """The control: garbage in a part calamine reads, and it cannot read the book."""
    assert not safety._prolog_only(part, False)
    assert _calamine_reads(book_parts())
    parts = book_parts()
    parts[part] = GARBAGE
    assert not _calamine_reads(parts)


COMPRESSIONS = pytest.mark.parametrize(
    "compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED], ids=["deflated", "stored"]
)


@COMPRESSIONS
def test_the_book_with_its_unread_parts_is_readable(compression):
    r = verdict(xlsx(book_parts(), compression))
    assert isinstance(r, safety.PreCheck) and r.kind == "xlsx" and r.formula_cells == {}, r


def _prologs() -> dict[str, object]:
    dt = XXE.encode()
    laughs = BILLION_LAUGHS.encode()
    return {
        "after_declaration": lambda d, rest: d + dt + rest,
        "no_declaration": lambda d, rest: laughs + rest,
        "after_comments_and_pis": lambda d, rest: (
            d + b"<!-- <fake-root> --><?mso-application progid='Excel.Sheet'?>\r\n<!--x-->\t" + dt + rest
        ),
        "beyond_first_chunk": lambda d, rest: d + b"<!--" + b"c" * 5000 + b"-->" + laughs + rest,
        "far_beyond_first_chunk": lambda d, rest: (
            d + b"<!--" + b"<a>text</a>" * 40_000 + b"-->\n<?pi?>\n" + laughs + rest
        ),
        "many_blanks": lambda d, rest: d + b" \r\n\t" * 3000 + dt + rest,
        "utf8_bom": lambda d, rest: b"\xef\xbb\xbf" + d + dt + rest,
        "inside_a_comment": lambda d, rest: d + b"<!-- " + dt + b" -->" + rest,
        "lower_case_entity": lambda d, rest: d + b'<!entity x "y">' + rest,
        "spaced": lambda d, rest: d + b"<!  \n DOCTYPE x>" + rest,
    }


PROLOGS = _prologs()


@COMPRESSIONS
@pytest.mark.parametrize("how", list(PROLOGS))
@pytest.mark.parametrize("part", UNREAD_ALL)
def test_a_declaration_in_the_prolog_of_an_unread_part_is_refused(part, how, compression):
    parts = book_parts()
    decl, rest = split_prolog(parts[part])
    parts[part] = PROLOGS[how](decl, rest)
    assert verdict(xlsx(parts, compression)) == doctype_reason(part)


def _utf16(xml: bytes, enc: str, bom: bytes) -> bytes:
    text = xml.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    return bom + text.encode(enc)


@COMPRESSIONS
@pytest.mark.parametrize(
    "enc,bom",
    [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-16-le", b"")],
    ids=["le", "be", "le-no-bom"],
)
@pytest.mark.parametrize("where", ["after_declaration", "beyond_first_chunk"])
@pytest.mark.parametrize("part", ["docProps/app.xml", "xl/theme/theme1.xml", "[Content_Types].xml"])
def test_a_declaration_in_a_utf16_unread_part_is_refused(part, where, enc, bom, compression):
    parts = book_parts()
    decl, rest = split_prolog(parts[part])
    parts[part] = _utf16(PROLOGS[where](decl, rest), enc, bom)
    assert verdict(xlsx(parts, compression)) == doctype_reason(part)


@pytest.mark.parametrize("part", UNREAD_ALL)
def test_a_clean_utf16_unread_part_is_readable(part):
    parts = book_parts()
    parts[part] = _utf16(parts[part], "utf-16-le", b"\xff\xfe")
    assert isinstance(verdict(xlsx(parts)), safety.PreCheck)


@pytest.mark.parametrize("part", UNREAD)
def test_an_unread_part_without_a_plain_prolog_is_checked_whole(part):
    """Text before the root element, an unfinished comment: not the XML it claims; the whole part
    is searched as every part was (a declaration far inside is found)."""
    parts = book_parts()
    decl, rest = split_prolog(parts[part])
    for junk in (b"junk" + b" " * 3000, b"<!-- never closed " + b"x" * 3000, b"<![CDATA[x]]>", b"</x>"):
        parts[part] = decl + junk + rest[:-1] + b"x" * 5000 + XXE.encode()
        assert verdict(xlsx(parts)) == doctype_reason(part), junk[:20]
        parts[part] = decl + junk + rest
        assert isinstance(verdict(xlsx(parts)), safety.PreCheck), junk[:20]


@pytest.mark.parametrize("part", UNREAD)
def test_a_declaration_after_the_root_of_an_unread_part_is_no_declaration(part):
    """After the root element's start tag a DOCTYPE is no declaration (expat refuses the part as
    not well-formed; calamine does not open these parts): the part is not read that far."""
    parts = book_parts()
    xml = parts[part]
    cut = xml.index(b">", len(XML_DECL)) + 1
    parts[part] = xml[:cut] + XXE.encode() + xml[cut:]
    assert isinstance(verdict(xlsx(parts)), safety.PreCheck)


@pytest.mark.parametrize("part", [*READ, SHEET])
def test_a_declaration_anywhere_in_a_part_calamine_reads_is_refused(part):
    parts = book_parts()
    xml = parts[part]
    cut = xml.rindex(b"</")  # right before the root's end tag
    parts[part] = xml[:cut] + b"<!--" + b"y" * 5000 + b"-->" + XXE.encode() + xml[cut:]
    assert verdict(xlsx(parts)) == doctype_reason(part)


def test_an_unread_name_that_a_sheet_relationship_points_at_is_checked_whole():
    parts = book_parts()
    rels = parts["xl/_rels/workbook.xml.rels"].replace(b"worksheets/sheet2.xml", b"/xl/theme/theme1.xml")
    parts["xl/_rels/workbook.xml.rels"] = rels
    theme = parts["xl/theme/theme1.xml"]
    cut = theme.rindex(b"</")
    parts["xl/theme/theme1.xml"] = theme[:cut] + XXE.encode() + theme[cut:]
    assert verdict(xlsx(parts)) == doctype_reason("xl/theme/theme1.xml")


def test_a_lying_bomb_nobody_reads_is_not_decompressed(tmp_path):
    """A theme that inflates to half a GiB while both its headers say 4 KiB: the directory's sizes
    pass, nobody opens the part, and the pre-check only inflates its prolog (a reader of the part
    would have the child's memory cap to meet). The parts calamine reads are still inflated whole
    (the hostile files' bombs in sheets and sharedStrings)."""
    members = [
        Member(name, data=data) for name, data in book_parts().items() if name != "xl/theme/theme1.xml"
    ]
    stream, crc, size = repeated_deflate(b"<a:x/>" * (1 << 17), 2048 // 3, THEME[:200], b"</a:theme>")
    assert size > 500 << 20
    members.append(
        Member("xl/theme/theme1.xml", raw=stream, crc=crc, size=size, local_size=4096, central_size=4096)
    )
    write_zip(tmp_path / "bomb.xlsx", members)
    data = (tmp_path / "bomb.xlsx").read_bytes()
    t0 = time.perf_counter()
    r = verdict(data)
    assert time.perf_counter() - t0 < 2.0
    assert isinstance(r, safety.PreCheck), r


# ---- the central directory ------------------------------------------------------------------------

ATTRS = (
    "filename",
    "orig_filename",
    "flag_bits",
    "compress_type",
    "CRC",
    "compress_size",
    "file_size",
    "header_offset",
)


def _same_as_zipfile(raw: bytes) -> bool:
    """_directory gives what zipfile gives, or steps aside (None). True where it read it itself."""
    mine = safety._directory(raw)
    if mine is None:
        return False
    infos = zipfile.ZipFile(io.BytesIO(raw)).infolist()
    assert [[getattr(m, a) for a in ATTRS] for m in mine] == [[getattr(i, a) for a in ATTRS] for i in infos]
    assert [m.index for m in mine] == list(range(len(infos)))
    return True


@COMPRESSIONS
def test_the_directory_of_a_plain_archive_is_read_as_zipfile_reads_it(compression):
    assert _same_as_zipfile(xlsx(book_parts(), compression))


def test_the_directory_of_every_hostile_file_is_read_as_zipfile_reads_it(tmp_path):
    build_all(tmp_path)
    for path in sorted(tmp_path.iterdir()):
        raw = path.read_bytes()
        try:
            zipfile.ZipFile(io.BytesIO(raw))
        except Exception:  # noqa: BLE001 - zipfile refuses it: so must _directory
            assert safety._directory(raw) is None, path.name
            continue
        _same_as_zipfile(raw)


def test_the_directory_of_the_sample_county_is_read_as_zipfile_reads_it():
    inbox = SAMPLE / "inbox"
    if not inbox.is_dir():
        pytest.skip(f"sample county not found at {SAMPLE}")
    read = 0
    for path in sorted(inbox.rglob("*.xls*")):
        raw = path.read_bytes()
        if raw[:4] == b"PK\x03\x04":
            read += _same_as_zipfile(raw)
    assert read > 0


def _unusual() -> dict[str, bytes]:
    plain = xlsx(book_parts())
    out = {"prepended": b"MZ" + b"\x00" * 100 + plain}  # offsets shift: zipfile's "concat"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in book_parts().items():
            zf.writestr(name, data)
        zf.comment = b"an archive comment"
    out["comment"] = buf.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in book_parts().items():
            info = zipfile.ZipInfo(name, (2023, 9, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.extra = struct.pack("<HHBl", 0x5455, 5, 1, 1693526400)  # extended timestamp
            zf.writestr(info, data)
    out["extra_fields"] = buf.getvalue()
    raw = bytearray(plain)
    cd = raw.index(b"PK\x01\x02")
    struct.pack_into("<B", raw, cd + 6, 64)  # version needed to extract 6.4: zipfile refuses
    out["version"] = bytes(raw)
    raw = bytearray(plain)
    raw[-22 - 20 : -22] = b"PK\x06\x07" + bytes(16)  # looks like a ZIP64 locator before the end record
    out["zip64_locator"] = bytes(raw)
    return out


def _zip_verdict(raw: bytes) -> str:
    try:
        r = safety.check_zip(raw, LIMITS)
    except safety.Unreadable as exc:
        return str(exc)
    except NotImplementedError as exc:  # zipfile's own, as before
        return f"NotImplementedError: {exc}"
    return f"{r.kind} {sorted(r.formula_cells.items())}"


UNUSUAL = {
    "prepended": "xlsx []",
    "comment": "xlsx []",
    "extra_fields": "xlsx []",
    "version": "NotImplementedError: zip file version 6.4",
    "zip64_locator": "压缩包已损坏（文件可能未完整上传）",  # the locator overwrote the directory's end
}


@pytest.mark.parametrize("how", list(UNUSUAL))
def test_an_unusual_directory_is_left_to_zipfile(how):
    raw = _unusual()[how]
    assert safety._directory(raw) is None
    assert _zip_verdict(raw) == UNUSUAL[how]


def test_the_verdicts_are_those_of_zipfile_s_directory(tmp_path, monkeypatch):
    """Every hostile file and the book's variants: the same verdict whether the directory is read
    here or by zipfile."""
    build_all(tmp_path)
    samples = [p.read_bytes() for p in sorted(tmp_path.iterdir())]
    samples += [xlsx(book_parts(), c) for c in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED)]
    samples += list(_unusual().values())
    samples = [raw for raw in samples if raw[:2] == b"PK"]
    fast = [_zip_verdict(raw) for raw in samples]
    monkeypatch.setattr(safety, "_directory", lambda raw: None)
    assert [_zip_verdict(raw) for raw in samples] == fast


# ---- the extent ---------------------------------------------------------------------------------


def _sheet_with(cells: str, limits: Limits = LIMITS):
    parts = book_parts()
    parts[SHEET] = parts[SHEET].replace(b"</sheetData>", cells.encode() + b"</sheetData>")
    return verdict(xlsx(parts), limits)


@pytest.mark.parametrize(
    "cells,limits,want",
    [
        # within A1:Z9999, so bounded without counting: readable, and exactly counted under a small cap
        ('<row r="9999"><c r="Z9999"><v>1</v></c></row>', LIMITS, None),
        (
            '<row r="9999"><c r="Z9999"><v>1</v></c></row>',
            Limits(max_cells=1000),
            "工作表范围过大（9999行×26列）",
        ),
        # beyond the bound: counted exactly
        ('<row r="10000"><c r="A10000"/><c r="AA1"/></row>', LIMITS, None),
        ('<row r="20000"><c r="A20000"/><c r="AZ1"/></row>', LIMITS, "工作表范围过大（20000行×52列）"),
        ("<row r = '20000'><c r = 'ab20000'/></row>", LIMITS, "工作表范围过大（20000行×28列）"),
        ('<row r="1"><c\tr="ZZ00000000001"/></row>', Limits(max_cells=100), "工作表范围过大（3行×702列）"),
        ('<row r="000001"><c r="A0000001"><v>1</v></c></row>', LIMITS, None),
        ('<row r="1048577"><c r="A1048577"/></row>', LIMITS, "单元格位置超出Excel范围"),
        ('<row r="1"><c r="XFE1"/></row>', LIMITS, "单元格位置超出Excel范围"),
        # rows without r=: the length bound is too high for this part, so the tags are counted
        ("<row><c><v>1</v></c></row>" * 30_000, LIMITS, None),
        ("<row><c><v>1</v></c></row>" * 30_000, Limits(max_cells=20_000), "工作表范围过大（30002行×4列）"),
    ],
)
def test_the_extent_names_the_same_rows_and_columns(cells, limits, want):
    r = _sheet_with(cells, limits)
    if want is None:
        assert isinstance(r, safety.PreCheck), r
    else:
        assert r == want


# ---- W_FORMULA ------------------------------------------------------------------------------------


def _formulas(sheet_xml_edit) -> dict[str, list[str]]:
    parts = book_parts()
    parts[SHEET] = sheet_xml_edit(parts[SHEET])
    r = verdict(xlsx(parts))
    assert isinstance(r, safety.PreCheck), r
    return r.formula_cells


def test_formula_cells_without_a_value_are_found():
    def edit(xml: bytes) -> bytes:
        return xml.replace(
            b"</sheetData>",
            b'<row r="3"><c r="A3"><f>SUM(1,2)</f></c><c r="B3"><f>1+1</f><v>2</v></c>'
            b'<c r="C3" t="str"><f>"x"</f><v>x</v></c><c r="D3"><f t="shared" si="0"/></c></row></sheetData>'
            b'<dataValidations count="1"><dataValidation type="whole" sqref="E3"><formula1>1</formula1>'
            b"</dataValidation></dataValidations>",
        )

    assert _formulas(edit) == {"会议": ["A3", "D3"]}


def test_a_data_validation_formula_is_no_formula_cell():
    def edit(xml: bytes) -> bytes:
        return xml.replace(
            b"</sheetData>",
            b'</sheetData><dataValidations count="1"><dataValidation type="list" sqref="B2">'
            b'<formula1>"a,b"</formula1></dataValidation></dataValidations>',
        )

    assert _formulas(edit) == {}


def test_a_formula_in_the_last_cell_is_found():
    def edit(xml: bytes) -> bytes:
        return xml.replace(b"</row></sheetData>", b'<c r="Z2"><f>NOW()</f></c></row></sheetData>')

    assert _formulas(edit) == {"会议": ["Z2"]}


def test_openpyxl_formulas_are_found(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "会议"
    ws.append(["会议日期", "参会人数"])
    ws.append(["2023-09-01", 12])
    ws.append(["合计", "=SUM(B2:B2)"])
    ws.merge_cells("C1:D1")
    path = tmp_path / "f.xlsx"
    wb.save(path)
    r = safety.precheck(path, LIMITS)
    assert r.formula_cells == {"会议": ["B3"]}
