"""Discovery (ledger.md §2): every file under the inbox, its sha256, who submitted it, and whether it
is read at all. Symbolic links are recorded and never followed."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ledgerflow.registry import Registry, norm_code
from ledgerflow.template import Template


@dataclass(frozen=True)
class FileRef:
    path: str  # relative to the inbox, with "/"
    abspath: str
    size: int
    sha256: str
    submitter: str  # unit code; "" for ignored files
    kind: str  # "workbook" | "ignored"
    reason: str = ""  # why ignored


def sha256_of(path: str | Path, bufsize: int = 1 << 20, *, follow: bool = True) -> str:
    """sha256 of a regular file; never blocks on a FIFO, and with ``follow=False`` never follows a
    symbolic link (an inbox file may have been swapped since it was listed)."""
    h = hashlib.sha256()
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(0, "不是普通文件", str(path))
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def display_path(rel: str) -> str:
    """The relative path as text for outputs. Names that are not valid UTF-8 (a GBK name unpacked
    from a Windows zip, say) come from the OS with surrogate escapes, which no CSV, Arrow or DuckDB
    string can hold: they are decoded as GB18030 where that works, else with byte escapes."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        raw = os.fsencode(rel)
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="backslashreplace")


def walk_inbox(inbox: Path) -> list[tuple[str, str, bool]]:
    """(relative path, absolute path, is_symlink) for every file under the inbox, sorted.

    Folders that cannot be listed are returned as entries too (they are then recorded as ignored,
    with the reason), so that nothing under the inbox is silently left out."""
    out = []
    inbox = Path(inbox)

    def unlistable(err: OSError) -> None:
        full = err.filename or ""
        rel = os.path.relpath(full, inbox)
        if rel != ".":
            out.append((rel.replace(os.sep, "/"), full, os.path.islink(full)))

    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False, onerror=unlistable):
        rel_dir = os.path.relpath(dirpath, inbox)
        for d in list(dirnames):
            full = os.path.join(dirpath, d)
            if os.path.islink(full):
                rel = d if rel_dir == "." else f"{rel_dir}/{d}"
                out.append((rel.replace(os.sep, "/"), full, True))
                dirnames.remove(d)
        for f in filenames:
            full = os.path.join(dirpath, f)
            rel = f if rel_dir == "." else os.path.join(rel_dir, f)
            out.append((rel.replace(os.sep, "/"), full, os.path.islink(full)))
    out.sort(key=lambda t: t[0])
    return out


def classify(rel: str, tpl: Template) -> str:
    """'' when the file is read; otherwise why it is ignored."""
    name = rel.rsplit("/", 1)[-1]
    if name.startswith(tpl.ignore_prefixes):
        return "临时文件或隐藏文件"
    ext = os.path.splitext(name)[1].lower()
    if ext not in tpl.extensions:
        return f"不是Excel工作簿（扩展名{ext or '无'}）"
    return ""


def submitter_of(rel: str, registry: Registry) -> str:
    """The unit whose upload folder holds the file, or the root for files the office dropped."""
    if "/" in rel:
        first = norm_code(rel.split("/", 1)[0])
        if first in registry.units:
            return first
    return registry.root


def describe(rel: str, abspath: str, is_link: bool, tpl: Template, registry: Registry) -> FileRef:
    rel = display_path(rel)
    try:
        st = os.lstat(abspath)
    except OSError as exc:
        return FileRef(rel, abspath, 0, "", "", "ignored", f"无法读取：{exc.strerror}")
    if is_link or stat.S_ISLNK(st.st_mode):
        return FileRef(rel, abspath, 0, "", "", "ignored", "符号链接，未读取（不跟随链接）")
    if stat.S_ISDIR(st.st_mode):
        return FileRef(rel, abspath, 0, "", "", "ignored", "无法读取该文件夹")
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the run on open(); devices, sockets
        return FileRef(rel, abspath, 0, "", "", "ignored", "不是普通文件（管道、设备或套接字），未读取")
    reason = classify(rel, tpl)
    try:
        size = st.st_size
        digest = sha256_of(abspath, follow=False)
    except OSError as exc:
        return FileRef(rel, abspath, 0, "", "", "ignored", f"无法读取：{exc.strerror}")
    if reason:
        return FileRef(rel, abspath, size, digest, "", "ignored", reason)
    return FileRef(rel, abspath, size, digest, submitter_of(rel, registry), "workbook")
