"""Where a world's agents live: in this process (the default placement).

A world keeps its agents through a placement object: `LocalAgents` here (the agents
are the `TinyPerson` objects themselves), `ThreadBackend` for a parallel world (the
same, plus turns on an executor), `RayBackend` for agents living on Ray actors. The
world calls only these methods, so it has no backend-specific branches.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from tinytroupe.agent import TinyPerson


@contextmanager
def all_or_nothing() -> Iterator[list[TinyPerson]]:
    """A list for the agents a block creates: if the block fails, they are unregistered."""
    created: list[TinyPerson] = []
    try:
        yield created
    except BaseException:
        for agent in created:
            agent.unregister()
        raise


def create_agents(specifications: list[dict[str, Any]]) -> list[TinyPerson]:
    """Agents from persona specifications (`TinyPerson.load_specification`), all or none."""
    with all_or_nothing() as created:
        for spec in specifications:
            created.append(TinyPerson.load_specification(spec))
    return created


def restore_agents(states: list[dict[str, Any]], known: Mapping[str, TinyPerson]
                   ) -> list[TinyPerson]:
    """Agents in these `encode_complete_state()` states, all or none.

    Those in `known` (by name) are updated, the others created; if one fails, none of
    the created stays registered.
    """
    agents = []
    with all_or_nothing() as created:
        for state in states:
            agent = known.get(state["name"])
            if agent is None:
                agent = TinyPerson(state["name"])
                created.append(agent)
            agents.append(agent.decode_complete_state(state))
    return agents


class LocalAgents:
    """Agents in this process: placing is keeping, states are read from the objects."""

    def place(self, agents: list[Any]) -> list[Any]:
        """The agents as the world will hold them (here: themselves)."""
        return list(agents)

    def restore(self, states: list[dict[str, Any]]) -> list[Any]:
        """Agents in the given saved states (matched, or created, by name).

        Nothing stays registered if one of them fails to restore.
        """
        return restore_agents(states, TinyPerson.all_agents)

    def create(self, specifications: list[dict[str, Any]]) -> list[Any]:
        """Agents created here from persona specifications; none stays if one fails."""
        return create_agents(specifications)

    def generate(self, factory: Any, number_of_people: int | None,
                 agent_particularities: str | None, post_processing_func: Any,
                 sampling_args: dict[str, Any]) -> list[Any]:
        """People generated here by `factory` (`generate_people`), all or none.

        If `post_processing_func` fails for one of them, none is kept: they are
        unregistered and forgotten by the factory (as on the Ray backend).
        """
        people = factory.generate_people(number_of_people, agent_particularities,
                                         parallelize=True, **sampling_args)
        try:
            with all_or_nothing() as created:
                created.extend(people)
                for person in people if post_processing_func is not None else ():
                    post_processing_func(person)
        except BaseException:
            factory.discard(people)
            raise
        return people

    def states(self, agents: list[Any]) -> list[dict[str, Any]]:
        """The complete state of each agent, in order."""
        return [agent.encode_complete_state() for agent in agents]

    def remove(self, name: str) -> None:
        """Forget the agent `name` (nothing to do for local agents)."""

    def everyone_accessible(self, agents: list[Any]) -> None:
        """Make every agent able to reach every other one."""
        for agent in agents:
            agent.make_agents_accessible([a for a in agents if a is not agent])

    def prepare(self, agents: list[Any]) -> None:
        """Get ready for a first step of `agents` (nothing to do here)."""

    def may_act(self, name: str) -> bool:
        """Whether the agent `name` may take a turn now (local agents always may)."""
        return True

    def close(self) -> None:
        """Release what the placement holds (nothing here)."""
