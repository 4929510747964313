"""A kept pool of daemon worker threads with a resizable cap and detachable workers.

Why not `concurrent.futures.ThreadPoolExecutor`: its workers are joined at
interpreter exit, so one agent hung in a model call would keep the process alive
forever, and a worker stuck in a hung call keeps counting against the cap. Here:

* workers are daemon threads, started lazily up to `max_workers` and reused;
* `set_max_workers(n)` changes the cap for work submitted afterwards;
* `detach(future)` takes the worker running `future` out of the pool: it finishes
  that call on its own and exits, and a fresh worker may take its place, so work
  abandoned after a timeout never shrinks the pool;
* `submit` returns a standard `concurrent.futures.Future`, so callers can use
  `concurrent.futures.wait`.

At most `max_workers` attached workers run at a time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class _Worker:
    __slots__ = ("thread", "current", "detached")

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.current: Future | None = None
        self.detached = False


class WorkerPool:
    """Runs submitted callables on daemon threads named ``{name}-{n}``."""

    def __init__(self, name: str, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self.name = name
        self._max_workers = max_workers
        self._queue: queue.SimpleQueue[tuple[Future, Callable[[], Any]] | None] = (
            queue.SimpleQueue())
        self._lock = threading.Lock()
        self._workers: set[_Worker] = set()  # attached workers only
        self._busy = 0  # attached workers running a call
        self._pending = 0  # calls queued, not yet taken by a worker
        self._retiring = 0  # stop markers queued, not yet taken
        self._started = 0
        self._shutdown = False

    @property
    def max_workers(self) -> int:
        return self._max_workers

    def set_max_workers(self, max_workers: int) -> None:
        """Change the cap. Idle workers beyond it exit; busy ones after their call."""
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        with self._lock:
            self._max_workers = max_workers
            # Only idle workers are told to leave; busy ones leave after their call.
            idle = len(self._workers) - self._busy - self._retiring
            leaving = max(0, min(idle, len(self._workers) - self._retiring - max_workers))
            self._retiring += leaving
        for _ in range(leaving):
            self._queue.put(None)

    def submit(self, fn: Callable[[], Any]) -> Future:
        """Schedule `fn()`; its result or exception lands in the returned future."""
        future: Future = Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError(f"worker pool {self.name!r} is shut down")
            self._queue.put((future, fn))
            self._pending += 1
            self._start_workers_if_needed()
        return future

    def detach(self, future: Future) -> None:
        """Release the worker running `future` from the pool (see the module doc)."""
        with self._lock:
            for worker in self._workers:
                if worker.current is future:
                    worker.detached = True
                    self._workers.discard(worker)
                    self._busy -= 1
                    self._start_workers_if_needed()
                    return

    def threads(self) -> list[threading.Thread]:
        """The attached workers' threads (for tests and diagnostics)."""
        with self._lock:
            return [w.thread for w in self._workers if w.thread is not None]

    def shutdown(self, cancel_pending: bool = True) -> None:
        """Stop accepting work and let idle workers exit; never waits for busy ones."""
        with self._lock:
            self._shutdown = True
        if cancel_pending:
            self._cancel_queued()
        with self._lock:
            leaving = len(self._workers) - self._retiring
            self._retiring += leaving
        for _ in range(leaving):
            self._queue.put(None)

    def _cancel_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                if item is None:
                    self._retiring -= 1
                    continue
                self._pending -= 1
            item[0].cancel()

    def _start_workers_if_needed(self) -> None:  # called with self._lock held
        staying = len(self._workers) - self._retiring
        while staying - self._busy < self._pending and staying < self._max_workers:
            self._start_worker()
            staying += 1

    def _start_worker(self) -> None:  # called with self._lock held
        worker = _Worker()
        self._started += 1
        worker.thread = threading.Thread(target=self._work, args=(worker,),
                                         name=f"{self.name}-{self._started}", daemon=True)
        self._workers.add(worker)
        worker.thread.start()

    def _work(self, worker: _Worker) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                with self._lock:
                    self._workers.discard(worker)
                    self._retiring -= 1
                    self._start_workers_if_needed()  # work queued behind the marker
                return
            future, fn = item
            with self._lock:
                self._pending -= 1
                self._busy += 1
                worker.current = future
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - delivered through the future
                    future.set_exception(exc)
            del item, future, fn  # an idle worker must not keep the last call's objects alive
            with self._lock:
                worker.current = None
                if worker.detached:
                    return
                self._busy -= 1
                if len(self._workers) - self._retiring > self._max_workers:
                    self._workers.discard(worker)
                    return
