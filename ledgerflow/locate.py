"""Locating tables (ledger.md §4, §7): which sheet holds which table, where its header is, which
column is which field, and which rows are data."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledgerflow.normalise import is_empty
from ledgerflow.template import Column, Table, Template, squash
from ledgerflow.workbook import Sheet

COMBINED = "__combined__"
INFO = "__info__"


@dataclass
class SheetRole:
    sheet: Sheet
    role: str  # table name, COMBINED, INFO, or "" (not data)
    by: str = "name"  # name | header


@dataclass
class ColumnMap:
    header_row: int  # 0-based index of the last header row
    first_header_row: int
    fields: dict[str, int]  # field -> 0-based column
    headers: dict[int, str]  # column -> header text as written
    extra: list[int] = field(default_factory=list)  # columns matching no field (not 序号)
    ignored: list[int] = field(default_factory=list)  # 序号 columns


def _name_hits(tpl: Template, sheet_key: str) -> dict[str, int]:
    """table -> length of the longest of its names contained in the sheet name."""
    hits: dict[str, int] = {}
    for table in tpl.tables.values():
        best = max((len(n) for n in table.sheet_names if squash(n) in sheet_key), default=0)
        if best:
            hits[table.name] = best
    return hits


_ROLES: dict[tuple[int, str], str | None] = {}


def role_by_name(tpl: Template, name: str) -> str | None:
    """The sheet's role by its name (cached: a county's workbooks reuse a few dozen names)."""
    k = (id(tpl), name)
    if k not in _ROLES:
        if len(_ROLES) > 50_000:
            _ROLES.clear()
        _ROLES[k] = _role_by_name(tpl, name)
    return _ROLES[k]


def _role_by_name(tpl: Template, name: str) -> str | None:
    key = squash(name)
    if any(squash(n) in key for n in tpl.info_sheet_names):
        return INFO
    hits = _name_hits(tpl, key)
    if tpl.combined_parent in hits and tpl.combined_child in hits:
        return COMBINED
    if hits:
        return max(hits, key=lambda t: hits[t])
    if any(squash(n) == key or key.startswith(squash(n)) for n in tpl.non_data_sheets):
        return ""
    return None


_NAMES_CACHE: dict[tuple[int, str], dict[str, list[tuple[int, str]]]] = {}


def _header_names(tpl: Template, table: Table) -> dict[str, list[tuple[int, str]]]:
    """header key -> [(rank, field)], rank 0 for a field's own name, then its synonyms in order."""
    cached = _NAMES_CACHE.get((id(tpl), table.name))
    if cached is not None:
        return cached
    names: dict[str, list[tuple[int, str]]] = {}
    for col in table.columns:
        for rank, n in enumerate(col.names):
            names.setdefault(tpl.header_key(n), []).append((rank, col.field))
    _NAMES_CACHE[(id(tpl), table.name)] = names
    return names


def _cell_text(value) -> str:
    return value if isinstance(value, str) else ("" if is_empty(value) else str(value))


def _matches(tpl: Template, table: Table, row: list) -> int:
    names = _header_names(tpl, table)
    return sum(1 for v in row if isinstance(v, str) and tpl.header_key(v) in names)


def find_header(tpl: Template, table: Table, sheet: Sheet) -> int | None:
    for r in range(min(tpl.header_search_rows, len(sheet.rows))):
        if _matches(tpl, table, sheet.rows[r]) >= tpl.min_header_matches:
            return r
    return None


def _is_two_row_header(sheet: Sheet, r: int, is_name=None) -> bool:
    """A group cell merged across sub-headers, or header cells merged down over the sub-header row.

    A header cell merged across two columns (a wide column) with data right below it is not a group:
    the row below must name a column under the merged cell (``is_name``) for it to be one."""
    for r0, c0, r1, c1 in sheet.merged:
        if r0 == r and r1 == r + 1:
            return True
        if r0 == r and r1 == r and c1 > c0:
            below = [sheet.value(r + 1, c) for c in range(c0, c1 + 1)]
            if is_name is None or any(isinstance(v, str) and is_name(v) for v in below):
                return True
    return False


def _merged_from_left(sheet: Sheet, r: int, c: int) -> bool:
    """True where (r, c) lies in a merged range that begins in a column left of c."""
    return any(r0 <= r <= r1 and c0 < c <= c1 for r0, c0, r1, c1 in sheet.merged)


