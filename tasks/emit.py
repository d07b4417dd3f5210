"""Emit tasks: the data files, the report, the summary workbook and the units' feedback."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from ledgerflow import pipeline
from ledgerflow.discover import FileRef
from ledgerflow.outputs.report import render_report
from ledgerflow.outputs.summary import write_summary
from warehouse import db


@task(name="write figures and csv files", cache_policy=NO_CACHE)
def write_data(fr: dict[str, pd.DataFrame], out: Path, as_of: date, root: str) -> list[Path]:
    return pipeline.write_data_outputs(fr, out, as_of, root)


@task(name="export rollup csv", cache_policy=NO_CACHE)
def export_rollup(private: Path, out: Path) -> Path:
    con = db.connect(private, read_only=True)
    try:
        return pipeline.export_rollup_csv(con, out / "rollup.csv")
    finally:
        con.close()


@task(name="write county report", cache_policy=NO_CACHE)
def write_report(fr: dict[str, pd.DataFrame], out: Path, as_of: date, root: str) -> list[Path]:
    return list(
        render_report(fr["rollup"], fr["units"], fr["submissions"], unit_code=root, as_of=as_of, out_dir=out)
    )


@task(name="write summary workbook", cache_policy=NO_CACHE)
def write_summary_book(fr: dict[str, pd.DataFrame], out: Path, as_of: date) -> Path:
    return write_summary(
        fr["rollup"], fr["units"], out / "summary.xlsx", as_of=as_of, changes=fr.get("changes")
    )


@task(name="start feedback renderers", cache_policy=NO_CACHE)
def warm_feedback(workers: int, parsed: int) -> bool:
    # every newly parsed workbook with an issue is a book to render: a run that parsed many starts
    # its renderer processes while it loads and rolls up
    return pipeline.warm_renderers(workers, parsed)


@task(name="write feedback workbooks", cache_policy=NO_CACHE)
def write_feedback_books(
    fr: dict[str, pd.DataFrame], files: list[FileRef], out: Path, cache_dir: Path, workers: int
) -> dict[str, int]:
    return pipeline.write_feedback_books(
        fr["issues"], files, out / "feedback", cache_dir, workers, submissions=fr["submissions"]
    )
