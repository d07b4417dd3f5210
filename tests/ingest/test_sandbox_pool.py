"""The sandbox's pool of parse children (ledgerflow/sandbox.py): a child is kept between batches
of the same process, but only ever reused with the very arguments it was started with; a child
that died while idle is replaced without losing a file; concurrent batches get a child each."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta

import pytest
from books import AS_OF, codes, ledger

from ledgerflow import sandbox
from ledgerflow.sandbox import parse_files


@pytest.fixture(autouse=True)
def empty_pool():
    sandbox.shutdown()
    yield
    sandbox.shutdown()


def _idle_pids() -> list[int]:
    with sandbox._lock:
        return [w.proc.pid for w in sandbox._idle]


def test_the_next_batch_reuses_the_child(tpl, limits, ingest_day, make_book):
    good = make_book("good.xlsx", ledger())
    (first,) = parse_files([str(good)], str(tpl.path), limits, ingest_day)
    (pid,) = _idle_pids()
    (again,) = parse_files([str(good)], str(tpl.path), limits, ingest_day)
    assert first.status == again.status == "parsed" and codes(again) == []
    assert _idle_pids() == [pid]


def test_a_child_is_never_reused_with_another_ingest_day(tpl, limits, ingest_day, make_book):
    good = make_book("good.xlsx", ledger())
    (late,) = parse_files([str(good)], str(tpl.path), limits, ingest_day)
    (pid,) = _idle_pids()
    early = AS_OF - timedelta(days=1)  # the 统计截止日期 is now after the day it is ingested
    (result,) = parse_files([str(good)], str(tpl.path), limits, early)
    assert codes(late) == [] and codes(result) == ["E_AS_OF"]
    assert pid not in _idle_pids() and len(_idle_pids()) == 1
    assert not _alive(pid)  # the other day's child was stopped, not left behind


def test_other_limits_get_another_child(tpl, limits, ingest_day, make_book):
    from dataclasses import replace

    good = make_book("good.xlsx", ledger())
    parse_files([str(good)], str(tpl.path), limits, ingest_day)
    (pid,) = _idle_pids()
    (result,) = parse_files([str(good)], str(tpl.path), replace(limits, max_cells=10), ingest_day)
    assert result.status == "unreadable" and codes(result) == ["E_FILE_UNREADABLE"]
    assert pid not in _idle_pids()


def test_a_child_killed_while_idle_is_replaced_without_losing_a_file(tpl, limits, ingest_day, make_book):
    good = make_book("good.xlsx", ledger())
    parse_files([str(good)], str(tpl.path), limits, ingest_day)
    (pid,) = _idle_pids()
    os.kill(pid, signal.SIGKILL)
    results = parse_files([str(good), str(good)], str(tpl.path), limits, ingest_day)
    assert [r.status for r in results] == ["parsed", "parsed"]
    assert [codes(r) for r in results] == [[], []]
    (new,) = _idle_pids()
    assert new != pid


def test_concurrent_batches_each_get_their_own_child(tpl, limits, ingest_day, make_book):
    good = make_book("good.xlsx", ledger())
    out: dict[int, list] = {}
    start = threading.Barrier(3)

    def run(i: int) -> None:
        start.wait()
        out[i] = parse_files([str(good)] * 5, str(tpl.path), limits, ingest_day)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(out) == [0, 1, 2]
    assert all(r.status == "parsed" and codes(r) == [] for rs in out.values() for r in rs)
    assert 2 <= len(set(_idle_pids())) == len(_idle_pids()) <= 3


def test_a_warm_child_takes_the_first_batch(tpl, limits, ingest_day, make_book):
    good = make_book("good.xlsx", ledger())
    assert sandbox.warm(1) == 1
    assert sandbox.warm(1) == 0  # already one waiting
    with sandbox._lock:
        ((proc, _),) = sandbox._blank
    (result,) = parse_files([str(good)], str(tpl.path), limits, ingest_day)
    assert result.status == "parsed" and codes(result) == []
    assert _idle_pids() == [proc.pid] and not sandbox._blank


def test_idle_children_are_stopped_after_a_while(tpl, limits, ingest_day, make_book, monkeypatch):
    monkeypatch.setattr(sandbox, "IDLE_SECONDS", 0.5)
    good = make_book("good.xlsx", ledger())
    parse_files([str(good)], str(tpl.path), limits, ingest_day)
    (pid,) = _idle_pids()
    for _ in range(100):
        if not _idle_pids() and not _alive(pid):
            break
        threading.Event().wait(0.1)
    assert not _idle_pids() and not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is not alive
        return fh.read().split(")")[-1].split()[0] != "Z"


def _worker_pool_state(paths: list[str], template: str, limits, ingest_day) -> dict:
    """Run on a Dask worker: its warm child, then a batch parsed there."""
    from ledgerflow import sandbox as sb

    with sb._lock:
        warm = [p.pid for p, _ in sb._blank]
    results = sb.parse_files(paths, template, limits, ingest_day)
    with sb._lock:
        idle = [w.proc.pid for w in sb._idle]
    return {"warm": warm, "idle": idle, "statuses": [r.status for r in results]}


def test_dask_workers_preloaded_with_tasks_ingest_start_a_warm_child(tpl, limits, ingest_day, make_book):
    """`ledgerflow run --task-runner dask` starts its local workers with preload=["tasks.ingest"]:
    each worker starts a parse child while the cluster starts, and its first batch uses it."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    good = make_book("good.xlsx", ledger())
    with (
        dask.config.set({"distributed.worker.daemon": False}),
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            preload=["tasks.ingest"],
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        state = client.submit(_worker_pool_state, [str(good)], str(tpl.path), limits, ingest_day).result(120)
    assert len(state["warm"]) == 1
    assert state["statuses"] == ["parsed"]
    assert state["idle"] == state["warm"]  # the warm child parsed the batch and stayed
