"""Parsing in worker processes that may die.

python-calamine aborts the whole process (SIGABRT) on some small malformed files, and a hostile
file may eat memory or hang. Each batch of files is parsed in a child process with a memory cap,
one file at a time; when the child dies or overruns the time limit, that one file is rejected
(E_FILE_UNREADABLE), a new child is started, and the batch goes on.

Starting a child costs ~0.3–0.6 s of CPU (a fresh interpreter importing ledgerflow and calamine and
loading the template), so children are kept in a small per-process pool between batches: a batch
borrows an idle child started with the very same template file, limits and ingest day, or starts a
new one; a child that is still alive afterwards goes back to the pool. Idle children are stopped
after a while, when a batch asks for other arguments, and when this process exits.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import threading
import time
import weakref
from datetime import date
from pathlib import Path

from ledgerflow.issues import Issue
from ledgerflow.parse import Parsed, parse_workbook
from ledgerflow.settings import Limits
from ledgerflow.template import load_template

_CTX = mp.get_context("spawn")
_PING = "\0ping"  # never a path (no path holds NUL): the child answers it at once


def _child(
    conn, template_path: str | None = None, limits: Limits | None = None, ingest_day: str = ""
) -> None:  # pragma: no cover - child
    if template_path is None:
        # started ahead of its first batch (warm): import now, then wait for the arguments
        import python_calamine  # noqa: F401

        try:
            args = conn.recv()
        except EOFError:
            return
        if args is None:
            return
        template_path, limits, ingest_day = args
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
        if job == _PING:
            conn.send(_PING)
            continue
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


def _spawn(args: tuple = ()) -> tuple:
    """(process, parent end of its pipe) of a new child; without ``args`` it waits for them."""
    parent, child = _CTX.Pipe()
    proc = _CTX.Process(target=_child, args=(child, *args), daemon=True)
    try:
        proc.start()  # may raise (e.g. inside a daemonic process): nothing is half-set then
    except BaseException:
        parent.close()
        child.close()
        raise
    child.close()
    return proc, parent


class Worker:
    def __init__(self, template_path: str, limits: Limits, ingest_day: date):
        self.args = (template_path, limits, ingest_day.isoformat())
        self.limits = limits
        self.proc = None
        self.conn = None
        self.key: tuple | None = None  # set by the pool: what the child was started with
        self.idle_since = 0.0

    def start(self) -> None:
        self.proc, self.conn = _spawn(self.args)

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

    def ping(self) -> bool:
        """Is the child alive and listening? (A pooled child may have been killed while idle: then
        this is found out here, not by losing the batch's first file to a dead child.)"""
        if self.proc is None:
            return False
        try:
            self.conn.send(_PING)
            if self.conn.poll(self.limits.parse_timeout_s):
                return self.conn.recv() == _PING
        except (EOFError, OSError, BrokenPipeError):
            pass
        return False

    def parse(self, path: str) -> tuple[Parsed | None, str]:
        """(result, "") or (None, reason) when the child died or hung on this file."""
        return self.parse_all([path])[0]

    def parse_all(self, paths: list[str], depth: int = 2) -> list[tuple[Parsed | None, str]]:
        """One (result, "") or (None, reason) per path, in order. Up to ``depth`` files are handed
        to the child at once, so that it parses the next file while this process unpickles the last
        result (one at a time, each file waited ~0.3 ms for the other side). The child answers in
        order, so when it dies or hangs the file it was on is the earliest unanswered one: that
        file is rejected, and the files queued behind it go to a new child."""
        out: list[tuple[Parsed | None, str]] = []
        sent = 0  # paths[:sent] have been handed to the current child or answered
        while len(out) < len(paths):
            if self.proc is None:
                self.start()
            try:
                while sent < len(paths) and sent - len(out) < depth:
                    self.conn.send(paths[sent])
                    sent += 1
                if not self.conn.poll(self.limits.parse_timeout_s):
                    self.kill()
                    out.append((None, f"读取超时（超过{int(self.limits.parse_timeout_s)}秒）"))
                    sent = len(out)  # the rest were never answered: a new child reads them
                    continue
                out.append((self.conn.recv(), ""))
            except (EOFError, OSError, BrokenPipeError):
                code = None
                if self.proc is not None:
                    self.proc.join(timeout=5)  # reap it, so that the signal that ended it is known
                    code = self.proc.exitcode
                self.kill()
                out.append((None, f"读取进程异常退出（{_signal_name(code)}），文件可能已损坏或被恶意构造"))
                sent = len(out)
        return out


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"退出码{code}"
    import signal

    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"信号{-code}"


# ---- the pool ------------------------------------------------------------------------------------

IDLE_SECONDS = 20.0  # an idle child is stopped after this long

_lock = threading.Lock()
_idle: list[Worker] = []  # alive children, each started with its Worker's key
_blank: list[tuple] = []  # (process, pipe) of warm children not yet given their arguments
_every: weakref.WeakSet[Worker] = weakref.WeakSet()  # every pooled Worker, idle or in use
_reaper: threading.Thread | None = None
_pid = os.getpid()


def _key(template_path: str, limits: Limits, ingest_day: date) -> tuple:
    """Everything the child was started with; the template file's size and mtime too, so that an
    edited template is never read through a child that loaded the old one."""
    try:
        st = os.stat(template_path)
        stamp = (st.st_size, st.st_mtime_ns)
    except OSError:
        stamp = None
    return (os.fspath(template_path), limits, ingest_day.isoformat(), stamp)


def _vm_bytes(pid: int) -> int:
    """The child's address-space size (what RLIMIT_AS caps), or 0 where it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _end(proc, conn, graceful: bool = True) -> None:
    """End a child that is not (or no longer) in a Worker."""
    if graceful:
        try:
            conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        proc.join(timeout=2)
    if proc.is_alive():
        proc.kill()
    proc.join()
    conn.close()


def _reset_after_fork() -> None:  # pragma: no cover - only in a forked process
    """A forked process does not own its parent's children: forget them (closing its copies of the
    pipes, so that a child still sees its real parent go away)."""
    global _lock, _reaper, _pid
    conns = [w.conn for w in list(_every)] + [c for _, c in _blank]
    for conn in conns:
        try:
            conn.close()
        except (OSError, AttributeError):
            pass
    _idle.clear()
    _blank.clear()
    _every.clear()
    _lock, _reaper, _pid = threading.Lock(), None, os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def acquire(template_path: str, limits: Limits, ingest_day: date) -> Worker:
    """A Worker for this caller alone: an idle pooled child started with the same arguments, else a
    warm child given them now, else a new Worker (its child starts on the first file). Idle
    children started with other arguments are stopped: they are never reused with these."""
    key = _key(template_path, limits, ingest_day)
    found, stale, blank = None, [], None
    with _lock:
        for w in list(_idle):
            if found is None and w.key == key:
                found = w
            elif w.key != key:
                stale.append(w)
        for w in (found, *stale):
            if w is not None:
                _idle.remove(w)
        if found is None and _blank:
            blank = _blank.pop()
    for w in stale:
        w.stop()
    if found is not None:
        if found.ping():
            return found
        found.kill()
    w = Worker(template_path, limits, ingest_day)
    w.key = key
    if blank is not None:
        proc, conn = blank
        w.proc, w.conn = proc, conn
        try:
            conn.send(w.args)
        except (OSError, BrokenPipeError):
            pass
        if not w.ping():
            w.kill()  # its first file starts a new child
    with _lock:
        _every.add(w)
    return w


def release(worker: Worker) -> None:
    """Back to the pool if its child is alive and idle; otherwise the child is ended."""
    if worker.proc is None or os.getpid() != _pid:
        return  # no child, or (after a fork) not this process's child
    if worker.key is None or not worker.proc.is_alive():
        worker.kill()
        return
    if _vm_bytes(worker.proc.pid) > worker.limits.worker_memory_bytes // 2:
        worker.stop()  # a big file left its heap large: the next batch starts afresh
        return
    global _reaper
    worker.idle_since = time.monotonic()
    with _lock:
        _idle.append(worker)
        if _reaper is None or not _reaper.is_alive():
            _reaper = threading.Thread(target=_reap, name="ledgerflow-sandbox-reaper", daemon=True)
            _reaper.start()


def _reap() -> None:
    """Stop children idle for longer than IDLE_SECONDS; end when none is idle."""
    global _reaper
    while True:
        time.sleep(max(0.5, IDLE_SECONDS / 4))
        now = time.monotonic()
        with _lock:
            old = [w for w in _idle if now - w.idle_since >= IDLE_SECONDS]
            for w in old:
                _idle.remove(w)
            if not _idle and not old:
                if _reaper is threading.current_thread():
                    _reaper = None
                return
        for w in old:
            w.stop()


def warm(n: int = 1) -> int:
    """Start up to ``n`` children ahead of the first batch (they import ledgerflow and calamine
    meanwhile, and get their arguments from the first batch that needs one). Returns how many
    were started; none in a daemonic process, which may not have children."""
    if mp.current_process().daemon:
        return 0
    started = 0
    with _lock:
        want = n - len(_blank)
    for _ in range(max(0, want)):
        child = _spawn()
        with _lock:
            _blank.append(child)
        started += 1
    return started


def shutdown() -> None:
    """Stop the idle and warm children now (a batch in progress keeps its child)."""
    with _lock:
        idle, blank = list(_idle), list(_blank)
        _idle.clear()
        _blank.clear()
    for w in idle:
        w.stop()
    for proc, conn in blank:
        _end(proc, conn)


def _at_exit() -> None:
    """No child outlives this process: idle ones are stopped, any still in use are killed."""
    if os.getpid() != _pid:
        return
    shutdown()
    for w in list(_every):
        if w.proc is not None:
            w.kill()


atexit.register(_at_exit)


def parse_files(paths: list[str], template_path: str, limits: Limits, ingest_day: date) -> list[Parsed]:
    """Parse files in order in one child process (restarted after a death); one result per path."""
    tpl = load_template(template_path)
    worker = acquire(template_path, limits, ingest_day)
    out: list[Parsed] = []
    try:
        for result, reason in worker.parse_all([os.fspath(p) for p in paths]):
            out.append(result if result is not None else _unreadable(tpl, reason))
    except BaseException:
        worker.kill()  # the pipe may hold a half-finished exchange: never reuse this child
        raise
    release(worker)
    return out


# ---- one call in a throw-away child -------------------------------------------------------------


def _isolated_child(conn, fn, args: tuple, memory_bytes: int) -> None:  # pragma: no cover - child
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):
        pass
    try:
        conn.send(("ok", fn(*args)))
    except MemoryError:
        conn.send(("error", "读取时内存超出安全上限"))
    except Exception as exc:  # the reason goes back to the caller, who decides what it means
        conn.send(("error", str(exc) or type(exc).__name__))
    finally:
        conn.close()


def call_isolated(fn, *args, limits: Limits):
    """``fn(*args)`` in a fresh child process with the memory cap and time limit of a workbook:
    for reading a file that has not earned the parent's trust (the registry). Returns its result;
    raises :class:`IsolatedFailure` with a clerk-readable reason when it failed, died or hung."""
    parent, child = _CTX.Pipe()
    proc = _CTX.Process(
        target=_isolated_child, args=(child, fn, args, limits.worker_memory_bytes), daemon=True
    )
    proc.start()
    child.close()
    try:
        if not parent.poll(limits.parse_timeout_s * 2):  # a fresh child imports first
            proc.kill()
            raise IsolatedFailure(f"读取超时（超过{int(limits.parse_timeout_s * 2)}秒）")
        status, value = parent.recv()
    except (EOFError, OSError) as exc:
        proc.join(timeout=5)
        raise IsolatedFailure(f"读取进程异常退出（{_signal_name(proc.exitcode)}）") from exc
    finally:
        parent.close()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if status != "ok":
        raise IsolatedFailure(value)
    return value


class IsolatedFailure(RuntimeError):
    """A call in a child process failed; the message says why, for a person."""
