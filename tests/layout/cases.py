"""The drawn examples of the three properties (test_properties.py): a clean layout (round trip), two
independent layouts of one ledger (metamorphic), and a layout with one §9 defect planted at a known
cell (planted defect). Each is a model.Case, plain data that replays without hypothesis."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from contract import TABLES, C, norm_vocab
from forms import WINDOW, pick, rarely, serial
from hypothesis import assume
from hypothesis import strategies as st
from model import Case, feature, ref
from strategies import Bad, Drawn, Knobs, Ledger, Slot, ledgers, workbooks

INGEST_DAY = date(2024, 2, 1)  # the `parse` fixture's default ingest day (tests/conftest.py)


@st.composite
def round_trip_cases(draw) -> Case:
    """A clean ledger in a drawn layout: reads back as written (§4–§8)."""
    led = draw(ledgers())
    wb = draw(workbooks(led))
    return Case("round_trip", wb.book, wb.expect)


@st.composite
def metamorphic_cases(draw) -> Case:
    """One ledger in two independently drawn layouts; sometimes with one bad value (the same in
    both), so the verdict is not always clean."""
    led = draw(ledgers(combinable=draw(st.booleans())))
    if rarely(draw, 3):
        _plant_bad(draw, led)
    a = draw(workbooks(led))
    b = draw(workbooks(copy.deepcopy(led)))
    return Case("metamorphic", a.book, a.expect, b.book, b.expect, note=_info_cells(a, b))


def _info_cells(a: Drawn, b: Drawn) -> str:
    """Where each book's 单位代码 and 单位名称 values are (to give the pair two units for the CLI)."""
    parts = []
    for wb in (a, b):
        s = wb.info_slots
        parts.append(
            ";".join(f"{f}={s[f].sheet}!{ref(s[f].row, s[f].col)}" for f in ("unit_code", "unit_name"))
        )
    return "|".join(parts)


_BAD = {
    "vocab": (["s", "不详"], "E_VOCAB"),
    "date": (["s", "2023-09-31"], "E_DATE"),
    "integer": (["s", "若干"], "E_NUMBER"),
}


def _plant_bad(draw, led: Ledger) -> None:
    spots = [
        (t, i, col.field, col.kind)
        for t in TABLES
        for i, _ in enumerate(led.tables[t])
        for col in C.tables[t].columns
        if col.kind in _BAD
    ]
    if spots:
        t, i, f, kind = pick(draw, spots)
        raw, code = _BAD[kind]
        led.tables[t][i][f] = Bad(tuple(raw), code)


# ---- planted defects (§9) ------------------------------------------------------------------------

DEFECTS = (
    "E_REQUIRED",
    "E_VOCAB",
    "E_DATE",
    "E_NUMBER",
    "E_DUPLICATE_ID",
    "E_UNKNOWN_PROBLEM",
    "E_COLUMNS",
    "E_AS_OF",
    "W_DATE_RANGE",
    "W_CLOSED_NO_DATE",
    "W_PLAN_EXCEEDS",
    "W_NO_MEASURE",
)
_BAD_VOCAB = ("待定", "不详", "另行安排", "XX类")
_BAD_DATE = ("2023-09-31", "2023年11月31日", "9.31", "2023.13.5", "下周一", "2023/2/30", "待定")
_BAD_DEADLINE = ("待定", "尽快", "2023-02-30", "13月底", "9月31日前")
_BAD_NUMBER = (
    ["n", -3],
    ["f", 2.5],
    ["s", "2.5人"],
    ["s", "约30人"],
    ["s", "三十多"],
    ["s", "若干"],
    ["s", "-5"],
)


def _at(slot: Slot, code: str, where: str = "cell", merged_ok: bool = False) -> dict:
    assert merged_ok or where != "cell" or not slot.merged
    return {
        "code": code,
        "sheet": slot.sheet,
        "row": slot.row,
        "cell": ref(slot.row, slot.col),
        "where": where,
    }


def _cell_slots(wb: Drawn, *, kinds: tuple[str, ...], tables=TABLES, merged_ok: bool = False) -> list[Slot]:
    out = []
    for s in wb.slots:
        if s.table not in tables or (s.merged and not merged_ok):
            continue
        if C.tables[s.table].column(s.field).kind in kinds:
            out.append(s)
    return out


