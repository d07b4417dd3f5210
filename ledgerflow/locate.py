"""Locating tables (ledger.md §4, §7): which sheet holds which table, where its header is, which
column is which field, and which rows are data.

Nothing here depends on where a column stands, on the order of sheets or on what a row's
neighbours hold beyond what the contract says: columns are matched to fields by their names (the
combined sheet's problem/measure columns also by their merged shape, §4.6), a header row is the
first row in the first ten that names two columns, and a row that is not data is skipped wherever
it stands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ledgerflow.normalise import is_empty
from ledgerflow.template import Table, Template, squash
from ledgerflow.workbook import Sheet

COMBINED = "__combined__"
INFO = "__info__"


@dataclass
class ColumnMap:
    header_row: int  # 0-based index of the last header row
    first_header_row: int
    fields: dict[str, int]  # field (or "0:field"/"1:field" on the combined sheet) -> 0-based column
    headers: dict[int, str]  # column -> header text as written
    extra: list[int] = field(default_factory=list)  # columns matching no field (not 序号)
    ignored: list[int] = field(default_factory=list)  # 序号 columns


# ---- sheets by name (§4) ------------------------------------------------------------------------


def _name_hits(tpl: Template, sheet_key: str) -> dict[str, int]:
    """table -> length of the longest of its names contained in the sheet name."""
    hits: dict[str, int] = {}
    for table in tpl.tables.values():
        best = max((len(squash(n)) for n in table.sheet_names if squash(n) in sheet_key), default=0)
        if best:
            hits[table.name] = best
    return hits


def role_by_name(tpl: Template, name: str) -> str | None:
    """The sheet's role by its name (cached on the template object: a county's workbooks reuse a
    few dozen names)."""
    roles = tpl.__dict__.setdefault("_sheet_roles", {})
    if name not in roles:
        if len(roles) > 50_000:
            roles.clear()
        roles[name] = _role_by_name(tpl, name)
    return roles[name]


def _role_by_name(tpl: Template, name: str) -> str | None:
    key = squash(name)
    if any(squash(n) in key for n in tpl.info_sheet_names):
        return INFO
    hits = _name_hits(tpl, key)
    if tpl.combined_parent in hits and tpl.combined_child in hits:
        return COMBINED
    if hits:
        return max(hits, key=lambda t: hits[t])  # the longer name wins; ties in template order
    if any(squash(n) == key or key.startswith(squash(n)) for n in tpl.non_data_sheets):
        return ""
    return None


# ---- header rows (§4, §7) -----------------------------------------------------------------------


def header_names(tpl: Template, table: Table) -> dict[str, list[tuple[int, str]]]:
    """header key -> [(rank, field)], rank 0 for a field's own name, then its synonyms in order."""
    cache = tpl.__dict__.setdefault("_header_names", {})  # lives and dies with the template object
    cached = cache.get(table.name)
    if cached is not None:
        return cached
    names: dict[str, list[tuple[int, str]]] = {}
    for col in table.columns:
        for rank, n in enumerate(col.names):
            names.setdefault(tpl.header_key(n), []).append((rank, col.field))
    cache[table.name] = names
    return names


def combined_names(tpl: Template) -> dict[str, list[tuple[int, str]]]:
    """The combined sheet's header names: the problem's and the measure's, as one set."""
    parent, child = tpl.tables[tpl.combined_parent], tpl.tables[tpl.combined_child]
    names: dict[str, list[tuple[int, str]]] = {}
    for nm in (header_names(tpl, parent), header_names(tpl, child)):
        for k, v in nm.items():
            names.setdefault(k, []).extend(v)
    return names


def _cell_text(value) -> str:
    return value if isinstance(value, str) else ("" if is_empty(value) else str(value))


def _named_cells(tpl: Template, names: dict, sheet: Sheet, r: int) -> Iterator[tuple[int, str]]:
    """(column, header key) of the cells of row r that name a column. A cell merged across several
    columns is one cell: a title merged over the whole table counts once, not once per column."""
    row = sheet.rows[r]
    for c, v in enumerate(row):
        if not isinstance(v, str) or not v:
            continue
        key = tpl.header_key(v)
        if key not in names:
            continue
        m = sheet.merge_at(r, c)
        if m is not None and m[1] < c:
            continue
        yield c, key


