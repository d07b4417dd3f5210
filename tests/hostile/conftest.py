"""Fixtures for the hostile-input, crash and concurrency tests.

Real ``ledgerflow run`` subprocesses need a Prefect API. By default the session starts one Prefect
server (in its own process group, killed at the end) and every run talks to it, which saves the
temporary server's start-up (10-20 s here) on every run. Set ``LEDGERFLOW_TEST_EPHEMERAL=1`` to
let each run start its own temporary server instead, as a plain ``ledgerflow run`` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hostile_env import REPO, _free_port, _require_sample, _wait_health  # noqa: E402


@pytest.fixture(scope="session")
def sample() -> Path:
    return _require_sample()


@pytest.fixture(scope="session")
def prefect_env(tmp_path_factory) -> dict[str, str]:
    """Environment for ``ledgerflow run`` subprocesses: a private PREFECT_HOME and an API server."""
    home = tmp_path_factory.mktemp("prefect-home")
    env = dict(os.environ)
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    env.pop("PREFECT_API_URL", None)
    if os.environ.get("LEDGERFLOW_TEST_EPHEMERAL") == "1":
        yield env
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if _wait_health(url, proc, 120):
            env["PREFECT_API_URL"] = url
        yield env
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        log.close()
