"""Ingest tasks: discover the inbox, parse batches of workbooks in killable worker processes."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from ledgerflow import pipeline
from ledgerflow.discover import FileRef
from ledgerflow.registry import Registry
from ledgerflow.settings import Limits
from ledgerflow.template import load_template


def _io_error(task, task_run, state) -> bool:
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False


@task(name="read registry", cache_policy=NO_CACHE)
def read_registry(registry: Path, template_path: str, warehouse: Path | None = None) -> Registry:
    return pipeline.load_registry(registry, load_template(template_path), warehouse)


@task(
    name="discover inbox",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_io_error,
    cache_policy=NO_CACHE,
    timeout_seconds=3600,
)
def discover_inbox(inbox: Path, template_path: str, registry: Registry) -> list[FileRef]:
    tpl = load_template(template_path)
    return pipeline.describe_files(pipeline.list_inbox(inbox), tpl, registry)


@task(name="plan parse batches", cache_policy=NO_CACHE)
def plan_batches(
    files: list[FileRef], private: Path, workers: int, template_path: str
) -> list[list[tuple[str, str]]]:
    return pipeline.plan_batches(files, pipeline.known_shas(private, load_template(template_path)), workers)


@task(
    name="parse workbook batch",
    retries=1,
    retry_delay_seconds=2,
    retry_condition_fn=_io_error,
    cache_policy=NO_CACHE,
    task_run_name="parse batch {index}",
)
def parse_batch(
    batch: list[tuple[str, str]],
    index: int,
    template_path: str,
    limits: Limits,
    ingest_day: date,
    stage_dir: Path,
) -> dict[str, Any]:
    return pipeline.parse_batch(batch, template_path, limits, ingest_day, stage_dir)


# ---- Dask worker preload -------------------------------------------------------------------------
# `ledgerflow run --task-runner dask` starts its local workers with ``preload=["tasks.ingest"]`` (a
# remote `dask worker` may be started with ``--preload tasks.ingest``): the worker imports this
# module, prefect and the pipeline while the cluster starts instead of inside its first parse batch,
# and starts one parse child ahead (it imports ledgerflow and calamine meanwhile, and is given the
# run's template, limits and ingest day by the first batch).


def dask_setup(worker: Any) -> None:
    from ledgerflow import sandbox

    sandbox.warm(1)


def dask_teardown(worker: Any) -> None:
    from ledgerflow import sandbox

    sandbox.shutdown()
