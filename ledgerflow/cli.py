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
    run.add_argument(
        "--task-runner",
        choices=["threads", "dask"],
        default="threads",
        help="run parse batches on threads (default) or on a Dask cluster",
    )
    run.add_argument("--dask-address", default=None, help="tcp://… of a running Dask scheduler")

    rep = sub.add_parser("report", help="write report.md/.docx for one unit from the warehouse")
    rep.add_argument("--unit", required=True, help="unit code (the root for the county report)")
    rep.add_argument("--warehouse", type=Path, default=s.warehouse)
    rep.add_argument("--out", type=Path, default=Path("."), help="folder for report.md and report.docx")
    rep.add_argument("--as-of", type=_date, default=None, help="default: the latest run's date")

    exp = sub.add_parser("explain", help="list the rows behind a figure, with file, sheet and cell")
    exp.add_argument("key", help="figure key, e.g. research.topics")
    exp.add_argument("--unit", default=None, help="unit code (default: the root)")
    exp.add_argument("--warehouse", type=Path, default=s.warehouse)
    exp.add_argument("--as-of", type=_date, default=None, help="default: the latest run's date")
    exp.add_argument("--scope", choices=["own", "total", "both"], default="both")

    sql = sub.add_parser(
        "sql", help="query the warehouse (read-only) from a database of your own, where your tables live"
    )
    sql.add_argument("--warehouse", type=Path, default=s.warehouse)
    sql.add_argument("--workspace", type=Path, default=s.workspace, help="your own DuckDB file")
    sql.add_argument("-c", "--command", action="append", default=None, help="SQL to run (repeatable)")

    chk = sub.add_parser("check", help="pre-check one workbook before submitting it (exit 1 on errors)")
    chk.add_argument("file", type=Path)
    chk.add_argument("--registry", type=Path, default=None, help="registry to check the unit against")
    chk.add_argument("--out", type=Path, default=Path("."), help="folder for the feedback workbook")
    chk.add_argument("--template", type=Path, default=s.template)

    srv = sub.add_parser("serve", help="serve the nightly and on-demand deployments (PREFECT_API_URL)")
    srv.add_argument("--inbox", type=Path, default=s.inbox)
    srv.add_argument("--registry", type=Path, default=s.registry)
    srv.add_argument("--warehouse", type=Path, default=s.warehouse)
    srv.add_argument("--out", type=Path, default=s.out)

    demo = sub.add_parser("demo", help="write a demo county (if absent) and run the pipeline on it")
    demo.add_argument("--dir", type=Path, default=Path("demo"))
    demo.add_argument("--units", type=int, default=40)
    demo.add_argument(
        "--as-of", type=_date, default=date(2024, 1, 31), help="default: the campaign's last day"
    )
    return p


