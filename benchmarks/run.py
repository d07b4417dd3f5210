"""ledgerflow benchmark: the real command line against a naive pandas baseline and a calamine floor,
side by side in one run on the same files, plus an incremental run, peak memory, the Dask runner
with 1 and 2 workers, and a profile of the parse stage.

    .venv/bin/python benchmarks/run.py --units 2000              # everything (≈ 10 min on 2 cores)
    .venv/bin/python benchmarks/run.py --units 20000             # ledgerflow + floor only (peak RSS)
    .venv/bin/python benchmarks/run.py --issue15                 # issue #15 figures (≈ 6 min)

Results go to benchmarks/work/results-n<N>.json; benchmarks/README.md is rewritten from every
results file there (the part above the "kept" marker; the notes below it are left alone).

``--issue15`` (``--marginal 1000,4000``, ``--repeat N``; ``--readme-only`` re-renders) measures, in
one invocation against one ``prefect server start`` started once:

1. the per-workbook marginal cost of a fresh full ``ledgerflow run`` and of the bare calamine read
   (floor.py) between two county sizes (corpus.county(n, 2023); a corpus folder being written
   elsewhere is waited for): (t_big − t_small) / (workbooks_big − workbooks_small), their ratio,
   and the intercept (fixed cost) of ledgerflow's line;
2. naive_baseline.py / ``ledgerflow run`` on the smaller county;
3. the fixed cost of a CLI run on the sample county (/work/shared/samples/small): a fresh run, then
   the same warehouse again (nothing new), broken down into process start + imports, the flow body
   by task and the tail to the exit; and the nothing-new run without PREFECT_API_URL (Prefect's
   temporary server, in a PREFECT_HOME of its own: first and second use);
4. served latency: ``ledgerflow serve`` (as it runs by default) for the sample county and for the
   smaller county, each on a fresh warehouse; the ``ledgerflow/on-demand`` deployment triggered
   twice from a client process (everything parsed, then nothing new) and timed from the create
   call to the client's first sight of the final state, split by the flow run's state history.

Results go to benchmarks/work/results-issue15.json and to the README section between the
``run.py --issue15`` markers, whose history table keeps the earlier runs' rows.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

import corpus  # noqa: E402

VENV = REPO / ".venv" / "bin"
PY = str(VENV / "python")
WORK = corpus.WORK
README = REPO / "benchmarks" / "README.md"
KEPT = "<!-- run.py rewrites everything above this line; the notes below are kept -->"
AS_OF = "2023-12-15"
ALL_PARTS = ("ledgerflow", "incremental", "naive", "floor", "dask", "profile")


# ---- measuring ----------------------------------------------------------------------------------


def measure(argv: list[str], *, env: dict | None = None, log: Path | None = None, cwd: Path = REPO) -> dict:
    """Run argv; wall seconds and the peak summed RSS of its whole process tree (polled every 50 ms)."""
    t0 = time.perf_counter()
    fh = open(log, "w", encoding="utf-8") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=fh if log else subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        ps = psutil.Process(proc.pid)
        peak = peak_procs = 0
        peak_detail: list[tuple[str, int]] = []
        out_chunks: list[str] = []
        while proc.poll() is None:
            try:
                tree = [ps, *ps.children(recursive=True)]
                rss = 0
                detail = []
                for p in tree:
                    try:
                        one = p.memory_info().rss
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        continue
                    rss += one
                    detail.append((_role(p), one))
                if rss > peak:
                    peak, peak_procs, peak_detail = rss, len(tree), detail
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        if not log:
            out_chunks.append(proc.stdout.read())
        rc = proc.wait()
    finally:
        if log:
            fh.close()
    seconds = time.perf_counter() - t0
    text = log.read_text(encoding="utf-8", errors="replace") if log else "".join(out_chunks)
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(peak / 2**20, 1),
        "procs_at_peak": peak_procs,
        "rss_at_peak_mb": {
            role: round(sum(r for n, r in peak_detail if n == role) / 2**20, 1)
            for role in sorted({n for n, _ in peak_detail})
        },
        "rc": rc,
        "output": text,
    }


def _role(p: psutil.Process) -> str:
    """What a process of the run's tree is, for the memory breakdown at the peak."""
    try:
        cmd = " ".join(p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"
    if "multiprocessing.spawn" in cmd or "multiprocessing-fork" in cmd:
        return "child processes (parse / feedback)"
    if "distributed" in cmd or "dask" in cmd:
        return "dask workers"
    if "uvicorn" in cmd or "prefect.server" in cmd:
        return "prefect server"
    return "flow process" if "ledgerflow" in cmd else p.name()


_TS = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) \| \w+\s+\| (.*)$")


def log_events(text: str) -> list[tuple[float, str]]:
    out = []
    for line in text.splitlines():
        m = _TS.match(line)
        if m:
            h, mi, s, ms, msg = m.groups()
            out.append((int(h) * 3600 + int(mi) * 60 + int(s) + int(ms) / 1000, msg))
    return out


def stages(text: str) -> dict:
    """Stage times from the run's own log lines (Prefect's timestamps)."""
    ev = log_events(text)

    def first(pat: str) -> float | None:
        return next((t for t, m in ev if re.search(pat, m)), None)

    def last(pat: str) -> float | None:
        hits = [t for t, m in ev if re.search(pat, m)]
        return hits[-1] if hits else None

    server = first(r"Starting temporary server")
    flow0 = first(r"Beginning flow run")
    planned = first(r"收件箱共")
    cluster = first(r"Dask dashboard is available|Connecting to an existing Dask cluster")
    parsed = last(r"已读取 \d+/\d+") or planned
    done = first(r"完成：")
    end = last(r"Flow run .* Finished in state")
    parse_start = cluster if (cluster and planned and cluster > planned) else planned
    m = re.search(r"收件箱共(\d+)个文件，需解析(\d+)个新工作簿（(\d+)批）", text)
    steps = {}
    prev = parsed
    for t, msg in ev:
        mm = re.match(r"Task run '(.+?)(?:-[0-9a-f]{3})?' - Finished in state", msg)
        if mm and parsed is not None and t >= parsed and not mm.group(1).startswith("parse batch"):
            steps[mm.group(1)] = round(steps.get(mm.group(1), 0) + t - prev, 3)
            prev = t

    def d(a, b):
        return round(b - a, 3) if a is not None and b is not None else None

    return {
        "server_start_s": d(server, flow0),
        "flow_s": d(flow0, end),
        "before_parse_s": d(flow0, planned),
        "cluster_start_s": d(planned, cluster) if parse_start != planned else None,
        "parse_s": d(parse_start, parsed),
        "after_parse_s": d(parsed, done),
        "files": int(m.group(1)) if m else None,
        "parsed": int(m.group(2)) if m else None,
        "batches": int(m.group(3)) if m else None,
        "steps_after_parse": steps,
    }


