"""Settings in one place, from the environment (see .env.example)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name) or default)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Limits:
    """Safety limits for one workbook (ledger.md §9 E_FILE_UNREADABLE)."""

    max_file_bytes: int = 50 * 1024 * 1024
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_ratio: int = 200
    max_cells: int = 500_000
    max_string_bytes: int = 1024 * 1024
    parse_timeout_s: float = 30.0
    worker_memory_bytes: int = 1536 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    inbox: Path = field(default_factory=lambda: _env_path("LEDGERFLOW_INBOX", "demo/inbox"))
    registry: Path = field(default_factory=lambda: _env_path("LEDGERFLOW_REGISTRY", "demo/registry.xlsx"))
    warehouse: Path = field(
        default_factory=lambda: _env_path("LEDGERFLOW_WAREHOUSE", "demo/warehouse.duckdb")
    )
    out: Path = field(default_factory=lambda: _env_path("LEDGERFLOW_OUT", "demo/out"))
    template: Path = field(
        default_factory=lambda: _env_path(
            "LEDGERFLOW_TEMPLATE", str(REPO_ROOT / "templates" / "campaign-2023.yaml")
        )
    )
    workers: int = field(default_factory=lambda: _env_int("LEDGERFLOW_WORKERS", _default_workers()))
    #: how many runs keep their per-run detail (files, issues, rollup, changes) in the warehouse;
    #: older runs keep their lf.runs row only (any date can be replayed from the parsed ledgers)
    keep_runs: int = field(default_factory=lambda: max(1, _env_int("LEDGERFLOW_KEEP_RUNS", 7)))
    #: an analyst's own database for ``ledgerflow sql`` (the warehouse is attached to it read-only)
    workspace: Path = field(
        default_factory=lambda: _env_path(
            "LEDGERFLOW_WORKSPACE", str(Path.home() / ".ledgerflow" / "workspace.duckdb")
        )
    )
    #: DuckDB's memory limit for the run's own connections (it spills to disk beyond it), so a
    #: larger county costs time, not memory. Analysts' connections are not affected.
    duckdb_memory: str = field(default_factory=lambda: os.environ.get("LEDGERFLOW_DUCKDB_MEMORY") or "256MB")
    #: how often ``ledgerflow serve`` asks the Prefect server for runs to start (a triggered
    #: on-demand run waits up to this long before it starts; Prefect's own default is 10 s)
    poll_seconds: float = field(default_factory=lambda: _env_float("LEDGERFLOW_POLL_SECONDS", 0.5))
    limits: Limits = field(
        default_factory=lambda: Limits(
            max_file_bytes=_env_int("LEDGERFLOW_MAX_FILE_MB", 50) * 1024 * 1024,
            max_uncompressed_bytes=_env_int("LEDGERFLOW_MAX_UNCOMPRESSED_MB", 200) * 1024 * 1024,
            max_ratio=_env_int("LEDGERFLOW_MAX_RATIO", 200),
            max_cells=_env_int("LEDGERFLOW_MAX_CELLS", 500_000),
            parse_timeout_s=float(_env_int("LEDGERFLOW_PARSE_TIMEOUT_S", 30)),
        )
    )


def heartbeats_requested() -> bool:
    """Whether flow runs send Prefect's heartbeats: only when PREFECT_FLOWS_HEARTBEAT_FREQUENCY
    (or its older name PREFECT_RUNNER_HEARTBEAT_FREQUENCY) is set. Heartbeats only serve a
    "zombie flow run" automation on the server, which ledgerflow does not set up, and the thread
    that sends them sleeps in 1-second steps: a run waits up to 1 s at its end for it to wake."""
    return any(
        os.environ.get(name, "").strip()
        for name in ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")
    )


def load_dotenv(path: Path = Path(".env")) -> None:
    """Read KEY=VALUE lines from .env into the environment (existing variables win). A value in
    matching single or double quotes loses them (``PREFECT_API_AUTH_STRING="admin:pass"``, as
    Prefect's documentation writes it, is ``admin:pass``); ``export KEY=VALUE`` is read too."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key.startswith("export "):
            key = key[len("export ") :].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        os.environ.setdefault(key, value)
