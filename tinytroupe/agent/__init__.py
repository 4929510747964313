"""Agents: `TinyPerson` and its `EpisodicMemory`."""

from tinytroupe.agent.memory import EpisodicMemory
from tinytroupe.agent.persona import PersonaSpecError
from tinytroupe.agent.tiny_person import TinyPerson

__all__ = ["EpisodicMemory", "PersonaSpecError", "TinyPerson"]
