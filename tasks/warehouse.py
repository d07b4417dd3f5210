"""Warehouse tasks: private copy, bulk load, resolve and record, SQL models, publish."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from ledgerflow import pipeline
from ledgerflow.discover import FileRef
from ledgerflow.registry import Registry
from ledgerflow.template import load_template
from tasks.ingest import _io_error
from warehouse import db
from warehouse import publish as pub


@task(
    name="copy warehouse to private file",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_io_error,
    cache_policy=NO_CACHE,
)
def prepare_private(warehouse: Path) -> Path:
    return pub.prepare_private(warehouse)


@task(name="begin run", cache_policy=NO_CACHE)
def begin_run(
    private: Path, template_path: str, as_of: date, inbox: Path, registry: Path
) -> pipeline.RunContext:
    con = db.connect(private)
    try:
        return pipeline.begin_run(con, load_template(template_path), as_of, inbox, registry)
    finally:
        con.close()


@task(name="load parsed batches", cache_policy=NO_CACHE)
def load_batches(private: Path, template_path: str, stages: list[str], run_id: int) -> dict[str, int]:
    con = db.connect(private)
    try:
        return pipeline.load_stages(con, load_template(template_path), stages, run_id)
    finally:
        con.close()


@task(name="resolve units and record run", cache_policy=NO_CACHE)
def record_run(
    private: Path, template_path: str, ctx: pipeline.RunContext, files: list[FileRef], registry: Registry
) -> dict[str, int]:
    con = db.connect(private)
    try:
        return pipeline.record_run(con, ctx, files, registry, load_template(template_path))
    finally:
        con.close()


@task(name="build marts and rollups", cache_policy=NO_CACHE)
def build_models(private: Path, ctx: pipeline.RunContext) -> dict[str, float]:
    con = db.connect(private)
    try:
        return pipeline.build_models(con, ctx)
    finally:
        con.close()


@task(name="finish run", cache_policy=NO_CACHE)
def finish_run(private: Path, ctx: pipeline.RunContext, files_seen: int, files_parsed: int) -> dict[str, Any]:
    con = db.connect(private)
    try:
        pipeline.finish_run(con, ctx, files_seen, files_parsed)
        return pipeline.frames(con, ctx)
    finally:
        con.close()


@task(
    name="publish warehouse",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_io_error,
    cache_policy=NO_CACHE,
)
def publish(private: Path, warehouse: Path) -> None:
    pub.publish(private, warehouse)
