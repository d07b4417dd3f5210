"""Shared fixtures: the campaign template, real workbooks written from plain lists, the shared/ folder
beside the repository, and the command line run in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LEDGERFLOW = REPO / ".venv" / "bin" / "ledgerflow"
INGEST_DAY = date(2024, 2, 1)  # after the campaign: no 统计截止日期 of a fixture is "in the future"


@pytest.fixture(scope="session")
def tpl():
    from ledgerflow.template import load_template

    return load_template(str(REPO / "templates" / "campaign-2023.yaml"))


@pytest.fixture(scope="session")
def limits():
    from ledgerflow.settings import Limits

    return Limits()


def write_book(
    path: Path,
    sheets: dict[str, list[list]],
    *,
    merges: dict[str, list[str]] | None = None,
    hidden: tuple[str, ...] = (),
    engine: str = "openpyxl",
) -> Path:
    """A real workbook: ``sheets`` maps a sheet name to its rows (lists of cell values, row 1 first;
    ``None`` leaves a cell blank); ``merges`` maps a sheet name to ranges like ``"A3:A5"``."""
    merges = merges or {}
    path = Path(path)
    if engine == "openpyxl":
        from openpyxl import Workbook

        wb = Workbook()
        wb.remove(wb.active)
        for name, rows in sheets.items():
            ws = wb.create_sheet(name)
            for r, row in enumerate(rows, start=1):
                for c, v in enumerate(row, start=1):
                    if getattr(v, "formula", None):  # openpyxl stores formulas without a cached value
                        v = v.formula
                    if v is not None:
                        ws.cell(row=r, column=c, value=v)
            for rng in merges.get(name, []):
                ws.merge_cells(rng)
            if name in hidden:
                ws.sheet_state = "hidden"
        wb.save(path)
    elif engine == "xlsxwriter":
        import xlsxwriter

        wb = xlsxwriter.Workbook(str(path))
        datefmt = wb.add_format({"num_format": "yyyy-mm-dd"})
        for name, rows in sheets.items():
            ws = wb.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if v is None:
                        continue
                    if getattr(v, "formula", None):  # books.Formula: a formula with its cached value
                        ws.write_formula(r, c, v.formula, None, v.value)
                    elif isinstance(v, date):
                        ws.write_datetime(r, c, v, datefmt)
                    else:
                        ws.write(r, c, v)
            for rng in merges.get(name, []):
                first, last = rng.split(":")
                ws.merge_range(f"{first}:{last}", _value_at(rows, first), None)
            if name in hidden:
                ws.hide()
        wb.close()
    elif engine == "xlwt":
        import xlwt

        wb = xlwt.Workbook(encoding="utf-8")
        datefmt = xlwt.easyxf(num_format_str="YYYY-MM-DD")
        for name, rows in sheets.items():
            ws = wb.add_sheet(name)
            merged = [_bounds(rng) for rng in merges.get(name, [])]
            covered = {
                (r, c) for r0, c0, r1, c1 in merged for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)
            }
            for r0, c0, r1, c1 in merged:
                ws.write_merge(r0, r1, c0, c1, _value_at(rows, rng_name(r0, c0)))
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if v is None or (r, c) in covered:
                        continue
                    if isinstance(v, date):
                        ws.write(r, c, v, datefmt)
                    else:
                        ws.write(r, c, v)
            if name in hidden:
                ws.visibility = 1
        wb.save(str(path))
    else:  # pragma: no cover - test bug
        raise ValueError(engine)
    return path


def _bounds(rng: str) -> tuple[int, int, int, int]:
    from openpyxl.utils import range_boundaries

    c0, r0, c1, r1 = range_boundaries(rng)
    return r0 - 1, c0 - 1, r1 - 1, c1 - 1


def rng_name(r0: int, c0: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(c0 + 1)}{r0 + 1}"


def _value_at(rows: list[list], ref: str):
    r0, c0, _, _ = _bounds(f"{ref}:{ref}")
    return rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None


@pytest.fixture
def make_book(tmp_path) -> Callable[..., Path]:
    """``make_book("dir/name.xlsx", {sheet: rows}, merges=…, hidden=…, engine=…)`` -> the file's path
    (under the test's tmp_path)."""

    def make(name: str, sheets: dict[str, list[list]], **kw) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_book(path, sheets, **kw)

    return make


@pytest.fixture(scope="session")
def ingest_day() -> date:
    """The day fixtures are ingested on (test modules cannot import conftest: use this fixture)."""
    return INGEST_DAY


@pytest.fixture
def parse(tpl, limits) -> Callable[..., object]:
    """``parse(path, ingest_day=INGEST_DAY)`` -> ledgerflow.parse.Parsed."""
    from ledgerflow.parse import parse_workbook

    def run(path: Path, ingest_day: date = INGEST_DAY):
        return parse_workbook(Path(path), tpl, limits, ingest_day)

    return run


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "samples" / "small" / "expected.json").is_file():
        pytest.skip(f"the shared/ folder beside the repository is absent ({SHARED}): no sample county to run")
    return SHARED


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory) -> dict[str, str]:
    """Environment for the command line: a private PREFECT_HOME for the session, temporary server."""
    env = dict(os.environ)
    env["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    env["PREFECT_SERVER_ALLOW_EPHEMERAL_MODE"] = "true"
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_PROFILE", None)
    return env


@pytest.fixture(scope="session")
def run_cli(cli_env) -> Callable[..., subprocess.CompletedProcess]:
    """``run_cli(inbox, registry, warehouse, out, as_of)``: the real ``ledgerflow run`` in a subprocess."""
    if not LEDGERFLOW.exists():
        pytest.skip(f"{LEDGERFLOW} is not installed")

    def run(
        inbox: Path,
        registry: Path,
        warehouse: Path,
        out: Path,
        as_of: str,
        *,
        background_log: Path | None = None,
    ):
        """Runs to the end; with ``background_log``, starts it writing its output there and returns the Popen."""
        argv = [
            str(LEDGERFLOW),
            "run",
            "--inbox",
            str(inbox),
            "--registry",
            str(registry),
            "--warehouse",
            str(warehouse),
            "--out",
            str(out),
            "--as-of",
            as_of,
        ]
        if background_log is not None:
            with open(background_log, "wb") as fh:
                return subprocess.Popen(argv, env=cli_env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
        return subprocess.run(argv, env=cli_env, cwd=REPO, capture_output=True, text=True, timeout=600)

    return run


@pytest.fixture(scope="session")
def score(shared_dir) -> Callable[[Path, str], subprocess.CompletedProcess]:
    """``score(out, "primary" | "second")``: the corpus scorer on one output folder (exit 0 only at 100%)."""
    samples = shared_dir / "samples"

    def run(out: Path, label: str) -> subprocess.CompletedProcess:
        argv = [
            sys.executable,
            str(samples / "check.py"),
            "--expected",
            str(samples / "small" / "expected.json"),
            "--out",
            str(out),
            "--as-of",
            label,
        ]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)

    return run


@pytest.fixture(scope="session")
def sample_runs(shared_dir, run_cli, tmp_path_factory) -> dict[str, Path]:
    """The sample county run twice into one warehouse: at 2023-12-15, then at 2024-01-20.

    Returns the warehouse, both output folders, and snapshots of the warehouse after each run (tests
    that run again work on copies, so nothing here changes under another test)."""
    import shutil

    small = shared_dir / "samples" / "small"
    base = tmp_path_factory.mktemp("sample-county")
    wh = base / "warehouse.duckdb"
    out: dict[str, Path] = {
        "base": base,
        "warehouse": wh,
        "inbox": small / "inbox",
        "registry": small / "registry.xlsx",
    }
    for label, as_of in (("primary", "2023-12-15"), ("second", "2024-01-20")):
        res = run_cli(small / "inbox", small / "registry.xlsx", wh, base / f"out-{label}", as_of)
        (base / f"run-{label}.log").write_text(res.stdout + res.stderr, encoding="utf-8")
        if res.returncode != 0:
            pytest.fail(f"ledgerflow run --as-of {as_of} exited {res.returncode}:\n{res.stderr[-3000:]}")
        out[f"out-{label}"] = base / f"out-{label}"
        out[f"log-{label}"] = base / f"run-{label}.log"
        snap = base / f"warehouse-after-{label}.duckdb"
        shutil.copyfile(wh, snap)
        out[f"wh-{label}"] = snap
    return out
