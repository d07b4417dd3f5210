"""The ledgerflow flow as Prefect deployments, served against a Prefect server.

One flow (``ledgerflow``), two deployments:

* ``ledgerflow/nightly`` — every day at 02:00 Asia/Shanghai (cron ``0 2 * * *``);
* ``ledgerflow/on-demand`` — no schedule; triggered by hand from the UI or with
  ``prefect deployment run 'ledgerflow/on-demand' --param as_of=2023-12-15``.

Both take ``inbox``, ``registry``, ``warehouse``, ``out`` and ``as_of`` as parameters; the first four
default to what ``ledgerflow serve`` was given (itself defaulting to Settings, i.e. the
``LEDGERFLOW_*`` environment), ``as_of`` to None, which the flow reads as today in Asia/Shanghai.

``serve`` runs the flow runs of both deployments in processes forked from a warm fork server
(flows/warm.py: no imports per run), looking for new runs every ``LEDGERFLOW_POLL_SECONDS`` (0.5 s)
until it is stopped (Ctrl-C / SIGTERM), when it pauses the nightly schedule (serving again resumes it).
Two runs never write the same warehouse at once: the flow's warehouse lock (warehouse/publish.py
``run_lock``) makes a second run wait for the first, whatever started them (deployment, another
``ledgerflow serve``, or ``ledgerflow run``).

A server reachable from other machines runs with basic authentication
(``PREFECT_SERVER_API_AUTH_STRING=user:password`` on the server, the same string as
``PREFECT_API_AUTH_STRING`` on every client: this process, its flow runs, the ``prefect`` CLI). Both
come from the environment or a ``.env`` file, never from code; ``serve`` checks the credentials with
one authenticated request before registering anything (docs/scheduling.md).
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


def deployment_specs(parameters: dict[str, str | None]) -> list[dict]:
    """The two deployments of the ledgerflow flow, as ``Runner.add_flow`` arguments (not yet
    registered with a server)."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    common = dict(parameters=parameters, tags=TAGS, entrypoint_type=EntrypointType.MODULE_PATH)
    nightly = dict(
        name=DEPLOYMENT_NIGHTLY,
        schedules=[Cron(NIGHTLY_CRON, timezone=TIMEZONE)],
        description="每日 02:00（北京时间）全量运行：收件箱入库、汇总、输出。",
        **common,
    )
    on_demand = dict(
        name=DEPLOYMENT_ON_DEMAND,
        description="手动触发的运行；可用 --param as_of=YYYY-MM-DD 等参数覆盖默认值。",
        **common,
    )
    return [nightly, on_demand]


def _api_problem() -> tuple[int, str] | None:
    """Why serving cannot work, with the exit status, or None: no server named (2), a server that
    refuses this client's credentials (2), or one that does not answer (1)."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        return 2, (
            "PREFECT_API_URL is not set: start a server (`prefect server start`) and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api before `ledgerflow serve` "
            "(serving against Prefect's temporary server would vanish with this process)."
        )
    with get_client(sync_client=True) as client:
        error = client.api_healthcheck()  # /health answers without credentials
        if error is not None:
            return 1, f"the Prefect server at PREFECT_API_URL={url} is not reachable: {error}"
        try:
            client.hello()  # every other endpoint needs them when the server has an auth string
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code not in (401, 403):
                raise
            given = "is not set" if not PREFECT_API_AUTH_STRING.value() else "does not match the server's"
            return 2, (
                f"the Prefect server at PREFECT_API_URL={url} refused this client (HTTP "
                f"{exc.response.status_code}): it requires basic authentication and PREFECT_API_AUTH_STRING "
                f"{given} PREFECT_SERVER_API_AUTH_STRING. Set it (user:password) in the environment or in "
                "the .env file of the folder `ledgerflow serve` starts in (docs/scheduling.md)."
            )
    return None


def serve(
    inbox: Path | str | None = None,
    registry: Path | str | None = None,
    warehouse: Path | str | None = None,
    out: Path | str | None = None,
) -> int:
    """Serve ``ledgerflow/nightly`` and ``ledgerflow/on-demand`` until stopped. Exit status: 0 when
    stopped normally, 2 when PREFECT_API_URL is unset or the server refuses the credentials
    (PREFECT_API_AUTH_STRING), 1 when the server cannot be reached."""
    from prefect.settings import PREFECT_API_URL

    problem = _api_problem()
    if problem:
        code, message = problem
        print(f"ledgerflow serve: {message}", file=sys.stderr)
        return code
    params = default_parameters(inbox, registry, warehouse, out)
    for name in ("inbox", "registry"):
        if not Path(params[name]).exists():
            print(
                f"ledgerflow serve: warning: {name} {params[name]} does not exist (yet); "
                "runs will fail until it does",
                file=sys.stderr,
            )
    import asyncio

    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    from flows import warm
    from flows.ledger import ledger_run

    # Flow runs fork from a process that has imported everything once (flows/warm.py); that needs
    # the flow object in this process (Runner.add_flow: prefect.serve of deployments would start
    # each run as `python -m prefect.engine`, importing everything again). A triggered run is
    # picked up within poll_seconds instead of Prefect's default 10 s.
    warm.install()
    poll = Settings().poll_seconds
    runner = Runner(pause_on_shutdown=True, query_seconds=poll)
    specs = deployment_specs(params)
    for spec in specs:
        runner.add_flow(ledger_run, **spec)
    names = ", ".join(f"{ledger_run.name}/{spec['name']}" for spec in specs)
    print(
        f"ledgerflow serve: {PREFECT_API_URL.value()}; serving {names}; polling every {poll:g} s; "
        f"defaults: {params}",
        flush=True,
    )
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal) as exc:
        print(f"ledgerflow serve: {type(exc).__name__}, stopped", flush=True)
    return 0
