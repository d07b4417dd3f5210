"""The ledgerflow flow as Prefect deployments, served against a Prefect server.

One flow (``ledgerflow``), two deployments:

* ``ledgerflow/nightly`` — every day at 02:00 Asia/Shanghai (cron ``0 2 * * *``);
* ``ledgerflow/on-demand`` — no schedule; triggered by hand from the UI or with
  ``prefect deployment run 'ledgerflow/on-demand' --param as_of=2023-12-15``.

Both take ``inbox``, ``registry``, ``warehouse``, ``out`` and ``as_of`` as parameters; the first four
default to what ``ledgerflow serve`` was given (itself defaulting to Settings, i.e. the
``LEDGERFLOW_*`` environment), ``as_of`` to None, which the flow reads as today in Asia/Shanghai.

``serve`` runs the flow runs of both deployments in subprocesses of this process until it is
stopped (Ctrl-C / SIGTERM), when it pauses the nightly schedule (serving again resumes it).
Two runs never write the same warehouse at once: the flow's warehouse lock (warehouse/publish.py
``run_lock``) makes a second run wait for the first, whatever started them (deployment, another
``ledgerflow serve``, or ``ledgerflow run``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ledgerflow.settings import Settings

DEPLOYMENT_NIGHTLY = "nightly"
DEPLOYMENT_ON_DEMAND = "on-demand"
NIGHTLY_CRON = "0 2 * * *"
TIMEZONE = "Asia/Shanghai"
TAGS = ["ledgerflow"]


def default_parameters(
    inbox: Path | str | None = None,
    registry: Path | str | None = None,
    warehouse: Path | str | None = None,
    out: Path | str | None = None,
) -> dict[str, str | None]:
    """The deployments' parameter defaults: absolute paths (flow runs may start in another
    working directory), from the arguments or else from Settings; as_of None = today."""
    s = Settings()
    return {
        "inbox": str(Path(inbox or s.inbox).resolve()),
        "registry": str(Path(registry or s.registry).resolve()),
        "warehouse": str(Path(warehouse or s.warehouse).resolve()),
        "out": str(Path(out or s.out).resolve()),
        "as_of": None,
    }


def build_deployments(parameters: dict[str, str | None]):
    """The two RunnerDeployments of the ledgerflow flow (not yet registered with a server)."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from flows.ledger import ledger_run

    common = dict(parameters=parameters, tags=TAGS, entrypoint_type=EntrypointType.MODULE_PATH)
    nightly = ledger_run.to_deployment(
        name=DEPLOYMENT_NIGHTLY,
        schedules=[Cron(NIGHTLY_CRON, timezone=TIMEZONE)],
        description="每日 02:00（北京时间）全量运行：收件箱入库、汇总、输出。",
        **common,
    )
    on_demand = ledger_run.to_deployment(
        name=DEPLOYMENT_ON_DEMAND,
        description="手动触发的运行；可用 --param as_of=YYYY-MM-DD 等参数覆盖默认值。",
        **common,
    )
    return nightly, on_demand


def _api_problem() -> str | None:
    """Why serving cannot work (no server named, or not reachable), or None."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        return (
            "PREFECT_API_URL is not set: start a server (`prefect server start`) and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api before `ledgerflow serve` "
            "(serving against Prefect's temporary server would vanish with this process)."
        )
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()
    if error is not None:
        return f"the Prefect server at PREFECT_API_URL={url} is not reachable: {error}"
    return None


def serve(
    inbox: Path | str | None = None,
    registry: Path | str | None = None,
    warehouse: Path | str | None = None,
    out: Path | str | None = None,
) -> int:
    """Serve ``ledgerflow/nightly`` and ``ledgerflow/on-demand`` until stopped. Exit status: 0 when
    stopped normally, 2 when PREFECT_API_URL is unset, 1 when the server cannot be reached."""
    import prefect
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        print(f"ledgerflow serve: {_api_problem()}", file=sys.stderr)
        return 2
    problem = _api_problem()
    if problem:
        print(f"ledgerflow serve: {problem}", file=sys.stderr)
        return 1
    params = default_parameters(inbox, registry, warehouse, out)
    for name in ("inbox", "registry"):
        if not Path(params[name]).exists():
            print(
                f"ledgerflow serve: warning: {name} {params[name]} does not exist (yet); "
                "runs will fail until it does",
                file=sys.stderr,
            )
    print(f"ledgerflow serve: {PREFECT_API_URL.value()}; defaults: {params}", flush=True)
    prefect.serve(*build_deployments(params))
    return 0
