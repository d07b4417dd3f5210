"""The ledgerflow run, top to bottom: inbox → discover → parse (read, locate, normalise, validate)
→ load → resolve → as of D → roll up → emit → publish."""

import shutil
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.context import FlowRunContext
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from ledgerflow import pipeline
from ledgerflow.pipeline import replace_dir
from ledgerflow.settings import Limits, Settings
from tasks import artifacts, emit, ingest
from tasks import warehouse as wh
from warehouse import publish as pub


@flow(name="ledgerflow", log_prints=True)
def ledger_run(
    inbox: str | None = None,
    registry: str | None = None,
    warehouse: str | None = None,
    out: str | None = None,
    as_of: date | None = None,
    template: str | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    s = Settings()
    inbox_p = Path(inbox or s.inbox)
    registry_p = Path(registry or s.registry)
    warehouse_p = Path(warehouse or s.warehouse).resolve()
    out_p = Path(out or s.out)
    template_path = str(template or s.template)
    n_workers = workers or s.workers
    limits: Limits = s.limits
    log = get_run_logger()

    # quote(): large inputs (thousands of files, the registry, the output frames) go to tasks as
    # they are; otherwise Prefect walks every element of them looking for futures (~1 s a task)
    reg = ingest.read_registry(registry_p, template_path, warehouse_p)
    as_of = as_of or _today(template_path)
    with pub.run_lock(warehouse_p):  # one writer per warehouse: a second run waits here (up to 600 s)
        log.info("已获得仓库写锁：%s", warehouse_p)
        with pipeline.disk_step("复制仓库", warehouse_p.parent):
            private = wh.prepare_private(warehouse_p)
        stage_root = warehouse_p.parent / f".ledgerflow-stage-{private.name.rsplit('-', 1)[-1]}"
        try:
            files = ingest.discover_inbox(inbox_p, template_path, quote(reg))
            ctx = wh.begin_run(private, template_path, as_of, inbox_p, registry_p)
            batches = ingest.plan_batches(quote(files), private, n_workers, template_path)
            total = sum(len(b) for b in batches)
            log.info("收件箱共%d个文件，需解析%d个新工作簿（%d批）", len(files), total, len(batches))
            # at most n_workers batches in flight: each batch runs its own parse process, and a
            # province has hundreds of batches (memory stays flat, the machine is not oversubscribed;
            # with batches of up to 1,000 workbooks, collecting one is too short to need a spare)
            stages, done, pending, rehashed = [], 0, list(enumerate(batches)), {}
            in_flight = []
            with pipeline.disk_step("暂存解析结果", stage_root), _settled(in_flight):
                while pending or in_flight:
                    while pending and len(in_flight) < n_workers:
                        i, b = pending.pop(0)
                        in_flight.append(
                            ingest.parse_batch.submit(
                                b, i, template_path, limits, ctx.ingest_day, stage_root / f"batch-{i:05d}"
                            )
                        )
                    fut = next(as_completed(in_flight))
                    in_flight.remove(fut)
                    summary = fut.result()
                    stages.append(summary["stage"])
                    rehashed.update(summary.get("rehashed") or {})
                    done += summary["files"]
                    log.info("已读取 %d/%d 个工作簿", done, total)
            if isinstance(FlowRunContext.get().task_runner, ThreadPoolTaskRunner):
                emit.warm_feedback(n_workers, total)
            if rehashed:  # replaced between listing and parsing: recorded as what was read
                log.warning("%d个文件在列出后、读取前被替换，按实际读取的内容记录", len(rehashed))
                files = pipeline.apply_rehash(files, rehashed)
            with pipeline.disk_step("写入仓库", private):
                wh.load_batches(private, template_path, sorted(stages), ctx.run_id)
                wh.record_run(private, template_path, ctx, quote(files), quote(reg))
                wh.build_models(private, ctx)
                fr = wh.finish_run(private, ctx, len(files), total)
            staging_out = out_p.with_name(out_p.name + ".building")
            if staging_out.exists():
                shutil.rmtree(staging_out)
            # the feedback books render in processes of their own while this process writes the
            # rest (in a thread of this process: a Dask runner would ship the frames to a worker)
            feedback_args = (
                staging_out,
                warehouse_p.parent / f".{warehouse_p.name}.feedback-cache",
                n_workers,
            )
            with pipeline.disk_step("写入输出文件", staging_out):
                if isinstance(FlowRunContext.get().task_runner, ThreadPoolTaskRunner):
                    feedback = emit.write_feedback_books.submit(quote(fr), quote(files), *feedback_args)
                else:
                    feedback = None
                try:
                    emit.write_data(quote(fr), staging_out, as_of, reg.root)
                    emit.export_rollup(private, staging_out)
                    emit.write_report(quote(fr), staging_out, as_of, reg.root)
                    emit.write_summary_book(quote(fr), staging_out, as_of)
                finally:
                    if feedback is not None:
                        feedback.wait()  # done before anything is cleaned up, failed or not
                if feedback is not None:
                    feedback.result()
                else:
                    emit.write_feedback_books(quote(fr), quote(files), *feedback_args)
            with pipeline.disk_step("发布仓库和输出", warehouse_p):
                wh.publish(private, warehouse_p)
                replace_dir(staging_out, out_p)
        finally:
            pipeline.release_renderers()
            pub.discard(private)
            shutil.rmtree(stage_root, ignore_errors=True)
            shutil.rmtree(out_p.with_name(out_p.name + ".building"), ignore_errors=True)
    # the warehouse is published by now: a report that cannot be posted must not fail the run
    report = artifacts.publish_run_report(quote(fr), as_of, reg.root, ctx.run_id, return_state=True)
    if not report.is_completed():
        log.warning("运行报告未能发布到 Prefect：%s", report.message)
    statuses = fr["submissions"]["status"].value_counts().to_dict()
    log.info("完成：%s；输出在 %s", statuses, out_p)
    return {
        "run_id": ctx.run_id,
        "files": len(files),
        "parsed": total,
        "statuses": statuses,
        "out": str(out_p),
        "warehouse": str(warehouse_p),
    }


@contextmanager
def _settled(futures: list):
    """On failure, let the batches still in flight finish before anything is cleaned up (a batch
    still writing its stage would otherwise leave files behind)."""
    try:
        yield
    except BaseException:
        for f in futures:
            f.wait()
        raise


def _today(template_path: str) -> date:
    from ledgerflow.pipeline import today_in
    from ledgerflow.template import load_template

    return today_in(load_template(template_path).timezone)
