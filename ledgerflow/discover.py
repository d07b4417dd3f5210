"""Discovery (ledger.md §2): every file under the inbox, its sha256, who submitted it, and whether it
is read at all. Symbolic links are recorded and never followed."""

from __future__ import annotations

import hashlib
import os
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


def sha256_of(path: str | Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(bufsize):
            h.update(chunk)
    return h.hexdigest()


def walk_inbox(inbox: Path) -> list[tuple[str, str, bool]]:
    """(relative path, absolute path, is_symlink) for every file under the inbox, sorted."""
    out = []
    inbox = Path(inbox)
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
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
    if is_link:
        target = os.path.realpath(abspath)
        return FileRef(rel, abspath, 0, "", "", "ignored", f"符号链接（指向{target}），未读取")
    reason = classify(rel, tpl)
    try:
        size = os.path.getsize(abspath)
        digest = sha256_of(abspath)
    except OSError as exc:
        return FileRef(rel, abspath, 0, "", "", "ignored", f"无法读取：{exc.strerror}")
    if reason:
        return FileRef(rel, abspath, size, digest, "", "ignored", reason)
    return FileRef(rel, abspath, size, digest, submitter_of(rel, registry), "workbook")
