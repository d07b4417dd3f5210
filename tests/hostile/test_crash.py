"""Crash safety and concurrent readers.

A warehouse holding a published state (the sample county as of 2023-12-15) is updated by a run as
of 2024-01-20. That run is killed with SIGKILL (its whole process group) at random points; after
each kill the warehouse opens read-only and holds exactly the old or the new state, and an
uninterrupted rerun then writes figures.json and rollup.csv byte-identical to a run that was never
interrupted. Analysts: a read-only connection held open through a run never fails it; a read-write
one makes the run fail (exit 1) naming the analyst's process, with the warehouse unchanged.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from hostile_env import (
    _reap_group,
    copy_sample,
    count_inbox_entries,
    ledgerflow_args,
    read_csv,
    run_ledgerflow,
)

OLD_AS_OF, NEW_AS_OF = "2023-12-15", "2024-01-20"

ANALYST = r"""
import sys, time, duckdb
path, mode = sys.argv[1], sys.argv[2]
con = duckdb.connect(path, read_only=(mode == "ro"))
print("ready", flush=True)
ok = errors = 0
if mode == "rw":
    sys.stdin.read()
else:
    import select
    while not select.select([sys.stdin], [], [], 0.2)[0]:
        try:
            con.execute("select count(*) from lf.runs").fetchone()
            con.execute("select count(*) from lf.rollup").fetchone()
            ok += 1
        except Exception as exc:
            errors += 1
            print("error", exc, flush=True)
print("done", ok, errors, flush=True)
"""


def state(warehouse: Path) -> tuple:
    """The published state: the as-of date of the latest run, and the rollup. Opening read-only must
    work, and no run may show as anything but completed."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        runs = con.execute("select run_id, as_of, status from lf.runs order by run_id").fetchall()
        rollup = con.execute("select unit_code, key, own, total from lf.rollup order by all").fetchall()
    finally:
        con.close()
    assert runs and all(r[2] == "completed" for r in runs), runs
    return str(runs[-1][1]), tuple(rollup)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_analyst(warehouse: Path, mode: str) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(warehouse), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline()
    assert line.strip() == "ready", (line, p.stderr.read() if p.poll() is not None else "")
    return p


def stop_analyst(p: subprocess.Popen) -> str:
    out, err = p.communicate(input="q\n", timeout=30)
    return out + err


@pytest.fixture(scope="module")
def refs(sample, prefect_env, tmp_path_factory):
    """Old state (published), and the new state written by an uninterrupted run while an analyst
    held a read-only connection open on the warehouse."""
    root = tmp_path_factory.mktemp("crash")
    inbox, registry = copy_sample(sample, root / "county")
    old = root / "old" / "warehouse.duckdb"
    old.parent.mkdir()
    p = run_ledgerflow(prefect_env, inbox, registry, old, root / "old" / "out", OLD_AS_OF)
    assert p.returncode == 0, p.stderr[-3000:]
    ref = root / "ref" / "warehouse.duckdb"
    ref.parent.mkdir()
    shutil.copy(old, ref)
    analyst = start_analyst(ref, "ro")
    t0 = time.monotonic()
    p = run_ledgerflow(prefect_env, inbox, registry, ref, root / "ref" / "out", NEW_AS_OF)
    duration = time.monotonic() - t0
    analyst_log = stop_analyst(analyst)
    assert p.returncode == 0, p.stderr[-3000:]
    return {
        "root": root,
        "inbox": inbox,
        "registry": registry,
        "old": old,
        "old_state": state(old),
        "new_state": state(ref),
        "duration": duration,
        "analyst_log": analyst_log,
        "figures": (root / "ref" / "out" / "figures.json").read_bytes(),
        "rollup": (root / "ref" / "out" / "rollup.csv").read_bytes(),
        "submissions": len(read_csv(root / "ref" / "out" / "submissions.csv")),
    }


def test_read_only_analyst_never_fails_a_run(refs):
    last = refs["analyst_log"].split()
    assert last[-3] == "done" and int(last[-1]) == 0 and int(last[-2]) > 0, refs["analyst_log"]
    assert refs["old_state"] != refs["new_state"]
    assert refs["submissions"] == count_inbox_entries(refs["inbox"])


def test_read_write_analyst_fails_the_run_naming_it(refs, prefect_env):
    wh = refs["root"] / "rw" / "warehouse.duckdb"
    wh.parent.mkdir()
    shutil.copy(refs["old"], wh)
    before = digest(wh)
    analyst = start_analyst(wh, "rw")
    try:
        p = run_ledgerflow(
            prefect_env, refs["inbox"], refs["registry"], wh, refs["root"] / "rw" / "out", NEW_AS_OF
        )
    finally:
        stop_analyst(analyst)
    assert p.returncode == 1, (p.returncode, p.stderr[-3000:])
    assert str(analyst.pid) in p.stderr, p.stderr[-3000:]
    assert digest(wh) == before
    assert not list(wh.parent.glob("warehouse.duckdb.building-*"))
    assert state(wh) == refs["old_state"]


def kill_runs(refs, prefect_env, kills: int, seed: int) -> list[tuple[float, str]]:
    """Kill ``kills`` runs on one warehouse at random points; return (delay, state seen) per kill."""
    rnd = random.Random(seed)
    d = refs["root"] / f"kills-{seed}"
    d.mkdir()
    wh, out = d / "warehouse.duckdb", d / "out"
    shutil.copy(refs["old"], wh)
    seen = []
    for _ in range(kills):
        delay = rnd.uniform(0.5, max(1.0, refs["duration"]))
        proc = subprocess.Popen(
            ledgerflow_args(refs["inbox"], refs["registry"], wh, out, NEW_AS_OF),
            env=prefect_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=d,
        )
        time.sleep(delay)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        _reap_group(proc.pid)
        st = state(wh)
        which = "old" if st == refs["old_state"] else "new" if st == refs["new_state"] else "NEITHER"
        seen.append((round(delay, 2), which, proc.returncode))
        assert which != "NEITHER", seen
    p = run_ledgerflow(prefect_env, refs["inbox"], refs["registry"], wh, out, NEW_AS_OF)
    assert p.returncode == 0, (seen, p.stderr[-3000:])
    assert state(wh) == refs["new_state"]
    assert (out / "figures.json").read_bytes() == refs["figures"]
    assert (out / "rollup.csv").read_bytes() == refs["rollup"]
    assert len(read_csv(out / "submissions.csv")) == count_inbox_entries(refs["inbox"])
    leftovers = [
        p.name for p in d.iterdir() if ".building-" in p.name or p.name.startswith(".ledgerflow-stage-")
    ]
    assert not leftovers, leftovers
    print(f"\nkills survived {len(seen)} of {kills} (delay s, state after, exit): {seen}")
    return seen


def test_sigkill_at_random_points(refs, prefect_env):
    kill_runs(
        refs, prefect_env, kills=int(os.environ.get("LEDGERFLOW_KILLS", "3")), seed=int(time.time()) % 10_000
    )


@pytest.mark.slow
def test_sigkill_many_times(refs, prefect_env):
    kill_runs(refs, prefect_env, kills=int(os.environ.get("LEDGERFLOW_MANY_KILLS", "15")), seed=12345)
