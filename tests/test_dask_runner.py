"""`ledgerflow run --task-runner dask`: the sample county on a 2-worker local Dask cluster (processes)
gives the same outputs as the default runner, and a remote cluster whose workers are daemonic
(they could not start the parse sandbox's child process) is refused up front with the fix."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LEDGERFLOW = REPO / ".venv" / "bin" / "ledgerflow"
AS_OF = "2023-12-15"


def _run(cli_env, shared_dir: Path, root: Path, *extra: str) -> subprocess.CompletedProcess:
    if not LEDGERFLOW.exists():
        pytest.skip(f"{LEDGERFLOW} is not installed")
    sample = shared_dir / "samples" / "small"
    if not (sample / "inbox").is_dir():
        pytest.skip(f"no sample county at {sample} (the shared/ folder beside the repository)")
    root.mkdir(parents=True, exist_ok=True)
    argv = [
        str(LEDGERFLOW),
        "run",
        "--inbox",
        str(sample / "inbox"),
        "--registry",
        str(sample / "registry.xlsx"),
        "--warehouse",
        str(root / "warehouse.duckdb"),
        "--out",
        str(root / "out"),
        "--as-of",
        AS_OF,
        *extra,
    ]
    return subprocess.run(argv, env=cli_env, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def both_runs(cli_env, shared_dir, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("dask-runner")
    out = {}
    for label, extra in (("threads", ()), ("dask", ("--task-runner", "dask", "--workers", "2"))):
        t0 = time.perf_counter()
        res = _run(cli_env, shared_dir, base / label, *extra)
        assert res.returncode == 0, f"{label}: exit {res.returncode}\n{res.stderr[-4000:]}"
        out[label] = base / label / "out"
        out[f"log-{label}"] = res.stdout + res.stderr
        out[f"seconds-{label}"] = time.perf_counter() - t0
    return out


@pytest.mark.parametrize("name", ["figures.json", "rollup.csv", "submissions.csv"])
def test_a_two_worker_local_dask_cluster_gives_the_same_outputs(both_runs, name):
    threads, dask = (both_runs[k] / name for k in ("threads", "dask"))
    assert dask.read_bytes() == threads.read_bytes(), (
        f"{name} differs between the default and the Dask runner"
    )


def test_the_parse_batches_ran_on_the_dask_cluster_against_one_prefect_server(both_runs):
    log = both_runs["log-dask"]
    assert "daemonic processes are not allowed to have children" not in log
    assert "Creating a new Dask cluster" in log
    assert "parse batch 0" in log and "parse batch 1" in log
    # the workers report to the run's own temporary server instead of each starting one
    assert log.count("Starting temporary server") == 1, log[-4000:]


def test_a_cluster_with_daemonic_workers_is_refused_with_the_fix(cli_env, shared_dir, tmp_path):
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({"distributed.worker.daemon": True}),
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
    ):
        res = _run(
            cli_env,
            shared_dir,
            tmp_path,
            "--task-runner",
            "dask",
            "--dask-address",
            cluster.scheduler_address,
        )
    assert res.returncode == 2, res.stderr[-2000:]
    assert "DASK_DISTRIBUTED__WORKER__DAEMON=False" in res.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()
