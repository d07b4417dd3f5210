"""The baseline a competent analyst would write: pandas.read_excel over every sheet of every workbook,
concat, group by unit. No validation, no lineage, no warehouse.

Engine: openpyxl for .xlsx/.xlsm. xlrd is not installed, so the legacy .xls files (WPS exports) are
read with engine="calamine" — the only engine pandas has for them here; they are a minority of the
corpus, which makes this baseline slightly *faster* than a pure openpyxl one.

    .venv/bin/python benchmarks/naive_baseline.py INBOX        # prints a JSON summary
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import pandas as pd


def main(inbox: str) -> int:
    t0 = time.perf_counter()
    frames, failed, n = [], 0, 0
    for path in sorted(Path(inbox).rglob("*")):
        if (
            not path.is_file()
            or path.name.startswith("~$")
            or path.suffix.lower() not in (".xlsx", ".xlsm", ".xls")
        ):
            continue
        n += 1
        engine = "calamine" if path.suffix.lower() == ".xls" else "openpyxl"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sheets = pd.read_excel(path, sheet_name=None, header=None, engine=engine, dtype=object)
        except Exception:  # an analyst's script skips what it cannot open
            failed += 1
            continue
        unit = path.parent.name
        for name, df in sheets.items():
            if df.empty:
                continue
            df = df.astype(str)
            df.insert(0, "sheet", name)
            df.insert(0, "file", str(path))
            df.insert(0, "unit", unit)
            df.columns = [str(c) for c in df.columns]
            frames.append(df)
    t_read = time.perf_counter() - t0
    data = pd.concat(frames, ignore_index=True, sort=False) if frames else pd.DataFrame()
    per_unit = data.groupby("unit").size() if not data.empty else pd.Series(dtype=int)
    print(
        json.dumps(
            {
                "workbooks": n,
                "failed": failed,
                "rows": int(len(data)),
                "units": int(len(per_unit)),
                "read_seconds": round(t_read, 3),
                "seconds": round(time.perf_counter() - t0, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
