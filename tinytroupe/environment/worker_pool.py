"""`WorkerPool`: a `concurrent.futures.Executor` on daemon threads that nobody joins.

Why not `concurrent.futures.ThreadPoolExecutor`: its workers are joined at interpreter
exit, so one agent hung in a call would keep the process alive forever; and a worker
stuck in a hung call keeps counting against the cap, so the next step would run on
fewer threads. With our HTTP client a hung model call ends on its own after at most
MAX_ATTEMPTS x TIMEOUT, but an agent's custom `act()` code can block forever.

So here:

* workers are daemon threads, started on demand up to `max_workers` and reused;
  a worker idle for `idle_timeout` seconds exits (a pool nobody uses holds no thread);
* `shutdown(wait=False, cancel_futures=True)` returns at once: queued work is
  cancelled (and `concurrent.futures.wait` is told), idle workers exit, and a busy
  worker exits when its call returns. The caller (`ParallelRunner`) keeps the cap
  honest simply: after a batch that gave up on a call, or when the cap changes, it
  shuts the pool down this way and starts a fresh one, so a hung call never occupies
  a slot of the new pool.

The rest is the standard interface: `submit(fn, /, *args, **kwargs)`, `map`, the
context manager; `shutdown(wait=True)` waits for the work already submitted.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

#: Seconds an idle worker waits for work before it exits.
IDLE_TIMEOUT = 30.0

_WorkItem = tuple[Future, Callable[..., Any], tuple[Any, ...], dict[str, Any]]
_pool_numbers = itertools.count(1)


class WorkerPool(concurrent.futures.Executor):
    """Runs submitted calls on at most `max_workers` daemon threads (module doc)."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "",
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self.idle_timeout = idle_timeout
        self._prefix = thread_name_prefix or f"WorkerPool-{next(_pool_numbers)}"
        self._queue: queue.SimpleQueue[_WorkItem | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        # Under _lock: items queued that no worker has taken yet, and workers free to
        # take one (waiting, or started and not yet waiting). A submit starts a worker
        # only when the unclaimed items outnumber the free workers.
        self._unclaimed = 0
        self._free = 0
        self._started = 0
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Schedule ``fn(*args, **kwargs)``; its result or exception lands in the future."""
        future: Future = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._queue.put((future, fn, args, kwargs))
            self._unclaimed += 1
            if self._unclaimed > self._free and len(self._threads) < self.max_workers:
                self._start_worker()
        return future

    def prestart(self, workers: int) -> int:
        """Start idle workers, up to `workers` in all (and `max_workers`); how many started.

        A burst of submissions then finds its threads ready instead of starting them
        one by one (a world does this before its first step, off its critical path).
        """
        with self._lock:
            if self._shutdown:
                return 0
            wanted = max(0, min(workers, self.max_workers) - len(self._threads))
            for _ in range(wanted):
                self._start_worker()
            return wanted

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work.

        With `cancel_futures`, cancel what has not started. With `wait`, block until the
        running calls return (never do this with a call that may hang); without it, return
        at once.
        """
        with self._lock:
            self._shutdown = True
            threads = list(self._threads)
        if cancel_futures:
            self._cancel_queued()
        for _ in threads:
            self._queue.put(None)  # one stop marker per worker
        if wait:
            for thread in threads:
                thread.join()

    def threads(self) -> list[threading.Thread]:
        """The live worker threads (for tests and diagnostics)."""
        with self._lock:
            return list(self._threads)

    def _cancel_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                with self._lock:
                    self._unclaimed -= 1
                future = item[0]
                if future.cancel():
                    # cancel() alone does not wake concurrent.futures.wait()
                    future.set_running_or_notify_cancel()

    def _start_worker(self) -> None:  # called with self._lock held
        self._started += 1
        self._free += 1  # free from the start: a submit right after need not start another
        thread = threading.Thread(target=self._work, name=f"{self._prefix}-{self._started}",
                                  daemon=True)
        self._threads.add(thread)
        thread.start()

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            try:
                item = self._queue.get(timeout=self.idle_timeout)
            except queue.Empty:
                with self._lock:
                    if self._unclaimed == 0 or self._shutdown:
                        self._free -= 1
                        self._threads.discard(me)
                        return  # idle too long: a later submit starts a new worker
                continue  # an item came in just as the wait timed out: take it
            with self._lock:
                self._free -= 1
                if item is None:  # a stop marker (shutdown)
                    self._threads.discard(me)
                    return
                self._unclaimed -= 1
            self._run(*item)
            del item  # an idle worker must not keep the last call's objects alive
            with self._lock:
                self._free += 1

    @staticmethod
    def _run(future: Future, fn: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # delivered through the future
            future.set_exception(exc)
        else:
            future.set_result(result)
