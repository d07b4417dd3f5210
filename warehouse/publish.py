"""Publishing that never leaves a partial warehouse and never blocks readers.

DuckDB allows one writer and no reader while a writer holds the file. A run therefore works on a
private copy (``<warehouse>.building-<pid>``) and, once it has checkpointed and closed it, swaps it
in with an atomic rename. An analyst holding a read-only connection keeps reading the old file (its
inode lives on until they close it); the next connection sees the new state. A crash at any point
leaves the published file as it was (the private copy is swept away by the next run).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse for writing."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def run_lock(warehouse: Path, wait_s: float = 600.0):
    """One run at a time per warehouse: a second run waits (up to ``wait_s``), then gives up."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    deadline = time.monotonic() + wait_s
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusy(
                        f"另一次运行正在写入仓库 {warehouse}（等待{int(wait_s)}秒后放弃）"
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        try:
            fcntl.flock(fh, fcntl.LOCK_UN)
        finally:
            fh.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep(warehouse: Path) -> None:
    """Remove what killed runs left behind. Called under the run lock, so no live run of this
    warehouse owns a ``.building-*`` file; a staging folder beside it (``.ledgerflow-stage-<pid>``,
    which may belong to another warehouse's run in the same folder) only once its process is gone."""
    for stale in warehouse.parent.glob(warehouse.name + ".building-*"):
        try:
            stale.unlink()
        except OSError:
            pass
    for stage in warehouse.parent.glob(".ledgerflow-stage-*"):
        pid = stage.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)


def prepare_private(warehouse: Path) -> Path:
    """Copy the published warehouse to a private file this run alone writes.

    The copy is made while holding a read-only connection, so no writer can change the file under
    it; an analyst who holds it read-write makes the run fail here, naming their process.
    """
    _sweep(warehouse)
    private = warehouse.with_name(f"{warehouse.name}.building-{os.getpid()}")
    if not warehouse.exists():
        return private
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseBusy(
            f"仓库 {warehouse} 正被其他进程以读写方式打开，本次运行未修改仓库。"
            f"请关闭该连接（或以只读方式打开：duckdb -readonly）。DuckDB：{exc}"
        ) from exc
    try:
        shutil.copyfile(warehouse, private)
        wal = warehouse.with_name(warehouse.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, private.with_name(private.name + ".wal"))
    finally:
        con.close()
    return private


def publish(private: Path, warehouse: Path) -> None:
    """Atomically replace the published warehouse by the private copy (closed and checkpointed)."""
    stale_wal = private.with_name(private.name + ".wal")
    if stale_wal.exists():
        raise RuntimeError("private warehouse was not checkpointed before publishing")
    old_wal = warehouse.with_name(warehouse.name + ".wal")
    fd = os.open(private, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if old_wal.exists():
        old_wal.unlink()
    os.replace(private, warehouse)
    dfd = os.open(warehouse.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def discard(private: Path) -> None:
    for p in (private, private.with_name(private.name + ".wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
