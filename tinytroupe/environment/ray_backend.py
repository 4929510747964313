"""The Ray execution backend: a world's agents live in Ray actors, the world stays here.

Chosen with ``EXECUTION_BACKEND=ray`` (or ``TinyWorld(..., backend="ray")``); Ray is
imported only then. The driver's world keeps routing, ordering, the transcript and
metrics; agents are sharded over `AgentShard` actors (``RAY_AGENTS_PER_ACTOR`` each),
where their state stays between steps. In `world.agents` each agent is a
`RemoteAgent`: perception and routing calls on it are queued and delivered in one
batch per actor; reads (`episodic_memory.retrieve_all()`, `encode_complete_state()`)
fetch from the actor.

A parallel step asks every actor to act its agents (each runs them on its own
`ParallelRunner`, with the configured timeout) and waits for the answers with
`ray.wait`, at most the step timeout plus a grace period. An actor that died (or
never answered) makes its agents' turns errors for that step; it is replaced by a new
actor restored from the agents' state after the last completed step (kept here), and
the deliveries sent since then are replayed, so nothing delivered is lost.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from tinytroupe.config import ConfigError, config_manager
from tinytroupe.environment.parallel import AgentFailure, BatchOutcome
from tinytroupe.environment.ray_shard import AgentShard

logger = logging.getLogger("tinytroupe")

#: Seconds the driver waits beyond the step timeout for actors to answer.
_GRACE = 5.0
_SECRETS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_KEY", "AZURE_OPENAI_API_KEY",
            "AZURE_OPENAI_ENDPOINT")


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("EXECUTION_BACKEND=ray needs Ray, which is not installed: "
                          "pip install 'tinytroupe[ray]' (or use EXECUTION_BACKEND=threads)",
                          key="EXECUTION_BACKEND", value="ray") from None
    return ray


class RemoteMemory:
    """An agent's episodic memory, read from its actor."""

    def __init__(self, agent: RemoteAgent) -> None:
        self._agent = agent

    def _read(self, which: str, *args: Any) -> Any:
        return self._agent._backend.fetch(self._agent, "memory", which, args)

    def retrieve_all(self) -> list[dict[str, Any]]:
        return self._read("retrieve_all")

    def retrieve_recent(self) -> list[dict[str, Any]]:
        return self._read("retrieve_recent")

    def retrieve_first(self, n: int) -> list[dict[str, Any]]:
        return self._read("retrieve_first", n)

    def retrieve_last(self, n: int) -> list[dict[str, Any]]:
        return self._read("retrieve_last", n)

    def count(self) -> int:
        return self._read("count")

    __len__ = count


