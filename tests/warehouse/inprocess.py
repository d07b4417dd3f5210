"""The run's steps in this process, without Prefect: the same plain functions the flow's tasks wrap
(flows/ledger.py), parsing in-process instead of in killable workers. For tests that need many
small runs; the command line itself is tested elsewhere."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd

from ledgerflow import pipeline
from ledgerflow.parse import parse_workbook
from ledgerflow.records import parser_fingerprint, to_arrow, write_stage
from ledgerflow.settings import Limits
from ledgerflow.template import Template
from warehouse import db


def run(
    inbox: Path, registry: Path, warehouse: Path, as_of: date, tpl: Template, out: Path | None = None
) -> dict[str, pd.DataFrame]:
    """One run into ``warehouse`` (updated in place); returns the output frames and, with ``out``,
    writes figures.json, submissions.csv and issues.csv there."""
    reg = pipeline.load_registry(registry, tpl)
    files = pipeline.describe_files(pipeline.list_inbox(inbox), tpl, reg)
    con = db.connect(warehouse)
    try:
        ctx = pipeline.begin_run(con, tpl, as_of, inbox, registry)
        known = {
            r[0]
            for r in con.execute(
                "select sha256 from lf.parsed where parser = ?", [parser_fingerprint(tpl)]
            ).fetchall()
        }
        stages, parsed = [], 0
        for i, batch in enumerate(pipeline.plan_batches(files, known, 1)):
            parsed += len(batch)
            results = [(sha, parse_workbook(Path(p), tpl, Limits(), ctx.ingest_day)) for sha, p in batch]
            stages.append(
                str(write_stage(warehouse.parent / f".stage-{ctx.run_id}-{i}", to_arrow(results, tpl)))
            )
        pipeline.load_stages(con, tpl, stages, ctx.run_id)
        pipeline.record_run(con, ctx, files, reg, tpl)
        pipeline.build_models(con, ctx)
        pipeline.finish_run(con, ctx, len(files), parsed)
        fr = pipeline.frames(con, ctx)
        for s in stages:
            shutil.rmtree(s, ignore_errors=True)
    finally:
        con.close()
    if out is not None:
        pipeline.write_data_outputs(fr, out, as_of, reg.root)
    return fr
