"""The parallel step: every agent acts at once on a kept pool, under one deadline.

Policy lives here, mechanism in `worker_pool`. `ParallelStepRunner.run(agents)`:

* submits each ready agent's `act()` to the world's `WorkerPool` (cap: MAX_WORKERS);
* waits until all finish or PARALLEL_EXECUTION_TIMEOUT strikes, and never longer;
* returns the completed agents' buffered actions **in the order given**, so that
  the world delivers them in its own order, whatever the thread timing;
* an agent still running at the deadline is abandoned: counted as a timeout, its
  worker detached, its late actions discarded by its own thread when it ends, and it
  is skipped ("busy") by later steps until then;
* an agent whose `act()` raised is a failure: logged with its traceback, recorded,
  its partial actions discarded; the others are unaffected;
* Ctrl-C while waiting cancels queued turns, abandons running ones, discards the
  finished ones' actions (nothing is delivered) and re-raises within ~0.25 s.
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

from tinytroupe.agent import TinyPerson
from tinytroupe.config import config_manager
from tinytroupe.environment.metrics import ParallelMetrics, StepRecord
from tinytroupe.environment.worker_pool import WorkerPool

logger = logging.getLogger("tinytroupe")

#: How often the waiting thread wakes up, so Ctrl-C is seen promptly.
_WAIT_SLICE = 0.25
#: Recent failures kept per world.
_FAILURES_KEPT = 100


@dataclass(frozen=True)
class AgentFailure:
    """One agent's failed (or timed-out) turn in one step."""

    step: int
    agent: str
    error_type: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ParallelStepError(RuntimeError):
    """Raised after a parallel step (ON_AGENT_ERROR=raise) carrying all its failures."""

    def __init__(self, failures: list[AgentFailure]) -> None:
        self.failures = failures
        lines = "; ".join(f"{f.agent}: {f.error_type}: {f.message}" for f in failures)
        super().__init__(f"{len(failures)} agent(s) failed in step {failures[0].step}: {lines}")


@dataclass
class StepOutcome:
    """What a parallel step produced, in the world's agent order."""

    results: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    failures: list[AgentFailure] = field(default_factory=list)  # errors, not timeouts
    timed_out: list[str] = field(default_factory=list)
    skipped_busy: list[str] = field(default_factory=list)


class _AgentTurn:
    """One agent's `act()` on a worker thread, abandonable without a race.

    Whichever comes first wins, under the turn's lock: the turn finishing (its
    actions stay buffered for delivery), or the world abandoning it (the turn's own
    thread then discards whatever it buffered).
    """

    def __init__(self, agent: TinyPerson, timed: bool) -> None:
        self.agent = agent
        self.seconds = 0.0
        self._timed = timed
        self._lock = threading.Lock()
        self._finished = False
        self._abandoned = False

    def __call__(self) -> None:
        start = time.perf_counter() if self._timed else 0.0
        try:
            self.agent.act(return_actions=True)
        finally:
            with self._lock:
                if self._timed:
                    self.seconds = time.perf_counter() - start
                if self._abandoned:
                    self.agent.pop_latest_actions()
                else:
                    self._finished = True

    def abandon(self) -> bool:
        """Abandon the turn unless it already finished; True if abandoned."""
        with self._lock:
            if not self._finished:
                self._abandoned = True
            return self._abandoned


def resolve_max_workers(setting: Any, agents: int) -> int:
    """MAX_WORKERS as a thread count: None -> min(32, cpu + 4); ALL -> one per agent."""
    if setting is None:
        return min(32, (os.cpu_count() or 1) + 4)
    if isinstance(setting, str) and setting.upper() == "ALL":
        return max(1, agents)
    return int(setting)