class RemoteAgent:
    """The driver's handle on an agent living in a Ray actor (module doc)."""

    def __init__(self, name: str, backend: RayBackend) -> None:
        self.name = name
        self.environment: Any = None
        self._backend = backend
        self._last_actions: list[dict[str, str]] = []

    def __repr__(self) -> str:
        return f"RemoteAgent(name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return getattr(other, "name", None) == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def episodic_memory(self) -> RemoteMemory:
        return RemoteMemory(self)

    def _queue(self, method: str, *args: Any) -> RemoteAgent:
        self._backend.queue(self, method, args)
        return self

    def listen(self, speech: str, source: Any = None) -> RemoteAgent:
        return self._queue("listen", speech, getattr(source, "name", source))

    def see(self, description: str, source: Any = None) -> RemoteAgent:
        return self._queue("see", description, getattr(source, "name", source))

    def think(self, thought: str) -> RemoteAgent:
        return self._queue("think", thought)

    def internalize_goal(self, goal: str) -> RemoteAgent:
        return self._queue("internalize_goal", goal)

    def socialize(self, social_description: str, source: Any = None) -> RemoteAgent:
        return self._queue("socialize", social_description, getattr(source, "name", source))

    def change_context(self, context: Any) -> RemoteAgent:
        return self._queue("change_context", context)

    def _set_datetime(self, value: Any) -> RemoteAgent:
        return self._queue("_set_datetime", None if value is None else str(value))

    def make_agent_accessible(self, agent: Any,
                              relation_description: str = "An agent I can currently interact "
                                                          "with.") -> None:
        self._queue("make_agent_accessible", agent.name, relation_description)

    def make_agents_accessible(self, agents: list[Any], relation_description: str = (
            "An agent I can currently interact with.")) -> None:
        for agent in agents:
            self.make_agent_accessible(agent, relation_description)

    def make_agent_inaccessible(self, agent: Any) -> None:
        self._queue("make_agent_inaccessible", agent.name)

    def make_all_agents_inaccessible(self) -> None:
        self._queue("make_all_agents_inaccessible")

    def get(self, key: str) -> Any:
        return self._backend.fetch(self, "read", "get", (key,))

    def minibio(self) -> str:
        return self._backend.fetch(self, "read", "minibio", ())

    def encode_complete_state(self) -> dict[str, Any]:
        return self._backend.fetch(self, "read", "encode_complete_state", ())

    def act(self, return_actions: bool = False, **_ignored: Any) -> list[dict] | None:
        """A turn of this agent alone (the sequential step), on its actor."""
        outcome = self._backend.run_turns([self], step=0)
        if outcome.failures:
            failure = outcome.failures[0]
            raise RuntimeError(f"{self.name}: {failure.error_type}: {failure.message}")
        self._last_actions = outcome.results.get(self.name, [])
        return self._last_actions if return_actions else None

    def pop_latest_actions(self) -> list[dict[str, str]]:
        actions, self._last_actions = self._last_actions, []
        return actions


