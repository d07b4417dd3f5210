"""Helpers for the scheduling tests: free ports, process-group kills, the clients' environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
SHARED = REPO.parent / "shared"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left of it after ``grace_s``."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    try:  # the group may outlive its leader (flow-run subprocesses)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - nothing more we can do
        pass


def tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return ""


def client_env(home: Path, url: str | None, auth: str | None = None) -> dict[str, str]:
    """The environment of a Prefect client process (CLI, ``ledgerflow serve``): this test's own
    PREFECT_HOME, no setting inherited from the caller's PREFECT_* or LEDGERFLOW_* variables, and
    the server's basic-authentication string when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "LEDGERFLOW_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_RUNNER_POLL_FREQUENCY="2",  # pick up triggered runs quickly (default 10 s)
        PREFECT_LOGGING_LEVEL="INFO",
    )
    if url:
        env["PREFECT_API_URL"] = url
    if auth:
        env["PREFECT_API_AUTH_STRING"] = auth
    return env


def local_address() -> str | None:
    """This machine's own non-loopback IPv4 address (the one other machines would connect to), or
    None; no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
        except OSError:
            return None
        addr = s.getsockname()[0]
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr
