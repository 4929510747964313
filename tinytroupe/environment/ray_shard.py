"""The Ray actor of the Ray backend: a shard of a world's agents, living in a worker.

`AgentShard` holds several agents (their full `TinyPerson` state stays here between
steps), runs their turns concurrently with the same `ParallelRunner` a thread-backend
world uses (so the step timeout, error isolation and busy tracking are the same), and
applies deliveries batched by the driver. It imports nothing from Ray: the backend
wraps it with ``ray.remote`` (see `tinytroupe.environment.ray_backend`). With per-minute
provider limits configured it gets a call to the cluster's ledger and installs a
`LeasedGate`, so that its clients count against the limits of the whole cluster.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

from tinytroupe.agent import TinyPerson
from tinytroupe.clients.cluster_limits import LeasedGate
from tinytroupe.clients.limits import install_gate
from tinytroupe.clients.usage import UsageReporter, usage
from tinytroupe.config import config_manager
from tinytroupe.environment.local_agents import all_or_nothing, create_agents, restore_agents
from tinytroupe.environment.parallel import AgentTurn, ParallelRunner, Task
from tinytroupe.factory.batch import PersonaBatch

#: Seconds `abandon` waits for the abandoned `act` call to stop waiting.
_ABANDON_WAIT = 5.0
#: What a delivery may call on an agent (the driver's routing, world stimuli, time).
DELIVERABLE = frozenset({"listen", "see", "think", "internalize_goal", "socialize",
                         "change_context", "_set_datetime", "make_agent_accessible",
                         "make_agent_inaccessible", "make_all_agents_inaccessible"})
#: What the driver may read from an agent.
READABLE = frozenset({"encode_complete_state", "minibio", "get"})
#: What the driver may read from an agent's memory.
MEMORY_READABLE = frozenset({"retrieve", "retrieve_all", "retrieve_recent", "retrieve_first",
                             "retrieve_last", "get_current_episode", "count"})


class _OnANode:
    """An actor that can say where it runs."""

    def node_id(self) -> str:
        """The Ray node this actor runs on (to place its partner elsewhere)."""
        import ray

        return ray.get_runtime_context().get_node_id()


class StateKeeper(_OnANode):
    """The last state copies of one shard's agents, kept off the driver (a Ray actor).

    The driver passes object references between a shard and its keeper, so the states
    go from actor to actor and never through the driver's heap. Keepers are spread
    over the cluster's nodes, away from their shards where it can, so that a node that
    dies does not take an agent and its only copy together.
    """

    def __init__(self) -> None:
        self.copies: dict[str, dict[str, Any]] = {}

    def store(self, states: list[dict[str, Any]]) -> int:
        """Keep these states (by agent name, replacing older copies); how many."""
        for state in states:
            self.copies[state["name"]] = state
        return len(states)

    def states(self, names: list[str]) -> list[dict[str, Any]]:
        """The copies of the agents named (those it has)."""
        return [self.copies[name] for name in names if name in self.copies]

    def forget(self, names: list[str]) -> None:
        """Drop the copies of the agents named."""
        for name in names:
            self.copies.pop(name, None)


class AgentShard(_OnANode):
    """Several agents of one world, in one Ray actor (see the module doc)."""

    def __init__(self, name: str, config: dict[str, Any], ledger: Any = None) -> None:
        self.configure(config)
        if ledger is not None:  # the cluster's limits, not this process's own
            install_gate(LeasedGate(ledger, config_manager.get("max_concurrent_model_calls"),
                                    holder=name))
        TinyPerson.communication_display = False
        self.name = name
        self.agents: dict[str, TinyPerson] = {}
        self.runner = ParallelRunner(name)
        # one runner per factory: its busy people are its own (keys repeat across factories)
        self._generators: dict[str, ParallelRunner] = {}
        self._ended: dict[Any, threading.Event] = {}  # act calls by token, set when done
        self._unborn: dict[str, dict[str, Any]] = {}  # generated specifications, by key
        self._usage = UsageReporter(usage)

    def configure(self, config: dict[str, Any]) -> None:
        """Apply the driver's configuration settings (`config_manager.as_dict()`) here."""
        for key, value in config.items():
            config_manager.set(key, value)

    def load(self, states: list[dict[str, Any]]) -> int:
        """Create (or replace) agents from `encode_complete_state()` dicts.

        A new agent whose state fails to load leaves nothing here (its name is freed).
        """
        loaded = restore_agents(states, self.agents)
        self.agents.update((agent.name, agent) for agent in loaded)
        return len(self.agents)

    def act(self, names: list[str], step: int, config: dict[str, Any],
            token: Any = None) -> dict[str, Any]:
        """One parallel step of these agents; results in the order of `names`."""
        self.configure(config)
        return self._run({name: AgentTurn(self.agents[name]) for name in names}, step, token)

    def generate(self, batch: PersonaBatch, config: dict[str, Any],
                 token: Any = None) -> dict[str, Any]:
        """Generate the persona specifications of `batch` here, concurrently.

        Each result is the name the model proposed; the specifications wait here for
        `admit`, which creates the people under the names the driver made unique.
        """
        self.configure(config)
        runner = self._generators.get(batch.factory)
        if runner is None:
            runner = self._generators[batch.factory] = ParallelRunner(
                f"{self.name}/{batch.factory}")
        answer = self._run({key: Task(partial(batch.specification, key))
                            for key in batch.requests}, batch.number, token, runner)
        self._unborn.update(answer["results"])
        answer["results"] = {key: spec["persona"]["name"]
                             for key, spec in answer["results"].items()}
        return answer

    def admit(self, names: dict[str, str], post_processing: Any = None
              ) -> tuple[list[str], list[dict[str, Any]]]:
        """Create the people `generate` made (by key, under these names), all or none.

        `post_processing` is applied to each. Returns their minibios, and their complete
        states (for the shard's keeper).
        """
        specs = {key: self._unborn.pop(key) for key in names}  # kept by no failure
        with all_or_nothing() as created:
            for key, name in names.items():
                person = TinyPerson.load_specification(specs[key], new_agent_name=name)
                created.append(person)
                if post_processing is not None:
                    post_processing(person)
        self.agents.update((person.name, person) for person in created)
        return ([person.minibio(extended=False) for person in created],
                [person.encode_complete_state() for person in created])

    def _run(self, tasks: dict[str, Any], step: int, token: Any,
             runner: ParallelRunner | None = None) -> dict[str, Any]:
        """Run `tasks` on `runner` (the agents' by default); the outcome as plain data."""
        runner = runner or self.runner
        ended = self._ended.setdefault(token, threading.Event())
        try:
            outcome = runner.run(tasks, step, token=token)
        finally:
            ended.set()
        return {**self.usage_report(), **outcome.as_plain()}

    def usage_report(self) -> dict[str, Any]:
        """This process's LLM usage since the last report (the driver adds it to its own)."""
        return self._usage.report()

    def abandon(self, token: Any) -> dict[str, Any]:
        """The driver gave up on the `act` call with `token` (Ctrl-C).

        Returns once that call has stopped waiting and marked its unfinished turns busy
        (they apply nothing when they end), so that no later step can start beside them.
        A threaded actor may run this before that call starts: it is remembered.
        Returns the usage report (`usage_report`), the abandoned call's included.
        """
        for runner in (self.runner, *self._generators.values()):
            runner.interrupt(token)
        self._ended.setdefault(token, threading.Event()).wait(_ABANDON_WAIT)
        self._ended.pop(token, None)
        return self.usage_report()

    def create(self, specifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create agents here from persona specifications; their complete states.

        (The states go on to the shard's keeper; the driver passes the reference.)
        """
        created = create_agents(specifications)
        for agent in created:
            self.agents[agent.name] = agent
        return [agent.encode_complete_state() for agent in created]

    def unload(self, names: list[str]) -> None:
        """Forget the agents named (their names are freed in this worker); unknown: skipped."""
        for name in names:
            agent = self.agents.pop(name, None)
            if agent is not None:
                agent.unregister()

    def deliver(self, calls: list[list[Any]]) -> int:
        """Apply `[agent, method, args]` calls in order; names stand for agents."""
        for name, method, args in calls:
            if method not in DELIVERABLE:
                raise ValueError(f"{self.name}: {method!r} cannot be delivered")
            agent = self.agents[name]
            if method in ("make_agent_accessible", "make_agent_inaccessible"):
                args = (self._contact(args[0]), *args[1:])
            getattr(agent, method)(*args)
        return len(calls)

    def everyone_accessible(self, names: list[str]) -> None:
        """Each agent here can reach every named agent (`make_everyone_accessible`)."""
        contacts = [self._contact(name) for name in names]
        for agent in self.agents.values():
            agent.make_agents_accessible([c for c in contacts if c.name != agent.name])

    def read(self, name: str, method: str, args: tuple = ()) -> Any:
        """What agent `name`'s reader `method` (one of READABLE) returns; else ValueError."""
        if method not in READABLE:
            raise ValueError(f"{self.name}: {method!r} cannot be read")
        return getattr(self.agents[name], method)(*args)

    def memory(self, name: str, which: str, args: tuple = ()) -> Any:
        """What memory reader `which` (one of MEMORY_READABLE) of agent `name` returns.

        Raises ValueError for any other name.
        """
        if which not in MEMORY_READABLE:
            raise ValueError(f"{self.name}: memory has no {which!r}")
        return getattr(self.agents[name].episodic_memory, which)(*args)

    def states(self) -> list[dict[str, Any]]:
        """The complete state of every agent here."""
        return [agent.encode_complete_state() for agent in self.agents.values()]

    def copy_to(self, keeper: Any) -> int:
        """Store every agent's complete state in `keeper` (a `StateKeeper`); how many.

        Shard to keeper directly: one call from the driver, and the states never pass
        through it.
        """
        import ray

        return ray.get(keeper.store.remote(self.states()))

    def close(self) -> None:
        """Release the runners' threads."""
        for runner in (self.runner, *self._generators.values()):
            runner.close()

    def _contact(self, name: str) -> Any:
        from tinytroupe.agent.contacts import AgentRef

        return self.agents.get(name) or AgentRef(name)