@st.composite
def defect_cases(draw, code: str | None = None) -> Case:
    """A clean ledger and layout with one §9 defect (``code``, or any) planted at a known place."""
    code = code or pick(draw, DEFECTS)
    feature(f"defect: {code}")
    table = pick(draw, TABLES)
    min_rows = {"problems" if table == "measures" else table: 1}
    knobs = Knobs()
    led = draw(ledgers(min_rows=min_rows))
    defect: dict

    if code == "E_DUPLICATE_ID":
        t = pick(draw, ["research", "problems", "measures"])
        led = draw(ledgers(min_rows={"research" if t == "research" else "problems": 1}))
        fld = {"research": "topic_id", "problems": "problem_id", "measures": "measure_id"}[t]
        rows = led.tables[t]
        for k, r in enumerate(rows):
            r[fld] = r[fld] or f"{fld[0].upper()}X-{k + 1:02d}"  # IDs of different tables never equal
        i = draw(st.integers(0, len(rows) - 1))
        dup = copy.deepcopy(rows[i])
        if t == "measures":
            j = i + 1  # beside its original: the measures of a problem stay together (§4.6)
            rows.insert(j, dup)
            led.owner.insert(j, led.owner[i])
        elif t == "problems":
            # a later problem with the same ID, with a measure of its own (for the combined form)
            j = draw(st.integers(i + 1, len(rows)))
            rows.insert(j, dup)
            extra = copy.deepcopy(
                next(m for m, o in zip(led.tables["measures"], led.owner, strict=True) if o == i)
            )
            if extra["measure_id"] is not None:
                extra["measure_id"] += "-2"
            led.owner = [o + 1 if o >= j else o for o in led.owner]
            at = next((k for k, o in enumerate(led.owner) if o > j), len(led.owner))
            led.tables["measures"].insert(at, extra)
            led.owner.insert(at, j)
        else:
            j = draw(st.integers(i + 1, len(rows)))
            rows.insert(j, dup)
        wb = draw(workbooks(led, knobs))
        slot = next(s for s in wb.slots if s.table == t and s.index == j and s.field == fld)
        return _case(wb, _at(slot, code, merged_ok=True))

    if code in ("E_UNKNOWN_PROBLEM", "W_NO_MEASURE"):
        knobs.separate = True
        led = draw(ledgers(min_rows={"problems": 1}))
        if code == "W_NO_MEASURE":
            i = draw(st.integers(0, len(led.tables["problems"]) - 1))
            keep = [k for k, o in enumerate(led.owner) if o != i]
            led.tables["measures"] = [led.tables["measures"][k] for k in keep]
            led.owner = [led.owner[k] for k in keep]
            wb = draw(workbooks(led, knobs))
            slot = next(s for s in wb.slots if s.table == "problems" and s.index == i)
            return _case(wb, _at(slot, code, "row"))
        wb = draw(workbooks(led, knobs))
        slots = [s for s in wb.slots if s.table == "measures" and s.field == "problem_id" and not s.merged]
        assume(slots)
        slot = pick(draw, slots)
        _put(wb, slot, ["s", "ZZ-99"])
        return _case(wb, _at(slot, code))

    if code == "E_COLUMNS":
        cols = [
            (t, c.field)
            for t in TABLES
            for c in C.tables[t].columns
            if c.required and (t, c.field) != ("problems", "problem_id")
        ]
        t, f = pick(draw, cols)
        knobs.drop = (t, f)
        knobs.separate = (t, f) == ("measures", "problem_id")
        wb = draw(workbooks(led, knobs))
        defect = {
            "code": code,
            "sheet": wb.sheet_of[t],
            "column": C.tables[t].column(f).header,
            "where": "column",
        }
        return _case(wb, defect)

    if code == "E_AS_OF":
        how = pick(draw, ["bad", "future", "omit", "no_info"])
        if how == "omit":
            knobs.info_omit = ("as_of",)
        if how == "no_info":
            knobs.no_info = True
        wb = draw(workbooks(led, knobs))
        if how in ("omit", "no_info"):
            return _case(wb, {"code": code, "where": "code"})
        slot = wb.info_slots["as_of"]
        if how == "bad":
            raw = ["s", pick(draw, ["待定", "2023年13月1日", "2023-02-30", "本周五"])]
        else:
            d = INGEST_DAY + timedelta(days=draw(st.integers(1, 60)))
            raw = pick(
                draw, [["d", d.isoformat()], ["s", f"{d.year}年{d.month}月{d.day}日"], ["n", serial(d)]]
            )
        _put(wb, slot, raw)
        return _case(wb, _at(slot, code))

    if code == "W_PLAN_EXCEEDS":
        m = draw(st.integers(0, 200))
        led.info["members"], led.info["members_with_plan"] = m, m + draw(st.integers(1, 20))
        wb = draw(workbooks(led, knobs))
        cells = [ref(wb.info_slots[f].row, wb.info_slots[f].col) for f in ("members", "members_with_plan")]
        return _case(
            wb, {"code": code, "sheet": wb.info_slots["members"].sheet, "cells": cells, "where": "cells"}
        )

    if code == "W_CLOSED_NO_DATE":
        t = pick(draw, ["research", "problems"])
        led = draw(ledgers(min_rows={t: 1}))
        i = draw(st.integers(0, len(led.tables[t]) - 1))
        status, fld = ("closed", "closed_date") if t == "problems" else ("report_formed", "report_date")
        led.tables[t][i]["status"], led.tables[t][i][fld] = status, None
        wb = draw(workbooks(led, knobs))
        slot = next(s for s in wb.slots if s.table == t and s.index == i)
        return _case(wb, _at(slot, code, "row"))

    # value defects at one cell of a drawn layout
    wb = draw(workbooks(led, knobs))
    if code == "E_REQUIRED":
        slots = [
            s
            for s in wb.slots
            if not s.merged and C.tables[s.table].column(s.field).required and s.field != "problem_id"
        ]
        assume(slots)
        slot = pick(draw, slots)
        _put(wb, slot, None)
    elif code == "E_VOCAB":
        slots = _cell_slots(wb, kinds=("vocab", "list"))
        assume(slots)
        slot = pick(draw, slots)
        col = C.tables[slot.table].column(slot.field)
        bad = pick(draw, _BAD_VOCAB)
        assert all(norm_vocab(bad) != norm_vocab(f) for t in C.vocab[col.voc] for f in t.forms)
        if col.kind == "list":
            good = C.vocab[col.voc][0].canonical
            bad = pick(draw, [bad, f"{good}、{bad}", f"{bad}，{good}"])
        _put(wb, slot, ["s", bad])
    elif code == "E_DATE":
        slots = _cell_slots(wb, kinds=("date", "deadline"))
        assume(slots)
        slot = pick(draw, slots)
        deadline = C.tables[slot.table].column(slot.field).kind == "deadline"
        _put(wb, slot, ["s", pick(draw, _BAD_DEADLINE if deadline else _BAD_DATE)])
    elif code == "E_NUMBER":
        slots = _cell_slots(wb, kinds=("integer",))
        slots += [wb.info_slots[f] for f in ("members", "members_with_plan") if f in wb.info_slots]
        assume(slots)
        slot = pick(draw, slots)
        _put(wb, slot, list(pick(draw, _BAD_NUMBER)))
    elif code == "W_DATE_RANGE":
        slots = _cell_slots(wb, kinds=("date",))
        assume(slots)
        slot = pick(draw, slots)
        as_of = led.info["as_of"]
        choices = [st.dates(date(2023, 1, 1), WINDOW[0] - timedelta(days=1))]
        if as_of < WINDOW[1]:
            choices.append(st.dates(as_of + timedelta(days=1), WINDOW[1]))
        d = draw(st.one_of(choices))
        raw = draw(
            st.sampled_from(
                [
                    ["d", d.isoformat()],
                    ["n", serial(d)],
                    ["s", d.isoformat()],
                    ["s", f"{d.year}年{d.month}月{d.day}日"],
                ]
            )
        )
        _put(wb, slot, raw)
    else:  # pragma: no cover
        raise AssertionError(code)
    return _case(wb, _at(slot, code))


def _put(wb: Drawn, slot: Slot, raw) -> None:
    wb.book.sheet(slot.sheet).put(slot.row, slot.col, raw)


def _case(wb: Drawn, defect: dict) -> Case:
    return Case("defect", wb.book, wb.expect, defect=defect)
