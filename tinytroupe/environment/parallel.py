"""Parallel batches: named tasks run at once on a kept pool, under one deadline.

Policy lives here, mechanism in `worker_pool`. `ParallelRunner.run(tasks, step)`:

* submits each task whose key is not still busy from an earlier batch to the
  runner's `WorkerPool` executor (cap: MAX_WORKERS);
* waits until all finish or PARALLEL_EXECUTION_TIMEOUT strikes (plus at most
  `_LATE_FINISH` for a task that committed its outcome just at the deadline);
* returns the results **in the order the tasks were given**, so that the caller
  applies them in its own order, whatever the thread timing;
* a task not yet started at the deadline is cancelled; one still running is
  abandoned: counted as a timeout, told so (`Task.abandon`, so it can keep its late
  outcome from being applied), and its key skipped ("busy") by later batches until
  its thread ends; the pool is then replaced by a fresh one, so the hung thread
  holds no slot of the next batch's cap;
* a task that raised is a failure: logged with its traceback and recorded; the
  others are unaffected;
* Ctrl-C while waiting cancels queued tasks, abandons running ones, drops every
  result and re-raises within ~0.25 s;
* `close()` from another thread ends a batch in flight within ~0.25 s: queued tasks
  are cancelled and running ones abandoned, both reported as `cancelled` (not
  timeouts); what finished is returned.

A world's step runs one `AgentTurn` per agent; `tinytroupe.factory` runs one task
per person to generate. Both share this runner's pool, timeout, error and metrics.
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
from dataclasses import asdict, dataclass, field
from typing import Any

from tinytroupe.config import config_manager
from tinytroupe.environment.metrics import ParallelMetrics, StepRecord
from tinytroupe.environment.worker_pool import WorkerPool
from tinytroupe.redaction import redact

logger = logging.getLogger("tinytroupe")

#: How often the waiting thread wakes up, so Ctrl-C is seen promptly.
_WAIT_SLICE = 0.25
#: How long a task that applied its outcome just at the deadline gets to return.
_LATE_FINISH = 0.2
#: Recent failures kept per runner.
_FAILURES_KEPT = 100


@dataclass(frozen=True)
class AgentFailure:
    """One task's (an agent's turn's) failure or timeout in one step."""

    step: int
    agent: str
    error_type: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, step: int, agent: str, error: BaseException | str, message: str = ""
           ) -> AgentFailure:
        """The record of `error` (or of an error type named so, with `message`); no API
        key survives into it, whatever raised."""
        if isinstance(error, BaseException):
            error, message = type(error).__name__, str(error)
        return cls(step, agent, error, redact(message))


class ParallelStepError(RuntimeError):
    """Raised after a parallel step (ON_AGENT_ERROR=raise) carrying all its failures."""

    def __init__(self, failures: list[AgentFailure]) -> None:
        self.failures = failures
        lines = "; ".join(f"{f.agent}: {f.error_type}: {f.message}" for f in failures)
        super().__init__(f"{len(failures)} agent(s) failed in step {failures[0].step}: {lines}")


@dataclass
class BatchOutcome:
    """What a batch produced, in the order its tasks were given."""

    results: dict[str, Any] = field(default_factory=dict)
    failures: list[AgentFailure] = field(default_factory=list)  # errors, not timeouts
    timed_out: list[str] = field(default_factory=list)
    skipped_busy: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)  # the runner was closed mid-batch
    agent_seconds: float = 0.0  # the tasks' own seconds, summed (0 when timing is off)


class Task:
    """A unit of work of a batch: `fn()` timed; `abandon()` says its result is unwanted.

    Subclasses that change shared state override `abandon` to stop a late finisher
    from applying anything (see `AgentTurn`).
    """

    def __init__(self, fn: Callable[[], Any], timed: bool = True) -> None:
        self._fn, self._timed = fn, timed
        self.seconds = 0.0

    def __call__(self) -> Any:
        start = time.perf_counter() if self._timed else 0.0
        try:
            return self._fn()
        finally:
            if self._timed:
                self.seconds = time.perf_counter() - start

    def abandon(self) -> bool:
        """Called (from the waiting thread) when the batch stops waiting for this task;
        False if it is too late (the task already applied its outcome)."""
        return True


def resolve_max_workers(setting: Any, tasks: int) -> int:
    """MAX_WORKERS as a thread count: None -> min(32, cpu + 4); ALL -> one per task."""
    if setting is None:
        return min(32, (os.cpu_count() or 1) + 4)
    if isinstance(setting, str) and setting.upper() == "ALL":
        return max(1, tasks)
    return int(setting)


