"""safety.check_zip reads plainly stored/deflated members straight from the file's bytes instead
of through zipfile (ledgerflow/safety.py ``_read_plain``). Whatever it returns must be exactly what
zipfile returns, and wherever zipfile refuses a member it must step aside (return None), so that
the checks see the same bytes and the same errors as before: on every hostile file, the sample
county, and members whose sizes, CRC, names or flags were tampered with."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
from hostile_env import SAMPLE
from hostile_files import build_all

from ledgerflow.safety import _read_plain


def _zipfile_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    try:
        return zf.read(info)
    except Exception:  # noqa: BLE001 - any refusal: the fast path must refuse too
        return None


def _compare(path: Path) -> int:
    raw = path.read_bytes()
    try:
        zf = zipfile.ZipFile(path)
    except Exception:  # noqa: BLE001 - not a zip: nothing to compare
        return 0
    fast_reads = 0
    with zf:
        for info in zf.infolist():
            if info.is_dir() or info.file_size > 64 << 20:  # check_zip refuses these unread
                continue
            want = _zipfile_read(zf, info)
            got = _read_plain(raw, info)
            if got is not None:
                fast_reads += 1
                assert want is not None, (path.name, info.filename, "zipfile refuses it")
                assert got == want, (path.name, info.filename)
    return fast_reads


def _book(path: Path, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr("xl/workbook.xml", "<workbook>" + "x" * 3000 + "</workbook>")
        zf.writestr("xl/worksheets/sheet1.xml", "<worksheet><sheetData/></worksheet>")
    return path


def _central(raw: bytearray, index: int) -> int:
    pos = -1
    for _ in range(index + 1):
        pos = raw.index(b"PK\x01\x02", pos + 1)
    return pos


def _tamper(path: Path, how: str) -> Path:
    raw = bytearray(path.read_bytes())
    cd = _central(raw, 0)
    if how == "crc":
        struct.pack_into("<L", raw, cd + 16, (struct.unpack_from("<L", raw, cd + 16)[0] + 1) & 0xFFFFFFFF)
    elif how == "smaller":
        struct.pack_into("<L", raw, cd + 24, struct.unpack_from("<L", raw, cd + 24)[0] - 10)
    elif how == "larger":
        struct.pack_into("<L", raw, cd + 24, struct.unpack_from("<L", raw, cd + 24)[0] + 10)
    elif how == "csize":
        struct.pack_into("<L", raw, cd + 20, struct.unpack_from("<L", raw, cd + 20)[0] + 5)
    elif how == "encrypted":
        struct.pack_into("<H", raw, cd + 8, struct.unpack_from("<H", raw, cd + 8)[0] | 1)
    elif how == "name":
        raw[30 + 3] = ord("X")  # the first member's name in its local header
    elif how == "magic":
        raw[0:4] = b"PK\x05\x05"
    elif how == "junk":
        raw[60:80] = bytes(20)  # inside the first member's deflated data
    elif how == "offset":
        struct.pack_into("<L", raw, cd + 42, len(raw) + 100)
    path.write_bytes(bytes(raw))
    return path


TAMPER = ["crc", "smaller", "larger", "csize", "encrypted", "name", "magic", "junk", "offset"]


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
@pytest.mark.parametrize("how", TAMPER)
def test_a_tampered_member_reads_as_zipfile_reads_it(tmp_path, how, compression):
    path = _tamper(_book(tmp_path / f"{how}.xlsx", compression), how)
    _compare(path)


def test_plain_members_are_read_without_zipfile(tmp_path):
    for compression in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        assert _compare(_book(tmp_path / f"plain-{compression}.xlsx", compression)) == 2


def test_every_hostile_file_reads_as_zipfile_reads_it(tmp_path):
    build_all(tmp_path)
    for path in sorted(tmp_path.iterdir()):
        _compare(path)


def test_the_sample_county_reads_as_zipfile_reads_it():
    inbox = SAMPLE / "inbox"
    if not inbox.is_dir():
        pytest.skip(f"sample county not found at {SAMPLE}")
    fast = sum(_compare(p) for p in sorted(inbox.rglob("*")) if p.is_file())
    assert fast > 0
