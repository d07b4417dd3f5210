"""ledgerflow benchmark: the real command line against a naive pandas baseline and a calamine floor,
side by side in one run on the same files, plus an incremental run, peak memory, the Dask runner
with 1 and 2 workers, and a profile of the parse stage.

    .venv/bin/python benchmarks/run.py --units 2000              # everything (≈ 10 min on 2 cores)
    .venv/bin/python benchmarks/run.py --units 20000             # ledgerflow + floor only (peak RSS)

Results go to benchmarks/work/results-n<N>.json; benchmarks/README.md is rewritten from every
results file there (the part above the "kept" marker; the notes below it are left alone).
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
import socket
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


def run(n_units: int, seed: int, parts: tuple[str, ...]) -> dict:
    root = corpus.county(n_units, seed)
    cinfo = corpus.info(root)
    wd = WORK / f"run-n{n_units}-s{seed}"
    if wd.exists():
        shutil.rmtree(wd)
    wd.mkdir(parents=True)
    inbox = wd / "inbox"
    shutil.copytree(root / "inbox", inbox)
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
    a = ap.parse_args(argv)
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