def _check_inputs(args: argparse.Namespace) -> str | None:
    from ledgerflow.pipeline import registry_cache
    from ledgerflow.registry import RegistryError, read_registry
    from ledgerflow.template import load_template

    if not Path(args.inbox).is_dir():
        return f"收件箱目录不存在：{args.inbox}"
    try:
        cache = registry_cache(Path(args.warehouse).resolve())
        read_registry(Path(args.registry), load_template(str(args.template)), cache=cache)
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
        import dask
        from prefect_dask import DaskTaskRunner

        # parse_batch parses in a (spawned, pooled) child process to contain calamine crashes, and
        # multiprocessing refuses children in daemonic processes: the local cluster's worker
        # processes must not be daemons. A remote cluster's workers need the same setting
        # (DASK_DISTRIBUTED__WORKER__DAEMON=False in the environment of `dask worker`); checked below.
        dask.config.set({"distributed.worker.daemon": False})
        if args.dask_address:
            import multiprocessing

            from distributed import Client

            try:
                with Client(args.dask_address, timeout=30) as client:
                    daemonic = client.run(lambda: bool(multiprocessing.current_process().daemon))
            except OSError as exc:
                print(f"ledgerflow: 无法连接 Dask 集群 {args.dask_address}：{exc}", file=sys.stderr)
                return EXIT_USAGE
            if not daemonic or any(daemonic.values()):
                print(
                    f"ledgerflow: Dask 集群 {args.dask_address} 没有可用的工作进程（工作进程不能是守护进程："
                    "请以 DASK_DISTRIBUTED__WORKER__DAEMON=False 启动 dask worker）",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            runner = DaskTaskRunner(address=args.dask_address)
        else:
            runner = DaskTaskRunner(
                cluster_kwargs={
                    "n_workers": args.workers,
                    "threads_per_worker": 1,
                    "processes": True,
                    "dashboard_address": None,
                    # each worker imports the parse task and starts its parse child while the
                    # cluster starts, not in its first batch (tasks/ingest.py dask_setup)
                    "preload": ["tasks.ingest"],
                }
            )
        from prefect.settings import PREFECT_API_URL, temporary_settings

        if not PREFECT_API_URL.value():
            # Without a server, every Dask worker would start a temporary Prefect server of its own
            # (~6 s each, and the flow's server would never see the parse task runs). Start the one
            # temporary server here and name it to the flow and to the workers (settings context and
            # environment); it stops when this process exits. A remote cluster needs a real server.
            from prefect.server.api.server import SubprocessASGIServer

            server = SubprocessASGIServer()
            server.start()
            os.environ["PREFECT_API_URL"] = server.api_url
            temporary_settings({PREFECT_API_URL: server.api_url}).__enter__()  # for the rest of the process
        flow = ledger_run.with_options(task_runner=runner)
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from ledgerflow.settings import heartbeats_requested

    no_heartbeats = {} if heartbeats_requested() else {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    try:
        with temporary_settings(updates=no_heartbeats):
            result = flow(
                inbox=str(args.inbox),
                registry=str(args.registry),
                warehouse=str(args.warehouse),
                out=str(args.out),
                as_of=args.as_of,
                template=str(args.template),
                workers=args.workers,
            )
    except Exception as exc:  # the reason goes to stderr; the warehouse is unchanged
        from ledgerflow.pipeline import disk_full

        if not isinstance(exc, RuntimeError) and disk_full(exc) is not None:
            print(
                f"ledgerflow: 运行失败：磁盘空间已满（{disk_full(exc) or exc}），仓库未改动。",
                file=sys.stderr,
            )
        else:
            print(f"ledgerflow: 运行失败：{exc}{_auth_hint(exc)}", file=sys.stderr)
        return EXIT_FAIL
    print(
        f"仓库：{result['warehouse']}\n输出：{result['out']}\n文件：{result['files']}个（新解析{result['parsed']}个）；"
        f"状态：{result['statuses']}"
    )
    return EXIT_OK


def _auth_hint(exc: BaseException) -> str:
    """What to do when the Prefect server named by PREFECT_API_URL refused the run's credentials."""
    response = getattr(exc, "response", None)
    if getattr(response, "status_code", None) not in (401, 403):
        return ""
    return (
        "\nPrefect 服务器要求身份验证：请将 PREFECT_API_AUTH_STRING（用户名:密码，与服务器的 "
        "PREFECT_SERVER_API_AUTH_STRING 相同）写入环境变量或 .env 文件（见 docs/scheduling.md）。"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if not (root / "inbox").is_dir():
        from ledgerflow.demo.generator import generate_county

        print(f"生成演示县：{root}（{args.units}个单位）")
        generate_county(root, n_units=args.units)
    ns = argparse.Namespace(
        inbox=root / "inbox",
        registry=root / "registry.xlsx",
        warehouse=root / "warehouse.duckdb",
        out=root / "out",
        as_of=args.as_of,
        template=Settings().template,
        workers=Settings().workers,
        task_runner="threads",
        dask_address=None,
    )
    code = cmd_run(ns)
    if code == EXIT_OK:
        out = root / "out"
        print(
            f"\n演示完成。\n  仓库：{root / 'warehouse.duckdb'}\n  指标：{out / 'figures.json'}\n"
            f"  报告：{out / 'report.md'}、{out / 'report.docx'}\n  汇总表：{out / 'summary.xlsx'}"
        )
    return code


def cmd_report(args: argparse.Namespace) -> int:
    from ledgerflow import pipeline
    from ledgerflow.outputs.report import render_report

    try:
        with pipeline.snapshot(args.warehouse, args.as_of) as (con, ctx):
            unit = args.unit.strip().upper()
            fr = pipeline.frames(con, ctx, focus=unit)
            codes = set(fr["units"]["code"])
            if unit not in codes:
                print(f"ledgerflow: 单位代码{args.unit}不在组织架构中", file=sys.stderr)
                return EXIT_USAGE
            md, docx = render_report(
                fr["rollup"],
                fr["units"],
                fr["submissions"],
                unit_code=unit,
                as_of=ctx.as_of,
                out_dir=args.out,
            )
    except (FileNotFoundError, pipeline.RunFailed) as exc:
        print(f"ledgerflow: {exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"报告：{md}\n      {docx}")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from ledgerflow import pipeline
    from warehouse import db

    try:
        with pipeline.snapshot(args.warehouse, args.as_of) as (con, ctx):
            root = con.execute("select code from lf.units where parent_code is null").fetchone()[0]
            unit = (args.unit or root).strip().upper()
            fig = con.execute(
                "select own, total from lf.rollup where unit_code = ? and key = ?", [unit, args.key]
            ).fetchone()
            if fig is None:
                print(f"ledgerflow: 没有指标{args.key}或单位{unit}", file=sys.stderr)
                return EXIT_USAGE
            sql = db.sql_text("queries/explain_figure")
            scopes = ["own", "total"] if args.scope == "both" else [args.scope]
            own, total = (pipeline._num(v) for v in fig)
            print(f"指标 {args.key}  单位 {unit}  截至 {ctx.as_of}：本级 {own}，合计 {total}")
            # a ratio is explained by the rows behind its numerator and its denominator
            agg, num, den = con.execute(
                "select agg, numerator, denominator from lf.figure_keys where key = ?", [args.key]
            ).fetchone()
            parts = [("分子", num), ("分母", den)] if agg == "ratio" else [("", args.key)]
            for scope in scopes:
                for part, key in parts:
                    rows = con.execute(
                        sql, db.bind(sql, {"key": key, "unit": unit, "scope": scope})
                    ).fetchall()
                    what = f" {part} {key}" if part else ""
                    print(f"\n[{scope}{what}] {len(rows)} 行")
                    print("单位代码\t文件\t工作表\t单元格\t计数\t去重项")
                    for unit_code, path, sheet, _row, cell, amount, item in rows:
                        amt = int(amount) if amount is not None and float(amount).is_integer() else amount
                        print(f"{unit_code}\t{path or ''}\t{sheet or ''}\t{cell or ''}\t{amt}\t{item or ''}")
    except (FileNotFoundError, pipeline.RunFailed) as exc:
        print(f"ledgerflow: {exc}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    import pandas as pd

    from ledgerflow.discover import FileRef, sha256_of
    from ledgerflow.outputs.feedback import write_feedback
    from ledgerflow.pipeline import today_in
    from ledgerflow.records import to_arrow
    from ledgerflow.registry import RegistryError, read_registry
    from ledgerflow.resolve import resolve
    from ledgerflow.sandbox import parse_files
    from ledgerflow.template import load_template

    tpl = load_template(str(args.template))
    path = Path(args.file)
    if not path.is_file():
        print(f"ledgerflow: 文件不存在：{path}", file=sys.stderr)
        return EXIT_USAGE
    parsed = parse_files([str(path)], str(args.template), Settings().limits, today_in(tpl.timezone))[0]
    sha = sha256_of(path)
    issues = [i.as_dict() for i in parsed.issues]
    if args.registry is not None:
        try:
            reg = read_registry(args.registry, tpl)
        except RegistryError as exc:
            print(f"ledgerflow: {exc}", file=sys.stderr)
            return EXIT_USAGE
        info = to_arrow([(sha, parsed)], tpl)["parsed"].to_pylist()[0]
        ref = FileRef(path.name, str(path), path.stat().st_size, sha, reg.root, "workbook")
        content = [dict(i, sha256=sha) for i in issues]
        res = resolve([ref], {sha: info}, {sha: content}, {}, reg, tpl)
        issues = res.issues
        unit = res.files[0]["unit_code"] or ""
    else:
        unit = parsed.info.get("unit_code") or ""
    cols = ["sheet", "row", "column", "cell", "code", "severity", "message", "value"]
    frame = pd.DataFrame([{c: i.get(c) for c in cols} for i in issues], columns=cols)
    frame.insert(0, "path", path.name)
    frame.insert(1, "unit_code", unit)
    errors = int((frame["severity"] == "error").sum())
    if frame.empty:
        print(f"{path.name}：未发现问题。")
    else:
        print(f"{path.name}：{errors}个错误，{len(frame) - errors}个警告")
        print("严重程度\t工作表\t单元格\t列\t代码\t说明")
        for r in frame.itertuples():
            sev = "错误" if r.severity == "error" else "警告"
            print(f"{sev}\t{r.sheet or ''}\t{r.cell or ''}\t{r.column or ''}\t{r.code}\t{r.message}")
        fb = write_feedback(path, frame, Path(args.out), unit_code=unit, rel_path=path.name)
        print(f"\n反馈工作簿：{fb}")
    return EXIT_FAIL if errors else EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    from ledgerflow import workspace

    try:
        ws = workspace.Workspace(args.workspace, args.warehouse)
    except FileNotFoundError as exc:
        print(f"ledgerflow: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command:
            sqls = args.command
        else:
            if sys.stdin.isatty():
                print(
                    f"工作库 {args.workspace}，仓库 {args.warehouse}（只读，视图可直接查询）。以;结束语句，Ctrl-D退出。"
                )
            sqls = workspace.statements(sys.stdin)
        return EXIT_FAIL if workspace.run(ws, sqls) else EXIT_OK
    finally:
        ws.close()


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.deploy import serve

    return serve(inbox=args.inbox, registry=args.registry, warehouse=args.warehouse, out=args.out)


def main(argv: list[str] | None = None) -> int:
    load_dotenv()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    # a busy machine can take longer than Prefect's default 20 s to start the temporary server
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # no telemetry: the office's machines often have no internet access
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    args = _parser().parse_args(argv)
    handlers = {
        "run": cmd_run,
        "demo": cmd_demo,
        "report": cmd_report,
        "explain": cmd_explain,
        "check": cmd_check,
        "serve": cmd_serve,
        "sql": cmd_sql,
    }
    return handlers[args.cmd](args)


def console() -> None:
    """The ``ledgerflow`` command. After ``run`` (and ``demo``), everything that matters is done —
    outputs and warehouse published, Prefect's log and event workers drained, the parse children
    stopped — and tearing down the interpreter (freeing pandas, Arrow and DuckDB module state)
    would only add 0.5–1 s before the prompt returns: those commands leave right away."""
    code = main()
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "")
    if command in ("run", "demo"):
        import atexit
        import threading

        threading._shutdown()  # type: ignore[attr-defined]  # joins threads, drains Prefect's workers
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console()