class ParallelStepRunner:
    """Runs a world's parallel steps: one kept pool, busy tracking, metrics, failures."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.metrics = ParallelMetrics()
        self.failures: deque[AgentFailure] = deque(maxlen=_FAILURES_KEPT)
        self._pool: WorkerPool | None = None
        self._busy: dict[str, Future] = {}

    def run(self, agents: list[TinyPerson], step: int,
            on_agent_done: Callable[[], None] | None = None) -> StepOutcome:
        """Act all `agents` concurrently and collect what they did (module doc)."""
        timeout = config_manager.get("parallel_execution_timeout")
        timed = config_manager.get("collect_parallel_metrics")
        outcome = StepOutcome()
        ready = self._ready_agents(agents, outcome)
        pool = self._pool_for(len(ready))
        start = time.perf_counter()
        turns: dict[Future, _AgentTurn] = {}
        for agent in ready:
            turn = _AgentTurn(agent, timed)
            future = pool.submit(turn)
            if on_agent_done is not None:
                future.add_done_callback(lambda _f: on_agent_done())
            turns[future] = turn
        try:
            pending = _wait(turns, deadline=start + timeout)
        except BaseException:
            self._abandon_all(turns)
            raise
        wall = time.perf_counter() - start
        for future in pending:
            if turns[future].abandon():
                self._abandon(future, turns[future].agent)
                outcome.timed_out.append(turns[future].agent.name)
        self._collect(turns, outcome, step, timeout)
        self.metrics.record_parallel_step(StepRecord(
            wall_seconds=wall if timed else None,
            agent_seconds=sum(t.seconds for t in turns.values()),
            agents_completed=len(outcome.results), errors=len(outcome.failures),
            timeouts=len(outcome.timed_out),
            skipped_busy=len(outcome.skipped_busy)))
        return outcome

    def _ready_agents(self, agents: list[TinyPerson], outcome: StepOutcome) -> list[TinyPerson]:
        ready = []
        for agent in agents:
            busy = self._busy.get(agent.name)
            if busy is not None and not busy.done():
                outcome.skipped_busy.append(agent.name)
                continue
            self._busy.pop(agent.name, None)
            ready.append(agent)
        if outcome.skipped_busy:
            logger.warning("%s: skipping agents still busy from an earlier step: %s",
                           self.name, ", ".join(outcome.skipped_busy))
        return ready

    def _pool_for(self, agents: int) -> WorkerPool:
        workers = resolve_max_workers(config_manager.get("max_workers"), agents)
        if self._pool is None:
            self._pool = WorkerPool(f"{self.name}-agent", workers)
        elif self._pool.max_workers != workers:
            self._pool.set_max_workers(workers)
        return self._pool

    def _abandon(self, future: Future, agent: TinyPerson) -> None:
        self._busy[agent.name] = future
        if self._pool is not None:
            self._pool.detach(future)

    def _abandon_all(self, turns: dict[Future, _AgentTurn]) -> None:
        """Interrupted: deliver nothing; leave running turns to finish on their own."""
        for future, turn in turns.items():
            if future.cancel():
                continue
            if turn.abandon():
                self._abandon(future, turn.agent)
            else:
                turn.agent.pop_latest_actions()

    def _collect(self, turns: dict[Future, _AgentTurn], outcome: StepOutcome, step: int,
                 timeout: float) -> None:
        """Fill `outcome` in the order the agents were submitted (the world's order)."""
        timed_out = set(outcome.timed_out)
        for future, turn in turns.items():
            name = turn.agent.name
            if name in timed_out:
                logger.warning("%s: agent %s did not finish within %s s; its actions are "
                               "discarded", self.name, name, timeout)
                self.failures.append(AgentFailure(step, name, "StepTimeout",
                                                  f"did not finish within {timeout} s"))
                continue
            error = future.exception()  # finished (or finishing): returns at once
            actions = turn.agent.pop_latest_actions()
            if error is None:
                outcome.results[name] = actions
                continue
            logger.error("%s: agent %s failed in step %d:\n%s", self.name, name, step,
                         "".join(traceback.format_exception(error)))
            failure = AgentFailure(step, name, type(error).__name__, str(error))
            outcome.failures.append(failure)
            self.failures.append(failure)

    def close(self) -> None:
        """Release the pool's idle threads; threads of hung agents end on their own."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _wait(turns: dict[Future, Any], deadline: float) -> set[Future]:
    """Wait for all `turns` until `deadline` (monotonic); return those not done."""
    pending = set(turns)
    while pending:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        _, pending = concurrent.futures.wait(pending, timeout=min(_WAIT_SLICE, remaining))
    return pending
