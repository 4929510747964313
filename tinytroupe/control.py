"""Simulation-wide control: `reset()` forgets every agent, world and factory."""

from __future__ import annotations

from tinytroupe.agent import TinyPerson
from tinytroupe.environment import BaseWorld
from tinytroupe.factory import TinyPersonFactory


def reset() -> None:
    """Close and forget all worlds, forget all agents (test fixtures call this)."""
    for world in list(BaseWorld.all_environments.values()):
        close = getattr(world, "close", None)
        if close is not None:
            close()
    BaseWorld.clear_environments()
    TinyPerson.clear_agents()
    TinyPersonFactory.clear_factories()