class ParallelRunner:
    """Runs batches of named tasks: one kept pool, busy tracking, metrics, failures."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.metrics = ParallelMetrics()
        self.failures: deque[AgentFailure] = deque(maxlen=_FAILURES_KEPT)
        self._pool: WorkerPool | None = None
        self._replace_pool = False  # a batch gave up on a running task
        self._closings = 0  # close() calls so far: a batch in flight sees a change
        self._busy: dict[str, Future] = {}
        self._interrupted: deque[Any] = deque(maxlen=64)  # batch tokens given up on

    def interrupt(self, token: Any) -> None:
        """Make the batch run with `token` (in another thread) stop waiting now, as if
        its deadline had passed; its unfinished tasks are given up. It may come before
        that batch starts. The Ray backend's actors use it when the driver is
        interrupted."""
        self._interrupted.append(token)

    def is_busy(self, key: str) -> bool:
        """True while an abandoned task of `key` is still running."""
        future = self._busy.get(key)
        if future is not None and future.done():
            del self._busy[key]
            return False
        return future is not None

    def run(self, tasks: dict[str, Task], step: int,
            on_task_done: Callable[[], None] | None = None, token: Any = None) -> BatchOutcome:
        """Run `tasks` concurrently and collect their results (module doc); `token`
        names the batch for `interrupt`."""
        timeout = config_manager.get("parallel_execution_timeout")
        timed = config_manager.get("collect_parallel_metrics")
        outcome = BatchOutcome()
        ready = {key: task for key, task in tasks.items() if not self._skip_busy(key, outcome)}
        closings = self._closings  # before the pool: a close() from here on is seen
        pool = self._pool_for(len(ready))
        start = time.perf_counter()
        futures: dict[str, Future] = {}
        for key, task in ready.items():
            task._timed = timed
            try:
                futures[key] = pool.submit(task)
            except RuntimeError:  # close() shut the pool down while we were submitting
                outcome.cancelled.append(key)
                continue
            if on_task_done is not None:
                futures[key].add_done_callback(lambda _f: on_task_done())
        try:
            pending = _wait(set(futures.values()), start + timeout, lambda: (
                self._closings != closings or (token is not None and token in self._interrupted)))
        except BaseException:
            for key, future in futures.items():
                self._give_up(key, future, ready[key])
            raise
        wall = time.perf_counter() - start
        given_up = outcome.cancelled if self._closings != closings else outcome.timed_out
        for key, future in futures.items():
            if future in pending and self._give_up(key, future, ready[key]):
                given_up.append(key)
        self._collect(futures, outcome, step, timeout)
        outcome.agent_seconds = sum(t.seconds for t in ready.values())
        self.record(outcome, wall if timed else None)
        return outcome

    def record(self, outcome: BatchOutcome, wall_seconds: float | None) -> None:
        """Count a batch (run here, or elsewhere: see the Ray backend) in the metrics."""
        self.metrics.record_parallel_step(StepRecord(
            wall_seconds=wall_seconds, agent_seconds=outcome.agent_seconds,
            agents_completed=len(outcome.results), errors=len(outcome.failures),
            timeouts=len(outcome.timed_out), skipped_busy=len(outcome.skipped_busy),
            cancelled=len(outcome.cancelled)))

    def _skip_busy(self, key: str, outcome: BatchOutcome) -> bool:
        if self.is_busy(key):
            outcome.skipped_busy.append(key)
            logger.warning("%s: skipping %s, still busy from an earlier step", self.name, key)
            return True
        return False

    def _pool_for(self, tasks: int) -> WorkerPool:
        """The pool for a batch of `tasks`: kept across batches, replaced (the old one
        shut down without waiting) after a batch that gave up on a running task or
        when the cap changes; with ALL, a pool already large enough is kept."""
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

    def _collect(self, futures: dict[str, Future], outcome: BatchOutcome, step: int,
                 timeout: float) -> None:
        timed_out, cancelled = set(outcome.timed_out), set(outcome.cancelled)
        for key, future in futures.items():
            if key in cancelled or future.cancelled():
                if key not in cancelled:  # cancelled in the queue by close()
                    outcome.cancelled.append(key)
                continue
            if key in timed_out:
                logger.warning("%s: %s did not finish within %s s; its result is discarded",
                               self.name, key, timeout)
                self.failures.append(AgentFailure.of(step, key, "StepTimeout",
                                                     f"did not finish within {timeout} s"))
                continue
            error = future.exception()
            if error is None:
                outcome.results[key] = future.result()
                continue
            logger.error("%s: %s failed in step %d:\n%s", self.name, key, step,
                         "".join(traceback.format_exception(error)))
            failure = AgentFailure.of(step, key, error)
            outcome.failures.append(failure)
            self.failures.append(failure)

    def close(self) -> None:
        """Release the pool's threads (idle ones now, busy ones when their call ends) and
        end a batch in flight promptly (module doc). The runner can run again later."""
        self._closings += 1
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _wait(pending: set[Future], deadline: float, interrupted: Callable[[], bool]
          ) -> set[Future]:
    """Wait for all of `pending` until `deadline` (perf_counter) or `interrupted()`;
    return those not done."""
    while pending:
        remaining = deadline - time.perf_counter()
        if remaining <= 0 or interrupted():
            break
        _, pending = concurrent.futures.wait(pending, timeout=min(_WAIT_SLICE, remaining))
    return pending


class TurnGuard:
    """Lets a step give up on an agent's turn without a race: under `lock`, the agent
    applies its act's outcome only if not `abandoned` and then sets `committed`, and the
    step abandons the turn only if not `committed` (see `TinyPerson._commit`)."""

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
        if self.agent._turn_guard is not None:  # a safety net: busy tracking prevents it
            raise RuntimeError(f"{self.agent.name} is still acting in an earlier turn")
        self.agent._turn_guard = self.guard
        try:
            self.agent.act(return_actions=True)
        finally:
            self.agent._turn_guard = None
            actions = self.agent.pop_latest_actions()
        return actions

    def abandon(self) -> bool:
        with self.guard.lock:
            if not self.guard.committed:
                self.guard.abandoned = True
            return self.guard.abandoned
