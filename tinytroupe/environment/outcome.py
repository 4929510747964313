"""What a batch of turns produced, and how a failure is recorded.

Every way of running a step (threads here, Ray actors elsewhere) returns a
`BatchOutcome`; `tinytroupe.environment.metrics.Accounting` turns it into metrics,
failure records and log lines, in one place.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tinytroupe.redaction import redact


@dataclass(frozen=True)
class AgentFailure:
    """One task's (an agent's turn's) failure or timeout in one step."""

    step: int
    agent: str
    error_type: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The record as a JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def of(cls, step: int, agent: str, error: BaseException | str, message: str = ""
           ) -> AgentFailure:
        """The record of `error` (or of an error type named so, with `message`).

        No API key survives into it, whatever raised.
        """
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
    """What a batch produced; `results` in the order its tasks were given."""

    results: dict[str, Any] = field(default_factory=dict)
    failures: list[AgentFailure] = field(default_factory=list)  # errors, not timeouts
    tracebacks: dict[str, str] = field(default_factory=dict)  # of failures, where known
    timed_out: list[str] = field(default_factory=list)
    skipped_busy: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)  # the runner was closed mid-batch
    agent_seconds: float = 0.0  # the tasks' own seconds, summed (0 when timing is off)
    wall_seconds: float | None = None  # the batch's wall time (None when timing is off)
    timeout: float = 0.0  # the step timeout the batch ran under
    # Mean seconds an agent sat idle waiting for others (None: estimated by Accounting)
    idle_wait_seconds: float | None = None
    steps_ahead: int = 0  # dependency-driven steps: how far the furthest agent ran ahead
    talks_dropped: int = 0  # dependency-driven steps: TALKs to non-contacts

    def as_plain(self) -> dict[str, Any]:
        """The batch's results and counts as plain data (what a Ray actor sends back)."""
        return {"results": self.results, "failures": [f.as_dict() for f in self.failures],
                "tracebacks": self.tracebacks, "timed_out": self.timed_out,
                "skipped_busy": self.skipped_busy, "cancelled": self.cancelled,
                "agent_seconds": self.agent_seconds}

    def add_plain(self, part: dict[str, Any]) -> None:
        """Merge in another batch's `as_plain()` (one actor's share of a step)."""
        self.results.update(part["results"])
        self.failures += [AgentFailure(**f) for f in part["failures"]]
        self.tracebacks.update(part["tracebacks"])
        self.timed_out += part["timed_out"]
        self.skipped_busy += part["skipped_busy"]
        self.cancelled += part["cancelled"]
        self.agent_seconds += part["agent_seconds"]
