"""WorkerPool: daemon workers, a resizable cap, detachable workers; no work left behind."""

from __future__ import annotations

import threading
from concurrent.futures import wait

import pytest

from tinytroupe.environment.worker_pool import WorkerPool


def blocked_tasks(pool: WorkerPool, count: int, gate: threading.Event) -> list:
    started = threading.Barrier(count + 1, timeout=10)

    def task() -> str:
        started.wait()
        gate.wait(10)
        return "blocked"

    futures = [pool.submit(task) for _ in range(count)]
    started.wait()  # all `count` are running now
    return futures


def test_shrinking_while_busy_never_strands_later_work() -> None:
    pool, gate = WorkerPool("shrink", 4), threading.Event()
    blocked = blocked_tasks(pool, 4, gate)
    pool.set_max_workers(2)
    later = [pool.submit(lambda i=i: i) for i in range(2)]
    gate.set()
    done, not_done = wait([*blocked, *later], timeout=10)
    assert not not_done
    assert [f.result() for f in later] == [0, 1]
    assert len(pool.threads()) <= 2
    pool.shutdown()


def test_the_cap_holds_and_threads_are_reused() -> None:
    pool = WorkerPool("cap", 3)
    lock, state = threading.Lock(), {"now": 0, "max": 0, "names": set()}
    barrier = threading.Barrier(3, timeout=10)

    def task() -> None:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            state["names"].add(threading.current_thread().name)
        barrier.wait()
        with lock:
            state["now"] -= 1

    assert not wait([pool.submit(task) for _ in range(12)], timeout=20).not_done
    assert state["max"] == 3 and len(state["names"]) == 3
    assert all(t.daemon for t in pool.threads())
    pool.shutdown()


def test_a_detached_worker_is_replaced() -> None:
    pool, gate = WorkerPool("detach", 1), threading.Event()
    [hung] = blocked_tasks(pool, 1, gate)
    pool.detach(hung)
    assert pool.submit(lambda: "fresh").result(timeout=10) == "fresh"
    gate.set()
    assert hung.result(timeout=10) == "blocked"
    pool.shutdown()


def test_shutdown_cancels_queued_work_and_releases_idle_threads() -> None:
    pool, gate = WorkerPool("stop", 1), threading.Event()
    [running] = blocked_tasks(pool, 1, gate)
    queued = pool.submit(lambda: "never")
    pool.shutdown()
    assert queued.cancelled()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(lambda: None)
    gate.set()
    assert running.result(timeout=10) == "blocked"
    for thread in pool.threads():
        thread.join(timeout=5)
    assert not any(t.is_alive() for t in pool.threads())


def test_exceptions_land_in_the_future() -> None:
    pool = WorkerPool("errors", 2)
    future = pool.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        future.result(timeout=10)
    assert pool.submit(lambda: 7).result(timeout=10) == 7
    pool.shutdown()
