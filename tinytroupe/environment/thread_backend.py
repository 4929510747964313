"""The thread backend: a parallel world's agents act in this process, on an executor.

`ThreadBackend` is `LocalAgents` (the agents are the objects themselves) plus
`run_turns`: one `AgentTurn` per agent submitted to a `ParallelRunner` (its kept
`WorkerPool` executor, MAX_WORKERS, PARALLEL_EXECUTION_TIMEOUT, error isolation,
busy tracking). The Ray backend offers the same methods with the agents on actors.

Warm-up: a big world's first step would also start its threads and build every
agent's prompt pieces (persona and contacts as JSON), a second or more at a thousand
agents. So when the world is set up (agents added, made accessible, told something),
`prepare` arms a warm-up that runs in the background once the set-up has paused for
`WARM_UP_DELAY` seconds: it starts the executor's threads and builds the prompt pieces.
A step that starts meanwhile stops it (the step's own turns do what is left).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from tinytroupe.config import config_manager
from tinytroupe.environment.local_agents import LocalAgents
from tinytroupe.environment.outcome import BatchOutcome
from tinytroupe.environment.parallel import AgentTurn, ParallelRunner

#: Seconds of quiet in a world's set-up after which its warm-up runs.
WARM_UP_DELAY = 0.2


class ThreadBackend(LocalAgents):
    """Runs a world's turns on threads of this process (module doc)."""

    def __init__(self, world_name: str) -> None:
        self.runner = ParallelRunner(world_name)
        self._warm_up = _WarmUp(self.runner)

    def prepare(self, agents: list[Any]) -> None:
        """(Re)arm the background warm-up for a first step of `agents` (module doc)."""
        self._warm_up.arm(agents)

    def stop_warm_up(self) -> None:
        """Steps are starting: the warm-up gives way (the turns do what is left)."""
        self._warm_up.stop()

    def run_turns(self, agents: list[Any], step: int,
                  on_turn_done: Callable[[], None] | None = None) -> BatchOutcome:
        """Every agent's turn at once; results in `agents`' order (see `ParallelRunner`)."""
        self._warm_up.stop()
        turns = {agent.name: AgentTurn(agent) for agent in agents}
        return self.runner.run(turns, step, on_turn_done)

    def after_step(self, steps_done: int) -> None:
        """Nothing to do after a step: the agents' state is here."""

    def may_act(self, name: str) -> bool:
        """False (with a warning) while a timed-out turn of `name` still runs."""
        return self.runner.may_run(name)

    def close(self) -> None:
        """Release the executor's threads; a later step starts new ones."""
        self._warm_up.stop()
        self.runner.close()


class _WarmUp:
    """The background warm-up of one world (module doc): at most one thread at a time."""

    def __init__(self, runner: ParallelRunner) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self._agents: list[Any] = []
        self._due = 0.0
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._mark = 0  # the runner's closings when armed: a close() after it wins

    def arm(self, agents: list[Any]) -> None:
        with self._lock:
            self._mark = self._runner.closings
            self._agents, self._due, self._stopped = list(agents), time.monotonic() \
                + WARM_UP_DELAY, False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"{self._runner.name}-warm-up")
                self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped, self._agents = True, []

    def _run(self) -> None:
        try:
            self._warm()
        finally:  # also after an error: a later arm() starts a new warm-up
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _warm(self) -> None:
        while True:
            with self._lock:
                wait = self._due - time.monotonic()
                if self._stopped or (wait <= 0 and not self._agents):
                    self._thread = None  # decided under the lock: arm() starts a new one
                    return
                agents, mark = ([] if wait > 0 else self._agents), self._mark
                if agents:
                    self._agents = []
            if wait > 0:
                time.sleep(wait)
                continue
            if config_manager.get("parallel_agent_actions"):
                self._runner.prepare(len(agents), mark)
            for agent in agents:
                if self._stopped:
                    break
                agent.prepare_turn()
