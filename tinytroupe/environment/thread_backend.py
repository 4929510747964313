"""The thread backend: a parallel world's agents act in this process, on an executor.

`ThreadBackend` is `LocalAgents` (the agents are the objects themselves) plus
`run_turns`: one `AgentTurn` per agent submitted to a `ParallelRunner` (its kept
`WorkerPool` executor, MAX_WORKERS, PARALLEL_EXECUTION_TIMEOUT, error isolation,
busy tracking). The Ray backend offers the same methods with the agents on actors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinytroupe.environment.local_agents import LocalAgents
from tinytroupe.environment.outcome import BatchOutcome
from tinytroupe.environment.parallel import AgentTurn, ParallelRunner


class ThreadBackend(LocalAgents):
    """Runs a world's turns on threads of this process (module doc)."""

    def __init__(self, world_name: str) -> None:
        self.runner = ParallelRunner(world_name)

    def run_turns(self, agents: list[Any], step: int,
                  on_turn_done: Callable[[], None] | None = None) -> BatchOutcome:
        """Every agent's turn at once; results in `agents`' order (see `ParallelRunner`)."""
        turns = {agent.name: AgentTurn(agent) for agent in agents}
        return self.runner.run(turns, step, on_turn_done)

    def after_step(self, steps_done: int) -> None:
        """Nothing to do after a step: the agents' state is here."""

    def may_act(self, name: str) -> bool:
        """False (with a warning) while a timed-out turn of `name` still runs."""
        return self.runner.may_run(name)

    def close(self) -> None:
        """Release the executor's threads; a later step starts new ones."""
        self.runner.close()
