"""A real, minimal ``vbaProject.bin`` for test workbooks: one standard module with one macro.

Neither openpyxl nor xlsxwriter can make a VBA project, and no package ships one, so this writes
it from the specifications: an OLE compound file (MS-CFB, version 3, 512-byte sectors, every
stream in the mini stream) holding the streams of MS-OVBA — ``PROJECT``, ``PROJECTwm``,
``VBA/_VBA_PROJECT`` (version 0xFFFF: no performance cache, the source is compiled on load),
``VBA/dir`` and the module — with MS-OVBA's compression using literal tokens only, and the
PROJECT stream's CMG/DPB/GC values encrypted as MS-OVBA §2.4.3 says (no protection, no password,
visible). LibreOffice imports the module's source from it, which the feedback tests check.
"""

from __future__ import annotations

import struct

__all__ = ["MACRO_SOURCE", "vba_project"]

MACRO_NAME = "LedgerflowTestMacro"
MACRO_SOURCE = f'Sub {MACRO_NAME}()\r\n    MsgBox "台账"\r\nEnd Sub\r\n'
_PROJECT_ID = "{9E394C0B-697E-4AEE-9FA6-446F51FB30DC}"
_CODEPAGE = 936  # GBK: the module's Chinese string


# ---- MS-OVBA


def _compress(data: bytes) -> bytes:
    """A CompressedContainer: raw chunks for full 4096-byte blocks, literal-only chunks otherwise."""
    out = bytearray(b"\x01")
    for i in range(0, len(data), 4096):
        block = data[i : i + 4096]
        if len(block) == 4096:
            out += struct.pack("<H", 0x0FFF | (0b011 << 12)) + block  # flag 0: raw
            continue
        body = b"".join(b"\x00" + block[j : j + 8] for j in range(0, len(block), 8))
        assert len(body) + 2 <= 4098, "block too long for a literal-only chunk"
        out += struct.pack("<H", (len(body) + 2 - 3) | (0b011 << 12) | 0x8000) + body
    return bytes(out)


def _rec(rid: int, payload: bytes) -> bytes:
    return struct.pack("<HL", rid, len(payload)) + payload


def _dir_stream(module: str) -> bytes:
    name = b"VBAProject"
    mod = module.encode("ascii")
    mod_u = module.encode("utf-16-le")
    d = b"".join(
        [
            _rec(0x0001, struct.pack("<L", 1)),  # PROJECTSYSKIND: Win32
            _rec(0x0002, struct.pack("<L", 0x0804)),  # PROJECTLCID
            _rec(0x0014, struct.pack("<L", 0x0804)),  # PROJECTLCIDINVOKE
            _rec(0x0003, struct.pack("<H", _CODEPAGE)),  # PROJECTCODEPAGE
            _rec(0x0004, name),  # PROJECTNAME
            _rec(0x0005, b"") + _rec(0x0040, b""),  # PROJECTDOCSTRING
            _rec(0x0006, b"") + _rec(0x003D, b""),  # PROJECTHELPFILEPATH
            _rec(0x0007, struct.pack("<L", 0)),  # PROJECTHELPCONTEXT
            _rec(0x0008, struct.pack("<L", 0)),  # PROJECTLIBFLAGS
            struct.pack("<HLLH", 0x0009, 4, 1, 0),  # PROJECTVERSION
            _rec(0x000C, b"") + _rec(0x003C, b""),  # PROJECTCONSTANTS
            _rec(0x000F, struct.pack("<H", 1)),  # PROJECTMODULES: one
            _rec(0x0013, struct.pack("<H", 0xFFFF)),  # PROJECTCOOKIE
            _rec(0x0019, mod),  # MODULENAME
            _rec(0x0047, mod_u),  # MODULENAMEUNICODE
            _rec(0x001A, mod) + _rec(0x0032, mod_u),  # MODULESTREAMNAME
            _rec(0x001C, b"") + _rec(0x0048, b""),  # MODULEDOCSTRING
            _rec(0x0031, struct.pack("<L", 0)),  # MODULEOFFSET: the source starts the stream
            _rec(0x001E, struct.pack("<L", 0)),  # MODULEHELPCONTEXT
            _rec(0x002C, struct.pack("<H", 0xFFFF)),  # MODULECOOKIE
            struct.pack("<HL", 0x0021, 0),  # MODULETYPE: procedural
            struct.pack("<HL", 0x002B, 0),  # module terminator
            struct.pack("<HL", 0x0010, 0),  # dir terminator
        ]
    )
    return _compress(d)


