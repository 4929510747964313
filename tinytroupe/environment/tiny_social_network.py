"""TinySocialNetwork: a world whose agents reach only the people they are related to.

Relations are named, undirected pairs of agents (``add_relation(a, b, "colleagues")``).
Before every step (parallel or sequential) each agent's accessible agents become
exactly the agents it is related to, in any relation, so who can talk to whom follows
the network, whatever happened in the step before. A TALK to no known agent reaches
the speaker's related agents only (in a plain world it reaches everyone); a TALK to a
named agent is delivered as in any world. A REACH_OUT succeeds only between
related agents; otherwise the source is told it cannot reach the target (and, unlike
upstream, a successful one is not also told it failed). Relations are part of the
world's saved state, so they survive `encode_complete_state` and checkpoints.
"""

from __future__ import annotations

from typing import Any

from tinytroupe.environment.tiny_world import TinyWorld


class TinySocialNetwork(TinyWorld):
    """A `TinyWorld` (parallel steps included) with relations between its agents."""

    def __init__(self, name: str | None = None, broadcast_if_no_target: bool = True,
                 **kwargs: Any) -> None:
        self.relations: dict[str, list[tuple[str, str]]] = {}
        super().__init__(name, broadcast_if_no_target=broadcast_if_no_target, **kwargs)
        if self.backend == "ray":
            self.close()
            raise ValueError("TinySocialNetwork runs on the threads backend only")

    def add_relation(self, agent_1: Any, agent_2: Any, name: str = "default"
                     ) -> TinySocialNetwork:
        """Relate two agents under `name`, adding either to the world if needed."""
        for agent in (agent_1, agent_2):
            if self.get_agent_by_name(agent.name) is None:
                self.add_agent(agent)
        pair = (agent_1.name, agent_2.name)
        pairs = self.relations.setdefault(name, [])
        if pair not in pairs and pair[::-1] not in pairs:
            pairs.append(pair)
        return self

    def is_in_relation_with(self, agent_1: Any, agent_2: Any,
                            relation_name: str | None = None) -> bool:
        """Whether the two agents are related (under `relation_name`, or any relation)."""
        names = {agent_1.name, agent_2.name}
        chosen = ([self.relations.get(relation_name, [])] if relation_name is not None
                  else self.relations.values())
        return any(set(pair) == names for pairs in chosen for pair in pairs)

    def _related_names(self, agent_name: str) -> list[str]:
        related: list[str] = []
        for pairs in self.relations.values():
            for first, second in pairs:
                other = second if first == agent_name else first if second == agent_name \
                    else None
                if other is not None and other not in related:
                    related.append(other)
        return related

    def _update_agents_contexts(self) -> None:
        """Give every agent exactly its related agents as contacts."""
        for agent in self.agents:
            agent.make_all_agents_inaccessible()
            for name in self._related_names(agent.name):
                other = self.get_agent_by_name(name)
                if other is not None:
                    agent.make_agent_accessible(other)

    def _before_step(self) -> None:
        super()._before_step()
        self._update_agents_contexts()

    def _handle_talk(self, source: Any, content: str, target: str) -> None:
        if self.get_agent_by_name(target) is not None or not self.broadcast_if_no_target:
            return super()._handle_talk(source, content, target)
        for name in self._related_names(source.name):  # the speaker's circle, not everyone
            listener = self.get_agent_by_name(name)
            if listener is not None:
                listener.listen(content, source=source)
                self._record("TALK", source, name, content)

    def _handle_reach_out(self, source: Any, content: str, target: str) -> None:
        other = self.get_agent_by_name(target)
        if other is not None and self.is_in_relation_with(source, other):
            super()._handle_reach_out(source, content, target)
        else:
            source.socialize(f"{target} is not in any relation with you, so you cannot reach "
                             "out to them.", source=self.name)

    def remove_agent(self, agent: Any) -> TinySocialNetwork:
        """Remove `agent` and every relation it is in; returns the world."""
        for name, pairs in self.relations.items():
            self.relations[name] = [p for p in pairs if agent.name not in p]
        return super().remove_agent(agent)

    def encode_complete_state(self) -> dict[str, Any]:
        """The world's state (`BaseWorld.encode_complete_state`), relations included."""
        state = super().encode_complete_state()
        state["relations"] = {name: [list(pair) for pair in pairs]
                              for name, pairs in self.relations.items()}
        return state

    def decode_complete_state(self, state: dict[str, Any]) -> TinySocialNetwork:
        """Restore from `encode_complete_state`, relations included; returns the world."""
        super().decode_complete_state(state)
        self.relations = {str(name): [(str(a), str(b)) for a, b in pairs]
                          for name, pairs in (state.get("relations") or {}).items()}
        return self