def find_header(tpl: Template, names: dict, sheet: Sheet) -> int | None:
    """The first row within the first ``header_search_rows`` in which at least two cells name
    columns of the sheet (§7)."""
    for r in range(min(tpl.header_search_rows, len(sheet.rows))):
        n = 0
        for _ in _named_cells(tpl, names, sheet, r):
            n += 1
            if n >= tpl.min_header_matches:
                return r
    return None


def best_table_by_header(tpl: Template, sheet: Sheet) -> tuple[str, int] | None:
    """For a sheet whose name names nothing: the table its header row names (§4: more required
    columns, then more columns; then the earlier row), or COMBINED where the header names both a
    problem's description and a measure's content."""
    best: tuple[int, int, int, int, str] | None = None
    for order, table in enumerate(tpl.tables.values()):
        names = header_names(tpl, table)
        r = find_header(tpl, names, sheet)
        if r is None:
            continue
        named = {f for _, key in _named_cells(tpl, names, sheet, r) for _, f in names[key]}
        required = {c.field for c in table.columns if c.required}
        cand = (-len(named & required), -len(named), r, order, table.name)
        if best is None or cand < best:
            best = cand
    if best is None:
        return None
    r = best[2]
    parent, child = tpl.tables[tpl.combined_parent], tpl.tables[tpl.combined_child]
    row_keys = {tpl.header_key(v) for v in sheet.rows[r] if isinstance(v, str)}
    content = {tpl.header_key(n) for n in child.column(tpl.combined_split).names}
    desc = {tpl.header_key(n) for n in parent.column("description").names}
    if row_keys & content and row_keys & desc:
        return COMBINED, r
    return best[4], r


def _is_two_row_header(sheet: Sheet, r: int, is_name) -> bool:
    """A group cell merged across sub-headers, or header cells merged down over the sub-header row.

    A header cell merged across two columns (a wide column) with data right below it is not a group:
    the row below must name a column under the merged cell for it to be one."""
    for r0, c0, r1, c1 in sheet.merged:
        if r0 == r and r1 == r + 1:
            return True
        if r0 == r and r1 == r and c1 > c0:
            below = [sheet.value(r + 1, c) for c in range(c0, c1 + 1)]
            if any(isinstance(v, str) and is_name(v) for v in below):
                return True
    return False


def header_cells(tpl: Template, names: dict, sheet: Sheet, header_row: int) -> tuple[int, dict[int, str]]:
    """(last header row, column -> header text as written), a two-row header's sub-headers taking
    the place of their group cell (§7)."""

    def is_name(text: str) -> bool:
        return tpl.header_key(text) in names

    two = header_row + 1 < len(sheet.rows) and _is_two_row_header(sheet, header_row, is_name)
    last = header_row + 1 if two else header_row
    headers: dict[int, str] = {}
    for c in range(sheet.width):
        top = _cell_text(sheet.value(header_row, c))
        sub = _cell_text(sheet.value(last, c)) if two else ""
        group = sheet.merge_at(header_row, c)
        under_group = group is not None and group[3] > group[1] and group[2] == header_row
        # under a group cell the sub-header is the name, even where it repeats the group's text
        # (会议类型 over 会议主题 | 会议类型); elsewhere a cell merged down is one name
        from_sub = two and sub.strip() and (sub != top or under_group)
        m = sheet.merge_at(last if from_sub else header_row, c)
        if m is not None and m[1] < c:
            continue  # the same merged header cell as the column to its left: not a column of its own
        text = sub if from_sub else top
        if text.strip():
            headers[c] = text
    return last, headers


# ---- columns to fields (§4, §4.6) ---------------------------------------------------------------


