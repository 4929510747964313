"""Who an agent can reach: its contacts and how it relates to each.

`Contacts` is the part of `TinyPerson` that owns ``accessible_agents`` (TinyTroupe's
public list) and the relation descriptions; every change marks the agent's cached
prompt as stale. `AgentRef` stands for a contact known only by name.
"""

from __future__ import annotations

import threading
from typing import Any

DEFAULT_RELATION = "An agent I can currently interact with."


class AgentRef:
    """A contact known only by name.

    It is an agent of this simulation that lives in another process (see the Ray
    backend), or one not loaded yet. Equal to any agent of that name.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return getattr(other, "name", None) == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"AgentRef({self.name!r})"


class Contacts:
    """Mixin of `TinyPerson`: the agents it can reach (module doc)."""

    _lock: threading.RLock

    def _init_contacts(self) -> None:
        self.accessible_agents: list[Any] = []
        self._relations: dict[str, str] = {}

    def _prompt_changed(self) -> None:  # provided by PersonaDefinition
        raise NotImplementedError

    def make_agent_accessible(self, agent: Any,
                              relation_description: str = DEFAULT_RELATION) -> None:
        """Make `agent` a contact of this one (never itself), with `relation_description`.

        A known contact keeps its place and gets the new description.
        """
        with self._lock:
            if agent is not self and agent not in self.accessible_agents:
                self.accessible_agents.append(agent)
            self._relations[agent.name] = relation_description
            self._prompt_changed()

    def make_agents_accessible(self, agents: list[Any],
                               relation_description: str = DEFAULT_RELATION) -> None:
        """`make_agent_accessible` for each of `agents`, in order."""
        for agent in agents:
            self.make_agent_accessible(agent, relation_description)

    def make_agent_inaccessible(self, agent: Any) -> None:
        """Drop `agent` from the contacts (no error if it is not one)."""
        with self._lock:
            if agent in self.accessible_agents:
                self.accessible_agents.remove(agent)
            self._relations.pop(agent.name, None)
            self._prompt_changed()

    def make_all_agents_inaccessible(self) -> None:
        """Drop every contact."""
        with self._lock:
            self.accessible_agents.clear()
            self._relations.clear()
            self._prompt_changed()