# ---- a Prefect server started once --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectServer:
    """`prefect server start` once for all runs (its start time is reported separately)."""

    def __init__(self, home: Path):
        self.home = home
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.proc = None
        self.start_s = None

    def env(self) -> dict:
        env = dict(os.environ)
        env["PREFECT_HOME"] = str(self.home)
        env.pop("PREFECT_PROFILE", None)
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        env["PREFECT_LOGGING_LEVEL"] = "INFO"
        return env

    def __enter__(self):
        if self.home.exists():
            shutil.rmtree(self.home)
        self.home.mkdir(parents=True)
        t0 = time.perf_counter()
        self.log = open(self.home / "server.log", "w")
        self.proc = subprocess.Popen(
            [str(VENV / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        while time.perf_counter() - t0 < 180:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        self.start_s = round(time.perf_counter() - t0, 2)
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"prefect server did not start; see {self.home / 'server.log'}")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def run_env(self) -> dict:
        env = self.env()
        env["PREFECT_API_URL"] = self.url
        return env


# ---- the runs -----------------------------------------------------------------------------------


def ledgerflow_run(
    name: str,
    wd: Path,
    inbox: Path,
    registry: Path,
    env: dict,
    *extra: str,
    fresh: bool = True,
    warehouse: str | None = None,
) -> dict:
    wh = wd / f"{warehouse or name}.duckdb"
    if fresh:
        for p in (wh, wh.with_name(wh.name + ".wal")):
            p.unlink(missing_ok=True)
    argv = [
        str(VENV / "ledgerflow"),
        "run",
        "--inbox",
        str(inbox),
        "--registry",
        str(registry),
        "--warehouse",
        str(wh),
        "--out",
        str(wd / f"out-{warehouse or name}"),
        "--as-of",
        AS_OF,
        *extra,
    ]
    r = measure(argv, env=env, log=wd / f"{name}.log")
    if r["rc"] != 0:
        raise RuntimeError(
            f"ledgerflow run {name} failed (exit {r['rc']}); see {wd / f'{name}.log'}\n" + r["output"][-3000:]
        )
    r.update(stages(r.pop("output")))
    r["excl_server_s"] = round(r["seconds"] - (r["server_start_s"] or 0), 3)
    r["startup_s"] = round(r["seconds"] - (r["flow_s"] or 0) - (r["server_start_s"] or 0), 3)
    print(
        f"  {name}: {r['seconds']:.1f} s wall, parse {r['parse_s']} s, after parse {r['after_parse_s']} s, "
        f"peak RSS {r['peak_rss_mb']:.0f} MB",
        flush=True,
    )
    return r


def script_run(name: str, script: str, inbox: Path) -> dict:
    r = measure([PY, str(REPO / "benchmarks" / script), str(inbox)])
    if r["rc"] != 0:
        raise RuntimeError(f"{script} failed (exit {r['rc']}):\n{r['output'][-3000:]}")
    r.update(json.loads(r.pop("output").strip().splitlines()[-1]))
    print(
        f"  {name}: {r['seconds']:.1f} s wall, peak RSS {r['peak_rss_mb']:.0f} MB {r.get('rss_at_peak_mb', {})}",
        flush=True,
    )
    return r


def temporary_server_start(env: dict, wd: Path) -> dict | None:
    """The temporary-server start of a plain `ledgerflow run` (no PREFECT_API_URL), from its log, on
    the shared sample county when it is there (a tiny run: the start is what is measured)."""
    sample = REPO.parent / "shared" / "samples" / "small"
    if not (sample / "inbox").is_dir():
        return None
    env = dict(env)
    env.pop("PREFECT_API_URL", None)
    r = ledgerflow_run("sample-temporary-server", wd, sample / "inbox", sample / "registry.xlsx", env)
    return {"server_start_s": r["server_start_s"], "seconds": r["seconds"]}


# ---- profile of the parse stage -----------------------------------------------------------------


def profile_parse(inbox: Path, n_sample: int = 300) -> dict:
    """parse_workbook in-process (no sandbox) over an evenly spaced sample of readable workbooks,
    under cProfile: the functions that cost the most per workbook. Run in a child process so that a
    calamine abort cannot take the benchmark down."""
    code = f"""
import sys, json
sys.path.insert(0, {str(REPO / "benchmarks")!r}); sys.path.insert(0, {str(REPO)!r})
import run
print(json.dumps(run._profile_child({str(inbox)!r}, {n_sample})))
"""
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=1800)
    if r.returncode != 0:
        return {"error": r.stderr[-2000:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def _profile_child(inbox: str, n_sample: int) -> dict:
    from datetime import date

    from python_calamine import CalamineWorkbook

    from ledgerflow.parse import parse_workbook
    from ledgerflow.settings import Limits, Settings
    from ledgerflow.template import load_template

    root = Path(inbox).parent
    truth = (
        json.loads((root / "truth.json").read_text(encoding="utf-8"))
        if (root / "truth.json").exists()
        else None
    )
    if truth:
        paths = [
            Path(inbox) / f["path"]
            for f in truth["files"]
            if f["kind"] == "workbook" and (Path(inbox) / f["path"]).exists()
        ]
    else:
        paths = corpus.workbooks(Path(inbox))
    step = max(1, len(paths) // n_sample)
    sample = paths[::step][:n_sample]
    tpl = load_template(str(Settings().template))
    limits, day = Limits(), date(2024, 2, 1)
    for p in sample[:5]:  # warm up imports and caches
        parse_workbook(p, tpl, limits, day)
    t0 = time.perf_counter()
    for p in sample:
        parse_workbook(p, tpl, limits, day)
    plain = (time.perf_counter() - t0) / len(sample)
    t0 = time.perf_counter()
    for p in sample:
        wb = CalamineWorkbook.from_path(str(p))
        for s in wb.sheet_names:
            wb.get_sheet_by_name(s).to_python()
    floor = (time.perf_counter() - t0) / len(sample)
    prof = cProfile.Profile()
    prof.enable()
    for p in sample:
        parse_workbook(p, tpl, limits, day)
    prof.disable()
    st = pstats.Stats(prof)
    n = len(sample)
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():
        short = file.replace(str(REPO) + "/", "")
        short = re.sub(r".*/site-packages/", "", short)
        rows.append(
            {
                "func": f"{short}:{line}({func})" if line else func,
                "calls_per_wb": round(nc / n, 1),
                "tottime_ms": round(tt / n * 1000, 3),
                "cumtime_ms": round(ct / n * 1000, 3),
            }
        )
    by_tot = sorted(rows, key=lambda r: -r["tottime_ms"])[:18]
    own = sorted(
        (r for r in rows if r["func"].startswith(("ledgerflow/", "warehouse/"))),
        key=lambda r: -r["cumtime_ms"],
    )[:22]
    return {
        "sample": n,
        "parse_ms_per_wb": round(plain * 1000, 2),
        "calamine_ms_per_wb": round(floor * 1000, 2),
        "profiled_ms_per_wb": round(sum(r["tottime_ms"] for r in rows), 2),
        "by_tottime": by_tot,
        "ledgerflow_by_cumtime": own,
    }


# ---- machine ------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    from importlib.metadata import version

    def v(pkg):
        try:
            return version(pkg)
        except Exception:
            return "?"

    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        **{
            p: v(p)
            for p in (
                "duckdb",
                "python-calamine",
                "pandas",
                "openpyxl",
                "prefect",
                "prefect-dask",
                "distributed",
            )
        },
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "commit": _commit(),
    }


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True
        ).stdout
        return head.strip() + (" + uncommitted changes" if dirty.strip() else "")
    except OSError:
        return "?"


# ---- main ---------------------------------------------------------------------------------------


def _fresh_workdir(name: str, county_root: Path) -> tuple[Path, Path]:
    """An empty benchmarks/work/<name> holding a copy of the county's inbox: (folder, inbox)."""
    wd = WORK / name
    if wd.exists():
        shutil.rmtree(wd)
    wd.mkdir(parents=True)
    inbox = wd / "inbox"
    shutil.copytree(county_root / "inbox", inbox)
    return wd, inbox


def run(n_units: int, seed: int, parts: tuple[str, ...]) -> dict:
    root = corpus.county(n_units, seed)
    cinfo = corpus.info(root)
    wd, inbox = _fresh_workdir(f"run-n{n_units}-s{seed}", root)
    registry = root / "registry.xlsx"
    shutil.copy(root / "truth.json", wd / "truth.json")  # the profile picks readable workbooks from it
    n_wb = len(corpus.workbooks(inbox))
    res: dict = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "units": n_units,
        "seed": seed,
        "corpus": cinfo,
        "workbook_files": n_wb,
        "machine": machine(),
        "parts": list(parts),
    }
    print(f"corpus {root.name}: {cinfo['files']} files, {n_wb} with a workbook extension", flush=True)
    with PrefectServer(wd / "prefect-home") as server:
        res["prefect_server_start_s"] = server.start_s
        print(f"  prefect server (started once): {server.start_s} s", flush=True)
        env = server.run_env()
        if "floor" in parts:
            res["floor"] = script_run("floor (calamine, 1 process)", "floor.py", inbox)
        if "ledgerflow" in parts:
            res["ledgerflow"] = ledgerflow_run("full", wd, inbox, registry, env)
            if "incremental" in parts:
                new = corpus.add_new_workbooks(inbox, n_units, seed, 0.01)
                res["incremental_new_files"] = len(new)
                res["incremental"] = ledgerflow_run(
                    "incremental", wd, inbox, registry, env, fresh=False, warehouse="full"
                )
                for p in new:
                    p.unlink()
        if "naive" in parts:
            res["naive"] = script_run("naive (pandas+openpyxl)", "naive_baseline.py", inbox)
        if "dask" in parts:
            for k in (1, 2):
                res[f"dask_{k}"] = ledgerflow_run(
                    f"dask-{k}", wd, inbox, registry, env, "--task-runner", "dask", "--workers", str(k)
                )
        if "ledgerflow" in parts:
            res["temporary_server"] = temporary_server_start(server.env(), wd)
    if "profile" in parts:
        print("  profiling the parse stage …", flush=True)
        res["profile"] = profile_parse(inbox)
    out = WORK / f"results-n{n_units}.json"
    out.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    for p in wd.glob("out-*"):
        shutil.rmtree(p, ignore_errors=True)
    shutil.rmtree(inbox, ignore_errors=True)
    return res


# ---- the table and README -----------------------------------------------------------------------


def _r(a, b, nd=2):
    return round(a / b, nd) if a is not None and b else None


def targets(r2: dict, r20: dict | None) -> list[dict]:
    out = []
    lf, fl, nv, inc = r2.get("ledgerflow"), r2.get("floor"), r2.get("naive"), r2.get("incremental")
    if lf and fl:
        ratio = _r(lf["excl_server_s"], fl["seconds"])
        out.append(
            {
                "target": "(a) ledgerflow run ≤ 1.5 × (c) floor (excl. server start)",
                "measured": f"{lf['excl_server_s']:.1f} s vs {fl['seconds']:.1f} s",
                "ratio": f"{ratio} ×",
                "goal": "≤ 1.5",
                "met": ratio <= 1.5,
            }
        )
    if lf and nv:
        ratio = _r(nv["seconds"], lf["excl_server_s"])
        out.append(
            {
                "target": "(b) naive / (a) ≥ 10",
                "measured": f"{nv['seconds']:.1f} s vs {lf['excl_server_s']:.1f} s",
                "ratio": f"{ratio} ×",
                "goal": "≥ 10",
                "met": ratio >= 10,
            }
        )
    if lf and inc:
        ratio = _r(inc["excl_server_s"], lf["excl_server_s"], 3)
        out.append(
            {
                "target": f"incremental run (+{r2.get('incremental_new_files')} new files, 1 %) ≤ 10 % of full",
                "measured": f"{inc['excl_server_s']:.1f} s vs {lf['excl_server_s']:.1f} s",
                "ratio": f"{ratio * 100:.0f} %",
                "goal": "≤ 10 %",
                "met": ratio <= 0.10,
            }
        )
    if lf:
        if r20 and r20.get("ledgerflow"):
            ratio = _r(r20["ledgerflow"]["peak_rss_mb"], lf["peak_rss_mb"])
            out.append(
                {
                    "target": f"peak RSS at {r20['units']:,} units ≤ 1.3 × at {r2['units']:,}",
                    "measured": f"{r20['ledgerflow']['peak_rss_mb']:.0f} MB vs {lf['peak_rss_mb']:.0f} MB",
                    "ratio": f"{ratio} ×",
                    "goal": "≤ 1.3",
                    "met": ratio <= 1.3,
                }
            )
        else:
            out.append(
                {
                    "target": "peak RSS at 20,000 units ≤ 1.3 × at 2,000",
                    "measured": "not measured (see notes)",
                    "ratio": "–",
                    "goal": "≤ 1.3",
                    "met": None,
                }
            )
    d1, d2 = r2.get("dask_1"), r2.get("dask_2")
    if d1 and d2:
        ratio = _r(d1["parse_s"], d2["parse_s"])
        out.append(
            {
                "target": "Dask parse stage: 2 workers ≥ 1.6 × faster than 1",
                "measured": f"{d1['parse_s']:.1f} s vs {d2['parse_s']:.1f} s",
                "ratio": f"{ratio} ×",
                "goal": "≥ 1.6",
                "met": ratio >= 1.6,
            }
        )
    return out


def _f(x) -> str:
    return "–" if x is None else f"{x:.1f}"


def _ms(x, n):
    return f"{x / n * 1000:.1f}" if x is not None and n else "–"


def render(results: dict[int, dict]) -> str:
    n2 = min(results) if results else None
    r2 = results[n2]
    r20 = results.get(max(results)) if len(results) > 1 else None
    m = r2["machine"]
    n_wb = r2["workbook_files"]
    parsed = (r2.get("ledgerflow") or {}).get("parsed") or n_wb
    L = [
        "# ledgerflow benchmarks",
        "",
        "Measured by `benchmarks/run.py` (one run; every figure below is from the same files on the same machine).",
        "",
        "```sh",
        ".venv/bin/python benchmarks/run.py --units 2000    # the table, targets and profile",
        ".venv/bin/python benchmarks/run.py --units 20000   # ledgerflow + floor only: peak RSS at scale",
        "```",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']} — {m['logical_cores']} logical cores ({m['physical_cores']} physical), "
        f"{m['memory_gb']} GB memory; {m['os']}",
        f"- Python {m['python']}, duckdb {m['duckdb']}, python-calamine {m['python-calamine']}, pandas {m['pandas']}, "
        f"openpyxl {m['openpyxl']}, prefect {m['prefect']}, prefect-dask {m['prefect-dask']}, "
        f"distributed {m['distributed']}",
        f"- code: commit {m.get('commit', 'not recorded (before 3d0036a)')}",
        f"- load average when the run started: {m['load_avg_at_start']} (the machine is shared: other work may "
        "have been running alongside)",
        "",
    ]
    for n, r in sorted(results.items()):
        c = r["corpus"]
        L += [
            f"## {n:,} units (seed {r['seed']}, run {r['when']})",
            "",
            f"Corpus: {c['files']:,} files under the inbox ({', '.join(f'{k} {v:,}' for k, v in c['kinds'].items())}); "
            f"{r['workbook_files']:,} have a workbook extension (what (b) and (c) read; the unreadable ones included). "
            f"Generated in {c['generate_seconds']:.0f} s by `ledgerflow/demo/generator.py`, messy forms included.",
            "",
            "| run | wall s | excl. server s | ms / workbook | start-up s | before parse s | parse stage s "
            "| after parse s | peak RSS MB (tree) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        nwb = r["workbook_files"]
        for key, label in (
            ("ledgerflow", "(a) `ledgerflow run` (threads runner, full)"),
            ("incremental", f"(a) incremental: +{r.get('incremental_new_files')} new workbooks"),
            ("dask_1", "(a) `--task-runner dask --workers 1`"),
            ("dask_2", "(a) `--task-runner dask --workers 2`"),
            ("naive", "(b) naive pandas+openpyxl"),
            ("floor", "(c) floor: calamine, 1 process"),
        ):
            x = r.get(key)
            if not x:
                continue
            excl = x.get("excl_server_s", x["seconds"])
            cells = [_f(x.get(k)) for k in ("startup_s", "before_parse_s", "parse_s", "after_parse_s")]
            L.append(
                f"| {label} | {x['seconds']:.1f} | {excl:.1f} | {_ms(excl, nwb)} | {' | '.join(cells)} | "
                f"{x['peak_rss_mb']:.0f} |"
            )
        at_peak = [
            f"{key}: " + ", ".join(f"{role} {mb:.0f} MB" for role, mb in r[key]["rss_at_peak_mb"].items())
            for key in ("ledgerflow", "incremental", "dask_1", "dask_2")
            if r.get(key, {}).get("rss_at_peak_mb")
        ]
        if at_peak:
            L += ["", "Peak RSS by process at the peak (sampled every 50 ms): " + "; ".join(at_peak) + "."]
        ts = r.get("temporary_server") or {}
        L += [
            "",
            f"Prefect server start (not in the figures above): `prefect server start` once "
            f"{r.get('prefect_server_start_s')} s; the temporary server of a plain `ledgerflow run` "
            f"{ts.get('server_start_s', '–')} s (from its log, on the sample county). The runs above point "
            "PREFECT_API_URL at the server started once. 'excl. server s' = wall − temporary-server start "
            "(0 here); start-up = process start and imports until the flow begins; the parse stage is timed from the run's own log lines (first 收件箱 line or, for Dask, "
            "the cluster being up, to the last 已读取 line).",
        ]
        if r.get("dask_1") and r.get("dask_1", {}).get("cluster_start_s") is not None:
            L.append(
                f"Local Dask cluster start (excluded from the parse stage): "
                f"{r['dask_1']['cluster_start_s']} s (1 worker), {r['dask_2']['cluster_start_s']} s (2 workers)."
            )
        steps = (r.get("ledgerflow") or {}).get("steps_after_parse")
        if steps:
            inc = (r.get("incremental") or {}).get("steps_after_parse", {})
            L += [
                "",
                "After the parse stage (s, full run / incremental run), from the task-run log lines:",
                "",
                "| step | full | incremental |",
                "|---|---:|---:|",
            ]
            for k, v in steps.items():
                L.append(f"| {k} | {v} | {inc.get(k, '–')} |")
        L.append("")
    L += [
        "## Targets (2,000-unit county, one run)",
        "",
        "| target | measured | ratio | goal | met |",
        "|---|---|---:|---:|:---:|",
    ]
    for t in targets(r2, r20):
        L.append(
            f"| {t['target']} | {t['measured']} | {t['ratio']} | {t['goal']} | "
            f"{'yes' if t['met'] else ('–' if t['met'] is None else '**no**')} |"
        )
    prof = r2.get("profile")
    if prof and "error" not in prof:
        L += [
            "",
            "## Profile of the parse stage",
            "",
            f"`parse_workbook` in one process over {prof['sample']} readable workbooks of the corpus (no sandbox): "
            f"**{prof['parse_ms_per_wb']} ms per workbook** without the profiler; calamine alone on the same files "
            f"{prof['calamine_ms_per_wb']} ms. Under cProfile (inflates Python-heavy code) {prof['profiled_ms_per_wb']} ms.",
            "",
            "Most expensive functions by own time, per workbook:",
            "",
            "| function | calls / wb | own ms / wb | cumulative ms / wb |",
            "|---|---:|---:|---:|",
        ]
        for x in prof["by_tottime"]:
            L.append(f"| `{x['func']}` | {x['calls_per_wb']} | {x['tottime_ms']} | {x['cumtime_ms']} |")
        L += [
            "",
            "ledgerflow's own functions by cumulative time, per workbook:",
            "",
            "| function | calls / wb | own ms / wb | cumulative ms / wb |",
            "|---|---:|---:|---:|",
        ]
        for x in prof["ledgerflow_by_cumtime"]:
            L.append(f"| `{x['func']}` | {x['calls_per_wb']} | {x['tottime_ms']} | {x['cumtime_ms']} |")
    L += ["", extrapolation(r2, parsed), ""]
    return "\n".join(L)


def extrapolation(r: dict, parsed: int) -> str:
    lf, d1, d2 = r.get("ledgerflow"), r.get("dask_1"), r.get("dask_2")
    if not (lf and d1 and d2):
        return ""
    wb_per_unit = r["workbook_files"] / r["units"]
    parse_1 = d1["parse_s"] / parsed  # one worker's seconds per workbook (sandbox, staging included)
    eff = min(1.0, (d1["parse_s"] / d2["parse_s"]) / 2)
    serial = (lf["after_parse_s"] + (lf["before_parse_s"] or 0)) / r["workbook_files"]
    L = [
        "## Extrapolation: a province and the nation on a Dask cluster of K workers",
        "",
        f"From the measured per-workbook costs at {r['units']:,} units: {wb_per_unit:.2f} workbooks per unit; "
        f"parse (sandbox + stage to Parquet) {parse_1 * 1000:.1f} ms per workbook on one worker, "
        f"2-worker efficiency {eff:.2f}; the single-writer rest of the run (discover, load, resolve, marts, rollup, "
        f"emit, publish) {serial * 1000:.1f} ms per workbook, on one process. Linear in workbooks (the rollup and "
        "emit steps grow at least linearly).",
        "",
        "| scope | units | workbooks | K | parse (K workers) | single-writer rest | total |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scope, units in (("province", 150_000), ("nation", 5_200_000)):
        n = units * wb_per_unit
        for k in (8, 32, 128, 512):
            p = n * parse_1 / (k * eff)
            s = n * serial
            L.append(f"| {scope} | {units:,} | {n:,.0f} | {k} | {_dur(p)} | {_dur(s)} | {_dur(p + s)} |")
    return "\n".join(L)


def _dur(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def write_readme() -> str:
    results = {}
    for p in sorted(WORK.glob("results-n*.json")):
        r = json.loads(p.read_text(encoding="utf-8"))
        results[r["units"]] = r
    if not results:
        return ""
    text = render(results)
    kept = ""
    if README.exists():
        old = README.read_text(encoding="utf-8")
        if KEPT in old:
            kept = old.split(KEPT, 1)[1]
    README.write_text(text + "\n" + KEPT + kept, encoding="utf-8")
    return text


# ---- issue #15: marginal cost per workbook, fixed cost per run, served on-demand latency --------

ISSUE15_JSON = WORK / "results-issue15.json"
I15_BEGIN = "<!-- run.py --issue15: begin -->"
I15_END = "<!-- run.py --issue15: end -->"
SAMPLE = REPO.parent / "shared" / "samples" / "small"
ON_DEMAND = "ledgerflow/on-demand"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _tod(dt: datetime) -> float:
    """Seconds since local midnight: the clock of the runs' log lines (HH:MM:SS.mmm, local time)."""
    return dt.hour * 3600 + dt.minute * 60 + dt.second + dt.microsecond / 1e6


def _r3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def breakdown(text: str, start_tod: float, wall: float) -> dict:
    """Where one CLI run's wall time went, from its own log lines and the moment its process started:
    process start + imports (+ the temporary server, when there is one) until "Beginning flow run";
    the flow body, as the time up to each task run's "Finished" line, one after the other (as
    stages() counts them: concurrent tasks share the time), up to the last task; and the tail from the
    last task to the process's exit (the flow run's own end and the interpreter's shutdown)."""
    ev = [(t + 86400 if t < start_tod - 3600 else t, m) for t, m in log_events(text)]
    flow0 = next((t for t, m in ev if "Beginning flow run" in m), None)
    if flow0 is None:
        return {}
    server = next((t for t, m in ev if "Starting temporary server" in m), None)
    ends = [t for t, m in ev if re.match(r"Flow run '.*' - Finished in state", m)]
    tasks: dict[str, float] = {}
    prev = flow0
    for t, m in ev:
        mm = re.match(r"Task run '(.+?)(?:-[0-9a-f]{3})?' - Finished in state", m)
        if mm and t >= flow0:
            name = re.sub(r"^parse batch \d+$", "parse batches", mm.group(1))
            tasks[name] = round(tasks.get(name, 0) + t - prev, 3)
            prev = t
    exit_tod = start_tod + wall
    return {
        "start_to_flow_s": _r3(flow0 - start_tod),
        "imports_s": _r3((server or flow0) - start_tod),
        "temporary_server_s": _r3(flow0 - server) if server else None,
        "flow_body_s": _r3(prev - flow0),
        "tasks_s": tasks,
        "tail_s": _r3(exit_tod - prev),
        "last_task_to_flow_end_s": _r3(ends[-1] - prev) if ends else None,
        "flow_end_to_exit_s": _r3(exit_tod - ends[-1]) if ends else None,
    }


def cli_run(name: str, wd: Path, inbox: Path, registry: Path, env: dict, **kw) -> dict:
    """ledgerflow_run, plus the breakdown of its wall time (breakdown()) and the load average."""
    start = _tod(datetime.now())
    r = ledgerflow_run(name, wd, inbox, registry, env, **kw)
    text = (wd / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    r["breakdown"] = breakdown(text, start, r["seconds"])
    r["load_after"] = _load()
    return r


def wait_county(n_units: int, seed: int, timeout: float = 3600) -> Path:
    """corpus.county(), but a folder being written elsewhere (no .complete yet) is waited for, not
    regenerated."""
    root = corpus.corpus_dir(n_units, seed)
    t0 = time.perf_counter()
    said = False
    while root.exists() and not (root / ".complete").is_file():
        if not said:
            print(f"  waiting for {root.name}: being generated elsewhere (no .complete yet) …", flush=True)
            said = True
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{root} still has no .complete after {timeout:.0f} s")
        time.sleep(5)
    return corpus.county(n_units, seed)


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def i15_sizes(env: dict, sizes: list[int], seed: int, repeat: int) -> dict:
    """For each county size: the bare calamine read (floor.py) and a fresh full `ledgerflow run`
    (each `repeat` times, medians used); then the naive script on the smallest county."""
    out: dict = {}
    for n in sizes:
        root = wait_county(n, seed)
        wd, inbox = _fresh_workdir(f"issue15-n{n}-s{seed}", root)
        n_wb = len(corpus.workbooks(inbox))
        print(f"corpus {root.name}: {corpus.info(root)['files']} files, {n_wb} with a workbook extension")
        x: dict = {"corpus": corpus.info(root), "workbook_files": n_wb, "wd": str(wd), "load_before": _load()}
        x["floor"] = [script_run(f"bare read (floor.py) n={n}", "floor.py", inbox) for _ in range(repeat)]
        x["ledgerflow"] = [
            cli_run(f"full-{i + 1}", wd, inbox, root / "registry.xlsx", env) for i in range(repeat)
        ]
        x["floor_s"] = _median([r["seconds"] for r in x["floor"]])
        x["ledgerflow_s"] = _median([r["seconds"] for r in x["ledgerflow"]])
        out[str(n)] = x
    n0 = str(min(sizes))
    out[n0]["naive"] = script_run(
        f"naive (pandas+openpyxl) n={n0}", "naive_baseline.py", Path(out[n0]["wd"]) / "inbox"
    )
    for x in out.values():
        for p in Path(x["wd"]).glob("out-*"):
            shutil.rmtree(p, ignore_errors=True)
    return out


def marginal(sizes: dict) -> dict:
    """The line through the two county sizes: ms per workbook (slope) and the fixed cost (intercept)."""
    keys = sorted(sizes, key=int)
    a, b = sizes[keys[0]], sizes[keys[-1]]
    dn = b["workbook_files"] - a["workbook_files"]
    lf = (b["ledgerflow_s"] - a["ledgerflow_s"]) / dn
    bare = (b["floor_s"] - a["floor_s"]) / dn
    return {
        "from_units": a["corpus"]["n_units"],
        "to_units": b["corpus"]["n_units"],
        "workbooks": [a["workbook_files"], b["workbook_files"]],
        "ledgerflow_s": [a["ledgerflow_s"], b["ledgerflow_s"]],
        "bare_s": [a["floor_s"], b["floor_s"]],
        "ledgerflow_ms_per_wb": round(lf * 1000, 2),
        "bare_ms_per_wb": round(bare * 1000, 2),
        "ratio": round(lf / bare, 2) if bare > 0 else None,
        "ledgerflow_intercept_s": round(a["ledgerflow_s"] - lf * a["workbook_files"], 2),
        "bare_intercept_s": round(a["floor_s"] - bare * a["workbook_files"], 2),
    }


def i15_fixed(server: PrefectServer, wd: Path) -> dict:
    """The sample county through the CLI: against the running server on a fresh warehouse, then again
    on the same warehouse (nothing new to parse); then the same second run without PREFECT_API_URL
    (Prefect's temporary server), twice with a PREFECT_HOME of its own (the first creates its
    database; the second is what an office machine sees every day)."""
    inbox = wd / "sample-inbox"
    shutil.copytree(SAMPLE / "inbox", inbox)
    registry = SAMPLE / "registry.xlsx"
    env = server.run_env()
    res = {
        "first": cli_run("sample-1", wd, inbox, registry, env, fresh=True, warehouse="sample"),
        "second": cli_run("sample-2", wd, inbox, registry, env, fresh=False, warehouse="sample"),
    }
    tenv = server.env()
    tenv.pop("PREFECT_API_URL", None)
    tenv["PREFECT_HOME"] = str(wd / "prefect-home-temporary")
    for i in (1, 2):
        res[f"temporary_{i}"] = cli_run(
            f"sample-temporary-{i}", wd, inbox, registry, tenv, fresh=False, warehouse="sample"
        )
    return res


def _deployment(api_url: str, name: str) -> dict | None:
    flow, dep = name.split("/")
    try:
        with urllib.request.urlopen(f"{api_url}/deployments/name/{flow}/{dep}", timeout=2) as r:
            return json.load(r)
    except (OSError, ValueError):
        return None


def _stop(proc: subprocess.Popen) -> dict:
    """SIGINT (Ctrl-C), then SIGTERM, then SIGKILL to its process group; any of its children still
    there 5 s after it exited are reported and killed by pid."""
    if proc.poll() is not None:
        return {"exited_before_stop": proc.returncode}
    try:
        kids = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        kids = []
    t0 = time.perf_counter()
    out: dict = {}
    for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 15)):
        proc.send_signal(sig)
        try:
            out = {"signal": sig.name, "rc": proc.wait(timeout=wait)}
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        out = {"signal": "SIGKILL", "rc": proc.wait()}
    out["seconds"] = round(time.perf_counter() - t0, 2)
    _gone, alive = psutil.wait_procs(kids, timeout=5)  # a child may take a moment to notice
    left = [k for k in alive if k.is_running() and k.status() != psutil.STATUS_ZOMBIE]
    if left:
        out["children_left_behind"] = [" ".join(k.cmdline())[:200] for k in left]
        for k in left:
            k.kill()
    return out


def i15_served(
    server: PrefectServer, label: str, inbox: Path, registry: Path, wd: Path, count: int = 2
) -> dict:
    """`ledgerflow serve` for one county on a fresh warehouse; once the on-demand deployment names this
    warehouse and the server has seen serve's runner poll (the deployment's last_polled), trigger it
    `count` times (one after the other) from a client process and time each trigger until the client
    sees the run's final state."""
    wh = (wd / f"served-{label}.duckdb").resolve()
    for p in (wh, wh.with_name(wh.name + ".wal")):
        p.unlink(missing_ok=True)
    out_dir = wd / f"out-served-{label}"
    shutil.rmtree(out_dir, ignore_errors=True)
    log = wd / f"serve-{label}.log"
    env = server.run_env()
    env["PYTHONUNBUFFERED"] = "1"  # its lines reach the log as they are written
    argv = [str(VENV / "ledgerflow"), "serve", "--inbox", str(inbox), "--registry", str(registry)]
    argv += ["--warehouse", str(wh), "--out", str(out_dir)]
    fh = open(log, "w", encoding="utf-8")
    t0, started = time.perf_counter(), time.time()
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=REPO,
        stdout=fh,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # Ctrl-C must reach serve as it would from a terminal, even when this script itself runs in
        # the background (a shell starts background jobs with SIGINT ignored, and that is inherited)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    ready: dict = {}
    res: dict = {"label": label, "serve_log": str(log)}
    try:
        while True:
            el = round(time.perf_counter() - t0, 2)
            if proc.poll() is not None:
                raise RuntimeError(
                    f"ledgerflow serve exited ({proc.returncode}) before it was ready:\n"
                    + log.read_text(encoding="utf-8", errors="replace")[-3000:]
                )
            d = _deployment(server.url, ON_DEMAND)
            if d and (d.get("parameters") or {}).get("warehouse") == str(wh):
                ready.setdefault("deployment_s", el)
                polled = d.get("last_polled")
                if polled and datetime.fromisoformat(polled).timestamp() >= started:
                    ready.setdefault("polled_s", el)  # the server has seen this serve's runner poll
            if "polling_s" not in ready and "polling" in log.read_text(encoding="utf-8", errors="replace"):
                ready["polling_s"] = el
            if "polled_s" in ready or ("deployment_s" in ready and el - ready["deployment_s"] > 30):
                break
            if el > 300:
                raise RuntimeError("ledgerflow serve not ready after 300 s:\n" + log.read_text()[-3000:])
            time.sleep(0.1)
        time.sleep(1.0)  # settle: its runner has polled once; trigger one second later
        ready["trigger_at_s"] = round(time.perf_counter() - t0, 2)
        res["ready"] = ready
        print(
            f"  serve {label}: deployment {ready.get('deployment_s')} s, polled {ready.get('polled_s')} s, "
            f"'polling' line {ready.get('polling_s')} s"
        )
        spec = {"name": ON_DEMAND, "parameters": {"as_of": AS_OF}, "count": count, "poll": 0.05}
        spec |= {"timeout": 1800, "gap": 1.0}
        code = (
            "import sys, json\n"
            f"sys.path.insert(0, {str(REPO / 'benchmarks')!r}); sys.path.insert(0, {str(REPO)!r})\n"
            f"import run\nprint(json.dumps(run._trigger_child(json.loads({json.dumps(spec)!r}))))\n"
        )
        c = subprocess.Popen(
            [PY, "-c", code], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        t1, why = time.perf_counter(), None
        while True:
            try:
                stdout, stderr = c.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if proc.poll() is not None:  # nothing would pick the next trigger up: stop waiting
                    why = f"ledgerflow serve exited ({proc.returncode}) while the client waited"
                elif time.perf_counter() - t1 > 4000:
                    why = "the trigger client did not finish in 4000 s"
                if why:
                    c.terminate()
                    stdout, stderr = c.communicate()
                    break
        done = [json.loads(x[8:]) for x in stdout.splitlines() if x.startswith("TRIGGER ")]
        if done:
            res["triggers"] = done  # the triggers that finished, whatever happened after them
        if why or c.returncode != 0:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(
                f"{why or f'trigger client failed (exit {c.returncode})'}; client stderr:\n{stderr[-2000:]}\n"
                f"serve's last output:\n{tail}"
            )
        res.update(json.loads(stdout.strip().splitlines()[-1]))
    except Exception as exc:  # reported as is; the other parts still run
        res["error"] = f"{type(exc).__name__}: {exc}"
        print(f"  serve {label}: ERROR {res['error']}", flush=True)
    finally:
        res["stop"] = _stop(proc)
        res["load_after"] = _load()
        fh.close()
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    trig = res.get("triggers") or []
    for i, t in enumerate(trig):  # the serve log's lines of each trigger's flow run, timed from the trigger
        start = _tod(datetime.fromtimestamp(t["t0_epoch"]))
        stop = (
            _tod(datetime.fromtimestamp(trig[i + 1]["t0_epoch"])) if i + 1 < len(trig) else start + 86400
        ) - start
        window = []
        for line in lines:
            ev = log_events(line)
            if not ev or (
                ev[0][1].startswith("Flow run '") and f"Flow run '{t['flow_run']}'" not in ev[0][1]
            ):
                continue
            s = (ev[0][0] + 86400 if ev[0][0] < start - 3600 else ev[0][0]) - start
            if -0.5 <= s < min(stop, t["completed_seen_s"] + 5):
                window.append(line)
        t["serve_log"] = [line[:200] for line in window]
        t["log_breakdown"] = breakdown("\n".join(window), start, t["completed_seen_s"])
    print(f"  serve {label}: stopped {res['stop']}", flush=True)
    return res


def _trigger_child(spec: dict) -> dict:
    """(In a child process with the server's environment.) Trigger the deployment `count` times, one
    after the other; poll each flow run every `poll` s until its state is final. Times in seconds from
    just before the create call; the server-side state history splits the wait into its pieces."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    async def one(client, dep_id) -> dict:
        t0 = time.time()
        fr = await client.create_flow_run_from_deployment(dep_id, parameters=spec["parameters"])
        created = time.time() - t0
        seen: dict[str, float] = {}
        while True:
            run = await client.read_flow_run(fr.id)
            now = time.time() - t0
            seen.setdefault(run.state.type.value if run.state else "NONE", round(now, 3))
            if (run.state and run.state.is_final()) or now > spec["timeout"]:
                break
            await asyncio.sleep(spec["poll"])
        states = sorted(await client.read_flow_run_states(fr.id), key=lambda s: s.timestamp)
        hist = [(s.type.value, s.name, round(s.timestamp.timestamp() - t0, 3)) for s in states]

        def at(kind: str) -> float | None:
            return next((x for k, _, x in hist if k == kind), None)

        def rel(d) -> float | None:
            return round(d.timestamp() - t0, 3) if d is not None else None

        pending, running = at("PENDING"), rel(run.start_time) or at("RUNNING")
        end = rel(run.end_time) or (hist[-1][2] if run.state.is_final() else None)

        def d(a, b):
            return round(b - a, 3) if a is not None and b is not None else None

        return {
            "flow_run": run.name,
            "flow_run_id": str(fr.id),
            "final_state": run.state.name,
            "state_message": run.state.message,
            "t0_epoch": t0,
            "completed_seen_s": round(now, 3),
            "create_call_s": round(created, 3),
            "until_picked_up_s": pending,
            "process_start_s": d(pending, running),
            "flow_body_s": d(running, end),
            "end_to_seen_s": d(end, now),
            "start_time_s": running,
            "end_time_s": end,
            "states": hist,
            "client_first_saw": seen,
        }

    async def main() -> dict:
        async with get_client() as client:
            dep = await client.read_deployment_by_name(spec["name"])
            out = []
            for i in range(spec["count"]):
                if i:
                    await asyncio.sleep(spec["gap"])
                out.append(await one(client, dep.id))
                print("TRIGGER " + json.dumps(out[-1]), flush=True)  # the parent keeps what finished
            return {"deployment_id": str(dep.id), "triggers": out}

    res = asyncio.run(main())
    res["runner_poll_frequency_setting_s"] = get_current_settings().runner.poll_frequency
    return res


def run_issue15(sizes: list[int], seed: int, repeat: int) -> dict:
    wd = WORK / "issue15"
    if wd.exists():
        shutil.rmtree(wd)
    wd.mkdir(parents=True)
    res: dict = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "units": sizes,
        "seed": seed,
        "repeat": repeat,
        "as_of": AS_OF,
        "machine": machine(),
    }
    print(f"issue #15 figures; load average {res['machine']['load_avg_at_start']}", flush=True)

    def part(key: str, fn, *args):
        t0 = time.perf_counter()
        try:
            res[key] = fn(*args)
        except Exception as exc:  # recorded and reported as is; the other parts still run
            res[key] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"  {key}: ERROR {res[key]['error']}", flush=True)
        res.setdefault("part_seconds", {})[key] = round(time.perf_counter() - t0, 1)

    with PrefectServer(wd / "prefect-home") as server:
        res["prefect_server_start_s"] = server.start_s
        print(f"  prefect server (started once): {server.start_s} s at {server.url}", flush=True)
        print("fixed cost: the sample county through the CLI", flush=True)
        part("fixed", i15_fixed, server, wd)
        print("marginal cost: full runs and the bare read per county size", flush=True)
        part("sizes", i15_sizes, server.run_env(), sizes, seed, repeat)
        print("served: on-demand triggers", flush=True)
        part("served_sample", i15_served, server, "sample", wd / "sample-inbox", SAMPLE / "registry.xlsx", wd)
        n0 = min(sizes)
        root = corpus.corpus_dir(n0, seed)
        inbox = WORK / f"issue15-n{n0}-s{seed}" / "inbox"  # the copy the full runs read
        inbox = inbox if inbox.is_dir() else root / "inbox"
        part("served_n", i15_served, server, f"n{n0}", inbox, root / "registry.xlsx", wd)
    sz = res.get("sizes") or {}
    if "error" not in sz and len(sz) >= 2:
        res["marginal"] = marginal(sz)
    res["load_at_end"] = _load()
    ISSUE15_JSON.write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    for p in [*wd.glob("out-*"), *WORK.glob("issue15-n*-s*/inbox")]:
        shutil.rmtree(p, ignore_errors=True)
    return res


def _g(d, *keys):
    """d[k1][k2]…, or None where a part is missing or failed."""
    for k in keys:
        if not isinstance(d, (dict, list)) or "error" in (d if isinstance(d, dict) else {}):
            return None
        try:
            d = d[k]
        except (KeyError, IndexError, TypeError):
            return None
    return d


def _s(x, nd=1, unit="") -> str:
    return "–" if x is None else f"{x:.{nd}f}{unit}"


def _yes(ok) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def _one_line(text: str, n: int = 800) -> str:
    """An error's text on one line of markdown (its lines joined with ' ⏎ ', the end kept when long)."""
    s = " ⏎ ".join(x.strip() for x in text.strip().splitlines() if x.strip()).replace("`", "'")
    return "`" + (s if len(s) <= n else "… " + s[-n:]) + "`"


def _tasks_text(tasks: dict | None, top: int | None = None) -> str:
    items = sorted((tasks or {}).items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {v:.2f}" for k, v in items)


def _figures(res: dict) -> dict:
    """The headline figures of one --issue15 run (also its history row)."""
    n0 = str(min(res["units"]))
    sizes = res.get("sizes") or {}
    naive, lf0 = _g(sizes, n0, "naive", "seconds"), _g(sizes, n0, "ledgerflow_s")

    def od(key, i):  # a trigger whose run did not complete has no latency to report
        trig = (res.get(key) or {}).get("triggers") or []
        ok = i < len(trig) and trig[i]["final_state"] == "Completed"
        return trig[i]["completed_seen_s"] if ok else None

    return {
        "when": res["when"][:16].replace("T", " "),
        "commit": res["machine"].get("commit"),
        "load": res["machine"].get("load_avg_at_start"),
        "lf_ms": _g(res, "marginal", "ledgerflow_ms_per_wb"),
        "bare_ms": _g(res, "marginal", "bare_ms_per_wb"),
        "ratio": _g(res, "marginal", "ratio"),
        "intercept_s": _g(res, "marginal", "ledgerflow_intercept_s"),
        "naive_s": naive,
        "lf0_s": lf0,
        "naive_ratio": round(naive / lf0, 2) if naive and lf0 else None,
        "cli_first_s": _g(res, "fixed", "first", "seconds"),
        "cli_second_s": _g(res, "fixed", "second", "seconds"),
        "temporary_s": _g(res, "fixed", "temporary_2", "seconds"),
        "od_sample": [od("served_sample", 0), od("served_sample", 1)],
        "od_n": [od("served_n", 0), od("served_n", 1)],
        "n0": n0,
    }


def _history_row(f: dict) -> str:
    def pair(p):
        return " / ".join(_s(x) for x in p)

    return (
        f"| {f['when']} | {f['commit']} | {', '.join(str(x) for x in f['load'] or [])} | {_s(f['lf_ms'], 2)} | "
        f"{_s(f['bare_ms'], 2)} | {_s(f['ratio'], 2, ' ×')} | {_s(f['intercept_s'])} | "
        f"{_s(f['naive_ratio'], 2, ' ×')} | {_s(f['cli_first_s'])} / {_s(f['cli_second_s'])} | "
        f"{_s(f['temporary_s'])} | {pair(f['od_sample'])} | {pair(f['od_n'])} |"
    )


def summary_lines(res: dict) -> list[str]:
    """The compact table printed at the end of an --issue15 run."""
    f = _figures(res)
    m = res.get("marginal") or {}
    L = []
    if m:
        L.append(
            f"marginal ms/workbook: ledgerflow {m['ledgerflow_ms_per_wb']} ({m['from_units']}→{m['to_units']} units: "
            f"{m['workbooks'][0]}→{m['workbooks'][1]} workbooks, {m['ledgerflow_s'][0]:.1f} s → "
            f"{m['ledgerflow_s'][1]:.1f} s), bare read {m['bare_ms_per_wb']} ({m['bare_s'][0]:.2f} s → "
            f"{m['bare_s'][1]:.2f} s), ratio {m['ratio']}× (goal ≤ 1.5×, at least ≤ 3×)"
        )
        L.append(
            f"fixed cost (intercept) s: ledgerflow {m['ledgerflow_intercept_s']}; bare read {m['bare_intercept_s']}"
        )
    else:
        L.append(f"marginal: not measured ({_g(res, 'sizes') or res.get('sizes')})")
    L.append(
        f"naive/ledgerflow @{f['n0']}: {_s(f['naive_s'])} s / {_s(f['lf0_s'])} s = "
        f"{_s(f['naive_ratio'], 2, '×')} (goal ≥ 10×)"
    )
    fx = res.get("fixed") or {}
    if "error" in fx:
        L.append(f"CLI run, sample county: ERROR {fx['error'][:500]}")
    elif fx:
        b, tb = fx["second"]["breakdown"], fx["temporary_2"]["breakdown"]
        L.append(
            f"CLI run, sample county: first {fx['first']['seconds']:.2f} s, second {fx['second']['seconds']:.2f} s "
            f"(imports+start {_s(b.get('start_to_flow_s'), 2)} s, flow body {_s(b.get('flow_body_s'), 2)} s "
            f"[{_tasks_text(b.get('tasks_s'), 5)}, …], tail {_s(b.get('tail_s'), 2)} s); goal ≤ 2 s"
        )
        L.append(
            f"  temporary server (no PREFECT_API_URL): {fx['temporary_2']['seconds']:.2f} s (imports "
            f"{_s(tb.get('imports_s'), 2)} s, server start {_s(tb.get('temporary_server_s'), 2)} s, flow body "
            f"{_s(tb.get('flow_body_s'), 2)} s, tail {_s(tb.get('tail_s'), 2)} s); first use of its PREFECT_HOME "
            f"{fx['temporary_1']['seconds']:.2f} s"
        )
    parts = []
    for key, label in (("od_sample", "sample"), ("od_n", f"{f['n0']} units")):
        parts.append(f"{label} first {_s(f[key][0], 2)} s / second {_s(f[key][1], 2)} s")
    L.append(
        "on-demand trigger→Completed: " + "; ".join(parts) + " (goal for the sample ≤ 3 s; – = not completed)"
    )
    for key, label in (("served_sample", "sample"), ("served_n", f"{f['n0']} units")):
        x = res.get(key) or {}
        if x.get("error"):
            L.append(f"  {label}: ERROR {x['error'][:800]}")
        for i, t in enumerate(x.get("triggers") or []):
            L.append(
                f"  {label} {('first', 'second')[i] if i < 2 else i + 1}: picked up {_s(t['until_picked_up_s'], 2)} s, "
                f"process start {_s(t['process_start_s'], 2)} s, flow body {_s(t['flow_body_s'], 2)} s, "
                f"end→seen {_s(t['end_to_seen_s'], 2)} s ({t['final_state']}"
                + ("" if t["final_state"] == "Completed" else f": {(t.get('state_message') or '')[:300]}")
                + ")"
            )
    return L


HISTORY_HEAD = (
    "| date | commit | load avg at start | ledgerflow ms / wb | bare read ms / wb | ratio | intercept s "
    "| naive / ledgerflow | CLI sample 1st / 2nd s | temporary server s | on-demand sample 1st / 2nd s "
    "| on-demand 1,000 units 1st / 2nd s |"
)


def _old_history(readme: Path) -> dict[str, str]:
    """The history rows already in the README's --issue15 section, by their date cell."""
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if I15_BEGIN not in text or I15_END not in text:
        return {}
    sec = text[text.index(I15_BEGIN) : text.index(I15_END)]
    rows = {}
    if "### History" in sec:
        for line in sec.split("### History", 1)[1].splitlines():
            if line.startswith("| ") and not line.startswith("| date ") and not line.startswith("|---"):
                rows[line.split("|")[1].strip()] = line
    return rows


def _serve_poll(x: dict) -> str | None:
    """The polling interval `ledgerflow serve` says it uses ("polling every N s" in its output)."""
    log = Path(x.get("serve_log") or "/nonexistent")
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    m = re.search(r"polling every ([\d.]+) ?s", text)
    return m.group(1) if m else None


def _loads(res: dict) -> str:
    def one(r) -> str:
        return _s(_g(r, "load_after", 0), 1)

    out = []
    fx = res.get("fixed") or {}
    if "error" not in fx and fx:
        out.append(
            "sample CLI runs "
            + " / ".join(one(fx[k]) for k in ("first", "second", "temporary_1", "temporary_2"))
        )
    for k, x in sorted((res.get("sizes") or {}).items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 0):
        if isinstance(x, dict) and x.get("ledgerflow"):
            out.append(f"{int(k):,}-unit full runs " + " / ".join(one(r) for r in x["ledgerflow"]))
    for key, label in (("served_sample", "served sample"), ("served_n", "served smaller county")):
        if _g(res, key, "load_after") or (res.get(key) or {}).get("load_after"):
            out.append(f"{label} {_s((res[key].get('load_after') or [None])[0], 1)}")
    return "; ".join(out) or "–"


def render_issue15(res: dict, history: dict[str, str]) -> str:
    f = _figures(res)
    m, mc = res.get("marginal") or {}, res["machine"]
    sizes = res.get("sizes") or {}
    L = [
        I15_BEGIN,
        "## Issue #15: marginal cost, fixed cost, served latency (`run.py --issue15`)",
        "",
        "```sh",
        ".venv/bin/python benchmarks/run.py --issue15                  # ≈ 6 min on 2 cores (≈ 8 with --repeat 2)",
        ".venv/bin/python benchmarks/run.py --issue15 --marginal 1000,4000 --repeat 3",
        "```",
        "",
        f"All figures below are from one invocation ({res['when']}, commit {mc.get('commit')}) on "
        f"{mc['cpu']}, {mc['logical_cores']} logical cores; load average {mc['load_avg_at_start']} at the "
        f"start and {res.get('load_at_end')} at the end (the machine is shared). One `prefect server start`, "
        f"started once ({res.get('prefect_server_start_s')} s, in no figure), is PREFECT_API_URL for every run "
        "but the temporary-server ones. Wall seconds are measured around each process; the pieces come from "
        "the runs' own log lines and the flow runs' state history on the server. Results: "
        "`benchmarks/work/results-issue15.json`; logs under `benchmarks/work/issue15*/`.",
        "",
        "### Per-workbook marginal cost vs the bare calamine read",
        "",
    ]
    if m:
        L += [
            "| county | workbooks | `ledgerflow run` (full, fresh warehouse) s | bare calamine read (`floor.py`) s |",
            "|---|---:|---:|---:|",
        ]
        for k in sorted(sizes, key=int):
            x = sizes[k]
            L.append(
                f"| {int(k):,} units | {x['workbook_files']:,} | {x['ledgerflow_s']:.2f} | {x['floor_s']:.2f} |"
            )
        L += [
            f"| **marginal ms per workbook** | | **{m['ledgerflow_ms_per_wb']}** | **{m['bare_ms_per_wb']}** |",
            f"| intercept (fixed cost) s | | {m['ledgerflow_intercept_s']} | {m['bare_intercept_s']} |",
            "",
            f"Marginal ledgerflow / bare read: **{m['ratio']} ×** (goal ≤ 1.5 ×: {_yes(m['ratio'] <= 1.5)}; "
            f"at least ≤ 3 ×: {_yes(m['ratio'] <= 3)}). Marginal = (t_{m['to_units']} − t_{m['from_units']}) / "
            f"(workbooks_{m['to_units']} − workbooks_{m['from_units']}); workbooks = files with a workbook "
            f"extension (the unreadable ones included), the same count for both. "
            + (f"Median of {res['repeat']} runs each. " if res.get("repeat", 1) > 1 else "One run each. ")
            + "Parse stage of the full runs (from their log): "
            + ", ".join(
                f"{int(k):,} units {_s(_g(sizes, k, 'ledgerflow', 0, 'parse_s'))} s, after parse "
                f"{_s(_g(sizes, k, 'ledgerflow', 0, 'after_parse_s'))} s, start-up "
                f"{_s(_g(sizes, k, 'ledgerflow', 0, 'startup_s'))} s"
                for k in sorted(sizes, key=int)
            )
            + ".",
        ]
    else:
        L.append(f"Not measured: {_one_line(str(sizes.get('error', 'missing')))}")
    L += [
        "",
        f"### naive / ledgerflow on the {int(f['n0']):,}-unit county",
        "",
        f"naive pandas+openpyxl {_s(f['naive_s'])} s / `ledgerflow run` {_s(f['lf0_s'])} s = "
        f"**{_s(f['naive_ratio'], 2, ' ×')}** (goal ≥ 10 ×: "
        f"{_yes(f['naive_ratio'] >= 10 if f['naive_ratio'] else None)}).",
        "",
        f"### Fixed cost of one CLI run (sample county `{SAMPLE}`, as of {res['as_of']})",
        "",
    ]
    fx = res.get("fixed") or {}
    if "error" in fx:
        L.append(f"Failed: {_one_line(fx['error'])}")
    elif fx:
        L += [
            "| run | wall s | process start + imports s | temporary server start s | flow body s | tail s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for key, label in (
            ("first", "running server, fresh warehouse (everything parsed)"),
            ("second", "running server, same warehouse (nothing new)"),
            ("temporary_1", "no PREFECT_API_URL, nothing new: first use of its PREFECT_HOME"),
            ("temporary_2", "no PREFECT_API_URL, nothing new: second use"),
        ):
            r, b = fx[key], fx[key]["breakdown"]
            L.append(
                f"| {label} | {r['seconds']:.2f} | {_s(b.get('imports_s'), 2)} | "
                f"{_s(b.get('temporary_server_s'), 2)} | {_s(b.get('flow_body_s'), 2)} | {_s(b.get('tail_s'), 2)} |"
            )
        b2, bt = fx["second"]["breakdown"], fx["temporary_2"]["breakdown"]
        L += [
            "",
            'Process start + imports = process start to the log\'s "Beginning flow run" (with the temporary '
            'server: to "Starting temporary server", and the server\'s start after it); the flow body ends at '
            "the last task's \"Finished\" line; the tail is from there to the process's exit (of which "
            f'{_s(b2.get("last_task_to_flow_end_s"), 2)} s until the flow run\'s own "Finished" line in the '
            "second run). Second run: files "
            f"{fx['second'].get('files')}, parsed {fx['second'].get('parsed')}.",
            "",
            "The flow body of the nothing-new runs by task (s from the previous task's end, as logged):",
            "",
            "| task | 2nd run, running server | 2nd run, temporary server |",
            "|---|---:|---:|",
        ]
        for k in dict.fromkeys([*(b2.get("tasks_s") or {}), *(bt.get("tasks_s") or {})]):
            L.append(
                f"| {k} | {_s((b2.get('tasks_s') or {}).get(k), 3)} | {_s((bt.get('tasks_s') or {}).get(k), 3)} |"
            )
        L += ["", f"Goal ≤ 2 s for the nothing-new run: {_yes(fx['second']['seconds'] <= 2)}."]
    L += [
        "",
        "### Served: trigger → Completed (`ledgerflow serve`, deployment `ledgerflow/on-demand`)",
        "",
        "`ledgerflow serve --inbox … --registry … --warehouse <fresh> --out …` runs as it does by default (no "
        "runner settings of ours); once the on-demand deployment names its warehouse and the server has seen "
        "its runner poll (the deployment's `last_polled`), "
        f"a client process triggers the deployment (parameters `as_of={res['as_of']}`) with "
        "`create_flow_run_from_deployment` and polls the flow run every 0.05 s until its state is final; the "
        "second trigger follows 1 s after the first is seen final. Pieces, from the flow run's state history: "
        "until picked up = trigger → Pending; process start = Pending → Running (start_time); flow body = "
        "Running → end_time; end → seen = end_time → the client's first sight of the final state.",
        "",
        "| county | trigger | trigger → final seen s | until picked up s | process start s | flow body s "
        "| end → seen s | state | largest tasks of the flow body (s, from serve's log) |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    notes = []
    for key, label in (("served_sample", "sample"), ("served_n", f"{int(f['n0']):,} units")):
        x = res.get(key) or {}
        for i, t in enumerate(x.get("triggers") or []):
            L.append(
                f"| {label} | {('first (empty warehouse)', 'second (nothing new)')[min(i, 1)]} | "
                f"**{_s(t['completed_seen_s'], 2)}** | {_s(t['until_picked_up_s'], 2)} | "
                f"{_s(t['process_start_s'], 2)} | {_s(t['flow_body_s'], 2)} | {_s(t['end_to_seen_s'], 2)} | "
                f"{t['final_state']}"
                + ("" if t["final_state"] == "Completed" else f": {(t.get('state_message') or '')[:300]}")
                + f" | {_tasks_text(_g(t, 'log_breakdown', 'tasks_s'), 4)} |"
            )
        rd, st = x.get("ready") or {}, x.get("stop") or {}
        stopped = (
            f"it had exited by itself (exit {st['exited_before_stop']}) before being stopped"
            if "exited_before_stop" in st
            else f"stopped with {st.get('signal')} in {st.get('seconds')} s (exit {st.get('rc')})"
            + (
                f", leaving {len(st['children_left_behind'])} child process(es) behind"
                if st.get("children_left_behind")
                else ""
            )
        )
        notes.append(
            f"{label}: deployment registered {rd.get('deployment_s')} s after `serve` started, its first poll "
            f"seen by the server at {rd.get('polled_s')} s (a line with 'polling' in its output at "
            f"{rd.get('polling_s')} s), first trigger at {rd.get('trigger_at_s')} s; {stopped}"
            + (f"; **error**: {_one_line(x['error'])}" if x.get("error") else "")
        )
    poll = _g(res, "served_sample", "runner_poll_frequency_setting_s")
    says = _serve_poll(res.get("served_sample") or {})
    L += [
        "",
        "; ".join(notes)
        + f". PREFECT_RUNNER_POLL_FREQUENCY as the serve environment leaves it: {poll} s; serve's own output says "
        f"it polls every {says or '?'} s. Every line of serve's output during each trigger is in the results file.",
        "",
        "1-minute load average after each run (2 cores, shared): " + _loads(res) + ".",
        "",
        "Goal ≤ 3 s for the sample county: "
        + ", ".join(
            f"{w} {_yes(None if x is None else x <= 3)}"
            for w, x in zip(("first", "second"), f["od_sample"], strict=True)
        )
        + ".",
        "",
        "### History of `--issue15` runs",
        "",
        HISTORY_HEAD,
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in sorted(history):
        L.append(history[k])
    L.append(I15_END)
    return "\n".join(L)


def write_issue15_readme(res: dict) -> str:
    from readme_section import replace_section

    history = _old_history(README)
    f = _figures(res)
    history[f["when"]] = _history_row(f)
    text = render_issue15(res, history)
    replace_section(README, I15_BEGIN, I15_END, text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=2023)
    ap.add_argument(
        "--parts",
        default=None,
        help=f"comma-separated subset of {','.join(ALL_PARTS)} (default: all up to 5,000 units, "
        "else ledgerflow,floor)",
    )
    ap.add_argument("--readme-only", action="store_true", help="rewrite README.md from the stored results")
    ap.add_argument(
        "--issue15",
        action="store_true",
        help="issue #15 figures: marginal ms per workbook vs the bare read, naive/ledgerflow, the fixed "
        "cost of a CLI run, served on-demand latency (results-issue15.json and its README section)",
    )
    ap.add_argument("--marginal", default="1000,4000", help="--issue15: the two county sizes, in units")
    ap.add_argument("--repeat", type=int, default=1, help="--issue15: runs per size (medians used)")
    a = ap.parse_args(argv)
    if a.issue15:
        sizes = sorted({int(x) for x in a.marginal.split(",")})
        if len(sizes) != 2:
            ap.error("--marginal takes two different county sizes, e.g. 1000,4000")
        if a.readme_only:
            res = json.loads(ISSUE15_JSON.read_text(encoding="utf-8"))
        else:
            res = run_issue15(sizes, a.seed, max(1, a.repeat))
        write_issue15_readme(res)
        print("\n".join(summary_lines(res)))
        return 0
    if not a.readme_only:
        parts = (
            tuple(a.parts.split(","))
            if a.parts
            else (ALL_PARTS if a.units <= 5000 else ("ledgerflow", "floor"))
        )
        unknown = set(parts) - set(ALL_PARTS)
        if unknown:
            ap.error(f"unknown parts: {sorted(unknown)}")
        run(a.units, a.seed, parts)
    print(write_readme())
    return 0


if __name__ == "__main__":
    sys.exit(main())