def _encrypt(data: bytes, seed: int = 0x07) -> str:
    """MS-OVBA §2.4.3.2 data encryption, as the hex text of the PROJECT stream."""
    key = sum(_PROJECT_ID.encode("ascii")) & 0xFF
    version = 2
    out = [seed, version ^ seed, key ^ seed]
    unenc1, enc1, enc2 = key, out[2], out[1]

    def put(b: int) -> None:
        nonlocal unenc1, enc1, enc2
        e = b ^ ((enc2 + unenc1) & 0xFF)
        out.append(e)
        enc2, enc1, unenc1 = enc1, e, b

    for _ in range((seed & 6) // 2):  # ignored bytes
        put(0)
    for b in struct.pack("<L", len(data)):
        put(b)
    for b in data:
        put(b)
    return bytes(out).hex().upper()


def _project_stream(module: str) -> bytes:
    cmg, dpb, gc = _encrypt(struct.pack("<L", 0)), _encrypt(b"\x00"), _encrypt(b"\xff")
    lines = [
        f'ID="{_PROJECT_ID}"',
        f"Module={module}",
        'Name="VBAProject"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{cmg}"',
        f'DPB="{dpb}"',
        f'GC="{gc}"',
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
        "",
        "[Workspace]",
        f"{module}=0, 0, 0, 0, C",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


# ---- MS-CFB

_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _entry(name: str, kind: int, left: int, right: int, child: int, start: int, size: int) -> bytes:
    raw = name.encode("utf-16-le")
    return (
        raw.ljust(64, b"\x00")
        + struct.pack("<HBB3L", len(raw) + 2 if name else 0, kind, 1, left, right, child)
        + b"\x00" * 16  # CLSID
        + struct.pack("<L", 0)  # state bits
        + b"\x00" * 16  # creation and modification times
        + struct.pack("<LQ", start, size)
    )


def _cfb(streams: dict[str, bytes]) -> bytes:
    """The compound file: Root{VBA{dir, Module1, _VBA_PROJECT}, PROJECT, PROJECTwm}; all streams
    are under the 4096-byte cutoff, so they live in the mini stream."""
    order = ["PROJECT", "PROJECTwm", "VBA/_VBA_PROJECT", "VBA/dir", "VBA/Module1"]
    mini = bytearray()
    minifat: list[int] = []
    where: dict[str, tuple[int, int]] = {}
    for name in order:
        data = streams[name]
        assert len(data) < 4096
        first = len(mini) // 64
        n = max(1, -(-len(data) // 64))
        mini += data.ljust(n * 64, b"\x00")
        minifat += [first + i + 1 for i in range(n - 1)] + [_END]
        where[name] = (first, len(data))
    # entries: 0 Root, 1 VBA, 2 PROJECT, 3 PROJECTwm, 4 _VBA_PROJECT, 5 dir, 6 Module1 (+1 unused)
    # siblings as red-black trees (all black, balanced): shorter names sort first, then by
    # upper-case code points
    n_minifat_sectors = -(-len(minifat) * 4 // 512)
    n_mini_sectors = -(-len(mini) // 512)
    dir_first, minifat_first = 1, 3
    mini_first = minifat_first + n_minifat_sectors
    entries = [
        _entry("Root Entry", 5, _NOSTREAM, _NOSTREAM, 2, mini_first, len(mini)),
        _entry("VBA", 1, _NOSTREAM, _NOSTREAM, 6, 0, 0),
        _entry("PROJECT", 2, 1, 3, _NOSTREAM, *where["PROJECT"]),
        _entry("PROJECTwm", 2, _NOSTREAM, _NOSTREAM, _NOSTREAM, *where["PROJECTwm"]),
        _entry("_VBA_PROJECT", 2, _NOSTREAM, _NOSTREAM, _NOSTREAM, *where["VBA/_VBA_PROJECT"]),
        _entry("dir", 2, _NOSTREAM, _NOSTREAM, _NOSTREAM, *where["VBA/dir"]),
        _entry("Module1", 2, 5, 4, _NOSTREAM, *where["VBA/Module1"]),
        _entry("", 0, _NOSTREAM, _NOSTREAM, _NOSTREAM, 0, 0),
    ]
    directory = b"".join(entries)  # 2 sectors
    n_sectors = 1 + 2 + n_minifat_sectors + n_mini_sectors
    fat = [_FATSECT, 2, _END]
    fat += [minifat_first + i + 1 for i in range(n_minifat_sectors - 1)] + [_END]
    fat += [mini_first + i + 1 for i in range(n_mini_sectors - 1)] + [_END]
    assert len(fat) == n_sectors <= 128
    fat_sector = struct.pack(f"<{128}L", *(fat + [_FREE] * (128 - len(fat))))
    minifat_bytes = struct.pack(f"<{len(minifat)}L", *minifat).ljust(n_minifat_sectors * 512, b"\xff")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<LLLLLLLLL", 0, 1, dir_first, 0, 4096, minifat_first, n_minifat_sectors, _END, 0)
        + struct.pack("<109L", 0, *([_FREE] * 108))
    )
    assert len(header) == 512
    return header + fat_sector + directory + minifat_bytes + bytes(mini).ljust(n_mini_sectors * 512, b"\x00")


def vba_project(module: str = "Module1", source: str = MACRO_SOURCE) -> bytes:
    """The bytes of a vbaProject.bin holding one standard module with ``source``."""
    text = f'Attribute VB_Name = "{module}"\r\n{source}'.encode("gbk")
    streams = {
        "PROJECT": _project_stream(module),
        "PROJECTwm": module.encode("ascii")
        + b"\x00"
        + module.encode("utf-16-le")
        + b"\x00\x00"
        + b"\x00\x00",
        "VBA/_VBA_PROJECT": b"\xcc\x61\xff\xff\x00\x00\x00",
        "VBA/dir": _dir_stream(module),
        "VBA/Module1": _compress(text),
    }
    return _cfb(streams)
