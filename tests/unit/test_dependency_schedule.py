"""`DependencySchedule` on its own, with stand-in agents (no model, no world)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from tinytroupe import config_manager
from tinytroupe.environment.dependency_steps import DependencySchedule, StepReport
from tinytroupe.environment.parallel import ParallelRunner


class StandIn:
    """Acts by waiting for `gate` (when given); counts its turns."""

    started = threading.Semaphore(0)

    def __init__(self, name: str, gate: threading.Event | None = None) -> None:
        self.name, self.gate, self.turns = name, gate, 0

    @contextlib.contextmanager
    def guarded_turn(self, guard: Any) -> Iterator[None]:
        yield

    def act(self) -> None:
        self.turns += 1
        StandIn.started.release()
        if self.gate is not None:
            self.gate.wait(30)

    def pop_latest_actions(self) -> list[dict[str, str]]:
        return []

    def listen(self, *args: Any, **kwargs: Any) -> None:
        pass


def schedule(agents: dict[str, Any], runner: ParallelRunner, steps: int,
             reports: list[StepReport]) -> DependencySchedule:
    return DependencySchedule(agents, {}, runner, 1, steps, 30.0, lambda step: list(agents),
                              lambda agent, step: None, reports.append)


def test_close_ends_the_window_and_starts_no_new_turn() -> None:
    config_manager.set("max_workers", 2)
    gate = threading.Event()
    agents = {name: StandIn(name, gate) for name in "ABCD"}
    runner, reports = ParallelRunner("closing"), []
    window = threading.Thread(target=schedule(agents, runner, 20, reports).run)
    window.start()
    try:
        assert StandIn.started.acquire(timeout=10) and StandIn.started.acquire(timeout=10)
        runner.close()  # two turns running, two queued
        window.join(10)
        assert not window.is_alive()
    finally:
        gate.set()
    assert sum(agent.turns for agent in agents.values()) == 2  # nothing started after close
    assert runner.threads() == []  # and no new executor was made for later turns


def test_a_window_without_agents_does_nothing() -> None:
    reports: list[StepReport] = []
    schedule({}, ParallelRunner("empty"), 3, reports).run()
    assert reports == []