def _hungarian(cost: list[list[int]]) -> list[int]:
    """Minimum-cost assignment of every row to a distinct column (rows <= columns); returns the
    column of each row. The O(n²m) shortest augmenting path method."""
    n, m = len(cost), len(cost[0])
    inf = float("inf")
    u, v = [0] * (n + 1), [0] * (m + 1)
    p, way = [0] * (m + 1), [0] * (m + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            row = cost[i0 - 1]
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    out = [-1] * n
    for j in range(1, m + 1):
        if p[j]:
            out[p[j] - 1] = j - 1
    return out


_BASE = 1 << 20


def _weight(*levels: int) -> int:
    """Levels compared lexicographically: each level outweighs any sum of the levels after it."""
    w = 0
    for level in levels:
        w = w * _BASE + level
    return w


def assign(
    fields: list[str], candidates: dict[str, dict[int, tuple[int, ...]]], keep: int | None = None
) -> dict[str, int]:
    """Give each field at most one column and each column at most one field, maximising the sum of
    the candidates' preference tuples (compared level by level). ``candidates[field][col]`` is the
    preference of that column for that field."""
    if not fields:
        return {}
    keep = keep or len(fields) + 1
    # Where every field's best column is a different column, that is the optimum (no assignment
    # can beat each field having its own best), so the full assignment is needed only on a clash.
    best: dict[str, int] = {}
    for f in fields:
        cand = candidates.get(f)
        if cand:
            best[f] = max(cand, key=lambda c, cand=cand: (cand[c], -c))
    if len(set(best.values())) == len(best):
        return best
    cols: list[int] = []
    for f in fields:  # a field needs only its best few columns: the others can take at most n-1
        ranked = sorted(candidates.get(f, {}).items(), key=lambda kv: (kv[1], -kv[0]), reverse=True)
        for c, _ in ranked[:keep]:
            if c not in cols:
                cols.append(c)
    if not cols:
        return {}
    width = len(cols) + len(fields)  # one "no column" slot per field
    cost = []
    for f in fields:
        cand = candidates.get(f, {})
        cost.append([-_weight(*cand[c]) if c in cand else 0 for c in cols] + [0] * len(fields))
    chosen = _hungarian(cost) if width >= len(fields) else []
    out: dict[str, int] = {}
    for f, j in zip(fields, chosen, strict=True):
        if j < len(cols) and cols[j] in candidates.get(f, {}):
            out[f] = cols[j]
    return out


def _shapes(sheet: Sheet, header_row: int, key_col: int | None) -> tuple[set[int], set[int]]:
    """On a combined sheet: columns merged down over several data rows (the problem's shape) and
    columns holding different values within one problem's merged group (the measure's shape)."""
    merged_down: set[int] = set()
    groups: list[tuple[int, int]] = []
    for r0, c0, r1, c1 in sheet.merged:
        if r0 > header_row and r1 > r0:
            merged_down.update(range(c0, c1 + 1))
            if key_col is not None and c0 <= key_col <= c1:
                groups.append((r0, r1))
    varies: set[int] = set()
    for r0, r1 in groups:
        for c in range(sheet.width):
            seen = set()
            for r in range(r0, r1 + 1):
                if sheet.is_merge_copy(r, c):
                    continue
                v = sheet.value(r, c)
                if not is_empty(v):
                    seen.add(squash(v) if isinstance(v, str) else v)
            if len(seen) > 1:
                varies.add(c)
    return merged_down, varies - merged_down


def map_columns(
    tpl: Template, tables: list[Table], sheet: Sheet, header_row: int, combined: bool = False
) -> ColumnMap:
    """Map header cells to fields by name (§4). ``tables`` is one table, or (parent, child) for the
    combined sheet (§4.6), where the fields are keyed "0:field" and "1:field", the parent's key
    column is also the child's key, and a name both could take goes by the column's shape (merged
    over a problem's rows: the problem's; different values within one problem: the measure's), then
    a field's own name over a synonym, then the earlier synonym, and only where nothing else tells,
    by the side of the measure's content column it stands on."""
    name_maps = [header_names(tpl, t) for t in tables]
    all_names = combined_names(tpl) if combined else name_maps[0]
    last, headers = header_cells(tpl, all_names, sheet, header_row)
    ignored = [c for c, text in headers.items() if tpl.header_key(text) in tpl.ignored_columns]
    key_field = tpl.combined_key
    fields: list[str] = []
    required: set[str] = set()
    for ti, table in enumerate(tables):
        for col in table.columns:
            if combined and ti == 1 and col.field == key_field:
                continue  # the measure's 问题编号 is its problem's: the parent's key column
            fk = f"{ti}:{col.field}"
            fields.append(fk)
            if col.required:
                required.add(fk)

    def candidates(evidence: tuple[set[int], set[int]] | None, split_col: int | None) -> dict:
        merged_down, varies = evidence or (set(), set())
        out: dict[str, dict[int, tuple[int, ...]]] = {}
        for c, text in headers.items():
            if c in ignored:
                continue
            key = tpl.header_key(text)
            named = [(ti, rank, f) for ti, nm in enumerate(name_maps) for rank, f in nm.get(key, [])]
            if combined:  # the child's key names (对应问题编号) may name the parent's key column
                named = [
                    (0, 10 + rank, f) if (ti == 1 and f == key_field) else (ti, rank, f)
                    for ti, rank, f in named
                ]
            for ti, rank, f in named:
                fk = f"{ti}:{f}"
                is_parent = ti == 0
                if combined:
                    strong = 0 if (is_parent and c in varies) else 1
                    moderate = 1 if (is_parent == (c in merged_down)) else 0
                    side = 1 if split_col is None or (is_parent == (c < split_col)) else 0
                else:
                    strong = moderate = side = 1
                pref = (
                    1 if fk in required else 0,
                    1,
                    strong,
                    1 if rank == 0 else 0,
                    moderate,
                    32 - min(rank, 31),
                    side,
                    (1 << 14) - min(c, (1 << 14) - 1),
                )
                slot = out.setdefault(fk, {})
                if c not in slot or pref > slot[c]:
                    slot[c] = pref
        return out

    chosen = assign(fields, candidates(None, None))
    if combined:
        split_col = chosen.get(f"1:{tpl.combined_split}")
        key_col = chosen.get(f"0:{key_field}")
        chosen = assign(fields, candidates(_shapes(sheet, last, key_col), split_col))
    used = set(chosen.values())
    extra = sorted(c for c in headers if c not in used and c not in ignored)
    if not combined:
        chosen = {k.split(":", 1)[1]: v for k, v in chosen.items()}
    return ColumnMap(
        header_row=last,
        first_header_row=header_row,
        fields=chosen,
        headers=headers,
        extra=extra,
        ignored=ignored,
    )


# ---- data rows (§7) -----------------------------------------------------------------------------


def is_note_row(tpl: Template, row: list, serial_cols: list[int]) -> bool:
    """A row whose first non-empty cell starts with 合计, 小计, 注, 填表说明, … (§7). A number in a 序号
    column is the template's pre-filled numbering, not the row's first word."""
    for c, v in enumerate(row):
        if v == "" or is_empty(v):
            continue
        if not isinstance(v, str):
            if c in serial_cols:
                continue
            return False
        text = squash(v)
        return bool(text) and tpl.stop_pattern.match(text) is not None
    return False


def has_value(row: list, cols: list[int]) -> bool:
    """True where the row holds a value in one of the columns."""
    n = len(row)
    for c in cols:
        if c < n:
            v = row[c]
            if v != "" and not is_empty(v):
                return True
    return False


def data_rows(tpl: Template, sheet: Sheet, cmap: ColumnMap) -> Iterator[int]:
    """The 0-based rows below the header that are data (§7): a row with a value in a mapped column
    that is not a note, total or signature line. Rows that are not data are skipped wherever they
    stand: data below them is read."""
    cols = sorted(cmap.fields.values())
    for rr in range(cmap.header_row + 1, len(sheet.rows)):
        row = sheet.rows[rr]
        if has_value(row, cols) and not is_note_row(tpl, row, cmap.ignored):
            yield rr


def sheet_is_empty(sheet: Sheet) -> bool:
    for row in sheet.rows:
        for v in row:
            if v != "" and not is_empty(v):
                return False
    return True
