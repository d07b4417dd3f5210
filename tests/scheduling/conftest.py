"""A real Prefect server and ``ledgerflow serve`` against it, for the scheduling tests.

The server (``prefect server start`` on a free port, with its own PREFECT_HOME) lives for the test
session; the serving process for this package's module. Both run in their own process group and are
always killed as a group at teardown (flow runs are subprocesses of the serving process), whether
the tests passed or not.

The server runs as in an office (docs/scheduling.md): basic authentication on
(PREFECT_SERVER_API_AUTH_STRING, a fresh password per session), every client given the same string
as PREFECT_API_AUTH_STRING, and no ``--host``: Prefect's default binds it to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect_harness import BIN, SHARED, client_env, free_port, kill_group, tail

SERVER_START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 180


@dataclass
class PrefectServer:
    url: str  # …/api
    port: int
    home: Path
    log: Path
    auth: str  # user:password, the server's PREFECT_SERVER_API_AUTH_STRING
    env: dict[str, str]  # environment for clients of this server (CLI, serve), with the auth string

    def client(self):
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.url, auth_string=self.auth)


@pytest.fixture(scope="session")
def sample_county() -> Path:
    """The sample county in shared/ beside the repository (CI clones the repo next to it)."""
    small = SHARED / "samples" / "small"
    if not (small / "expected.json").is_file():
        pytest.skip(f"no sample county at {small} (shared/ is expected beside the repository)")
    return small


@pytest.fixture(scope="session")
def check_outputs(sample_county) -> Callable[[Path], subprocess.CompletedProcess]:
    """``check_outputs(out)``: shared/samples/check.py on an output folder (exit 0 only at 100%)."""

    def run(out: Path) -> subprocess.CompletedProcess:
        argv = [
            sys.executable,
            str(SHARED / "samples" / "check.py"),
            "--expected",
            str(sample_county / "expected.json"),
            "--out",
            str(out),
            "--as-of",
            "primary",
        ]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)

    return run


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory) -> Iterator[PrefectServer]:
    base = tmp_path_factory.mktemp("prefect-server")
    home = base / "home"
    home.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    auth = f"ledgerflow:{secrets.token_urlsafe(12)}"
    env = client_env(home, None)
    env["PREFECT_UI_ENABLED"] = "false"
    env["PREFECT_SERVER_API_AUTH_STRING"] = auth
    log = base / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--port", str(port), "--no-ui"],
            env=env,
            cwd=base,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prefect server exited with {proc.returncode}:\n{tail(log)}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server not healthy after {SERVER_START_TIMEOUT_S} s:\n{tail(log)}")
            time.sleep(0.5)
        yield PrefectServer(
            url=url, port=port, home=home, log=log, auth=auth, env=client_env(home, url, auth)
        )
    finally:
        kill_group(proc)


@dataclass
class Served:
    server: PrefectServer
    base: Path
    inbox: Path
    registry: Path
    warehouse: Path
    out: Path
    log: Path


def _deployments_ready(server: PrefectServer) -> bool:
    from prefect.exceptions import ObjectNotFound

    with server.client() as c:
        try:
            for name in ("ledgerflow/nightly", "ledgerflow/on-demand"):
                c.read_deployment_by_name(name)
        except ObjectNotFound:
            return False
    return True


@pytest.fixture(scope="module")
def served(prefect_server, sample_county, tmp_path_factory) -> Iterator[Served]:
    """``ledgerflow serve`` on the sample county, defaults pointing at a fresh warehouse and out dir."""
    base = tmp_path_factory.mktemp("served")
    small = sample_county
    s = Served(
        server=prefect_server,
        base=base,
        inbox=small / "inbox",
        registry=small / "registry.xlsx",
        warehouse=base / "wh" / "warehouse.duckdb",
        out=base / "out",
        log=base / "serve.log",
    )
    s.warehouse.parent.mkdir()
    with open(s.log, "wb") as fh:
        proc = subprocess.Popen(
            [
                str(BIN / "ledgerflow"),
                "serve",
                "--inbox",
                str(s.inbox),
                "--registry",
                str(s.registry),
                "--warehouse",
                str(s.warehouse),
                "--out",
                str(s.out),
            ],
            env=prefect_server.env,
            cwd=base,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while not _deployments_ready(prefect_server):
            if proc.poll() is not None:
                pytest.fail(f"ledgerflow serve exited with {proc.returncode}:\n{tail(s.log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"deployments not registered after 120 s:\n{tail(s.log)}")
            time.sleep(0.5)
        yield s
    finally:
        kill_group(proc)


@pytest.fixture(scope="module")
def trigger(prefect_server) -> Callable[..., str]:
    """``trigger("on-demand", as_of="2023-12-15", …)``: ``prefect deployment run`` (the CLI, in a
    subprocess) with ``--param`` per keyword; returns the flow run id."""

    def run(deployment: str = "on-demand", **params: object) -> str:
        argv = [str(BIN / "prefect"), "deployment", "run", f"ledgerflow/{deployment}"]
        for k, v in params.items():
            argv += ["--param", f"{k}={v if isinstance(v, str) else json.dumps(v)}"]
        res = subprocess.run(argv, env=prefect_server.env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, f"{argv} exited {res.returncode}:\n{res.stdout}\n{res.stderr}"
        m = re.search(r"UUID:\s*([0-9a-f-]{36})", res.stdout)
        assert m, f"no flow run id in the output of {argv}:\n{res.stdout}"
        return m.group(1)

    return run


@pytest.fixture(scope="module")
def wait_final(prefect_server, served) -> Callable[..., object]:
    """``wait_final(flow_run_id)`` -> the flow run once its state is final (Completed, Failed, …)."""

    def wait(flow_run_id: str, timeout_s: float = RUN_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        with prefect_server.client() as c:
            while True:
                fr = c.read_flow_run(flow_run_id)
                if fr.state is not None and fr.state.is_final():
                    return fr
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"flow run {flow_run_id} still {fr.state and fr.state.name} after {timeout_s} s;"
                        f" serve log:\n{tail(served.log)}"
                    )
                time.sleep(1)

    return wait
