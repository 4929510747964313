"""The driver's handles on agents that live in Ray actors (`tinytroupe.environment.ray_backend`).

A `RemoteAgent` stands in `world.agents` for an agent on an actor: perception and routing
calls on it are queued by the backend and delivered in one batch per actor; reads (its
memory through `RemoteMemory`, its state) are fetched from the actor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinytroupe.agent.contacts import AgentRef
from tinytroupe.environment.ray_shard import MEMORY_READABLE

if TYPE_CHECKING:
    from tinytroupe.environment.ray_backend import RayBackend


class RemoteMemory:
    """An agent's episodic memory, read from its actor (the readers in MEMORY_READABLE)."""

    def __init__(self, agent: RemoteAgent) -> None:
        self._agent = agent

    def __getattr__(self, which: str) -> Any:
        if which not in MEMORY_READABLE:
            raise AttributeError(f"a remote agent's memory has no {which!r}")
        return lambda *args: self._agent.backend.fetch(self._agent, "memory", which, args)

    def __len__(self) -> int:
        return self.count()


class RemoteAgent(AgentRef):
    """The driver's handle on an agent living in a Ray actor (module doc).

    Equal to any agent of its name.
    """

    def __init__(self, name: str, backend: RayBackend) -> None:
        super().__init__(name)
        self.environment: Any = None
        self.backend = backend
        self._last_actions: list[dict[str, str]] = []

    def __repr__(self) -> str:
        return f"RemoteAgent(name={self.name!r})"

    @property
    def episodic_memory(self) -> RemoteMemory:
        """The agent's episodic memory, read from its actor on each call."""
        return RemoteMemory(self)

    def _queue(self, method: str, *args: Any) -> RemoteAgent:
        self.backend.queue(self, method, args)
        return self

    def listen(self, speech: str, source: Any = None) -> RemoteAgent:
        """The agent's `listen` (`source` by name), queued for its actor; returns this handle."""
        return self._queue("listen", speech, getattr(source, "name", source))

    def see(self, description: str, source: Any = None) -> RemoteAgent:
        """The agent's `see` (`source` by name), queued for its actor; returns this handle."""
        return self._queue("see", description, getattr(source, "name", source))

    def think(self, thought: str) -> RemoteAgent:
        """The agent's `think`, queued for its actor; returns this handle."""
        return self._queue("think", thought)

    def internalize_goal(self, goal: str) -> RemoteAgent:
        """The agent's `internalize_goal`, queued for its actor; returns this handle."""
        return self._queue("internalize_goal", goal)

    def socialize(self, social_description: str, source: Any = None) -> RemoteAgent:
        """The agent's `socialize` (`source` by name), queued for its actor; returns this handle."""
        return self._queue("socialize", social_description, getattr(source, "name", source))

    def change_context(self, context: Any) -> RemoteAgent:
        """The agent's `change_context`, queued for its actor; returns this handle."""
        return self._queue("change_context", context)

    def _set_datetime(self, value: Any) -> RemoteAgent:
        return self._queue("_set_datetime", None if value is None else str(value))

    def make_agent_accessible(self, agent: Any,
                              relation_description: str = "An agent I can currently interact "
                                                          "with.") -> None:
        """The agent's `make_agent_accessible` (`agent` by name), queued for its actor."""
        self._queue("make_agent_accessible", agent.name, relation_description)

    def make_agents_accessible(self, agents: list[Any], relation_description: str = (
            "An agent I can currently interact with.")) -> None:
        """`make_agent_accessible` for each of `agents`, queued in order."""
        for agent in agents:
            self.make_agent_accessible(agent, relation_description)

    def make_agent_inaccessible(self, agent: Any) -> None:
        """The agent's `make_agent_inaccessible` (`agent` by name), queued for its actor."""
        self._queue("make_agent_inaccessible", agent.name)

    def make_all_agents_inaccessible(self) -> None:
        """The agent's `make_all_agents_inaccessible`, queued for its actor."""
        self._queue("make_all_agents_inaccessible")

    def get(self, key: str) -> Any:
        """The persona field `key` (see `TinyPerson.get`), read from the actor."""
        return self.backend.fetch(self, "read", "get", (key,))

    def minibio(self, extended: bool = True, requirements: str | None = None) -> str:
        """The agent's `minibio`, computed on its actor."""
        return self.backend.fetch(self, "read", "minibio", (extended, requirements))

    def action_contents(self, actions: list[dict[str, str]]) -> list[dict[str, Any]]:
        """`actions` in upstream's return shape (the cognitive state stays on the actor)."""
        return [{"action": dict(action), "cognitive_state": {}} for action in actions]

    def encode_complete_state(self) -> dict[str, Any]:
        """The agent's complete state, read from its actor (after pending deliveries)."""
        return self.backend.fetch(self, "read", "encode_complete_state", ())

    def act(self, return_actions: bool = False, **_ignored: Any) -> list[dict] | None:
        """A turn of this agent alone (the sequential step), on its actor."""
        outcome = self.backend.run_turns([self], step=0)
        if outcome.failures:
            failure = outcome.failures[0]
            raise RuntimeError(f"{self.name}: {failure.error_type}: {failure.message}")
        self._last_actions = outcome.results.get(self.name, [])
        return self.action_contents(self._last_actions) if return_actions else None

    def pop_latest_actions(self) -> list[dict[str, str]]:
        """The actions of this handle's last `act()`, oldest first; clears them."""
        actions, self._last_actions = self._last_actions, []
        return actions
