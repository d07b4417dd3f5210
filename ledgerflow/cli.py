"""The ledgerflow command line (interface.md). ``ledgerflow --help`` lists the subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from ledgerflow.settings import Settings, load_dotenv

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text}") from exc


def _parser() -> argparse.ArgumentParser:
    s = Settings()
    p = argparse.ArgumentParser(prog="ledgerflow", description="Campaign ledgers in, county figures out.")
    sub = p.add_subparsers(dest="cmd", required=True)

    run = sub.add_parser("run", help="ingest an inbox, load the warehouse, roll up and write the outputs")
    run.add_argument("--inbox", type=Path, default=s.inbox, help="folder of unit workbooks")
    run.add_argument("--registry", type=Path, default=s.registry, help="organisation registry (xlsx or csv)")
    run.add_argument("--warehouse", type=Path, default=s.warehouse, help="DuckDB file (created if absent)")
    run.add_argument("--out", type=Path, default=s.out, help="output folder (replaced whole)")
    run.add_argument("--as-of", type=_date, default=None, help="YYYY-MM-DD; default today (Asia/Shanghai)")
    run.add_argument("--template", type=Path, default=s.template, help="campaign template (YAML)")
    run.add_argument("--workers", type=int, default=s.workers, help="parse processes (default: all cores)")
    run.add_argument("--task-runner", choices=["threads", "dask"], default="threads",
                     help="run parse batches on threads (default) or on a Dask cluster")
    run.add_argument("--dask-address", default=None, help="tcp://… of a running Dask scheduler")

    demo = sub.add_parser("demo", help="write a demo county (if absent) and run the pipeline on it")
    demo.add_argument("--dir", type=Path, default=Path("demo"))
    demo.add_argument("--units", type=int, default=40)
    demo.add_argument("--as-of", type=_date, default=date(2023, 12, 15))
    return p


def _check_inputs(args: argparse.Namespace) -> str | None:
    from ledgerflow.registry import RegistryError, read_registry
    from ledgerflow.template import load_template

    if not Path(args.inbox).is_dir():
        return f"收件箱目录不存在：{args.inbox}"
    try:
        read_registry(Path(args.registry), load_template(str(args.template)))
    except RegistryError as exc:
        return str(exc)
    return None


def cmd_run(args: argparse.Namespace) -> int:
    problem = _check_inputs(args)
    if problem:
        print(f"ledgerflow: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from flows.ledger import ledger_run

    flow = ledger_run
    if args.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        runner = (DaskTaskRunner(address=args.dask_address) if args.dask_address else
                  DaskTaskRunner(cluster_kwargs={"n_workers": args.workers, "threads_per_worker": 1,
                                                 "processes": True}))
        flow = ledger_run.with_options(task_runner=runner)
    try:
        result = flow(
            inbox=str(args.inbox), registry=str(args.registry), warehouse=str(args.warehouse), out=str(args.out),
            as_of=args.as_of, template=str(args.template), workers=args.workers,
        )
    except Exception as exc:  # the reason goes to stderr; the warehouse is unchanged
        print(f"ledgerflow: 运行失败：{exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"仓库：{result['warehouse']}\n输出：{result['out']}\n文件：{result['files']}个（新解析{result['parsed']}个）；"
          f"状态：{result['statuses']}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not (root / "inbox").is_dir():
        from ledgerflow.demo.generator import generate_county

        print(f"生成演示县：{root}（{args.units}个单位）")
        generate_county(root, n_units=args.units)
    ns = argparse.Namespace(
        inbox=root / "inbox", registry=root / "registry.xlsx", warehouse=root / "warehouse.duckdb",
        out=root / "out", as_of=args.as_of, template=Settings().template, workers=Settings().workers,
        task_runner="threads", dask_address=None,
    )
    code = cmd_run(ns)
    if code == EXIT_OK:
        out = root / "out"
        print(f"\n演示完成。\n  仓库：{root / 'warehouse.duckdb'}\n  指标：{out / 'figures.json'}\n"
              f"  报告：{out / 'report.md'}、{out / 'report.docx'}\n  汇总表：{out / 'summary.xlsx'}")
    return code


def main(argv: list[str] | None = None) -> int:
    load_dotenv()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    args = _parser().parse_args(argv)
    handlers = {"run": cmd_run, "demo": cmd_demo}
    return handlers[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
