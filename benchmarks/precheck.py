"""What the pre-check (ledgerflow/safety.py) costs next to python-calamine's own read of the same bytes.

Reads up to N workbooks' bytes into memory first (no disk in the timings), then times, per file and
as the median of --repeat passes over all of them: a bare python-calamine read of every sheet, and
``safety.precheck`` with the default limits. ``--compare FILE.py`` times another version of the
module side by side (say the committed one: ``git show HEAD:ledgerflow/safety.py > /tmp/safety_old.py``)
and checks that both give the same verdicts (reason text, W_FORMULA cells) on every file.

    .venv/bin/python benchmarks/precheck.py [FOLDER] [-n 2000] [--repeat 3] [--compare /tmp/safety_old.py]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import io
import statistics
import sys
import time
from pathlib import Path

from python_calamine import CalamineWorkbook

from ledgerflow import safety
from ledgerflow.settings import Settings

DEFAULT = Path(__file__).resolve().parent / "work" / "county-v1-n2000-s2023" / "inbox"


def load(folder: Path, n: int) -> list[tuple[Path, bytes]]:
    out = []
    for path in sorted(folder.rglob("*")):
        if len(out) >= n:
            break
        if (
            path.is_file()
            and not path.name.startswith("~$")
            and path.suffix.lower() in (".xlsx", ".xlsm", ".xls")
        ):
            out.append((path, path.read_bytes()))
    return out


def calamine_read(path: Path, data: bytes) -> None:
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        for name in wb.sheet_names:
            try:
                wb.get_sheet_by_name(name).to_python()
            except Exception:  # noqa: BLE001 - a bare read: failures cost what they cost
                pass
    except Exception:  # noqa: BLE001
        pass


def precheck_with(module):
    limits = Settings().limits

    def run(path: Path, data: bytes):
        try:
            return module.precheck(path, limits, data)
        except module.Unreadable as exc:
            return str(exc)

    return run


def verdict(result) -> tuple:
    if isinstance(result, str):
        return ("unreadable", result)
    return (result.kind, sorted((k, sorted(v)) for k, v in result.formula_cells.items()))


def time_pass(fn, files: list[tuple[Path, bytes]]) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for path, data in files:
            fn(path, data)
        return time.perf_counter() - t0
    finally:
        gc.enable()


def import_file(path: Path, name: str = "safety_compared"):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("-n", type=int, default=2000, help="at most this many workbooks (default 2000)")
    ap.add_argument("--repeat", type=int, default=3, help="passes per measurement; the median is shown")
    ap.add_argument("--compare", type=Path, help="another safety.py to time side by side")
    args = ap.parse_args(argv)

    files = load(args.folder, args.n)
    if not files:
        print(f"no workbooks under {args.folder}", file=sys.stderr)
        return 1
    runs = {"calamine (bare read, every sheet)": calamine_read}
    runs["precheck (this checkout)"] = precheck_with(safety)
    if args.compare:
        runs[f"precheck ({args.compare})"] = precheck_with(import_file(args.compare))
        new, old = runs["precheck (this checkout)"], runs[f"precheck ({args.compare})"]
        differ = [(p.name, verdict(old(p, d)), verdict(new(p, d))) for p, d in files]
        differ = [x for x in differ if x[1] != x[2]]
        for name, a, b in differ[:20]:
            print(f"verdict differs: {name}: {a} -> {b}")
        print(f"verdicts: {len(files) - len(differ)} of {len(files)} the same")
    for fn in runs.values():  # warm up (imports, regex compilation, caches)
        time_pass(fn, files[:50])
    times: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(args.repeat):  # interleaved, so that load from other work hits all alike
        for label, fn in runs.items():
            times[label].append(time_pass(fn, files))
    print(
        f"{len(files)} workbooks from {args.folder} ({sum(len(d) for _, d in files) / len(files) / 1024:.1f} KB avg)"
    )
    for label, ts in times.items():
        per = [1000 * t / len(files) for t in ts]
        print(
            f"  {label:45s} {statistics.median(per):7.3f} ms/file  (min {min(per):.3f}; passes: "
            f"{', '.join(f'{x:.3f}' for x in per)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
