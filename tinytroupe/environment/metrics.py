"""Parallel-execution metrics of a world: what really happened, under one lock.

Definitions (see docs/parallel-execution.md):

* step speedup = sum of the agents' own `act()` seconds / the step's wall seconds
  (measured; 10 agents of 0.2 s each on 2 workers read about 2, not 10);
* ``avg_parallel_speedup`` = running mean of step speedups over timed parallel steps;
* errors, timeouts and busy skips are counted even when timing is off;
* LLM usage (requests, retries, 429s, throttled seconds, tokens, estimated cost) is
  what the process's client did while this world's steps ran, in either mode.
"""

from __future__ import annotations

import logging
import statistics
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from tinytroupe.clients.usage import UsageSnapshot
from tinytroupe.environment.outcome import AgentFailure, BatchOutcome

logger = logging.getLogger("tinytroupe")

#: Recent failures kept per world (or factory).
FAILURES_KEPT = 100
#: Step wall times kept for the percentile summary (the mean and max cover all steps).
_WALL_WINDOW = 1000
#: Per-step LLM usage entries kept (`step_usage()`).
_STEPS_KEPT = 10_000


@dataclass(frozen=True)
class StepRecord:
    """What one parallel step measured."""

    wall_seconds: float | None  # None when timing was off
    agent_seconds: float
    agents_completed: int
    errors: int
    timeouts: int
    skipped_busy: int
    cancelled: int = 0  # turns dropped because the world was closed mid-step
    idle_wait_seconds: float | None = None  # mean wait of an agent for the others
    steps_ahead: int = 0
    talks_dropped: int = 0


