"""Parsing in worker processes that may die.

python-calamine aborts the whole process (SIGABRT) on some small malformed files, and a hostile
file may eat memory or hang. Each batch of files is parsed in a child process with a memory cap,
one file at a time; when the child dies or overruns the time limit, that one file is rejected
(E_FILE_UNREADABLE), a new child is started, and the batch goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from datetime import date
from pathlib import Path

from ledgerflow.issues import Issue
from ledgerflow.parse import Parsed, parse_workbook
from ledgerflow.settings import Limits
from ledgerflow.template import load_template

_CTX = mp.get_context("spawn")


def _child(conn, template_path: str, limits: Limits, ingest_day: str) -> None:  # pragma: no cover - child
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limits.worker_memory_bytes, limits.worker_memory_bytes))
    except (ImportError, ValueError, OSError):
        pass
    tpl = load_template(template_path)
    day = date.fromisoformat(ingest_day)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            result = parse_workbook(Path(job), tpl, limits, day)
        except MemoryError:
            result = _unreadable(tpl, "读取时内存超出安全上限")
        except Exception as exc:  # a bug must not lose the file: reject it with the reason
            result = _unreadable(tpl, f"读取失败（{type(exc).__name__}: {exc}）")
        conn.send(result)


def _unreadable(tpl, detail: str) -> Parsed:
    return Parsed(
        status="unreadable",
        issues=[Issue(code="E_FILE_UNREADABLE", message=tpl.message("E_FILE_UNREADABLE", detail=detail))],
    )


class Worker:
    def __init__(self, template_path: str, limits: Limits, ingest_day: date):
        self.args = (template_path, limits, ingest_day.isoformat())
        self.limits = limits
        self.proc = None
        self.conn = None

    def start(self) -> None:
        parent, child = _CTX.Pipe()
        proc = _CTX.Process(target=_child, args=(child, *self.args), daemon=True)
        try:
            proc.start()  # may raise (e.g. inside a daemonic process): nothing is half-set then
        except BaseException:
            parent.close()
            child.close()
            raise
        child.close()
        self.proc, self.conn = proc, parent

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.proc.join(timeout=2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join()
            self.conn.close()
            self.proc = None

    def parse(self, path: str) -> tuple[Parsed | None, str]:
        """(result, "") or (None, reason) when the child died or hung on this file."""
        if self.proc is None:
            self.start()
        try:
            self.conn.send(path)
            if not self.conn.poll(self.limits.parse_timeout_s):
                self.kill()
                return None, f"读取超时（超过{int(self.limits.parse_timeout_s)}秒）"
            return self.conn.recv(), ""
        except (EOFError, OSError, BrokenPipeError):
            code = None
            if self.proc is not None:
                self.proc.join(timeout=5)  # reap it, so that the signal that ended it is known
                code = self.proc.exitcode
            self.kill()
            return None, f"读取进程异常退出（{_signal_name(code)}），文件可能已损坏或被恶意构造"


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"退出码{code}"
    import signal

    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"信号{-code}"


def parse_files(paths: list[str], template_path: str, limits: Limits, ingest_day: date) -> list[Parsed]:
    """Parse files in order in one child process (restarted after a death); one result per path."""
    tpl = load_template(template_path)
    worker = Worker(template_path, limits, ingest_day)
    out: list[Parsed] = []
    try:
        for p in paths:
            result, reason = worker.parse(os.fspath(p))
            out.append(result if result is not None else _unreadable(tpl, reason))
    finally:
        worker.stop()
    return out
