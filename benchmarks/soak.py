"""Soak of nightly runs: a county whose inbox grows night after night, one ``ledgerflow run`` per night
with that night's ``--as-of``, against one Prefect server (basic authentication on).

    .venv/bin/python benchmarks/soak.py                       # 60 nights, 300 units (≈ 20 min on 2 cores)
    .venv/bin/python benchmarks/soak.py --nights 10 --units 60 --cadence 2 --fresh 1,5,10

The county comes from the project's demo generator (``ledgerflow/demo``), its weekly 统计截止日期
being the soak's own Fridays (``--cadence`` days apart from the first night). Each workbook is
uploaded on a night between its 统计截止日期 and the next one (a few a day early: status *later*
for a night), its planted errors and unreadable files with it (*rejected*); on top, every night may
bring an exact copy of an earlier upload into the office's dated folder and Excel lock files
(``~$…xlsx``) beside that night's uploads. The inbox only grows.

Night 0 is the day before the first uploads: the office runs ledgerflow once on the empty inbox, and
an analyst opens the warehouse read-only and keeps that connection for the whole soak.

Recorded per night: files in the inbox, new files, files parsed (and what should have been: the new
distinct workbook contents), the run's wall and CPU time, the warehouse's size, what the run left
behind, and the Prefect server's database size. For the nights in ``--fresh``, a fresh single run over the
same inbox (empty warehouse, same ``--as-of``) must give the same outputs and the same analysts'
views. Two readers watch the warehouse all along, each in its own process: the analyst's held
connection (must see one unchanging, internally consistent snapshot) and a reader that reconnects
for every query (must only ever see complete, published runs).

What counts as left behind (checked after every run):

* beside the warehouse only the warehouse itself, its lock file ``<warehouse>.lock`` and the
  feedback cache ``.<warehouse>.feedback-cache/`` and the registry's rows
  ``.<warehouse>.registry-cache.json`` may stay. The lock file is permanent by design
  (removing a ``flock`` file races a run that has just opened it); it is left behind only if it is
  still *held* after the run. The cache holds exactly the feedback books of the latest run. Any
  ``<warehouse>.building-*`` (private copy), ``*.wal`` or ``.ledgerflow-stage-*`` counts;
* beside ``--out``: ``<out>.building`` or ``<out>.old``;
* in the feedback cache: a ``*.tmp-*`` file, or a book the latest run did not use;
* anything the run wrote into the inbox, or into its ``TMPDIR`` (a folder of the soak's own);
* a process of the run still alive after it exited.

The per-night table is printed and kept in ``benchmarks/work/soak-n<units>-<nights>.json``; the
section between the ``soak.py`` markers of ``benchmarks/README.md`` is rewritten with the summary.
``tests/scheduling/test_soak.py`` runs the same code (10 nights in the default suite, 60 with -m slow).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import hashlib
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from warehouse import db

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv" / "bin"
WORK = REPO / "benchmarks" / "work"
README = REPO / "benchmarks" / "README.md"
BEGIN = "<!-- soak.py: begin -->"
END = "<!-- soak.py: end -->"
FIRST_NIGHT = date(2023, 11, 3)  # the campaign's first weekly 统计截止日期 (a Friday)
WORKBOOK_EXT = (".xlsx", ".xlsm", ".xls")
OUTPUT_FILES = ("figures.json", "rollup.csv", "report.md")
VIEWS = db.VIEWS  # the analysts' views, compared between a night and a fresh run

# ---- the growing county -------------------------------------------------------------------------


@dataclass
class Upload:
    rel: str  # path under the inbox
    kind: str  # version | rejected (planted error or unreadable) | copy | lock | other
    source: str | None = None  # path under the generated county's inbox whose bytes are uploaded
    data: bytes | None = None  # or the bytes themselves
    unit: str = ""
    as_of: str | None = None  # the 统计截止日期 the unit meant (workbooks)


@dataclass
class Night:
    n: int
    as_of: date
    uploads: list[Upload] = field(default_factory=list)


def statistic_dates(first: date, n_nights: int, cadence: int) -> list[date]:
    """The soak's 统计截止日期: every ``cadence`` days from the first night."""
    return [first + timedelta(days=i) for i in range(0, n_nights, cadence)]


def make_county(root: Path, n_units: int, seed: int, n_nights: int, cadence: int) -> dict:
    """The whole county as the generator writes it (``root/inbox``, ``root/registry.xlsx``), its
    versions dated on the soak's own statistic dates. Returns the generator's truth."""
    sys.path.insert(0, str(REPO))
    from ledgerflow.demo.generator import generate_county

    return generate_county(
        root,
        n_units=n_units,
        seed=seed,
        messy=True,
        with_ledgers=False,
        as_of_dates=statistic_dates(FIRST_NIGHT, n_nights, cadence),
    )


