"""Parallel batches: named tasks run at once on a kept executor, under one deadline.

Policy lives here, mechanism in `worker_pool`, counting in `metrics.Accounting`.
`ParallelRunner.run(tasks, step)`:

* submits each task whose key is not still busy from an earlier batch to the
  runner's `WorkerPool` executor (cap: MAX_WORKERS);
* waits until all finish or PARALLEL_EXECUTION_TIMEOUT strikes (plus at most
  `_LATE_FINISH` for a task that committed its outcome just at the deadline);
* returns a `BatchOutcome` with the results **in the order the tasks were given**, so
  that the caller applies them in its own order, whatever the thread timing;
* a task not yet started at the deadline is cancelled; one still running is
  abandoned: reported as timed out, told so (`Task.abandon`, so it can keep its late
  outcome from being applied), and its key skipped ("busy") by later batches until
  its thread ends; the executor is then replaced by a fresh one, so the hung thread
  holds no slot of the next batch's cap;
* a task that raised is a failure (with its traceback); the others are unaffected;
* Ctrl-C while waiting cancels queued tasks, abandons running ones, drops every
  result and re-raises within ~0.25 s;
* `close()` from another thread ends a batch in flight within ~0.25 s: queued tasks
  are cancelled and running ones abandoned, both reported as `cancelled` (not
  timeouts); what finished is returned.

A world's step runs one `AgentTurn` per agent; `tinytroupe.factory` runs one task
per person to generate; each Ray actor runs its agents' turns. All share this policy.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tinytroupe.config import config_manager
from tinytroupe.environment.outcome import AgentFailure, BatchOutcome, ParallelStepError
from tinytroupe.environment.worker_pool import WorkerPool

__all__ = ["AgentFailure", "AgentTurn", "BatchOutcome", "ParallelRunner", "ParallelStepError",
           "Task", "TurnGuard", "resolve_max_workers", "wait_in_slices"]

logger = logging.getLogger("tinytroupe")

#: How often a waiting thread wakes up, so Ctrl-C (and close()) is seen promptly.
WAIT_SLICE = 0.25
#: How long a task that applied its outcome just at the deadline gets to return.
_LATE_FINISH = 0.2


def wait_in_slices(wait: Callable[[float], bool], deadline: float,
                   interrupted: Callable[[], bool] = lambda: False) -> None:
    """Call ``wait(seconds)`` in slices of at most `WAIT_SLICE` until done or stopped.

    It stops when `wait` returns True (everything is done), `deadline`
    (`time.perf_counter`) passes, or `interrupted()` is true.

    Waiting in slices keeps the waiting thread responsive to Ctrl-C and to close().
    """
    while (remaining := deadline - time.perf_counter()) > 0 and not interrupted():
        if wait(min(WAIT_SLICE, remaining)):
            return


class Task:
    """A unit of work of a batch: `fn()` timed; `abandon()` says its result is unwanted.

    `timed` (None: ``COLLECT_PARALLEL_METRICS``) decides whether `seconds` is measured.
    Subclasses that change shared state override `abandon` to stop a late finisher
    from applying anything (see `AgentTurn`).
    """

    def __init__(self, fn: Callable[[], Any], timed: bool | None = None) -> None:
        self._fn = fn
        self._timed = config_manager.get("collect_parallel_metrics") if timed is None \
            else timed
        self.seconds = 0.0

    def __call__(self) -> Any:
        """The result of `fn()` (its exception propagates); timed into `seconds` if timed."""
        start = time.perf_counter() if self._timed else 0.0
        try:
            return self._fn()
        finally:
            if self._timed:
                self.seconds = time.perf_counter() - start

    def abandon(self) -> bool:
        """Say the batch stopped waiting for this task (called from the waiting thread).

        False if it is too late: the task already applied its outcome.
        """
        return True


def resolve_max_workers(setting: Any, tasks: int) -> int:
    """MAX_WORKERS as a thread count: None -> min(32, cpu + 4); ALL -> one per task."""
    if setting is None:
        return min(32, (os.cpu_count() or 1) + 4)
    if isinstance(setting, str) and setting.upper() == "ALL":
        return max(1, tasks)
    return int(setting)


class ParallelRunner:
    """Runs batches of named tasks on one kept executor, with busy tracking."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool: WorkerPool | None = None
        self._pool_lock = threading.Lock()  # a world's warm-up thread may prepare it
        self._replace_pool = False  # a batch gave up on a running task
        self._closings = 0  # close() calls so far: a batch in flight sees a change
        self._busy: dict[str, Future] = {}
        self._interrupted: deque[Any] = deque(maxlen=64)  # batch tokens given up on

    def interrupt(self, token: Any) -> None:
        """Make the batch run with `token` (in another thread) stop waiting now.

        As if its deadline had passed, its unfinished tasks are given up. It may come
        before that batch starts. The Ray backend's actors use it when the driver is
        interrupted.
        """
        self._interrupted.append(token)

    def may_run(self, key: str) -> bool:
        """False (with a warning) while an abandoned task of `key` is still running."""
        future = self._busy.get(key)
        if future is not None and future.done():
            del self._busy[key]
            future = None
        if future is not None:
            logger.warning("%s: skipping %s, still busy from an earlier step", self.name, key)
        return future is None

    def run(self, tasks: dict[str, Task], step: int,
            on_task_done: Callable[[], None] | None = None, token: Any = None) -> BatchOutcome:
        """Run `tasks` concurrently and collect their outcome (module doc).

        `token` names the batch for `interrupt`. Counting the outcome is the caller's
        (`Accounting.account`).
        """
        timeout = config_manager.get("parallel_execution_timeout")
        outcome = BatchOutcome(timeout=timeout)
        ready: dict[str, Task] = {}
        for key, task in tasks.items():
            if self.may_run(key):
                ready[key] = task
            else:
                outcome.skipped_busy.append(key)
        closings = self._closings  # before the pool: a close() from here on is seen
        with self._pool_lock:
            pool = self._executor_for(len(ready))
        start = time.perf_counter()
        futures: dict[str, Future] = {}
        for key, task in ready.items():
            try:
                futures[key] = pool.submit(task)
            except RuntimeError:  # close() shut the pool down while we were submitting
                outcome.cancelled.append(key)
                continue
            if on_task_done is not None:
                futures[key].add_done_callback(lambda _f: on_task_done())
        pending = set(futures.values())

        def wait(seconds: float) -> bool:
            nonlocal pending
            _, pending = concurrent.futures.wait(pending, timeout=seconds)
            return not pending

        try:
            wait_in_slices(wait, start + timeout, lambda: self._closings != closings or (
                token is not None and token in self._interrupted))
        except BaseException:
            for key, future in futures.items():
                self._give_up(key, future, ready[key])
            raise
        if config_manager.get("collect_parallel_metrics"):
            outcome.wall_seconds = time.perf_counter() - start
        given_up = outcome.cancelled if self._closings != closings else outcome.timed_out
        for key, future in futures.items():
            if future in pending and self._give_up(key, future, ready[key]):
                given_up.append(key)
        self._collect(futures, outcome, step)
        outcome.agent_seconds = sum(t.seconds for t in ready.values())
        return outcome

    @property
    def closings(self) -> int:
        """How many times `close` was called: a caller that saw it change stops waiting."""
        return self._closings

    def open_stream(self, tasks: int) -> int:
        """Get the executor ready for a stream of about `tasks` concurrent tasks.

        For callers that schedule tasks one by one (dependency-driven steps): the
        executor is chosen as for a batch (replaced after a given-up task, as a batch
        would) and kept while the stream lasts. Returns the `closings` mark that
        `submit` checks.
        """
        with self._pool_lock:
            self._executor_for(tasks)
            return self._closings

    def submit(self, key: str, task: Task, mark: int) -> Future:
        """Submit one task of a stream opened with `open_stream` (no batch deadline).

        The caller keeps each task's deadline and calls `give_up` on a late one. Raises
        RuntimeError once the runner was closed after `mark`: no new executor is made.
        """
        with self._pool_lock:
            pool = self._pool
            if pool is None or self._closings != mark:
                raise RuntimeError(f"{self.name}: closed; no new task is started")
        return pool.submit(task)

    def prepare(self, tasks: int, mark: int) -> None:
        """Start the threads a batch of `tasks` will need (off a first step's path).

        Only makes an executor where there is none: one a step may be using is never
        replaced. Does nothing once the runner was closed after `mark` (`closings`).
        """
        with self._pool_lock:
            if self._closings != mark:
                return
            pool = self._pool if self._pool is not None else self._executor_for(tasks)
        pool.prestart(tasks)

    def give_up(self, key: str, future: Future, task: Task) -> bool:
        """Stop waiting for one submitted task (see `run`): True if it was given up.

        A running task is abandoned and `key` is busy until its thread ends.
        """
        return self._give_up(key, future, task)

    def _executor_for(self, tasks: int) -> WorkerPool:
        """The executor for a batch of `tasks`.

        Kept across batches; replaced (the old one shut down without waiting) after a
        batch that gave up on a running task, or when the cap changes; with ALL, one
        already large enough is kept.
        """
        setting = config_manager.get("max_workers")
        workers = resolve_max_workers(setting, tasks)
        pool = self._pool
        fits = pool is not None and (pool.max_workers == workers or (
            setting == "ALL" and pool.max_workers >= workers))
        if not fits or self._replace_pool:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            pool = self._pool = WorkerPool(workers, f"{self.name}-agent")
            self._replace_pool = False
        return pool

    def _give_up(self, key: str, future: Future, task: Task) -> bool:
        """Stop waiting for a task: cancel it if queued, else abandon it (it is busy).

        False if the task got in first: it finished, or already applied its outcome
        (its result is then as good as any other and must be used, not dropped).
        """
        if future.cancel():
            return True
        if future.done():
            return False
        if not task.abandon():  # it applied its outcome a moment ago: let it return
            concurrent.futures.wait([future], timeout=_LATE_FINISH)
            if future.done():
                return False
        self._busy[key] = future
        self._replace_pool = True
        return True

    @staticmethod
    def _collect(futures: dict[str, Future], outcome: BatchOutcome, step: int) -> None:
        given_up = set(outcome.timed_out) | set(outcome.cancelled)
        for key, future in futures.items():
            if key in given_up:
                continue
            if future.cancelled():  # cancelled in the queue by close()
                outcome.cancelled.append(key)
                continue
            error = future.exception()
            if error is None:
                outcome.results[key] = future.result()
                continue
            outcome.failures.append(AgentFailure.of(step, key, error))
            outcome.tracebacks[key] = "".join(traceback.format_exception(error))

    def threads(self) -> list[threading.Thread]:
        """The live threads of the current executor (diagnostics)."""
        return self._pool.threads() if self._pool is not None else []

    def close(self) -> None:
        """Release the executor's threads and end a batch in flight promptly.

        Idle threads exit now, busy ones when their call ends (module doc). The runner
        can run again later.
        """
        with self._pool_lock:
            self._closings += 1
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class TurnGuard:
    """Lets a step give up on an agent's turn without a race.

    Under `lock`, the agent applies its act's outcome only if not `abandoned` and then
    sets `committed`, and the step abandons the turn only if not `committed` (see
    `TinyPerson.guarded_turn`).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.abandoned = False
        self.committed = False


class AgentTurn(Task):
    """One agent's `act()` in a parallel step; returns the actions it buffered.

    The turn's actions are popped from the agent's buffer by the turn itself, so a
    failed turn's partial actions go nowhere, and an abandoned turn applies nothing
    (its `TurnGuard` refuses the agent's late commit).
    """

    def __init__(self, agent: Any) -> None:
        super().__init__(self._act)
        self.agent = agent
        self.guard = TurnGuard()

    def _act(self) -> list[dict[str, str]]:
        with self.agent.guarded_turn(self.guard):
            try:
                self.agent.act()
            finally:
                actions = self.agent.pop_latest_actions()
        return actions

    def abandon(self) -> bool:
        """Abandon the turn unless its actions were already committed."""
        with self.guard.lock:
            if not self.guard.committed:
                self.guard.abandoned = True
            return self.guard.abandoned
