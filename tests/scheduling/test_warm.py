"""The warm fork server behind ``ledgerflow serve`` (flows/warm.py): a served run starts in a process
that already holds the flow and its libraries, and leaves like a spawned one (its at-exit hooks
run: Prefect drains its log and event workers there)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import atexit, json, os, sys, threading, time
    from flows import warm

    def child(out, t0):
        started = time.perf_counter() - t0
        import prefect.flow_engine as engine
        from prefect.flow_engine import BaseFlowRunEngine
        warm._no_heartbeats_unless_requested()
        facts = {
            "pid": os.getpid(),
            "started_s": started,
            "preloaded": [m for m in ("flows.ledger", "pandas", "duckdb", "python_calamine") if m in sys.modules],
            "heartbeat": BaseFlowRunEngine.heartbeat_seconds.fget(None),
        }
        def at_exit():  # what Prefect's workers rely on: hooks run when the run's process ends
            with open(out + ".atexit", "w") as fh:
                fh.write("ran")
        atexit.register(at_exit)
        def late():  # a non-daemon thread still working when the target returns is waited for
            time.sleep(0.3)
            with open(out + ".thread", "w") as fh:
                fh.write("done")
        threading.Thread(target=late).start()
        with open(out, "w") as fh:
            json.dump(facts, fh)

    if __name__ == "__main__":
        warm.install()
        out = sys.argv[1]
        for i in range(2):  # the second fork shows the cost of a run's process once warm
            t0 = time.perf_counter()
            p = warm.WARM.Process(target=child, args=(f"{out}-{i}", t0))
            p.start()
            p.join(60)
            print(p.exitcode, flush=True)
    """
)


_HEARTBEAT = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


def _run(tmp_path: Path, env: dict) -> list[dict]:
    import json

    base = {k: v for k, v in os.environ.items() if k not in _HEARTBEAT}

    script = tmp_path / "warm_probe.py"
    script.write_text(SCRIPT, encoding="utf-8")
    res = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "facts")],
        cwd=REPO,
        env={**base, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["0", "0"], res.stdout + res.stderr[-2000:]
    return [json.loads((tmp_path / f"facts-{i}").read_text()) for i in range(2)]


def test_a_served_run_starts_with_everything_imported_and_ends_like_a_spawned_process(tmp_path):
    facts = _run(tmp_path, {})
    for i, f in enumerate(facts):
        assert f["preloaded"] == ["flows.ledger", "pandas", "duckdb", "python_calamine"]
        assert f["pid"] != os.getpid()
        assert (tmp_path / f"facts-{i}.atexit").read_text() == "ran"
        assert (tmp_path / f"facts-{i}.thread").read_text() == "done"
        assert f["heartbeat"] is None  # no heartbeat thread to wait for at the run's end
    assert facts[0]["pid"] != facts[1]["pid"]  # each run has a process of its own
    # a fresh interpreter importing the flow takes seconds; a fork from the warm server does not
    assert facts[1]["started_s"] < 0.5, facts


def test_heartbeats_stay_on_when_asked_for(tmp_path):
    facts = _run(tmp_path, {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "60"})
    assert all(f["heartbeat"] == 60 for f in facts)


def test_the_warm_context_forks_from_a_server_not_from_this_process():
    from flows import warm

    assert isinstance(warm.WARM, multiprocessing.context.ForkServerContext)
    assert warm.WARM.Process is warm.WarmProcess
