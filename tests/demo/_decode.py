"""A small reference decoder for the tests: reads a generated workbook back (python-calamine)
guided by the writer's record (which sheet/column/row holds what) and decodes cell values per
ledger.md §5-§7. It checks the writer, not the pipeline: header detection is not its job.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from pathlib import Path

import cn2an
import python_calamine as pc

from ledgerflow.demo import content as C

_EPOCH = dt.date(1899, 12, 30)
_MARKERS = tuple(
    unicodedata.normalize("NFKC", m)
    for m in ("合计", "总计", "小计", "注", "备注：", "说明", "填表说明", "填表人", "审核人", "联系人")
)


def _nfkc(v) -> str:
    return unicodedata.normalize("NFKC", str(v))


def is_empty(v) -> bool:
    return v is None or (isinstance(v, str) and _nfkc(v).strip() == "")


def text(v):
    if is_empty(v):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return _nfkc(v).strip()


def _key(s: str) -> str:
    s = re.sub(r"\s+", "", _nfkc(s))
    while s.endswith("。"):
        s = s[:-1]
    return s


_VOCAB = {
    letter: {_key(name): slug for slug, canon, syns in rows for name in (canon, *syns)}
    for letter, rows in C.VOCAB.items()
}


def vocab(v, letter: str):
    if is_empty(v):
        return {"P": "general", "C": "other"}.get(letter)
    return _VOCAB[letter][_key(v)]  # KeyError = the writer wrote something the spec cannot read


def vocab_list(v, letter: str):
    if is_empty(v):
        return []
    out = []
    for part in re.split(r"[、，,;；/和+\n]", _nfkc(v)):
        if part.strip():
            slug = vocab(part, letter)
            if slug not in out:
                out.append(slug)
    return out


def _campaign_year(month: int) -> int:
    return 2024 if month == 1 else 2023


def date(v, *, deadline: bool = False):
    if is_empty(v):
        return None
    if isinstance(v, dt.datetime):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (int, float)):
        return (_EPOCH + dt.timedelta(days=int(v))).isoformat()
    s = re.sub(r"\s+", "", _nfkc(v))
    if deadline:
        if s in ("长期", "长期坚持"):
            return None
        s = re.sub(r"[,，]?长期坚持$", "", s)
        s = re.sub(r"(之前|前)$", "", s)
        if s == "年底":
            return "2023-12-31"
        m = re.fullmatch(r"(?:(\d{4})年)?(\d{1,2})月底?", s)
        if m:
            mo = int(m.group(2))
            y = int(m.group(1)) if m.group(1) else _campaign_year(mo)
            return dt.date(y, mo, calendar.monthrange(y, mo)[1]).isoformat()
    if re.fullmatch(r"\d{5}", s):
        return (_EPOCH + dt.timedelta(days=int(s))).isoformat()
    for pat in (
        r"(\d{4})-(\d{1,2})-(\d{1,2})",
        r"(\d{4})/(\d{1,2})/(\d{1,2})",
        r"(\d{4})\.(\d{1,2})\.(\d{1,2})",
        r"(\d{4})年(\d{1,2})月(\d{1,2})日",
        r"(\d{4})(\d{2})(\d{2})",
    ):
        m = re.fullmatch(pat, s)
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    m = re.fullmatch(r"(\d{1,2})月(\d{1,2})日", s) or re.fullmatch(r"(\d{1,2})\.(\d{1,2})", s)
    if m:
        mo = int(m.group(1))
        return dt.date(_campaign_year(mo), mo, int(m.group(2))).isoformat()
    raise ValueError(f"not a date: {v!r}")


def integer(v):
    if is_empty(v):
        return None
    if isinstance(v, (int, float)):
        if float(v).is_integer() and v >= 0:
            return int(v)
        raise ValueError(v)
    s = re.sub(r"\s+", "", _nfkc(v))
    s = re.sub(r"(人次|人)$", "", s)
    if re.fullmatch(r"\d+(\.0+)?", s):
        return int(float(s))
    return int(cn2an.cn2an(s, "strict"))


def decode(kind: str, v):
    if kind in ("text", "id"):
        return text(v)
    if kind == "date":
        return date(v)
    if kind == "deadline":
        return date(v, deadline=True)
    if kind == "int":
        return integer(v)
    if kind.startswith("vocab:"):
        return vocab(v, kind[6:])
    if kind.startswith("list:"):
        return vocab_list(v, kind[5:])
    raise ValueError(kind)


def _cell_pos(ref: str) -> tuple[int, int]:
    m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def _col_index(letter: str) -> int:
    return _cell_pos(letter + "1")[1]


class Sheets:
    def __init__(self, path: Path):
        self.wb = pc.CalamineWorkbook.from_path(str(path))
        self._cache: dict[str, list[list]] = {}

    def rows(self, name: str) -> list[list]:
        if name not in self._cache:
            self._cache[name] = self.wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        return self._cache[name]

    def get(self, name: str, r: int, c: int):
        rows = self.rows(name)
        if r < len(rows) and c < len(rows[r]):
            return rows[r][c]
        return None


def _cells(sh: Sheets, record: dict):
    """Yield (table, index, field, kind, sheet, cell ref, raw value) for every field of every record.

    Fields whose column is absent yield raw value None and cell ref None.
    """
    specs = {t: {c.field: c for c in cols} for t, cols in C.TABLES.items()}
    sheets = {s["name"]: s for s in record["sheets"]}
    for table in C.TABLE_ORDER:
        for i, pos in enumerate(record["rows"][table]):
            srec = sheets[pos["sheet"]]
            combined = srec["role"] == "combined"
            r = pos["row"] - 1
            for f, spec in specs[table].items():
                key = f"{table}.{f}" if combined else f
                rr = r
                if combined and table == "measures" and f == "problem_id":
                    key = "problems.problem_id"
                    rr = (
                        max(
                            p["row"]
                            for p in record["rows"]["problems"]
                            if p["sheet"] == pos["sheet"] and p["row"] <= pos["row"]
                        )
                        - 1
                    )
                if key not in srec["columns"]:
                    yield table, i, f, spec.kind, pos["sheet"], None, None
                    continue
                c = _col_index(srec["columns"][key]["col"])
                yield (
                    table,
                    i,
                    f,
                    spec.kind,
                    pos["sheet"],
                    f"{srec['columns'][key]['col']}{rr + 1}",
                    sh.get(pos["sheet"], rr, c),
                )


_INFO_KINDS = {"members": "int", "members_with_plan": "int", "as_of": "date"}


def _info(sh: Sheets, record: dict):
    for f, rec in record["info"].items():
        r, c = _cell_pos(rec["cell"])
        yield f, rec["sheet"], rec["cell"], sh.get(rec["sheet"], r, c)


def _decode_info(f: str, v):
    if f == "unit_code":
        return text(v).upper() if text(v) else None
    return decode(_INFO_KINDS.get(f, "text"), v)


def decode_workbook(path: Path, record: dict) -> dict:
    """Rebuild the clean ledger from a written workbook and its record (raises on bad cells)."""
    sh = Sheets(path)
    out: dict = {"info": {f: _decode_info(f, v) for f, _, _, v in _info(sh, record)}}
    for t in C.TABLE_ORDER:
        out[t] = [dict() for _ in record["rows"][t]]
    for table, i, f, kind, _, _, v in _cells(sh, record):
        out[table][i][f] = decode(kind, v)
    return out


def diff_workbook(path: Path, record: dict, ledger: dict, *, skip_info: tuple[str, ...] = ()) -> list[dict]:
    """Cells whose decoded value differs from ``ledger`` (or cannot be decoded)."""
    sh = Sheets(path)
    out = []
    for f, sheet, cell, v in _info(sh, record):
        if f in skip_info:
            continue
        try:
            got = _decode_info(f, v)
        except Exception as e:  # noqa: BLE001 - any decoding failure is a finding
            got = e
        if got != ledger["info"].get(f):
            out.append(
                {
                    "sheet": sheet,
                    "cell": cell,
                    "field": f"info.{f}",
                    "expected": ledger["info"].get(f),
                    "got": got,
                    "raw": v,
                }
            )
    for t in C.TABLE_ORDER:
        if len(record["rows"][t]) != len(ledger[t]):
            out.append({"table": t, "rows": len(record["rows"][t]), "expected_rows": len(ledger[t])})
    for table, i, f, kind, sheet, cell, v in _cells(sh, record):
        if i >= len(ledger[table]):
            continue
        try:
            got = decode(kind, v)
        except Exception as e:  # noqa: BLE001
            got = e
        exp = ledger[table][i][f]
        if got != exp:
            out.append(
                {
                    "sheet": sheet,
                    "cell": cell,
                    "field": f"{table}.{f}",
                    "index": i,
                    "expected": exp,
                    "got": got,
                    "raw": v,
                }
            )
    return out


def data_rows(path: Path, record: dict) -> dict[str, int]:
    """Count data rows per sheet per ledger.md §7, using the recorded header and column map."""
    sh = Sheets(path)
    counts: dict[str, int] = {}
    for s in record["sheets"]:
        if s["role"] in ("info",) or "columns" not in s:
            continue
        rows = sh.rows(s["name"])
        cols = [_col_index(v["col"]) for v in s["columns"].values()]
        n = 0
        for r in range(s["first_data_row"] - 1, len(rows)):
            row = rows[r]
            first = next((x for x in row if not is_empty(x)), None)
            if first is not None and text(first).startswith(_MARKERS):
                continue
            if any(c < len(row) and not is_empty(row[c]) for c in cols):
                n += 1
        counts[s["name"]] = n
    return counts
