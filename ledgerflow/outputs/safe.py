"""Safe writing of text that came from users into CSV and Excel files.

Unit names, sheet names, cell values and messages in ledgerflow's outputs all come, directly or
indirectly, from workbooks that units uploaded. Spreadsheet programs treat some text specially:

* **CSV** — Excel and WPS evaluate a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a
  formula ("CSV injection"), and some versions also do so after a leading tab or carriage return.
  :func:`neutralise` prefixes such a cell with an apostrophe ``'``. The apostrophe is visible in a
  text editor and in pandas, and Excel shows it in the cell as well (for a CSV it is not a
  "hidden" prefix): the value ``=1+1`` is written as ``'=1+1``. Only *text* cells are neutralised;
  numbers (including negative numbers) are written as numbers.
* **xlsx written with xlsxwriter** — ``worksheet.write()`` turns ``"=…"`` into a formula,
  ``"https://…"`` into a hyperlink and (optionally) ``"123"`` into a number. Always create
  workbooks with :data:`XLSXWRITER_OPTIONS` (see :func:`new_workbook`) and write user text with
  :func:`write_text_cell`, which uses ``write_string`` for every ``str``.
* **xlsx written with openpyxl** — assigning ``cell.value = "=…"`` makes a formula cell.
  :func:`set_text_cell` assigns the value and then forces the cell's data type back to ``'s'``
  (string), so the text is stored as text.

All writers also drop the control characters XML 1.0 cannot hold (everything below U+0020 except
tab, line feed and carriage return), which would otherwise make openpyxl or python-docx fail.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "FORMULA_TRIGGERS",
    "XLSXWRITER_OPTIONS",
    "EXCEL_MAX_TEXT",
    "clean_text",
    "is_missing",
    "neutralise",
    "new_workbook",
    "set_text_cell",
    "write_csv",
    "write_row",
    "write_text_cell",
]

#: First characters that make a spreadsheet program treat a CSV cell as a formula.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

#: Options every xlsxwriter workbook of ledgerflow is created with: user text never becomes a
#: formula, a hyperlink or a number, whatever it looks like.
XLSXWRITER_OPTIONS: dict[str, Any] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}

#: Excel's limit on the length of a cell's text.
EXCEL_MAX_TEXT = 32767

_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean_text(text: object) -> str:
    """``str(text)`` without the control characters that XML cannot hold."""
    return _ILLEGAL_XML.sub("", "" if text is None else str(text))


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT and pandas' NA."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (str, bytes)) else False
    except (TypeError, ValueError):
        return False


def neutralise(text: str) -> str:
    """Return ``text`` made safe for a CSV cell.

    A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    apostrophe, so that Excel/WPS show it as text instead of evaluating it as a formula. Any other
    text is returned unchanged. The apostrophe is part of the stored value: a program reading the
    CSV back sees ``'=SUM(A1)`` for the cell ``=SUM(A1)``.
    """
    if text and text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def _csv_value(value: object) -> str:
    if is_missing(value):
        return ""
    if isinstance(value, bool) or (hasattr(value, "dtype") and value.dtype.kind == "b"):
        return "true" if value else "false"
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return str(int(value))  # type: ignore[call-overload]
    if isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        f = float(value)  # type: ignore[arg-type]
        if f.is_integer():
            return str(int(f))
        return repr(f)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return neutralise(clean_text(value))


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` as CSV: UTF-8 with BOM, ``\\n`` line ends, the header exactly as the columns.

    Missing values (None, NaN, NaT) are written as empty cells; integral floats as integers
    (``3.0`` → ``3``); other numbers as Python writes them (``0.7813``, never rounded); dates as
    ``YYYY-MM-DD``; every text cell through :func:`neutralise`. Fields holding commas, quotes or
    line breaks are quoted as CSV requires. The index is not written.

    Column by column (a county's rollup.csv has over a million cells), with the same rules as
    :func:`_csv_value` cell by cell.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = _csv_line(str(c) for c in df.columns)
    if df.empty:
        body = ""
    else:
        cols = [_quote_column(_column_text(df.iloc[:, i])) for i in range(df.shape[1])]
        lines = cols[0].str.cat(cols[1:], sep=",") if len(cols) > 1 else cols[0]
        body = "\n".join(lines.tolist()) + "\n"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        fh.write(header)
        fh.write(body)
    return path


def _column_text(col: pd.Series) -> pd.Series:
    kind = getattr(col.dtype, "kind", "O")
    if kind == "f":
        return pd.Series(
            [
                "" if v != v else (str(int(v)) if float(v).is_integer() else repr(float(v)))
                for v in col.tolist()
            ],
            index=col.index,
            dtype="string[pyarrow]",
        )
    if kind in "iu":
        return col.astype(str).astype("string[pyarrow]")
    values = col.tolist()
    if all(isinstance(v, str) or v is None for v in values):  # text: vectorised clean + neutralise
        text = pd.Series(["" if v is None else v for v in values], index=col.index, dtype="string[pyarrow]")
        text = text.str.replace(_ILLEGAL_XML, "", regex=True)
        risky = text.str.startswith(FORMULA_TRIGGERS)
        return text.where(~risky, "'" + text)
    return pd.Series([_csv_value(v) for v in values], index=col.index, dtype="string[pyarrow]")


def _quote_column(text: pd.Series) -> pd.Series:
    needs = text.str.contains('[,"\n\r]', regex=True)
    if needs.any():
        text = text.where(~needs, '"' + text.str.replace('"', '""', regex=False) + '"')
    return text


def _csv_line(fields: Iterable[str]) -> str:
    """One CSV record ending in ``\n``; a field is quoted when it holds a comma, a quote, a
    line feed or a carriage return (the csv module would leave a lone ``\r`` unquoted when the
    line terminator is ``\n``, which breaks the row for readers)."""
    out = []
    for f in fields:
        if any(ch in f for ch in ',"\n\r'):
            f = '"' + f.replace('"', '""') + '"'
        out.append(f)
    return ",".join(out) + "\n"


def new_workbook(path: Path | str, options: dict[str, Any] | None = None):
    """An ``xlsxwriter.Workbook`` with :data:`XLSXWRITER_OPTIONS` (plus ``options``)."""
    import xlsxwriter

    opts = dict(options or {})
    opts.update(XLSXWRITER_OPTIONS)
    return xlsxwriter.Workbook(str(path), opts)


def write_text_cell(ws, row: int, col: int, value: object, fmt=None) -> None:
    """Write one cell with xlsxwriter, never letting text become a formula or a link.

    ``str`` values always go through ``write_string`` (truncated to Excel's 32 767 characters,
    control characters dropped); numbers through ``write_number``; booleans through
    ``write_boolean``; dates through ``write_datetime``; missing values through ``write_blank``.
    Anything else is written as its ``str()``. Never call ``ws.write()`` with user text.
    """
    kind = type(value)
    if kind is str:  # the common cases first: a county's summary writes ~10^5 cells
        ws.write_string(row, col, clean_text(value)[:EXCEL_MAX_TEXT], fmt)
    elif kind is float and value == value and not math.isinf(value):
        ws.write_number(row, col, value, fmt)
    elif kind is int:
        ws.write_number(row, col, float(value), fmt)
    elif is_missing(value):
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, str):
        ws.write_string(row, col, clean_text(value)[:EXCEL_MAX_TEXT], fmt)
    elif isinstance(value, bool) or (hasattr(value, "dtype") and value.dtype.kind == "b"):
        ws.write_boolean(row, col, bool(value), fmt)
    elif isinstance(value, (int, float)) or (hasattr(value, "dtype") and value.dtype.kind in "iuf"):
        f = float(value)  # type: ignore[arg-type]
        if math.isinf(f):
            ws.write_string(row, col, str(f), fmt)
        else:
            ws.write_number(row, col, f, fmt)
    elif isinstance(value, (dt.date, pd.Timestamp)):
        d = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
        ws.write_datetime(row, col, d, fmt)
    else:
        ws.write_string(row, col, clean_text(value)[:EXCEL_MAX_TEXT], fmt)


def set_text_cell(cell, value: object) -> None:
    """Assign ``value`` to an openpyxl cell so that text stays text.

    openpyxl turns any string beginning with ``=`` into a formula; this sets the value and then
    forces ``data_type = 's'`` for strings. Non-string values are assigned as they are.
    """
    if isinstance(value, str):
        text = clean_text(value)[:EXCEL_MAX_TEXT]
        cell.value = text
        cell.data_type = "s"
    elif is_missing(value):
        cell.value = None
    else:
        cell.value = value


def write_row(ws, row: int, values: Iterable[object], fmt=None, first_col: int = 0) -> None:
    """Write several xlsxwriter cells in one row with :func:`write_text_cell`."""
    for i, v in enumerate(values):
        write_text_cell(ws, row, first_col + i, v, fmt)
