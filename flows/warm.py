"""Warm flow-run processes for ``ledgerflow serve``.

Prefect's runner starts each flow run of a served deployment in a fresh *spawned* interpreter,
which imports Prefect, pandas, pyarrow, DuckDB, the readers and the writers again (≈ 2 s of a
2-core machine) before the flow's first line. ``ledgerflow serve`` instead starts one
multiprocessing *fork server* that has imported all of that once, and each flow run is forked from
it: the run still gets a process of its own (a crash, a leak or a kill ends that run only, and the
runner cancels it by its pid as before), but it starts in milliseconds.

How: Prefect runs a served flow in ``prefect.flow_engine.run_flow_in_subprocess``, which asks
``multiprocessing.get_context("spawn")`` for its process class; :func:`install` hands that one call
a fork-server context instead (everything else Prefect does there — the serialized context, the
environment, the control channel, signal handling — is unchanged). The fork server is a clean,
single-threaded process started before the runner's threads exist.

Prefect's flow-run heartbeats are off in these runs unless asked for (see
``ledgerflow.settings.heartbeats_requested``), as in ``ledgerflow run``.

A forked child leaves with ``os._exit``, which skips interpreter shutdown, where a spawned child
flushes Prefect's log and event workers (``threading`` at-exit hooks) and runs ``atexit`` hooks;
:class:`WarmProcess` runs both itself, so a served run's last log lines and its events still reach
the server.
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from multiprocessing import context as mp_context
from multiprocessing import forkserver

#: what a flow run needs, imported once in the fork server (a module that fails to import there is
#: skipped by multiprocessing and imported by the run itself)
PRELOAD = [
    "flows.ledger",
    "tasks.artifacts",
    "tasks.emit",
    "tasks.ingest",
    "tasks.warehouse",
    "ledgerflow.outputs.feedback",
    "ledgerflow.outputs.report",
    "ledgerflow.outputs.summary",
    "ledgerflow.parse",
    "ledgerflow.sandbox",
    "pyarrow.parquet",
    "python_calamine",
    "xlsxwriter",
    "docx",
    "flows.preload",
]


class WarmProcess(mp_context.ForkServerProcess):
    """A process forked from the warm fork server that shuts down like a spawned one."""

    def run(self) -> None:
        _no_heartbeats_unless_requested()
        try:
            super().run()
        finally:
            _shutdown_like_an_interpreter()


def _no_heartbeats_unless_requested() -> None:
    """The CLI runs its flow with Prefect's heartbeats off unless they are asked for
    (``ledgerflow.settings.heartbeats_requested``); a served run builds its Prefect settings from
    the environment, where "off" cannot be written, so in this run's own process the engine is
    told there is no heartbeat interval."""
    from ledgerflow.settings import heartbeats_requested

    if heartbeats_requested():
        return
    from prefect.flow_engine import BaseFlowRunEngine

    if isinstance(getattr(BaseFlowRunEngine, "heartbeat_seconds", None), property):
        BaseFlowRunEngine.heartbeat_seconds = property(lambda self: None)


def _shutdown_like_an_interpreter() -> None:
    """What interpreter exit does and ``os._exit`` does not: threading's at-exit hooks (Prefect
    drains its log and event workers there), joining non-daemon threads, then ``atexit`` hooks."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]
    finally:
        atexit._run_exitfuncs()


class WarmContext(mp_context.ForkServerContext):
    Process = WarmProcess


WARM = WarmContext()


class _SpawnMeansWarm:
    """The ``multiprocessing`` module as ``prefect.flow_engine`` sees it after :func:`install`:
    the same in everything, except that its "spawn" context is the warm one."""

    def __getattr__(self, name: str):
        return getattr(multiprocessing, name)

    def get_context(self, method: str | None = None):
        if method == "spawn":
            return WARM
        return multiprocessing.get_context(method)


def install(preload: list[str] | None = None) -> None:
    """Start the fork server (importing ``preload`` there, in the background) and make Prefect's
    runner fork its flow runs from it. Call once, in the serving process, before serving."""
    import prefect.flow_engine as engine

    WARM.set_forkserver_preload(list(PRELOAD if preload is None else preload))
    forkserver.ensure_running()
    engine.multiprocessing = _SpawnMeansWarm()


def installed() -> bool:
    import prefect.flow_engine as engine

    return isinstance(engine.multiprocessing, _SpawnMeansWarm)