class ParallelMetrics:
    """Thread-safe counters; `snapshot()` returns a consistent JSON-serialisable copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter and forget the recorded step times and LLM usage."""
        with self._lock:
            self._parallel_steps = 0
            self._sequential_steps = 0
            self._timed_steps = 0
            self._speedup_sum = 0.0
            self._errors = 0
            self._timeouts = 0
            self._skipped_busy = 0
            self._cancelled = 0
            self._agent_turns = 0
            self._idle_last: float | None = None
            self._idle_sum = 0.0
            self._idle_count = 0
            self._steps_ahead_max = 0
            self._talks_dropped = 0
            self._llm = UsageSnapshot()
            self._cost: float | None = None
            self._step_usage: deque[dict[str, Any]] = deque(maxlen=_STEPS_KEPT)
            self._last_wall: float | None = None
            self._last_speedup: float | None = None
            self._wall_sum = 0.0
            self._wall_count = 0
            self._wall_max = 0.0
            self._walls: deque[float] = deque(maxlen=_WALL_WINDOW)

    def record_parallel_step(self, step: StepRecord) -> None:
        """Count one parallel step; its times only when it was timed (`wall_seconds`)."""
        with self._lock:
            self._parallel_steps += 1
            self._errors += step.errors
            self._timeouts += step.timeouts
            self._skipped_busy += step.skipped_busy
            self._cancelled += step.cancelled
            self._agent_turns += step.agents_completed
            self._steps_ahead_max = max(self._steps_ahead_max, step.steps_ahead)
            self._talks_dropped += step.talks_dropped
            if step.idle_wait_seconds is not None:
                self._idle_last = step.idle_wait_seconds
                self._idle_sum += step.idle_wait_seconds
                self._idle_count += 1
            if step.wall_seconds is None:
                return
            self._last_wall = step.wall_seconds
            self._wall_sum += step.wall_seconds
            self._wall_count += 1
            self._wall_max = max(self._wall_max, step.wall_seconds)
            self._walls.append(step.wall_seconds)
            if step.wall_seconds > 0 and step.agents_completed:
                self._last_speedup = step.agent_seconds / step.wall_seconds
                self._speedup_sum += self._last_speedup
                self._timed_steps += 1

    def record_sequential_step(self) -> None:
        """Count one sequential step."""
        with self._lock:
            self._sequential_steps += 1

    def record_step_usage(self, step: int, parallel: bool, used: UsageSnapshot,
                          cost: float | None) -> None:
        """LLM usage of one step (either mode), with its estimated cost if priced."""
        with self._lock:
            self._llm.add(used.as_dict())
            if cost is not None:
                self._cost = (self._cost or 0.0) + cost
            self._step_usage.append({"step": step, "parallel": parallel, **used.as_dict(),
                                     "estimated_cost": cost})

    def usage(self) -> UsageSnapshot:
        """The LLM usage of all recorded steps, summed."""
        with self._lock:
            return UsageSnapshot(**self._llm.as_dict())

    def step_usage(self) -> list[dict[str, Any]]:
        """Copies of the per-step LLM usage entries (the last 10,000), oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._step_usage]

    def snapshot(self) -> dict[str, Any]:
        """A consistent, JSON-serialisable copy of every metric (module doc)."""
        with self._lock:
            walls = list(self._walls)
            return {
                "total_parallel_steps": self._parallel_steps,
                "total_sequential_steps": self._sequential_steps,
                "avg_parallel_speedup": (self._speedup_sum / self._timed_steps
                                         if self._timed_steps else 0.0),
                "parallel_errors": self._errors,
                "parallel_timeouts": self._timeouts,
                "agents_skipped_busy": self._skipped_busy,
                "turns_cancelled": self._cancelled,
                "agent_turns_completed": self._agent_turns,
                "last_step_speedup": self._last_speedup,
                "last_step_wall_seconds": self._last_wall,
                "step_wall_seconds": {
                    "count": self._wall_count,
                    "mean": self._wall_sum / self._wall_count if self._wall_count else None,
                    "p50": statistics.median(walls) if walls else None,
                    "p95": _p95(walls),
                    "max": self._wall_max if self._wall_count else None,
                },
                "idle_wait_seconds": {
                    "last": self._idle_last,
                    "mean": self._idle_sum / self._idle_count if self._idle_count else None,
                },
                "max_steps_ahead": self._steps_ahead_max,
                "talks_dropped_not_contact": self._talks_dropped,
                "llm_calls": self._llm.requests,
                "llm_retries": self._llm.retries,
                "llm_rate_limited": self._llm.rate_limited,
                "llm_failures": self._llm.failures,
                "llm_throttled_seconds": self._llm.throttled_seconds,
                "llm_hedged": self._llm.hedged,
                "llm_hedge_won": self._llm.hedge_won,
                "cache_hits": self._llm.cache_hits,
                "cache_misses": self._llm.cache_misses,
                "prompt_tokens": self._llm.prompt_tokens,
                "completion_tokens": self._llm.completion_tokens,
                "estimated_cost": self._cost,
            }


def _p95(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=20, method="inclusive")[18]


class Accounting:
    """Where every batch's outcome is counted: metrics, failure records, log lines.

    Whatever ran the batch (threads, Ray actors, a factory), `account` is the one
    place that turns its `BatchOutcome` into what users read: `metrics`, `failures`
    (one record per error and one "StepTimeout" record per timed-out turn, the last
    100) and one log line per failure (with its traceback when known).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.metrics = ParallelMetrics()
        self.failures: deque[AgentFailure] = deque(maxlen=FAILURES_KEPT)

    def account(self, outcome: BatchOutcome, step: int) -> None:
        """Count the batch of `step` (module doc)."""
        for failure in outcome.failures:
            detail = outcome.tracebacks.get(failure.agent)
            logger.error("%s: %s failed in step %d: %s", self.name, failure.agent, step,
                         detail or f"{failure.error_type}: {failure.message}")
            self.failures.append(failure)
        for key in outcome.timed_out:
            logger.warning("%s: %s did not finish within %s s; its result is discarded",
                           self.name, key, outcome.timeout)
            self.failures.append(AgentFailure.of(
                step, key, "StepTimeout", f"did not finish within {outcome.timeout} s"))
        idle = outcome.idle_wait_seconds
        if idle is None and outcome.wall_seconds is not None and outcome.results \
                and outcome.agent_seconds:  # a barrier: everyone waits for the slowest
            idle = max(0.0, outcome.wall_seconds - outcome.agent_seconds / len(outcome.results))
        self.metrics.record_parallel_step(StepRecord(
            wall_seconds=outcome.wall_seconds, agent_seconds=outcome.agent_seconds,
            agents_completed=len(outcome.results), errors=len(outcome.failures),
            timeouts=len(outcome.timed_out), skipped_busy=len(outcome.skipped_busy),
            cancelled=len(outcome.cancelled), idle_wait_seconds=idle,
            steps_ahead=outcome.steps_ahead, talks_dropped=outcome.talks_dropped))

    def record_failure(self, failure: AgentFailure) -> None:
        """Keep a failure that happened outside a batch (a factory's plan, say)."""
        logger.error("%s: %s failed: %s: %s", self.name, failure.agent, failure.error_type,
                     failure.message)
        self.failures.append(failure)

    def failure_records(self) -> list[dict[str, Any]]:
        """The most recent failures as dicts (step, agent, error_type, message)."""
        return [f.as_dict() for f in self.failures]