class RayBackend:
    """Places a world's agents on Ray actors and runs their turns there."""

    def __init__(self, world_name: str) -> None:
        self.ray = import_ray()
        if not self.ray.is_initialized():
            address = config_manager.get("ray_address")
            self.ray.init(address=address, include_dashboard=False, log_to_driver=False,
                          ignore_reinit_error=True, **({} if address else {"num_cpus": 2}))
        self.world_name = world_name
        self.per_actor = config_manager.get("ray_agents_per_actor")
        self._actor_class = self.ray.remote(AgentShard).options(num_cpus=0, max_concurrency=4)
        self._shards: list[Any] = []  # actor handles
        self._shard_of: dict[str, int] = {}
        self._snapshots: dict[str, dict[str, Any]] = {}  # agent state after the last step
        self._pending: dict[int, list[tuple]] = {}  # deliveries not yet sent
        self._since_snapshot: dict[int, list[tuple]] = {}  # sent after the last snapshot

    # --- placement ------------------------------------------------------------------

    def place(self, states: list[dict[str, Any]]) -> list[RemoteAgent]:
        """Move agents (their complete states) onto actors; return their handles."""
        handles = []
        for state in states:
            index = len(self._shard_of) // self.per_actor
            while index >= len(self._shards):
                self._shards.append(self._new_actor(len(self._shards)))
            self._shard_of[state["name"]] = index
            self._snapshots[state["name"]] = state
            handles.append(RemoteAgent(state["name"], self))
        by_shard: dict[int, list[dict]] = {}
        for state in states:
            by_shard.setdefault(self._shard_of[state["name"]], []).append(state)
        self._call_all({i: self._shards[i].load.remote(s) for i, s in by_shard.items()})
        return handles

    def _new_actor(self, index: int) -> Any:
        secrets = {k: os.environ[k] for k in _SECRETS if k in os.environ}
        return self._actor_class.remote(f"{self.world_name}-shard-{index}",
                                        config_manager.as_dict(), secrets)

    # --- deliveries -----------------------------------------------------------------

    def queue(self, agent: RemoteAgent, method: str, args: tuple) -> None:
        self._pending.setdefault(self._shard_of[agent.name], []).append(
            (agent.name, method, args))

    def everyone_accessible(self, names: list[str]) -> None:
        self.flush()
        self._call_all({i: shard.everyone_accessible.remote(names)
                        for i, shard in enumerate(self._shards)})
        for index in range(len(self._shards)):
            self._since_snapshot.setdefault(index, []).append(("*", "everyone", (names,)))

    def flush(self) -> None:
        """Send every queued delivery, one batch per actor, in queue order."""
        pending, self._pending = self._pending, {}
        if pending:
            self._call_all({i: self._shards[i].deliver.remote(calls)
                            for i, calls in pending.items()})
            for index, calls in pending.items():
                self._since_snapshot.setdefault(index, []).extend(calls)

    def fetch(self, agent: RemoteAgent, kind: str, method: str, args: tuple) -> Any:
        self.flush()
        shard = self._shards[self._shard_of[agent.name]]
        call = shard.memory if kind == "memory" else shard.read
        return self.ray.get(call.remote(agent.name, method, args))

    # --- steps ----------------------------------------------------------------------

    def run_turns(self, agents: list[Any], step: int) -> BatchOutcome:
        """Every actor acts its share of `agents` at once; results in `agents`' order."""
        self.flush()
        config = config_manager.as_dict()
        names_by_shard: dict[int, list[str]] = {}
        for agent in agents:
            names_by_shard.setdefault(self._shard_of[agent.name], []).append(agent.name)
        refs = {index: self._shards[index].act.remote(names, step, config)
                for index, names in names_by_shard.items()}
        timeout = config_manager.get("parallel_execution_timeout") + _GRACE
        ready, _ = self.ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
        answers: dict[str, dict] = {}
        outcome = BatchOutcome()
        for index, ref in refs.items():
            try:
                if ref not in ready:
                    raise TimeoutError(f"actor did not answer within {timeout} s")
                answer = self.ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - an actor lost: its agents' turns fail
                self._replace(index, exc)
                for name in names_by_shard[index]:
                    outcome.failures.append(AgentFailure(step, name, "ActorFailure",
                                                         f"{type(exc).__name__}: {exc}"))
                continue
            outcome.timed_out += answer["timed_out"]
            outcome.skipped_busy += answer["skipped_busy"]
            outcome.failures += [AgentFailure(**f) for f in answer["failures"]]
            answers.update(answer["results"])
            outcome.agent_seconds += answer["agent_seconds"]
        outcome.results = {a.name: answers[a.name] for a in agents if a.name in answers}
        return outcome

    def snapshot(self) -> None:
        """Keep every agent's state after a completed step (for restarting actors)."""
        self.flush()
        states = self._call_all({i: s.states.remote() for i, s in enumerate(self._shards)})
        for shard_states in states.values():
            for state in shard_states:
                self._snapshots[state["name"]] = state
        self._since_snapshot.clear()

    def _replace(self, index: int, error: BaseException) -> None:
        logger.error("%s: actor %d failed (%s); restarting it from the last completed step",
                     self.world_name, index, error)
        try:
            self.ray.kill(self._shards[index], no_restart=True)
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        self._shards[index] = self._new_actor(index)
        states = [self._snapshots[n] for n, i in self._shard_of.items() if i == index]
        self.ray.get(self._shards[index].load.remote(states))
        replay = self._since_snapshot.get(index, [])
        calls = [c for c in replay if c[0] != "*"]
        for call in replay:
            if call[0] == "*":
                self.ray.get(self._shards[index].everyone_accessible.remote(*call[2]))
        if calls:
            self.ray.get(self._shards[index].deliver.remote(calls))

    def _call_all(self, refs: dict[int, Any]) -> dict[int, Any]:
        return dict(zip(refs, self.ray.get(list(refs.values())), strict=True))

    def shard_handles(self) -> list[Any]:
        """The actors (for tests and diagnostics)."""
        return list(self._shards)

    def close(self) -> None:
        for shard in self._shards:
            try:
                self.ray.kill(shard, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._shards = []
