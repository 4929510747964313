"""Worlds: `TinyWorld` (parallel-capable) over `BaseWorld` (turn-based)."""

from tinytroupe.environment.base_world import BaseWorld
from tinytroupe.environment.parallel import AgentFailure, ParallelStepError
from tinytroupe.environment.tiny_social_network import TinySocialNetwork
from tinytroupe.environment.tiny_world import TinyWorld

__all__ = ["AgentFailure", "BaseWorld", "ParallelStepError", "TinySocialNetwork", "TinyWorld"]