def _lock_bytes(rng: random.Random) -> bytes:
    """An Excel owner file (``~$name.xlsx``): the user's name in UTF-16, padded to 165 bytes."""
    user = rng.choice(("张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "党建办")).encode("utf-16-le")
    return (bytes([len(user) // 2]) + user + bytes(165))[:165]


def plan_nights(truth: dict, n_nights: int, cadence: int, seed: int) -> list[Night]:
    """Which file arrives on which night (index 1…n_nights; night 0 has none)."""
    rng = random.Random(f"{seed}:soak")
    nights = [Night(i, FIRST_NIGHT + timedelta(days=i - 1)) for i in range(n_nights + 1)]
    taken = {f["path"].lower() for f in truth["files"]}

    def unique(rel: str) -> str:
        stem, dot, ext = rel.rpartition(".")
        p, k = rel, 2
        while p.lower() in taken:
            p, k = f"{stem}_{k}.{ext}", k + 1
        taken.add(p.lower())
        return p

    delays = list(range(-1, cadence))
    weights = [0.04] + [0.96 / (k + 1) / sum(1 / (j + 1) for j in range(cadence)) for k in range(cadence)]
    night_of: dict[str, int] = {}
    files = sorted(truth["files"], key=lambda f: f["path"])
    for f in files:  # workbooks first: copies and lock files follow their source
        if f["kind"] != "workbook":
            continue
        d = date.fromisoformat(f.get("intended_as_of") or f["as_of"])
        i = (d - FIRST_NIGHT).days + 1 + rng.choices(delays, weights)[0]
        i = max(i, 1)
        if i > n_nights:
            continue  # arrives after the soak
        night_of[f["path"]] = i
        kind = "rejected" if f.get("error") else "version"
        nights[i].uploads.append(
            Upload(f["path"], kind, f["path"], unit=f.get("intended_unit", ""), as_of=d.isoformat())
        )
    by_name = {
        (p.rsplit("/", 1)[0] if "/" in p else "", p.rsplit("/", 1)[-1]): i for p, i in night_of.items()
    }
    for f in files:
        if f["kind"] == "copy":
            src = night_of.get(f["duplicate_of"])
            if src is None:
                continue
            i = min(n_nights, src + rng.randint(0, 3))
            nights[i].uploads.append(Upload(f["path"], "copy", f["path"], unit=f.get("unit_code", "")))
        elif f["kind"] == "unreadable":
            nights[rng.randint(1, n_nights)].uploads.append(Upload(f["path"], "rejected", f["path"]))
        elif f["kind"] == "ignored":
            folder, _, name = f["path"].rpartition("/")
            i = None
            if f.get("reason") == "excel_lock_file":
                i = next((j for (d, n), j in by_name.items() if d == folder and n.endswith(name[2:])), None)
                kind = "lock"
            else:
                kind = "other"
            nights[i or rng.randint(1, n_nights)].uploads.append(Upload(f["path"], kind, f["path"]))
    # every night: maybe an exact copy of an earlier upload in the office's dated folder, and a clerk
    # who still has tonight's workbook open in Excel (its lock file uploaded with it)
    earlier: list[Upload] = []
    for night in nights[1:]:
        books = [
            u for u in night.uploads if u.kind in ("version", "rejected") and u.rel.endswith(WORKBOOK_EXT)
        ]
        if earlier and rng.random() < 0.4:
            src = rng.choice(earlier)
            rel = unique(f"{night.as_of.isoformat()}/{src.rel.rsplit('/', 1)[-1]}")
            night.uploads.append(Upload(rel, "copy", src.source, unit=src.unit, as_of=src.as_of))
        if books and rng.random() < 0.6:
            b = rng.choice(books)
            folder, _, name = b.rel.rpartition("/")
            lname = "~$" + (name if rng.random() < 0.5 else name[2:])
            rel = unique(f"{folder}/{lname}" if folder else lname)
            night.uploads.append(Upload(rel, "lock", data=_lock_bytes(rng)))
        earlier += [u for u in books if u.kind == "version"]
    return nights


def upload(night: Night, county_inbox: Path, inbox: Path) -> None:
    for u in night.uploads:
        target = inbox / u.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if u.data is not None:
            target.write_bytes(u.data)
        else:
            shutil.copyfile(county_inbox / u.source, target)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parsed_kind(rel: str) -> bool:
    """Whether ledgerflow reads the file at all (ledger.md §2: workbook extensions, no lock or
    hidden files); what it has read once (same sha256) it never reads again."""
    name = rel.rsplit("/", 1)[-1]
    return name.lower().endswith(WORKBOOK_EXT) and not name.startswith(("~$", "."))


# ---- the Prefect server -------------------------------------------------------------------------


@dataclass
class Server:
    url: str  # …/api
    home: Path  # the server's PREFECT_HOME (its database)
    env: dict[str, str]  # environment for its clients (PREFECT_API_URL, PREFECT_API_AUTH_STRING)

    def db_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.home.glob("prefect.db*") if p.is_file())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_env(home: Path, url: str, auth: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LEDGERFLOW_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=url,
        PREFECT_API_AUTH_STRING=auth,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
    )
    return env


@contextlib.contextmanager
def prefect_server(base: Path, auth: str) -> Iterator[Server]:
    """``prefect server start`` on a free port of 127.0.0.1, basic authentication on."""
    home = base / "prefect-home"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LEDGERFLOW_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_API_AUTH_STRING=auth,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
    )
    log = open(home / "server.log", "wb")
    proc = subprocess.Popen(
        [str(VENV / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui"],
        env=env,
        cwd=base,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prefect server exited with {proc.returncode}; see {home / 'server.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                if r.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server not healthy after 180 s; see {home / 'server.log'}")
            time.sleep(0.5)
        yield Server(url=url, home=home, env=client_env(home, url, auth))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


# ---- one run ------------------------------------------------------------------------------------

RUN_LINE = re.compile(r"文件：(\d+)个（新解析(\d+)个）")


def ledgerflow_run(
    env: dict[str, str],
    inbox: Path,
    registry: Path,
    warehouse: Path,
    out: Path,
    as_of: date,
    tmp: Path,
    log: Path | None = None,
) -> dict:
    """``ledgerflow run`` in its own process group with its own TMPDIR; wall seconds, CPU seconds of
    the run and its child processes (less sensitive than wall time to whatever else the machine is
    doing), what it says it saw and parsed, and the processes of its group still alive once it has
    exited (then killed). Its output goes to ``log`` when given."""
    tmp.mkdir(parents=True, exist_ok=True)
    argv = [str(VENV / "ledgerflow"), "run", "--inbox", str(inbox), "--registry", str(registry)]
    argv += ["--warehouse", str(warehouse), "--out", str(out), "--as-of", as_of.isoformat()]
    t0, ru0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        argv,
        env={**env, "TMPDIR": str(tmp)},
        cwd=tmp.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    stdout, stderr = proc.communicate(timeout=1800)
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    if log is not None:
        log.write_text(stdout + stderr, encoding="utf-8")
    alive = _group_alive(proc.pid)
    deadline = time.monotonic() + 5  # multiprocessing's resource tracker exits just after the run
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = _group_alive(proc.pid)
    if alive:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    m = RUN_LINE.search(stdout)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{stdout[-2000:]}\n{stderr[-4000:]}")
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "files": int(m[1]),
        "parsed": int(m[2]),
        "procs_left": alive,
    }


def _group_alive(pgid: int) -> list[str]:
    """Processes still in a process group (by /proc, Linux), as 'pid name'."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(f"{stat.parent.name} {name}")
    return alive


def left_behind(warehouse: Path, out: Path, inbox: Path, inbox_files: set[str], tmp: Path) -> list[str]:
    """What a finished run left that it should not have (module docstring)."""
    left = []
    allowed = {
        warehouse.name,
        warehouse.name + ".lock",
        f".{warehouse.name}.feedback-cache",
        f".{warehouse.name}.registry-cache.json",
    }
    left += [f"{p.name} (beside the warehouse)" for p in warehouse.parent.iterdir() if p.name not in allowed]
    left += [f"{p.name} (beside --out)" for p in out.parent.iterdir() if p.name != out.name]
    cache = warehouse.parent / f".{warehouse.name}.feedback-cache"
    books = {p.name for p in (out / "feedback").iterdir()} if (out / "feedback").is_dir() else set()
    if cache.is_dir():
        entries = list(cache.iterdir())
        left += [f"{p.name} (feedback cache)" for p in entries if not p.name.endswith((".xlsx", ".xlsm"))]
        extra = sum(1 for p in entries if p.name.endswith((".xlsx", ".xlsm"))) - len(books)
        if extra > 0:
            left.append(f"{extra} books in the feedback cache the latest run did not use")
    now = {p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file()}
    left += [f"{p} (written into the inbox)" for p in sorted(now - inbox_files)]
    left += [f"{p.relative_to(tmp).as_posix()} (TMPDIR)" for p in tmp.rglob("*")]
    lock = warehouse.with_name(warehouse.name + ".lock")
    if lock.exists():
        with open(lock, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fh, fcntl.LOCK_UN)
            except BlockingIOError:
                left.append(f"{lock.name} still held")
    return left


# ---- comparing with a fresh single run ----------------------------------------------------------

# Columns that follow a file's path: among byte-identical copies, the one a run takes as the
# original (and calls the others duplicates) is the first seen by the pipeline (ledger.md §2), which
# a single run over the whole inbox cannot know: it takes the first by path. These columns are left
# out of the comparison (submissions.csv and issues.csv: the path replaced by the file's sha256).
PATH_COLUMNS = {"path", "prev_path", "submitter"}


def _sheet_values(path: Path) -> dict[str, list]:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    return {name: wb.get_sheet_by_name(name).to_python() for name in wb.sheet_names}


def _view_rows(warehouse: Path) -> dict[str, list]:
    """Every analysts' view, rows sorted, path columns left out."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = {}
        for v in VIEWS:
            cols = [c[0] for c in con.execute(f"describe {v}").fetchall() if c[0] not in PATH_COLUMNS]
            sql = f"select {', '.join(chr(34) + c + chr(34) for c in cols)} from {v}"
            out[v] = sorted(map(repr, con.execute(sql).fetchall()))
        return out
    finally:
        con.close()


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _by_content(out: Path) -> tuple[list, list]:
    """submissions.csv and issues.csv with each path replaced by its file's sha256 (the submitter,
    which follows the path, left out)."""
    subs = _csv(out / "submissions.csv")
    sha = {r["path"]: r["sha256"] or r["path"] for r in subs}
    files = sorted(
        tuple(v for k, v in r.items() if k not in ("path", "submitter")) + (sha[r["path"]],) for r in subs
    )
    issues = sorted(
        tuple(sha.get(r["path"], r["path"]) if k == "path" else v for k, v in r.items())
        for r in _csv(out / "issues.csv")
    )
    return files, issues


def differences(soak_wh: Path, soak_out: Path, fresh_wh: Path, fresh_out: Path) -> dict[str, list[str]]:
    """How the soak's night differs from the fresh single run over the same inbox:

    * ``figures``: figures.json, rollup.csv, report.md (bytes), the summary workbook's cells and the
      analysts' views (rows, path columns aside) -- must be empty;
    * ``files``: submissions.csv, issues.csv and the number of feedback books, compared up to which
      byte-identical copy is the original -- must be empty;
    * ``copies``: the files whose status differs only by that choice (reported, not a failure);
    * ``figure_keys``: the figure keys of rollup.csv whose value differs for some unit."""
    figures = [n for n in OUTPUT_FILES if (soak_out / n).read_bytes() != (fresh_out / n).read_bytes()]
    ra, rb = (
        {(r["unit_code"], r["key"]): (r["own"], r["total"]) for r in _csv(o / "rollup.csv")}
        for o in (soak_out, fresh_out)
    )
    keys = sorted({k for u, k in ra.keys() | rb.keys() if ra.get((u, k)) != rb.get((u, k))})
    if _sheet_values(soak_out / "summary.xlsx") != _sheet_values(fresh_out / "summary.xlsx"):
        figures.append("summary.xlsx")
    a, b = _view_rows(soak_wh), _view_rows(fresh_wh)
    figures += [f"view {v}" for v in VIEWS if a[v] != b[v]]
    (fa, ia), (fb, ib) = _by_content(soak_out), _by_content(fresh_out)
    files = (["submissions.csv"] if fa != fb else []) + (["issues.csv"] if ia != ib else [])
    books = [sum(1 for _ in (o / "feedback").iterdir()) for o in (soak_out, fresh_out)]
    if books[0] != books[1]:
        files.append(f"feedback/ ({books[0]} vs {books[1]} books)")
    status = [{r["path"]: r["status"] for r in _csv(o / "submissions.csv")} for o in (soak_out, fresh_out)]
    copies = sorted(p for p in status[0] if status[0][p] != status[1].get(p))
    return {"figures": figures, "files": files, "copies": copies, "figure_keys": keys}


def largest_tables(warehouse: Path, n: int = 4) -> list[dict]:
    """The tables that take most of the warehouse file: rows and 256 KB blocks each."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        out = []
        for schema, table, rows in con.execute(
            "select schema_name, table_name, estimated_size from duckdb_tables()"
        ).fetchall():
            blocks = con.execute(
                f"select count(distinct block_id) from pragma_storage_info('{schema}.{table}') where block_id >= 0"
            ).fetchone()[0]
            out.append({"table": f"{schema}.{table}", "rows": rows, "bytes": blocks * 262144})
        return sorted(out, key=lambda t: -t["bytes"])[:n]
    finally:
        con.close()


# ---- the analysts' readers ----------------------------------------------------------------------

# One query, every figure of it from the same snapshot, with its own cross-checks: the latest run's
# file count against the submissions view, the rollup against units × figure keys and against that
# run's history, the issues view against the submissions' error and warning counts.
CONSISTENCY_SQL = """
with latest as (select max(run_id) as run_id from lf.runs where status = 'completed')
select
    (select run_id from latest),
    (select as_of::varchar from lf.runs where run_id = (select run_id from latest)),
    (select files_seen from lf.runs where run_id = (select run_id from latest)),
    (select count(*) from submissions),
    (select count(*) from rollup),
    (select count(*) from units) * (select count(*) from lf.figure_keys),
    (select count(*) from lf.run_rollup where run_id = (select run_id from latest)),
    (select count(*) from issues),
    (select coalesce(sum(errors + warnings), 0) from submissions),
    (select coalesce(sum(total), 0) from rollup where key = 'research.topics')
"""

READER = r"""
import json, os, sys, time
import duckdb

path, mode, out, stop, sql = sys.argv[1:6]
held = duckdb.connect(path, read_only=True) if mode == "held" else None
with open(out, "w") as fh:
    while not os.path.exists(stop):
        t = time.time()
        try:
            con = held or duckdb.connect(path, read_only=True)
            try:
                row = con.execute(sql).fetchone()
            finally:
                if held is None:
                    con.close()
            fh.write(json.dumps({"t": t, "row": list(row)}, default=str) + "\n")
        except Exception as exc:
            fh.write(json.dumps({"t": t, "error": repr(exc)}) + "\n")
        fh.flush()
        time.sleep(0.5)
"""


def consistent(row: list) -> bool:
    _run, _as_of, files_seen, subs, rollup, expected, history, issues, counted, _topics = row
    return files_seen == subs and rollup == expected == history and issues == counted


@dataclass
class Reader:
    mode: str  # held | reconnecting
    log: Path
    proc: subprocess.Popen

    def rows(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


def start_reader(mode: str, warehouse: Path, base: Path, stop: Path) -> Reader:
    log = base / f"reader-{mode}.jsonl"
    argv = [str(VENV / "python"), "-c", READER, str(warehouse), mode, str(log), str(stop), CONSISTENCY_SQL]
    proc = subprocess.Popen(argv, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the {mode} reader did not start")
        time.sleep(0.1)
    return Reader(mode, log, proc)


# ---- the soak -----------------------------------------------------------------------------------


def _mb(n: int) -> float:
    return round(n / 1e6, 2)


def soak(
    base: Path,
    server: Server,
    *,
    n_units: int,
    n_nights: int,
    cadence: int,
    seed: int = 2023,
    fresh: set[int] | None = None,
    progress=print,
) -> dict:
    """Generate the county, run night 0 and ``n_nights`` nights, compare the nights in ``fresh``
    (default: all) with fresh single runs. Returns ``{"nights": [...], "readers": {...}, ...}``."""
    base.mkdir(parents=True, exist_ok=True)
    for sub in ("inbox", "wh", "outs", "tmp", "fresh", "logs"):
        shutil.rmtree(base / sub, ignore_errors=True)
    t0 = time.perf_counter()
    county = base / "county"
    shutil.rmtree(county, ignore_errors=True)
    truth = make_county(county, n_units, seed, n_nights, cadence)
    generated_s = time.perf_counter() - t0
    nights = plan_nights(truth, n_nights, cadence, seed)
    fresh = set(range(1, n_nights + 1)) if fresh is None else fresh
    inbox, registry = base / "inbox", county / "registry.xlsx"
    inbox.mkdir()
    warehouse, out, tmp = base / "wh" / "warehouse.duckdb", base / "outs" / "out", base / "tmp"
    warehouse.parent.mkdir()
    out.parent.mkdir()
    logs = base / "logs"
    stop = base / "readers.stop"
    stop.unlink(missing_ok=True)
    readers: list[Reader] = []
    records: list[dict] = []
    seen: set[str] = set()  # contents read so far
    inbox_files: set[str] = set()
    units_with_version: set[str] = set()
    try:
        for night in nights:
            upload(night, county / "inbox", inbox)
            inbox_files |= {u.rel for u in night.uploads}
            new_shas = {_sha(inbox / u.rel) for u in night.uploads if parsed_kind(u.rel)}
            expected_parsed = len(new_shas - seen)
            seen |= new_shas
            kinds = Counter(u.kind for u in night.uploads)
            later_versions = sum(
                1 for u in night.uploads if u.kind == "version" and u.unit in units_with_version
            )
            units_with_version |= {u.unit for u in night.uploads if u.kind == "version"}
            db_before = server.db_bytes()
            logs.mkdir(exist_ok=True)
            run = ledgerflow_run(
                server.env,
                inbox,
                registry,
                warehouse,
                out,
                night.as_of,
                tmp,
                logs / f"night-{night.n:02d}.log",
            )
            left = left_behind(warehouse, out, inbox, inbox_files, tmp) + [
                f"process {p} still running" for p in run["procs_left"]
            ]
            with open(out / "submissions.csv", encoding="utf-8-sig", newline="") as fh:
                statuses = Counter(row["status"] for row in csv.DictReader(fh))
            rec = {
                "night": night.n,
                "as_of": night.as_of.isoformat(),
                "files": run["files"],
                "new_files": len(night.uploads),
                "uploads": dict(kinds),
                "new_versions_of_a_unit": later_versions,
                "parsed": run["parsed"],
                "expected_parsed": expected_parsed,
                "seconds": run["seconds"],
                "cpu_seconds": run["cpu_seconds"],
                "warehouse_bytes": warehouse.stat().st_size,
                "left_behind": left,
                "server_db_bytes": server.db_bytes(),
                "server_db_growth_bytes": server.db_bytes() - db_before,
                "statuses": dict(statuses),
            }
            for p in tmp.rglob("*"):  # counted above; a clean TMPDIR for the next run
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            if night.n in fresh:
                fdir = base / "fresh" / f"night-{night.n:02d}"
                fwh, fout = fdir / "wh" / "warehouse.duckdb", fdir / "out" / "out"
                fwh.parent.mkdir(parents=True)
                fout.parent.mkdir(parents=True)
                fr = ledgerflow_run(server.env, inbox, registry, fwh, fout, night.as_of, fdir / "tmp")
                rec["fresh"] = {
                    "seconds": fr["seconds"],
                    "cpu_seconds": fr["cpu_seconds"],
                    "parsed": fr["parsed"],
                    "files": fr["files"],
                    "warehouse_bytes": fwh.stat().st_size,
                    "differences": differences(warehouse, out, fwh, fout),
                    "left_behind": left_behind(fwh, fout, inbox, inbox_files, fdir / "tmp"),
                }
                shutil.rmtree(fdir, ignore_errors=True)
            records.append(rec)
            progress(_row(rec))
            if night.n == 0:  # the analyst opens the warehouse once it exists, and keeps it open
                readers = [start_reader(m, warehouse, base, stop) for m in ("held", "reconnecting")]
    finally:
        stop.touch()
        for r in readers:
            try:
                r.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                r.proc.kill()
    result = {
        "largest_tables": largest_tables(warehouse),
        "n_units": n_units,
        "n_nights": n_nights,
        "cadence": cadence,
        "seed": seed,
        "generated_s": round(generated_s, 1),
        "county_files": len(truth["files"]),
        "nights": records,
        "readers": {r.mode: r.rows() for r in readers},
    }
    result["verdicts"] = verdicts(result)
    return result


# ---- the pass criteria --------------------------------------------------------------------------


def _fit(xs: list[tuple[float, ...]], ys: list[float]) -> list[float]:
    """Least squares y ≈ b0 + b1·x1 + …"""
    import numpy as np

    a = np.column_stack([np.ones(len(xs)), np.array(xs, dtype=float)])
    return [float(v) for v in np.linalg.lstsq(a, np.array(ys, dtype=float), rcond=None)[0]]


def verdicts(r: dict) -> dict[str, dict]:
    """Each pass criterion: {"ok": bool, "detail": str}."""
    nights = [n for n in r["nights"] if n["night"] >= 1]
    v: dict[str, dict] = {}

    compared = [n for n in nights if "fresh" in n]
    bad = {
        n["night"]: n["fresh"]["differences"]["figures"] + n["fresh"]["differences"]["files"]
        for n in compared
        if n["fresh"]["differences"]["figures"] or n["fresh"]["differences"]["files"]
    }
    bad_files = {
        n["night"]: (n["files"], n["fresh"]["files"]) for n in compared if n["files"] != n["fresh"]["files"]
    }
    copies = [len(n["fresh"]["differences"]["copies"]) for n in compared]
    keys = sorted({k for n in compared for k in n["fresh"]["differences"].get("figure_keys", [])})
    v["same as a fresh run"] = {
        "ok": bool(compared) and not bad and not bad_files,
        "detail": f"{len(compared)} nights compared: figures, analysts' views, files and issues"
        + (
            f"; differ on {len(bad)} nights (first {min(bad)}: {bad[min(bad)]}); figures that differ: {keys}"
            if bad
            else ""
        )
        + (f"; file counts differ: {bad_files}" if bad_files else "")
        + (
            f"; byte-identical copies labelled the other way round (original = first seen, ledger.md §2): "
            f"up to {max(copies)} files a night"
            if any(copies)
            else ""
        ),
        # every difference comes from byte-identical rejected files in several units' folders: the
        # unit charged with the rejected file is the one whose copy was seen first (ledger.md §2)
        "only_rejected_copies": bool(bad)
        and not bad_files
        and all(not n["fresh"]["differences"]["files"] for n in compared)
        and set(keys) <= {"submissions.rejected_files"},
    }

    wrong = {
        n["night"]: (n["parsed"], n["expected_parsed"]) for n in nights if n["parsed"] != n["expected_parsed"]
    }
    v["parses only new files"] = {
        "ok": not wrong,
        "detail": f"{sum(n['parsed'] for n in nights)} parsed over {len(nights)} nights"
        + (f"; parsed vs new contents: {wrong}" if wrong else ""),
    }

    # run time: CPU seconds of the run and its children (wall time on a shared 2-core machine moves
    # with everything else on it), fitted on the files parsed and the files in the inbox; what the
    # growing inbox adds by the last night must stay a small part of a night's run
    xs = [(n["parsed"], n["files"]) for n in nights]
    b0, b_new, b_total = _fit(xs, [n["cpu_seconds"] for n in nights])
    w0, w_new, w_total = _fit(xs, [n["seconds"] for n in nights])
    growth = b_total * (nights[-1]["files"] - nights[0]["files"])
    median = statistics.median(n["cpu_seconds"] for n in nights)
    v["run time tracks new files"] = {
        "ok": growth <= max(1.0, 0.25 * median),
        "detail": f"CPU s ≈ {b0:.2f} + {b_new * 1000:.1f} ms × parsed + {b_total * 1000:.2f} ms × files in the "
        f"inbox: the inbox's growth ({nights[0]['files']} → {nights[-1]['files']} files) adds {growth:.2f} s "
        f"(median night {median:.2f} CPU s; allowed max(1 s, 25 %)); wall s ≈ {w0:.2f} + "
        f"{w_new * 1000:.1f} ms × parsed + {w_total * 1000:.2f} ms × files",
        "fit": {"intercept_s": b0, "s_per_parsed": b_new, "s_per_file": b_total, "growth_s": growth},
    }

    # warehouse size: against the fresh single run over the same inbox, which holds the same rows
    # and one run's history; the soak's extra is the earlier runs' history and free blocks
    ratios = [(n["night"], n["warehouse_bytes"] / n["fresh"]["warehouse_bytes"]) for n in compared]
    if compared:
        last = compared[-1]
        extra = last["warehouse_bytes"] - last["fresh"]["warehouse_bytes"]
        per_night = extra / max(1, last["night"] - 1)
        detail = (
            f"night {last['night']}: {_mb(last['warehouse_bytes'])} MB against {_mb(last['fresh']['warehouse_bytes'])} "
            f"MB for a fresh run over the same inbox ({ratios[-1][1]:.2f} ×; allowed ≤ 1.5 ×): "
            f"{_mb(extra)} MB of earlier runs' history and free blocks, {_mb(int(per_night))} MB a night"
        )
    else:
        per_night, detail = None, "no fresh run to compare"
    v["warehouse grows with new rows only"] = {
        "ok": bool(ratios) and ratios[-1][1] <= 1.5,
        "detail": detail,
        "ratios": ratios,
        "extra_bytes_per_night": per_night,
    }

    left = {n["night"]: n["left_behind"] for n in r["nights"] if n["left_behind"]}
    left_fresh = {n["night"]: n["fresh"]["left_behind"] for n in compared if n["fresh"]["left_behind"]}
    v["nothing left behind"] = {
        "ok": not left and not left_fresh,
        "detail": "after every run: only the warehouse, its (free) lock file and the feedback cache"
        + (f"; left: {left}" if left else "")
        + (f"; fresh runs left: {left_fresh}" if left_fresh else ""),
    }

    readers = r.get("readers", {})
    held = readers.get("held", [])
    errors = [x["error"] for x in held if "error" in x]
    rows = [tuple(x["row"]) for x in held if "row" in x]
    span = (held[0]["t"], held[-1]["t"]) if held else (0, 0)
    v["held reader: one consistent snapshot"] = {
        "ok": bool(rows) and not errors and len(set(rows)) == 1 and consistent(list(rows[0])),
        "detail": f"{len(rows)} queries over {span[1] - span[0]:.0f} s, {len(set(rows))} distinct answer(s)"
        + (f", errors: {errors[:3]}" if errors else ""),
    }
    by_run = {n["night"] + 1: (n["as_of"], n["files"]) for n in r["nights"]}  # night 0 is run 1
    recon = readers.get("reconnecting", [])
    rerr = [x["error"] for x in recon if "error" in x]
    rrows = [x["row"] for x in recon if "row" in x]
    torn = [x for x in rrows if not consistent(x) or by_run.get(x[0]) != (x[1], x[2])]
    v["reconnecting reader: only published runs"] = {
        "ok": bool(rrows) and not rerr and not torn,
        "detail": f"{len(rrows)} queries saw {len({x[0] for x in rrows})} runs"
        + (f", errors: {rerr[:3]}" if rerr else "")
        + (f", inconsistent: {torn[:3]}" if torn else ""),
    }
    return v


# ---- reporting ----------------------------------------------------------------------------------

HEADER = (
    f"{'night':>5} {'as-of':>10} {'files':>6} {'new':>4} {'parsed':>6} {'s':>6} {'cpu s':>6} {'wh MB':>7} "
    f"{'srv MB':>7} {'fresh s':>7} {'same':>4}  left behind"
)


def _row(n: dict) -> str:
    fresh = n.get("fresh")
    d = fresh["differences"] if fresh else {}
    same = "–" if fresh is None else ("NO" if d["figures"] or d["files"] else "yes")
    return (
        f"{n['night']:>5} {n['as_of']:>10} {n['files']:>6} {n['new_files']:>4} {n['parsed']:>6} "
        f"{n['seconds']:>6.2f} {n['cpu_seconds']:>6.2f} {_mb(n['warehouse_bytes']):>7.2f} {_mb(n['server_db_bytes']):>7.2f} "
        f"{fresh['seconds'] if fresh else '–':>7} {same:>4}  {'; '.join(n['left_behind']) or '–'}"
    )


def summary(r: dict) -> list[dict]:
    """First night, the median over the nights, last night."""
    nights = [n for n in r["nights"] if n["night"] >= 1]

    def med(key):
        return statistics.median(n[key] for n in nights)

    pick = ("files", "new_files", "parsed", "seconds", "cpu_seconds", "warehouse_bytes", "server_db_bytes")
    rows = [{"which": "first night", **{k: nights[0][k] for k in pick}}]
    rows.append({"which": "median night", **{k: med(k) for k in pick}})
    rows.append({"which": "last night", **{k: nights[-1][k] for k in pick}})
    for row, n in zip(rows[::2], (nights[0], nights[-1]), strict=True):
        row["fresh_seconds"] = n.get("fresh", {}).get("seconds")
        row["fresh_cpu_seconds"] = n.get("fresh", {}).get("cpu_seconds")
    return rows


def render(r: dict, meta: dict) -> str:
    nights = [n for n in r["nights"] if n["night"] >= 1]
    uploads = Counter()
    for n in nights:
        uploads.update(n["uploads"])
    srv = [n["server_db_growth_bytes"] for n in nights]
    left = sum(1 for n in r["nights"] if n["left_behind"])
    first_db = r["nights"][0]["server_db_bytes"]
    runs = len(nights) + sum(1 for n in nights if "fresh" in n)
    lines = [
        BEGIN,
        f"## Soak: {r['n_nights']} nights of a growing inbox (`benchmarks/soak.py`)",
        "",
        f"{r['n_units']}-unit county (seed {r['seed']}), {r['n_nights']} nights from {nights[0]['as_of']} to "
        f"{nights[-1]['as_of']}, each `ledgerflow run --as-of <that night>` against one Prefect server "
        f"(basic authentication on), run {meta['when']}, {meta['cores']} cores, load average at start "
        f"{meta['load']}. Uploads over the nights: {uploads['version']:,} new versions "
        f"({sum(n['new_versions_of_a_unit'] for n in nights):,} of them a unit's later 统计截止日期), "
        f"{uploads['rejected']:,} rejected files, {uploads['copy']:,} exact copies, {uploads['lock']:,} `~$` "
        f"lock files and {uploads['other']:,} other files (docx, pdf, .DS_Store…). Night 0 (the day before) "
        "is one run on the empty inbox, after which an analyst's read-only connection stays open to the end.",
        "",
        "| night | files in the inbox | new files | parsed | seconds | CPU s | fresh single run: s, CPU s "
        "| warehouse MB | Prefect DB MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summary(r):
        fs, fc = row.get("fresh_seconds"), row.get("fresh_cpu_seconds")
        lines.append(
            f"| {row['which']} | {row['files']:,.0f} | {row['new_files']:,.0f} | {row['parsed']:,.0f} | "
            f"{row['seconds']:.2f} | {row['cpu_seconds']:.2f} | {'–' if fs is None else f'{fs:.2f}, {fc:.2f}'} | "
            f"{_mb(row['warehouse_bytes']):.2f} | {_mb(row['server_db_bytes']):.2f} |"
        )
    lines += [
        "",
        f"Temp files, locks or private copies left behind: {left} of {len(r['nights'])} runs. Prefect server "
        f"database (`prefect.db` with its WAL): {_mb(first_db)} MB after night 0, "
        f"{_mb(nights[-1]['server_db_bytes'])} MB after night {nights[-1]['night']}, i.e. "
        f"{_mb((nights[-1]['server_db_bytes'] - first_db) // runs)} MB for each of the {runs} flow runs since "
        f"(the nightly runs and the fresh runs they were compared with); the median growth measured "
        f"across a nightly run alone is {_mb(int(statistics.median(srv)))} MB.",
        "",
        "| criterion | met | measured |",
        "|---|:---:|---|",
    ]
    for name, x in r["verdicts"].items():
        lines.append(f"| {name} | {'yes' if x['ok'] else '**no**'} | {x['detail']} |")
    if r.get("largest_tables"):
        lines += [
            "",
            f"The largest tables of the warehouse after night {nights[-1]['night']}: "
            + ", ".join(
                f"`{t['table']}` {t['rows']:,} rows, {_mb(t['bytes'])} MB" for t in r["largest_tables"]
            )
            + ".",
        ]
    lines += ["", NOTES, END]
    return "\n".join(lines)


NOTES = """What is checked, and what counts as left behind, is in the docstring of `benchmarks/soak.py`;
`tests/scheduling/test_soak.py` runs the same code (10 nights of a 50-unit county in the default
suite, 60 nights of a 150-unit county with `-m slow`). The per-night table is in
`benchmarks/work/soak-n<units>-<nights>.json`.

- **Run time** is the whole `ledgerflow run` process, start-up (≈ 3 s of imports and the flow run
  being created) included. The criterion is judged on CPU seconds of the run and its child
  processes: on a shared 2-core machine wall time moves with whatever else runs, and it includes
  waiting for the Prefect server, whose own CPU is not counted. Every night writes every output
  again (report, summary workbook, CSVs, feedback copies) and hashes every file of the inbox, so a
  small part of a night grows with the inbox; the fit says how much.
- **Same as a fresh run** compares figures.json, rollup.csv, report.md, the summary workbook's cells,
  the analysts' views row by row, submissions.csv and issues.csv. Among byte-identical copies the
  original is the first seen by the pipeline (ledger.md §2), which a single run over the whole inbox
  cannot know (it takes the first by path); so which copy is called `duplicate` may differ, and the
  columns that follow a file's path (path, submitter) are compared up to that choice. Where the
  copies are one *rejected* file in several units' folders (the same PDF renamed .xls, the same
  "see attachment" text file), the choice decides which unit `submissions.rejected_files` charges,
  and the other units are never told (their copy is a duplicate, outside feedback): the figure
  then follows the order of arrival and differs from a fresh run.
- **Warehouse size**: every run keeps its own history in the warehouse (`lf.run_rollup`: one row per
  unit and figure key; `lf.run_files`: one per file of the inbox; `lf.run_issues`, `lf.run_changes`),
  so the file grows each night by one run's history even when little arrives, and each night's
  private copy copies all of it. Any earlier date can be replayed from the warehouse alone
  (`--as-of`), so keeping only the latest runs' history would lose nothing the office uses.
- **Prefect server database**: each run adds its flow run, task runs, logs, events and two
  artifacts. Prefect deletes events after 7 days but keeps flow runs, logs and artifacts unless the
  server runs with `PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED=events,flow_runs` (then after
  `PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD`, default 90 days); see docs/scheduling.md."""


def write_readme(section: str) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from readme_section import replace_section

    replace_section(README, BEGIN, END, section)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--nights", type=int, default=60)
    ap.add_argument("--cadence", type=int, default=7, help="days between two 统计截止日期 (default weekly)")
    ap.add_argument("--seed", type=int, default=2023)
    ap.add_argument(
        "--fresh", default="all", help="nights to compare with a fresh single run: all, none or 1,5,10"
    )
    ap.add_argument(
        "--no-readme", action="store_true", help="do not rewrite the section in benchmarks/README.md"
    )
    ap.add_argument(
        "--readme-only", action="store_true", help="rewrite the README section from the last results file"
    )
    args = ap.parse_args(argv)
    results = WORK / f"soak-n{args.units}-{args.nights}.json"
    if args.readme_only:
        r = json.loads(results.read_text(encoding="utf-8"))
        write_readme(render(r, r["meta"]))
        return 0
    fresh = (
        None
        if args.fresh == "all"
        else (set() if args.fresh == "none" else {int(x) for x in args.fresh.split(",")})
    )
    base = WORK / f"soak-n{args.units}-{args.nights}"
    meta = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "machine": platform.platform(),
    }
    print(HEADER, flush=True)
    with prefect_server(base, auth=f"soak:{os.urandom(8).hex()}") as server:
        r = soak(
            base,
            server,
            n_units=args.units,
            n_nights=args.nights,
            cadence=args.cadence,
            seed=args.seed,
            fresh=fresh,
            progress=lambda line: print(line, flush=True),
        )
    r["meta"] = meta
    readers = r.pop("readers")
    r["reader_queries"] = {k: len(v) for k, v in readers.items()}
    results.write_text(json.dumps(r, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print()
    for row in summary(r):
        print({k: (_mb(v) if k.endswith("bytes") else v) for k, v in row.items()})
    for name, x in r["verdicts"].items():
        print(f"{'PASS' if x['ok'] else 'FAIL'}  {name}: {x['detail']}")
    if not args.no_readme:
        write_readme(render(r, meta))
        print(f"\n{README} updated")
    shutil.rmtree(base / "county", ignore_errors=True)
    return 0 if all(x["ok"] for x in r["verdicts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