def map_columns(
    tpl: Template, tables: list[Table], sheet: Sheet, header_row: int, split_field: str | None = None
) -> ColumnMap:
    """Map header cells to fields. ``tables`` is one table, or (parent, child) for a combined sheet:
    columns left of the child's ``split_field`` column belong to the parent; at or right of it, a
    column names a child field first."""
    name_maps = [_header_names(tpl, t) for t in tables]

    def is_name(text: str) -> bool:
        return any(tpl.header_key(text) in nm for nm in name_maps)

    two = header_row + 1 < len(sheet.rows) and _is_two_row_header(sheet, header_row, is_name)
    last = header_row + 1 if two else header_row
    width = sheet.width
    headers: dict[int, str] = {}
    for c in range(width):
        top = _cell_text(sheet.value(header_row, c))
        sub = _cell_text(sheet.value(last, c)) if two else ""
        from_sub = two and sub.strip() and sub != top
        text = sub if from_sub else top
        if _merged_from_left(sheet, last if from_sub else header_row, c):
            continue  # the same merged header cell as the column to its left: not a column of its own
        if text.strip():
            headers[c] = text
    split_col = None
    if split_field and len(tables) == 2:
        for c, text in headers.items():
            if any(f == split_field for _, f in name_maps[1].get(tpl.header_key(text), [])):
                split_col = c
                break
    candidates: list[tuple[int, int, int, int, str]] = []  # (own name?, side, rank, col, "ti:field")
    ignored, extra = [], []
    for c, text in headers.items():
        key = tpl.header_key(text)
        if key in tpl.ignored_columns:
            ignored.append(c)
            continue
        found = False
        for ti, nm in enumerate(name_maps):
            if len(tables) == 2:
                on_child_side = split_col is not None and c >= split_col
                priority = 0 if (ti == 1) == on_child_side else 1
            else:
                priority = 0
            for rank, fld in nm.get(key, []):
                # a field's own name beats a synonym wherever it stands (columns come in any
                # order); between synonyms, the side of the measure's content column decides
                candidates.append((min(rank, 1), priority, rank, c, f"{ti}:{fld}"))
                found = True
        if not found:
            extra.append(c)
    candidates.sort()
    fields: dict[str, int] = {}
    used: set[int] = set()
    for _, _, _, c, fk in candidates:
        if fk in fields or c in used:
            continue
        fields[fk] = c
        used.add(c)
    # a column that lost every field it could name is extra too
    for c in headers:
        if c not in used and c not in ignored and c not in extra:
            extra.append(c)
    if len(tables) == 1:
        fields = {k.split(":", 1)[1]: v for k, v in fields.items()}
    return ColumnMap(
        header_row=last,
        first_header_row=header_row,
        fields=fields,
        headers=headers,
        extra=sorted(extra),
        ignored=ignored,
    )


def stop_row(tpl: Template, row: list) -> bool:
    for v in row:
        if v == "" or is_empty(v):
            continue
        text = squash(v) if isinstance(v, str) else ""
        return bool(text) and tpl.stop_pattern.match(text) is not None
    return False


def sheet_is_empty(sheet: Sheet) -> bool:
    for row in sheet.rows:
        for v in row:
            if v != "" and not is_empty(v):
                return False
    return True


def best_table_by_header(tpl: Template, sheet: Sheet) -> tuple[str, int] | None:
    """For a sheet whose name names nothing: the table (or COMBINED) its header row names."""
    best: tuple[int, int, str] | None = None  # (-matches, row, table)
    for table in tpl.tables.values():
        r = find_header(tpl, table, sheet)
        if r is None:
            continue
        n = _matches(tpl, table, sheet.rows[r])
        cand = (-n, r, table.name)
        if best is None or cand < best:
            best = cand
    if best is None:
        return None
    parent, child = tpl.tables[tpl.combined_parent], tpl.tables[tpl.combined_child]
    r = best[1]
    row_keys = {tpl.header_key(v) for v in sheet.rows[r] if isinstance(v, str)}
    split = tpl.header_key(child.column(tpl.combined_split).names[0])
    child_split_names = {tpl.header_key(n) for n in child.column(tpl.combined_split).names}
    desc_names = {tpl.header_key(n) for n in parent.column("description").names}
    if row_keys & child_split_names and row_keys & desc_names and split:
        return COMBINED, r
    return best[2], r


def columns_of(table: Table) -> dict[str, Column]:
    return {c.field: c for c in table.columns}
