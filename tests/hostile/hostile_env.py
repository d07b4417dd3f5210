"""Helpers for the hostile-input, crash and concurrency tests (see conftest.py for the fixtures)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SAMPLE = SHARED / "samples" / "small"
LEDGERFLOW = REPO / ".venv" / "bin" / "ledgerflow"


def _require_sample() -> Path:
    if not (SAMPLE / "inbox").is_dir() or not (SAMPLE / "registry.xlsx").is_file():
        pytest.skip(f"sample county not found at {SAMPLE} (shared/ is expected beside the repository)")
    return SAMPLE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_health(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def ledgerflow_args(inbox: Path, registry: Path, warehouse: Path, out: Path, as_of: str) -> list[str]:
    return [
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
        "--workers",
        "2",
    ]


def run_ledgerflow(
    env: dict[str, str],
    inbox: Path,
    registry: Path,
    warehouse: Path,
    out: Path,
    as_of: str = "2023-12-15",
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """One real ``ledgerflow run`` in its own process group (killed whole on a timeout)."""
    proc = subprocess.Popen(
        ledgerflow_args(inbox, registry, warehouse, out, as_of),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=warehouse.parent,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError(f"ledgerflow run timed out after {timeout}s\n{stderr[-3000:]}") from None
    finally:
        _reap_group(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _reap_group(pgid: int) -> None:
    """Make sure nothing of a run's process group (parse children, a temporary server) lives on."""
    for _ in range(50):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def copy_sample(sample: Path, dest: Path) -> tuple[Path, Path]:
    """(inbox, registry) copied under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(sample / "inbox", dest / "inbox", symlinks=True)
    shutil.copy2(sample / "registry.xlsx", dest / "registry.xlsx")
    return dest / "inbox", dest / "registry.xlsx"


def count_inbox_entries(inbox: Path) -> int:
    """What "every file under the inbox" means: regular files, special files, and symbolic links
    (to files or folders, counted once and never followed)."""
    n = 0
    for _dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        links = [d for d in dirnames if os.path.islink(os.path.join(_dirpath, d))]
        n += len(filenames) + len(links)
        for d in links:
            dirnames.remove(d)
    return n


def read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))
