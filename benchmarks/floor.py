"""The floor: a single-process python-calamine read of every sheet of every workbook, nothing else
(no validation, no rows kept, no warehouse). What reading the bytes costs at the least.

    .venv/bin/python benchmarks/floor.py INBOX                  # prints a JSON summary
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from python_calamine import CalamineWorkbook


def main(inbox: str) -> int:
    t0 = time.perf_counter()
    n = failed = cells = 0
    for path in sorted(Path(inbox).rglob("*")):
        if (
            not path.is_file()
            or path.name.startswith("~$")
            or path.suffix.lower() not in (".xlsx", ".xlsm", ".xls")
        ):
            continue
        n += 1
        try:
            wb = CalamineWorkbook.from_path(str(path))
            for name in wb.sheet_names:
                rows = wb.get_sheet_by_name(name).to_python()
                cells += sum(len(r) for r in rows)
        except Exception:
            failed += 1
    print(
        json.dumps(
            {"workbooks": n, "failed": failed, "cells": cells, "seconds": round(time.perf_counter() - t0, 3)}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
