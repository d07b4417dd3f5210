"""The organisation registry (ledger.md §1): read, check the tree, compute depth and level."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from ledgerflow import normalise as nz
from ledgerflow.settings import Limits
from ledgerflow.template import Template, squash


class RegistryError(ValueError):
    """The registry is refused as a whole; the message names the offending rows."""


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    type: str
    parent: str  # "" for the root
    aliases: tuple[str, ...]
    must_report: bool
    depth: int
    level: str  # county | township | branch
    row: int  # row in the registry file (1-based, header = 1)


@dataclass
class Registry:
    units: dict[str, Unit]  # code (upper) -> unit
    root: str

    def children(self, code: str) -> list[str]:
        return [u.code for u in self.units.values() if u.parent == code]

    def is_within(self, code: str, ancestor: str) -> bool:
        """True where ``code`` is ``ancestor`` or below it."""
        seen = 0
        while code and seen <= len(self.units):
            if code == ancestor:
                return True
            code = self.units[code].parent
            seen += 1
        return False

    def by_name(self) -> dict[str, str]:
        """Normalised name or alias -> code (names and aliases that are unique); built once."""
        cached = self.__dict__.get("_by_name")
        if cached is None:
            cached = self.__dict__["_by_name"] = self._build_by_name()
        return cached

    def _build_by_name(self) -> dict[str, str]:
        out: dict[str, str] = {}
        dup: set[str] = set()
        for u in self.units.values():
            for n in (u.name, *u.aliases):
                k = squash(n)
                if k in out and out[k] != u.code:
                    dup.add(k)
                out.setdefault(k, u.code)
        return {k: v for k, v in out.items() if k not in dup}


def norm_code(value: object) -> str:
    text, _ = nz.to_text(value)
    return re.sub(r"\s+", "", text or "").upper()


def _sheet_rows(data: bytes, suffix: str, limits: Limits) -> list[list[object]]:
    """The first non-empty visible sheet of a registry workbook's bytes, after the byte pre-checks
    every ledger gets (runs in a child process: see :func:`_read_rows`)."""
    import io as _io

    from python_calamine import CalamineWorkbook

    from ledgerflow.safety import precheck

    precheck(Path("registry" + suffix), limits, data)
    wb = CalamineWorkbook.from_filelike(_io.BytesIO(data))
    for meta in wb.sheets_metadata:
        if "Hidden" in str(meta.visible):
            continue
        sheet = wb.get_sheet_by_name(meta.name)
        if sheet.height * max(sheet.width, 1) > limits.max_cells:
            raise ValueError(f"工作表“{meta.name}”范围过大")
        rows = sheet.to_python(skip_empty_area=False)
        if any(any(not nz.is_empty(v) for v in r) for r in rows):
            return rows
    return []


def _read_rows(path: Path, limits: Limits, cache: Path | None = None) -> list[list[object]]:
    from ledgerflow.safety import Unreadable, read_bounded

    try:
        raw = read_bounded(path, limits)
    except Unreadable as exc:
        raise RegistryError(f"组织架构文件{path.name}无法读取：{exc}") from exc
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise RegistryError(f"组织架构文件{path.name}的编码无法识别（应为UTF-8或GB18030）")
        return [list(r) for r in csv.reader(io.StringIO(text))]
    # a workbook is read like a ledger: byte pre-checks, then calamine in a child process with a
    # memory cap and a time limit (calamine aborts the process on some malformed files). The rows
    # read are kept by the bytes' hash, in this process and in ``cache``: the same registry is not
    # read in a child again (a CLI run checks it before its flow reads it; a served or nightly run
    # usually finds the registry unchanged since the last run).
    from ledgerflow.sandbox import IsolatedFailure, call_isolated

    key = (hashlib.sha256(raw).hexdigest(), suffix, limits)
    rows = _MEMO.get(key)
    if rows is None:
        rows = _load_cached(cache, key)
    if rows is None:
        try:
            rows = call_isolated(_sheet_rows, raw, suffix, limits, limits=limits)
        except IsolatedFailure as exc:
            raise RegistryError(f"组织架构文件{path.name}无法读取：{exc}") from exc
        _store_cached(cache, key, rows)
    _MEMO.clear()
    _MEMO[key] = rows
    return [list(r) for r in rows]


_MEMO: dict[tuple, list[list[object]]] = {}
_TYPES = {"date": date, "datetime": datetime, "time": time}


def _encode(v: object) -> object:
    if isinstance(v, (date, time)):  # datetime is a date
        return {"t": type(v).__name__, "v": v.isoformat()}
    if isinstance(v, timedelta):
        return {"t": "timedelta", "v": v.total_seconds()}
    return v


def _decode(v: object) -> object:
    if isinstance(v, dict):
        if v["t"] == "timedelta":
            return timedelta(seconds=v["v"])
        return _TYPES[v["t"]].fromisoformat(v["v"])
    return v


def _cache_key(key: tuple) -> str:
    sha, suffix, limits = key
    return f"{sha}:{suffix}:{limits!r}"


def _load_cached(cache: Path | None, key: tuple) -> list[list[object]] | None:
    """The rows stored for exactly these bytes and limits, or None (no cache, another registry,
    or a cache file that cannot be read: it is only ever a shortcut)."""
    if cache is None:
        return None
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("key") != _cache_key(key):
            return None
        return [[_decode(v) for v in row] for row in stored["rows"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _store_cached(cache: Path | None, key: tuple, rows: list[list[object]]) -> None:
    """Write the cache atomically; a failure (full disk, read-only folder) only loses the shortcut."""
    if cache is None:
        return
    tmp = cache.with_name(f"{cache.name}.tmp-{os.getpid()}")
    try:
        payload = {"key": _cache_key(key), "rows": [[_encode(v) for v in row] for row in rows]}
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, cache)
    except (OSError, ValueError, TypeError):
        tmp.unlink(missing_ok=True)


def read_registry(
    path: Path, tpl: Template, limits: Limits | None = None, cache: Path | None = None
) -> Registry:
    """The registry (ledger.md §1). ``cache``: a file where the rows of a registry workbook are
    kept between runs, by the hash of its bytes (see :func:`_read_rows`)."""
    if not Path(path).is_file():
        raise RegistryError(f"找不到组织架构文件：{path}")
    if limits is None:
        from ledgerflow.settings import Settings

        limits = Settings().limits
    rows = _read_rows(Path(path), limits, cache)
    fields = {f: {tpl.header_key(n).lower() for n in names} for f, names in tpl.registry_fields.items()}
    header_idx, colmap = None, {}
    for i, row in enumerate(rows[:10]):
        m = {}
        for c, v in enumerate(row):
            key = tpl.header_key(str(v)).lower() if not nz.is_empty(v) else ""
            for f, names in fields.items():
                if key in names and f not in m:
                    m[f] = c
        if "code" in m and "parent" in m:
            header_idx, colmap = i, m
            break
    if header_idx is None:
        raise RegistryError("组织架构文件缺少表头：至少需要“单位代码”和“上级单位代码”两列")
    for f in ("code", "name"):
        if f not in colmap:
            raise RegistryError(f"组织架构文件缺少列：{tpl.registry_fields[f][0]}")
    raw: list[dict] = []
    problems: list[str] = []
    for i in range(header_idx + 1, len(rows)):
        row = rows[i]

        def get(f: str, row=row) -> object:
            c = colmap.get(f)
            return row[c] if c is not None and c < len(row) else ""

        code = norm_code(get("code"))
        if not code and all(nz.is_empty(v) for v in row):
            continue
        name = nz.to_text(get("name"))[0] or ""
        must = nz.to_text(get("must_report"))[0]
        if must is None:
            must_report = True
        elif must.strip().lower() in tpl.true_words:
            must_report = True
        elif must.strip().lower() in tpl.false_words:
            must_report = False
        else:
            problems.append(f"第{i + 1}行：是否报送“{must}”应为是或否")
            must_report = True
        aliases_text = nz.to_text(get("aliases"))[0] or ""
        aliases = tuple(
            a
            for a in (x.strip() for x in re.split("[" + re.escape(tpl.alias_separators) + "]", aliases_text))
            if a
        )
        if not code:
            problems.append(f"第{i + 1}行：单位代码为空")
            continue
        raw.append(
            {
                "code": code,
                "name": name,
                "type": nz.to_text(get("type"))[0] or "",
                "parent": norm_code(get("parent")),
                "aliases": aliases,
                "must_report": must_report,
                "row": i + 1,
            }
        )
    by_code: dict[str, dict] = {}
    by_name: dict[str, dict] = {}
    for u in raw:
        if u["code"] in by_code:
            problems.append(f"第{by_code[u['code']]['row']}行与第{u['row']}行：单位代码{u['code']}重复")
        else:
            by_code[u["code"]] = u
        nk = squash(u["name"])
        if not nk:
            problems.append(f"第{u['row']}行：单位名称为空")
        elif nk in by_name:
            problems.append(f"第{by_name[nk]['row']}行与第{u['row']}行：单位名称“{u['name']}”重复")
        else:
            by_name[nk] = u
    roots = [u for u in by_code.values() if not u["parent"]]
    if len(roots) != 1:
        where = "、".join(f"第{u['row']}行（{u['code']}）" for u in roots) or "无"
        problems.append(f"组织架构应有且只有一个根单位（上级代码为空），现有：{where}")
    for u in by_code.values():
        if u["parent"] and u["parent"] not in by_code:
            problems.append(f"第{u['row']}行：{u['code']}的上级代码{u['parent']}不在组织架构中")
    depth: dict[str, int] = {}
    for u in by_code.values():
        path, code = [], u["code"]
        while code and code in by_code and code not in depth:
            if code in path:
                rows_ = "、".join(f"第{by_code[c]['row']}行（{c}）" for c in path[path.index(code) :])
                problems.append(f"组织架构存在循环上级关系：{rows_}")
                break
            path.append(code)
            code = by_code[code]["parent"]
        else:
            base = depth.get(code, -1) if code else -1
            for c in reversed(path):
                base += 1
                depth[c] = base
            continue
        for c in path:
            depth.setdefault(c, -1)
    if problems:
        seen, uniq = set(), []
        for p in problems:
            if p not in seen:
                seen.add(p)
                uniq.append(p)
        raise RegistryError("组织架构有误，本次不运行：\n" + "\n".join(uniq))
    units = {}
    for code, u in by_code.items():
        d = depth[code]
        level = "county" if d == 0 else "township" if d == 1 else "branch"
        units[code] = Unit(
            code=code,
            name=u["name"],
            type=u["type"],
            parent=u["parent"],
            aliases=u["aliases"],
            must_report=u["must_report"],
            depth=d,
            level=level,
            row=u["row"],
        )
    return Registry(units=units, root=roots[0]["code"])
