"""WorkerPool: a concurrent.futures.Executor on daemon threads; nothing left behind."""

from __future__ import annotations

import concurrent.futures
import threading
import time
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


def test_it_is_a_standard_executor() -> None:
    assert issubclass(WorkerPool, concurrent.futures.Executor)
    with WorkerPool(3) as pool:
        assert list(pool.map(lambda x, y: x * y, range(5), range(5))) == [0, 1, 4, 9, 16]
        assert pool.submit(divmod, 7, b=2).exception(timeout=10) is not None  # kwargs pass
        assert pool.submit(divmod, 7, 2).result(timeout=10) == (3, 1)
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(print)


def test_the_cap_holds_and_threads_are_reused() -> None:
    pool = WorkerPool(3)
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


def test_shutdown_without_waiting_cancels_queued_work_and_wakes_waiters() -> None:
    pool, gate = WorkerPool(1), threading.Event()
    [running] = blocked_tasks(pool, 1, gate)
    queued = [pool.submit(lambda: "never") for _ in range(3)]
    workers = pool.threads()  # captured before shutdown: afterwards they leave the set
    pool.shutdown(wait=False, cancel_futures=True)
    # wait() must count futures cancelled in the queue as done (it is told, not only
    # the future): otherwise it would sit out its whole timeout
    assert not wait(queued, timeout=10).not_done
    assert all(f.cancelled() for f in queued) and not running.done()
    gate.set()
    assert running.result(timeout=10) == "blocked"
    for thread in workers:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in workers)


def test_shutdown_without_cancelling_runs_every_queued_call() -> None:
    pool, gate = WorkerPool(2), threading.Event()
    blocked = blocked_tasks(pool, 2, gate)
    queued = [pool.submit(lambda i=i: i) for i in range(5)]
    pool.shutdown(wait=False)
    gate.set()
    assert [f.result(timeout=10) for f in queued] == [0, 1, 2, 3, 4]
    assert all(f.result(timeout=10) == "blocked" for f in blocked)


def test_idle_workers_exit_and_the_pool_starts_new_ones_on_demand() -> None:
    pool = WorkerPool(2, idle_timeout=0.05)
    assert pool.submit(lambda: 1).result(timeout=10) == 1
    [worker] = pool.threads()
    worker.join(timeout=10)  # exits by itself once idle for 0.05 s
    assert not worker.is_alive() and pool.threads() == []
    assert pool.submit(lambda: 2).result(timeout=10) == 2  # a fresh worker
    pool.shutdown()


def test_exceptions_land_in_the_future() -> None:
    pool = WorkerPool(2)
    future = pool.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        future.result(timeout=10)
    assert pool.submit(lambda: 7).result(timeout=10) == 7
    pool.shutdown()


def test_a_pool_of_zero_workers_is_refused() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        WorkerPool(0)


def test_prestarted_workers_take_a_burst_without_starting_threads() -> None:
    pool = WorkerPool(8, "prestart")
    try:
        assert pool.prestart(5) == 5 and pool.prestart(5) == 0  # already there
        started = set(pool.threads())
        release = threading.Event()
        futures = [pool.submit(release.wait, 10) for _ in range(5)]
        assert set(pool.threads()) == started  # the burst found its threads ready
        release.set()
        assert all(f.result(timeout=10) for f in futures)
        assert pool.prestart(20) == 3  # never beyond max_workers
    finally:
        pool.shutdown(wait=True)


def test_a_world_warms_up_before_its_first_step() -> None:
    from tinytroupe.agent import TinyPerson
    from tinytroupe.environment import TinyWorld

    agents = [TinyPerson(f"Warm{i}") for i in range(12)]
    with TinyWorld("warm", agents) as world:
        world.make_everyone_accessible()
        deadline = time.monotonic() + 10
        while len(world.worker_threads()) < 12 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(world.worker_threads()) == 12  # started by the warm-up, no step yet
        assert world.steps_done == 0
        world.run(1, parallelize=True)
        assert world.get_parallel_metrics()["agent_turns_completed"] == 12


def test_work_queued_at_the_cap_never_strands_a_later_submission() -> None:
    # A backlog at the cap, then every worker idles out: a later task must still run
    # (the pool once counted a worker as free while it was busy with the backlog).
    pool = WorkerPool(2, "stranded", idle_timeout=0.2)
    try:
        wait([pool.submit(time.sleep, 0.05) for _ in range(4)], timeout=10)
        deadline = time.monotonic() + 10
        while pool.threads() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pool.threads() == []
        assert pool.submit(lambda: 42).result(timeout=10) == 42
    finally:
        pool.shutdown(wait=True)
