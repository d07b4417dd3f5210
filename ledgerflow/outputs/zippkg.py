"""A zip package (an .xlsx/.xlsm) read part by part and written back with every part that was not
replaced copied byte for byte: its local header, compressed data and data descriptor as they were
in the original, and its central directory record with only the offset changed.

Only what the feedback markup needs: deflated or stored members, no encryption, no ZIP64 (the
parse pre-check keeps workbooks far below 4 GB), no multi-disk archives. Anything else raises
:class:`PackageError`, and the caller falls back to another kind of feedback.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

__all__ = ["Member", "Package", "PackageError"]

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_CDH = b"PK\x01\x02"
_LFH = b"PK\x03\x04"
_DESCRIPTOR = b"PK\x07\x08"
_CD_FIXED = struct.Struct("<4s6H3L5H2L")  # 46 bytes
_LFH_FIXED = struct.Struct("<4s5H3L2H")  # 30 bytes
_EOCD_FIXED = struct.Struct("<4s4H2LH")  # 22 bytes

#: A part larger than this, uncompressed, is not read (the pre-check allows far less).
MAX_PART = 256 * 1024 * 1024


class PackageError(Exception):
    """The zip cannot be handled here (damaged, encrypted, ZIP64, …)."""


@dataclass(frozen=True)
class Member:
    name: str  # as decoded (UTF-8 when flagged, else cp437, like zipfile)
    raw_name: bytes
    flags: int
    method: int
    dostime: bytes  # 4 bytes: time and date, as stored
    crc: int
    csize: int
    usize: int
    start: int  # the local header
    data: int  # the compressed data
    end: int  # after the data and its descriptor
    cd: bytes  # the central directory record


class Package:
    """The members of a zip held in ``data`` (bytes), in central-directory order."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.members: list[Member] = []
        self._by_name: dict[str, Member] = {}
        n = len(data)
        pos = data.rfind(_EOCD, max(0, n - 22 - 65535))
        if pos < 0 or pos + 22 > n:
            raise PackageError("no end of central directory")
        _, disk, cd_disk, count_disk, count, cd_size, cd_off, comment_len = _EOCD_FIXED.unpack_from(data, pos)
        if disk or cd_disk or count_disk != count:
            raise PackageError("multi-disk archive")
        if count == 0xFFFF or cd_off == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
            raise PackageError("ZIP64 archive")
        if pos >= 20 and data[pos - 20 : pos - 16] == _EOCD64_LOCATOR:
            raise PackageError("ZIP64 archive")
        if cd_off + cd_size > pos:
            raise PackageError("central directory out of range")
        self.comment = data[pos + 22 : pos + 22 + comment_len]
        p = cd_off
        spans: list[tuple[int, int]] = []
        for _ in range(count):
            if data[p : p + 4] != _CDH:
                raise PackageError("bad central directory record")
            (
                _sig,
                _made,
                _need,
                flags,
                method,
                _t,
                _d,
                crc,
                csize,
                usize,
                nlen,
                xlen,
                klen,
                _disk,
                _iattr,
                _eattr,
                off,
            ) = _CD_FIXED.unpack_from(data, p)
            rec_end = p + 46 + nlen + xlen + klen
            if rec_end > cd_off + cd_size:
                raise PackageError("central directory record out of range")
            raw_name = data[p + 46 : p + 46 + nlen]
            cd = data[p:rec_end]
            p = rec_end
            if flags & 0x1:
                raise PackageError("encrypted member")
            if method not in (0, 8):
                raise PackageError(f"compression method {method}")
            if off + 30 > cd_off or data[off : off + 4] != _LFH:
                raise PackageError("bad local header")
            lnlen, lxlen = struct.unpack_from("<HH", data, off + 26)
            start_data = off + 30 + lnlen + lxlen
            end = start_data + csize
            if flags & 0x8:
                end += 16 if data[end : end + 4] == _DESCRIPTOR else 12
            if end > cd_off:
                raise PackageError("member out of range")
            name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
            m = Member(name, raw_name, flags, method, cd[12:16], crc, csize, usize, off, start_data, end, cd)
            key = name.lower()
            if key in self._by_name:
                raise PackageError(f"duplicate member {name!r}")
            self._by_name[key] = m
            self.members.append(m)
            spans.append((off, end))
        spans.sort()
        for (_a, b), (c, _d) in zip(spans, spans[1:], strict=False):
            if c < b:
                raise PackageError("overlapping members")

    def get(self, name: str) -> Member | None:
        """The member of that part name (without a leading ``/``; compared without case, as OPC does)."""
        return self._by_name.get(name.lstrip("/").lower())

    def names(self) -> list[str]:
        return [m.name for m in self.members]

    def read(self, name: str | Member, limit: int = MAX_PART) -> bytes:
        m = name if isinstance(name, Member) else self.get(name)
        if m is None:
            raise KeyError(name)
        if m.usize > limit:
            raise PackageError(f"{m.name}: too large")
        raw = self.data[m.data : m.data + m.csize]
        if m.method == 0:
            out = bytes(raw)
        else:
            d = zlib.decompressobj(-15)
            try:
                out = d.decompress(raw, limit + 1)
            except zlib.error as exc:
                raise PackageError(f"{m.name}: {exc}") from None
        if len(out) != m.usize or zlib.crc32(out) != m.crc:
            raise PackageError(f"{m.name}: size or CRC mismatch")
        return out

    def write(self, replace: dict[str, bytes], add: list[tuple[str, bytes]]) -> bytes:
        """The package with the parts named in ``replace`` (lower-case names) given new contents and
        the parts of ``add`` appended; every other member copied byte for byte."""
        out = bytearray()
        cds: list[bytes] = []
        data = self.data
        stamp = self.members[0].dostime if self.members else b"\x00\x00\x21\x00"
        for m in self.members:
            off = len(out)
            new = replace.get(m.name.lower())
            if new is None:
                out += data[m.start : m.end]
                cd = bytearray(m.cd)
                cd[42:46] = struct.pack("<L", off)
                cds.append(bytes(cd))
            else:
                local, cd = _entry(m.raw_name, new, off, m.dostime, m.flags & 0x800)
                out += local
                cds.append(cd)
        for name, content in add:
            raw = name.encode("utf-8")
            local, cd = _entry(raw, content, len(out), stamp, 0 if raw.isascii() else 0x800)
            out += local
            cds.append(cd)
        cd_off = len(out)
        for cd in cds:
            out += cd
        n = len(cds)
        if n > 0xFFFE or len(out) > 0xFFFFFFFE:
            raise PackageError("package too large for a plain zip")
        out += _EOCD_FIXED.pack(_EOCD, 0, 0, n, n, len(out) - cd_off, cd_off, len(self.comment))
        out += self.comment
        return bytes(out)


def _entry(raw_name: bytes, content: bytes, offset: int, dostime: bytes, utf8: int) -> tuple[bytes, bytes]:
    """A new deflated member: (local header + data, central directory record)."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    comp = c.compress(content) + c.flush()
    crc = zlib.crc32(content)
    t, d = struct.unpack("<HH", dostime)
    local = _LFH_FIXED.pack(_LFH, 20, utf8, 8, t, d, crc, len(comp), len(content), len(raw_name), 0)
    cd = _CD_FIXED.pack(
        _CDH, 20, 20, utf8, 8, t, d, crc, len(comp), len(content), len(raw_name), 0, 0, 0, 0, 0, offset
    )
    return local + raw_name + comp, cd + raw_name
