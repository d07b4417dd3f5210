"""Cheap checks before a workbook is parsed (ledger.md §9 E_FILE_UNREADABLE).

python-calamine aborts the whole process on some malformed files, a zip bomb costs every reader
gigabytes, and XML parts may carry DOCTYPE/entity tricks. These checks look at the bytes first:
the container type against the extension, encryption, declared and actual uncompressed sizes,
compression ratio, DOCTYPE in any XML part, the cell grid's extent and sharedStrings' counts.
While the sheet XML is in hand it also finds formula cells without a computed value (W_FORMULA).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from defusedxml import ElementTree as SafeET

from ledgerflow.settings import Limits

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 1 << 20

_CELL_REF = re.compile(rb'<c\b[^>]*?\br="([A-Z]{1,4})(\d{1,8})"')
_ROW_REF = re.compile(rb'<row\b[^>]*?\br="(\d{1,8})"')
_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_R_ATTR = re.compile(rb'\br="([A-Z]{1,4}\d{1,8})"')
_HAS_V = re.compile(rb"<v>\s*[^<\s][^<]*</v>", re.S)
_INLINE_T = re.compile(rb"<t[^>]*>[^<]+</t>", re.S)
_COUNT = re.compile(rb'\b(?:uniqueCount|count)="(\d+)"')
_DTD = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


class Unreadable(Exception):
    """The file is not a readable workbook; ``str(e)`` is a Chinese reason for the clerk."""


@dataclass
class PreCheck:
    kind: str  # "xlsx" | "xls"
    formula_cells: dict[str, list[str]] = field(default_factory=dict)  # sheet name -> ["G11", ...]


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


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


def _sheet_names_by_part(zf: zipfile.ZipFile, names: set[str]) -> dict[str, str]:
    """xl/worksheets/sheetN.xml -> sheet name, from workbook.xml and its relationships."""
    if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
        return {}
    try:
        wb = SafeET.fromstring(zf.read("xl/workbook.xml"))
        rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except Exception as exc:  # defusedxml raises on DTDs/entities, ParseError on junk
        raise Unreadable(f"工作簿结构无法解析（{type(exc).__name__}）") from exc
    targets = {}
    for rel in rels.iter(f"{NS_PKG_REL}Relationship"):
        target = rel.get("Target", "")
        target = target.lstrip("/")
        if not target.startswith("xl/"):
            target = "xl/" + target
        targets[rel.get("Id")] = target
    out = {}
    for sheet in wb.iter(f"{NS_MAIN}sheet"):
        rid = sheet.get(f"{NS_REL}id")
        if rid in targets:
            out[targets[rid]] = sheet.get("name", "")
    return out


def _formula_cells(xml: bytes) -> list[str]:
    if b"<f" not in xml:
        return []
    found = []
    for m in _CELL.finditer(xml):
        body = m.group(2) or b""
        if b"<f" not in body:
            continue
        if _HAS_V.search(body) or _INLINE_T.search(body):
            continue
        ref = _R_ATTR.search(m.group(1))
        if ref:
            found.append(ref.group(1).decode())
    return found


def check_zip(path: Path, limits: Limits) -> PreCheck:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Unreadable("压缩包已损坏（文件可能未完整上传）") from exc
    with zf:
        infos = zf.infolist()
        names = {i.filename for i in infos}
        if "xl/workbook.xml" not in names:
            if "EncryptedPackage" in names:
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
        sheet_names = _sheet_names_by_part(zf, names)
        budget = limits.max_uncompressed_bytes
        formulas: dict[str, list[str]] = {}
        for i in infos:
            if not i.filename.endswith((".xml", ".rels", ".vml")):
                continue
            try:
                data = _read_capped(zf, i, budget)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
                if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
                    raise Unreadable("文件已加密") from exc
                raise Unreadable("压缩包已损坏（文件可能未完整上传）") from exc
            except NotImplementedError as exc:
                raise Unreadable("不支持的压缩方式") from exc
            budget -= len(data)
            head = data[:4096]
            if any(marker in head for marker in _DTD) or b"<!ENTITY" in data or b"<!DOCTYPE" in data:
                raise Unreadable(f"XML部件{i.filename}含有DOCTYPE/实体声明，出于安全原因拒绝读取")
            if i.filename == "xl/sharedStrings.xml":
                m = _COUNT.search(head)
                if m and int(m.group(1)) > limits.max_cells:
                    raise Unreadable("共享字符串数量异常")
            elif i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml"):
                max_row = max((int(x) for x in _ROW_REF.findall(data)), default=0)
                max_col = 0
                for letters, row in _CELL_REF.findall(data):
                    max_col = max(max_col, _col_number(letters))
                    max_row = max(max_row, int(row))
                if max_row > 1_048_576 or max_col > 16_384:
                    raise Unreadable("单元格位置超出Excel范围")
                if max_row * max(max_col, 1) > limits.max_cells:
                    raise Unreadable(f"工作表范围过大（{max_row}行×{max_col}列）")
                cells = _formula_cells(data)
                if cells:
                    formulas[sheet_names.get(i.filename, i.filename)] = cells
    return PreCheck(kind="xlsx", formula_cells=formulas)


def check_ole(path: Path, ext: str) -> PreCheck:
    with open(path, "rb") as fh:
        data = fh.read(1 << 16)
    if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
        raise Unreadable("文件已加密")
    if ext != ".xls":
        raise Unreadable("文件内容是旧版.xls格式，与扩展名不符")
    return PreCheck(kind="xls")


def precheck(path: Path, limits: Limits) -> PreCheck:
    """Raise :class:`Unreadable` with a clerk-readable reason, or say how to read the file."""
    ext = path.suffix.lower()
    size = path.stat().st_size
    if size == 0:
        raise Unreadable("文件为空")
    if size > limits.max_file_bytes:
        raise Unreadable(f"文件过大（{size // (1 << 20)} MB）")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(OLE_MAGIC):
        return check_ole(path, ext)
    if head.startswith(ZIP_MAGIC):
        if ext == ".xls":
            raise Unreadable("文件内容是.xlsx格式，与扩展名.xls不符")
        return check_zip(path, limits)
    if head.startswith(b"%PDF"):
        raise Unreadable("文件是PDF，不是Excel工作簿")
    lowered = head.lower()
    if lowered.startswith((b"<", b"\xef\xbb\xbf<")):
        raise Unreadable("文件是网页/XML文本，不是Excel工作簿")
    raise Unreadable("文件内容不是Excel工作簿（可能是文本或其他格式改了扩展名）")
