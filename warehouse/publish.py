"""Publishing that never leaves a partial warehouse and never blocks readers.

DuckDB allows one writer and no reader while a writer holds the file. A run therefore works on a
private copy (``<warehouse>.building-<pid>``) and, once it has checkpointed and closed it, swaps it
in with an atomic rename. An analyst holding a read-only connection keeps reading the old file (its
inode lives on until they close it); the next connection sees the new state. A crash at any point
leaves the published file as it was (the private copy is swept away by the next run).
"""

from __future__ import annotations

import fcntl
import json
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
    # a run killed while publishing may have moved the published .wal aside: put it back where the
    # swap did not happen (the warehouse is still the one that .wal belongs to), drop it where it did
    for aside in warehouse.parent.glob(warehouse.name + ".wal.published-*"):
        pid = aside.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or _pid_alive(int(pid)):
            continue
        baseline = warehouse.with_name(f"{warehouse.name}.building-{pid}.baseline.json")
        try:
            before = json.loads(baseline.read_text(encoding="utf-8"))["warehouse"]
        except (OSError, ValueError, KeyError):
            continue  # nothing says which file it belongs to: leave it for a person
        if _state(warehouse) == before and not _wal(warehouse).exists():
            os.replace(aside, _wal(warehouse))
        else:
            aside.unlink()
    for stale in warehouse.parent.glob(warehouse.name + ".building-*"):
        try:
            stale.unlink()
        except OSError:
            pass
    for stage in warehouse.parent.glob(".ledgerflow-stage-*"):
        pid = stage.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(stage, ignore_errors=True)


def _state(path: Path) -> list[int] | None:
    """What identifies a file's content without reading it: inode, size, modification time."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _baseline_path(private: Path) -> Path:
    return private.with_name(private.name + ".baseline.json")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection: it holds DuckDB's shared lock, so no writer opens the file while we
    hold it; a writer that holds the file already makes this fail, naming its process."""
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseBusy(
            f"仓库 {warehouse} 正被其他进程以读写方式打开，本次运行未修改仓库。"
            f"请关闭该连接（查询请以只读方式打开：duckdb -readonly；需要建自己的表请用 ledgerflow sql）。"
            f"DuckDB：{exc}"
        ) from exc


def prepare_private(warehouse: Path) -> Path:
    """Copy the published warehouse to a private file this run alone writes.

    The copy is made while holding a read-only connection, so no writer can change the file under
    it; an analyst who holds it read-write makes the run fail here, naming their process. What the
    published file (and its .wal) looked like when copied is kept beside the copy: :func:`publish`
    refuses to replace a warehouse somebody wrote to after that.
    """
    _sweep(warehouse)
    private = warehouse.with_name(f"{warehouse.name}.building-{os.getpid()}")
    baseline = {"warehouse": None, "wal": None}
    try:
        if warehouse.exists():
            con = _open_read_only(warehouse)
            try:
                baseline = {"warehouse": _state(warehouse), "wal": _state(_wal(warehouse))}
                shutil.copyfile(warehouse, private)
                if baseline["wal"] is not None:
                    shutil.copyfile(_wal(warehouse), _wal(private))
            finally:
                con.close()
        _baseline_path(private).write_text(json.dumps(baseline), encoding="utf-8")
    except BaseException:
        discard(private)  # a full disk leaves no half-made copy behind
        raise
    return private


class WarehouseChanged(WarehouseBusy):
    """Somebody wrote to the published warehouse after this run copied it."""


def publish(private: Path, warehouse: Path) -> None:
    """Atomically replace the published warehouse by the private copy (closed and checkpointed).

    Nothing anybody else wrote is lost: the new file and its folder are made durable before the
    swap; a writer holding the warehouse, or writes made to it since the run copied it, make this
    refuse (the warehouse as it was); a .wal that was there when the run copied the warehouse (and
    so is in the copy) is moved aside, not deleted, until the swap is durable.
    """
    if _wal(private).exists():
        raise RuntimeError("private warehouse was not checkpointed before publishing")
    baseline = json.loads(_baseline_path(private).read_text(encoding="utf-8"))
    _fsync(private)
    _fsync(warehouse.parent)
    con = _open_read_only(warehouse) if warehouse.exists() else None
    try:
        now = {"warehouse": _state(warehouse), "wal": _state(_wal(warehouse))}
        if now != baseline:
            raise WarehouseChanged(
                f"本次运行复制仓库 {warehouse} 之后，有其他进程写入了它（例如以读写方式打开后建表）。"
                "为不丢失这些写入，本次运行未修改仓库；请重新运行。"
                "分析人员自己的表请建在 ledgerflow sql 打开的工作库中。"
            )
        aside = None
        if now["wal"] is not None:  # already in the copy: kept until the new state is durable
            aside = warehouse.with_name(f"{warehouse.name}.wal.published-{os.getpid()}")
            os.replace(_wal(warehouse), aside)
        try:
            os.replace(private, warehouse)
        except BaseException:
            if aside is not None:
                os.replace(aside, _wal(warehouse))
            raise
        _fsync(warehouse.parent)
        if aside is not None:
            aside.unlink()
    finally:
        if con is not None:
            con.close()
    _baseline_path(private).unlink(missing_ok=True)


def discard(private: Path) -> None:
    for p in (private, _wal(private), _baseline_path(private)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
