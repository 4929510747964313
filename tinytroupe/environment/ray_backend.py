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
never answered) makes its agents' turns errors for that step. Whenever an actor is
found dead (acting, delivering, reading), it is replaced by a new actor loaded with
its agents' last state copy (taken every ``RAY_SNAPSHOT_EVERY`` steps), and the
deliveries sent since that copy are replayed in order, so nothing delivered is lost;
with copies less often than every step, the agents also lose what they themselves
did since the copy.

API keys are not shipped to actors: the workers read them from their own environment
(a local Ray runtime inherits the driver's; on a cluster, set them on the nodes).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from typing import Any

from tinytroupe.agent import TinyPerson
from tinytroupe.clients.usage import usage
from tinytroupe.config import config_manager
from tinytroupe.environment import ray_names
from tinytroupe.environment.local_agents import LocalAgents
from tinytroupe.environment.outcome import AgentFailure, BatchOutcome
from tinytroupe.environment.parallel import wait_in_slices
from tinytroupe.environment.ray_actors import ShardActors
from tinytroupe.environment.ray_cluster import GRACE, import_ray, limit_ledger
from tinytroupe.environment.ray_generation import generate_on_actors
from tinytroupe.environment.ray_handles import RemoteAgent

logger = logging.getLogger("tinytroupe")



class RayBackend(LocalAgents):
    """Places a world's agents on Ray actors and runs their turns there.

    The same interface as `ThreadBackend` (place, restore, states, remove,
    everyone_accessible, run_turns, after_step, may_act, close).
    """

    def __init__(self, world_name: str) -> None:
        self.ray = import_ray()
        if not self.ray.is_initialized():
            address = config_manager.get("ray_address")
            self.ray.init(address=address, include_dashboard=False, log_to_driver=False,
                          ignore_reinit_error=True, **({} if address else {"num_cpus": 2}))
        self.world_name = world_name
        self._ledger = limit_ledger(self.ray)
        self._actors = ShardActors(self.ray, world_name,
                                   config_manager.get("ray_agents_per_actor"), self._ledger)
        self._pending: dict[int, list[list[Any]]] = {}  # deliveries not yet sent
        self._since_snapshot: dict[int, list[tuple[str, Any]]] = {}  # sent since the copy

    # --- placement ------------------------------------------------------------------

    def place(self, agents: list[Any]) -> list[Any]:
        """Move local agents onto actors (their local objects are retired).

        Handles of agents already placed pass through. Returns the handles.
        """
        foreign = [a.name for a in agents
                   if isinstance(a, RemoteAgent) and a.backend is not self]
        if foreign:
            raise ValueError(f"{foreign} live in another Ray world; add the agents themselves "
                             "(or their specifications) instead")
        local = [a for a in agents if isinstance(a, TinyPerson)]
        handles = iter(self.restore([a.encode_complete_state() for a in local]))
        for agent in local:
            agent.retire(self.world_name)
        return [next(handles) if isinstance(a, TinyPerson) else a for a in agents]

    def restore(self, states: list[dict[str, Any]]) -> list[Any]:
        """Load agents in these complete states onto actors.

        An agent already placed is replaced in place. Returns their handles.
        """
        if not states:
            return []
        names = [state["name"] for state in states]
        new = [name for name in names if name not in self._actors.shard_of]
        ray_names.claim(self._actors.id, names, from_here=True)
        try:
            by_shard: dict[int, list[dict]] = {}
            for state in states:
                index = self._actors.shard_of.get(state["name"])
                if index is None:
                    index = self._actors.assign(state["name"])
                by_shard.setdefault(index, []).append(state)
            self._gather({i: self._actors.shards[i].load.remote(s) for i, s in by_shard.items()})
            self.ray.get([self._actors.keepers[i].store.remote(s) for i, s in by_shard.items()])
        except BaseException:
            self._undo(new)
            raise
        return [RemoteAgent(state["name"], self) for state in states]

    def create(self, specifications: list[dict[str, Any]]) -> list[Any]:
        """Create agents on the actors from persona specifications; their handles.

        The driver never holds the agents: each shard creates its share, and the states
        for restarts go from the shard to its keeper by reference.
        """
        names = [spec["persona"]["name"] for spec in specifications]
        ray_names.claim(self._actors.id, names)
        try:
            by_shard: dict[int, list[dict[str, Any]]] = {}
            for spec, name in zip(specifications, names, strict=True):
                by_shard.setdefault(self._actors.assign(name), []).append(spec)
            created = {i: self._actors.shards[i].create.remote(s) for i, s in by_shard.items()}
            self.ray.get([self._actors.keepers[i].store.remote(r) for i, r in created.items()])
        except BaseException:  # none stays
            self._undo(names)
            raise
        return [RemoteAgent(name, self) for name in names]

    def _undo(self, names: list[str]) -> None:
        """Take back new agents whose placing failed: unloaded where they got, names freed."""
        ray_names.release(self._actors.id, names)
        self._actors.take_back(names)

    def generate(self, factory: Any, number_of_people: int | None,
                 agent_particularities: str | None, post_processing_func: Any,
                 sampling_args: dict[str, Any]) -> list[Any]:
        """People from `factory`, generated and created on the actors; their handles.

        See `tinytroupe.environment.ray_generation`.
        """
        return generate_on_actors(self._actors, self._on_shards,
                                  lambda name: RemoteAgent(name, self), factory,
                                  number_of_people, agent_particularities,
                                  post_processing_func, sampling_args)

    def remove(self, name: str) -> None:
        """Unload agent `name` from its actor, after sending pending deliveries; unknown: no-op."""
        index = self._actors.unassign(name)
        if index is not None:
            ray_names.release(self._actors.id, [name])
            self._actors.keepers[index].forget.remote([name])
            self.flush()
            self._gather({index: self._actors.shards[index].unload.remote([name])})
            # a replacement actor must not be replayed deliveries to an agent it lacks
            self._since_snapshot[index] = [
                (kind, [c for c in payload if c[0] != name] if kind == "deliver" else payload)
                for kind, payload in self._since_snapshot.get(index, [])]

    # --- deliveries -----------------------------------------------------------------

    def queue(self, agent: RemoteAgent, method: str, args: tuple) -> None:
        """Queue ``agent.method(*args)`` for the agent's actor (sent in order by `flush`)."""
        self._pending.setdefault(self._actors.shard_of[agent.name], []).append(
            [agent.name, method, list(args)])  # lists: Ray packs them natively, not tuples

    def everyone_accessible(self, agents: list[Any]) -> None:
        """Every agent can reach every other one (one call per actor)."""
        names = [agent.name for agent in agents]
        self.flush()
        refs = {}
        for index, shard in enumerate(self._actors.shards):
            self._since_snapshot.setdefault(index, []).append(("everyone", names))
            refs[index] = shard.everyone_accessible.remote(names)
        self._gather(refs)

    def flush(self) -> None:
        """Send every queued delivery, one batch per actor, in queue order."""
        pending, self._pending = self._pending, {}
        refs = {}
        for index, calls in pending.items():
            self._since_snapshot.setdefault(index, []).append(("deliver", calls))
            refs[index] = self._actors.shards[index].deliver.remote(calls)
        self._gather(refs)  # a dead actor is replaced and gets the batch by replay

    def fetch(self, agent: RemoteAgent, kind: str, method: str, args: tuple) -> Any:
        """What the reader `method` of `agent` (of its memory if `kind` is "memory") returns.

        Pending deliveries are sent first; a dead actor is replaced and asked once more.
        """
        self.flush()
        index = self._actors.shard_of[agent.name]

        def read(i: int) -> Any:
            shard = self._actors.shards[i]
            call = shard.memory if kind == "memory" else shard.read
            return self.ray.get(call.remote(agent.name, method, args))

        try:
            return read(index)
        except self.ray.exceptions.RayActorError as exc:
            self._replace(index, exc)
            return read(index)

    def states(self, agents: list[Any]) -> list[dict[str, Any]]:
        """The current state of these agents, read in one call per actor."""
        return self.all_states([agent.name for agent in agents])

    def all_states(self, names: list[str]) -> list[dict[str, Any]]:
        """The current state of the agents named, read in one call per actor."""
        self.flush()
        refs = {i: shard.states.remote() for i, shard in enumerate(self._actors.shards)}
        found = {state["name"]: state
                 for states in self._gather(refs, retry=self._states_of).values()
                 for state in states}
        return [found[name] for name in names]

    def snapshot(self) -> None:
        """Copy every agent's state to its shard's keeper (what a replacement is loaded with).

        Actor to actor: the driver passes the reference to each shard's states on to its
        keeper, and never holds the states themselves.
        """
        self.flush()
        copies = {i: shard.copy_to.remote(self._actors.keepers[i])
                  for i, shard in enumerate(self._actors.shards)}
        for index, ref in copies.items():
            try:
                self.ray.get(ref)
            except self.ray.exceptions.RayActorError as exc:  # a shard or its keeper died
                self._recover_copy(index, exc)
        self._since_snapshot.clear()

    def _recover_copy(self, index: int, error: BaseException) -> None:
        """A copy failed: a dead shard is replaced from its keeper; a dead keeper, renewed."""
        try:
            self.ray.get(self._actors.keepers[index].states.remote([]))
        except self.ray.exceptions.RayActorError:  # the keeper is gone: a new one, filled
            keeper = self._actors.renew_keeper(index)
            self.ray.get(self._actors.shards[index].copy_to.remote(keeper))
            return
        self._replace(index, error)  # from the keeper's copy and the replay, then a new copy
        self.ray.get(self._actors.shards[index].copy_to.remote(self._actors.keepers[index]))

    # --- steps ----------------------------------------------------------------------

    def after_step(self, steps_done: int) -> None:
        """Send the step's deliveries.

        Every RAY_SNAPSHOT_EVERY steps, also copy the agents' state here (what a
        replacement actor is loaded with).
        """
        self.flush()
        every = config_manager.get("ray_snapshot_every")
        if every and steps_done % every == 0:
            self.snapshot()

    def run_turns(self, agents: list[Any], step: int, on_turn_done: Any = None
                  ) -> BatchOutcome:
        """Every actor acts its share of `agents` at once; results in `agents`' order.

        `on_turn_done` is called once per agent when its actor has answered.
        """
        self.flush()
        names_by_shard: dict[int, list[str]] = {}
        for agent in agents:
            names_by_shard.setdefault(self._actors.shard_of[agent.name], []).append(agent.name)
        outcome = self._on_shards(names_by_shard, step, lambda shard, names, config, token:
                                  shard.act.remote(names, step, config, token), on_turn_done)
        outcome.results = {a.name: outcome.results[a.name] for a in agents
                           if a.name in outcome.results}
        return outcome

    def _on_shards(self, work: dict[int, list[str]], step: int, call: Any,
                   on_done: Any = None) -> BatchOutcome:
        """``call(shard, keys, config, token)`` on each shard of `work` at once; the outcome.

        Waits at most the step timeout plus the grace period. A shard that fails or does
        not answer is replaced, and each of its keys is an `ActorFailure`; `on_done` is
        called once per key answered. Results are merged, in no particular order.
        """
        start = time.perf_counter()
        config = config_manager.as_dict()
        token = uuid.uuid4().hex
        refs = {index: call(self._actors.shards[index], keys, config, token)
                for index, keys in work.items()}
        timeout = config_manager.get("parallel_execution_timeout") + GRACE
        try:
            ready = self._wait(list(refs.values()), timeout)
        except BaseException:  # Ctrl-C: the actors must apply nothing more of this step
            abandoned = [shard.abandon.remote(token) for shard in self._actors.shards]
            self._collect_usage(abandoned)
            raise
        outcome = BatchOutcome(timeout=config_manager.get("parallel_execution_timeout"))
        for index, ref in refs.items():
            try:
                if ref not in ready:
                    raise TimeoutError(f"actor did not answer within {timeout} s")
                answer = self.ray.get(ref)
            except Exception as exc:  # an actor lost: its keys fail
                message = f"{type(exc).__name__}: {exc}"
                try:
                    self._replace(index, exc)
                except Exception as lost:  # e.g. its keeper is gone too: tried again later
                    logger.error("%s: actor %d could not be replaced: %s", self.world_name,
                                 index, lost)
                    message += f"; not replaced: {type(lost).__name__}: {lost}"
                for key in work[index]:
                    outcome.failures.append(AgentFailure(step, key, "ActorFailure", message))
                continue
            _add_usage(answer)
            outcome.add_plain(answer)
            for _key in work[index] if on_done is not None else ():
                on_done()
        if config_manager.get("collect_parallel_metrics"):
            outcome.wall_seconds = time.perf_counter() - start
        return outcome

    def _wait(self, refs: list[Any], timeout: float) -> list[Any]:
        """`ray.wait` for all `refs` until `timeout`; the ones that answered."""
        ready: list[Any] = []

        def wait(seconds: float) -> bool:
            nonlocal refs
            if refs:
                done, refs = self.ray.wait(refs, num_returns=len(refs), timeout=seconds)
                ready.extend(done)
            return not refs

        wait_in_slices(wait, time.perf_counter() + timeout)
        return ready

    # --- failures -------------------------------------------------------------------

    def _gather(self, refs: dict[int, Any], retry: Any = None) -> dict[int, Any]:
        """Results by actor; a dead actor is replaced (then asked again with `retry`)."""
        results = {}
        for index, ref in refs.items():
            try:
                results[index] = self.ray.get(ref)
            except self.ray.exceptions.RayActorError as exc:
                self._replace(index, exc)
                results[index] = retry(index) if retry is not None else None
        return results

    def _states_of(self, index: int) -> list[dict[str, Any]]:
        return self.ray.get(self._actors.shards[index].states.remote())

    def _replace(self, index: int, error: BaseException) -> None:
        """A new actor for shard `index`: its agents' last copies, then the replay."""
        logger.error("%s: actor %d failed (%s); replacing it from the last state copy",
                     self.world_name, index, error)
        shard = self._actors.replace_shard(index)
        names = self._actors.names_on(index)
        self.ray.get(shard.load.remote(self._actors.keepers[index].states.remote(names)))
        for kind, payload in self._since_snapshot.get(index, []):  # in the original order
            call = shard.deliver if kind == "deliver" else shard.everyone_accessible
            self.ray.get(call.remote(payload))

    def shard_handles(self) -> list[Any]:
        """The actors (for tests and diagnostics)."""
        return list(self._actors.shards)

    def ledger_actor(self) -> Any:
        """The cluster's limit ledger actor, or None without limits (for tests)."""
        return self._ledger.actor if self._ledger is not None else None

    def close(self) -> None:
        """Kill every actor (one already gone is skipped); the backend then holds none.

        The actors' last LLM usage is collected first (a turn that ended after its step);
        their call slots in the limit ledger and their agents' names are freed.
        """
        try:
            self._collect_usage([shard.usage_report.remote() for shard in self._actors.shards])
            self._actors.close()
        finally:
            ray_names.release(self._actors.id)
            self._pending, self._since_snapshot = {}, {}

    def _collect_usage(self, reports: list[Any]) -> None:
        """Add the usage reports that arrive within the grace period (`usage_report`)."""
        if not reports:
            return
        ready, _ = self.ray.wait(reports, num_returns=len(reports), timeout=GRACE)
        for ref in ready:
            with contextlib.suppress(Exception):  # an actor that died reports nothing
                _add_usage(self.ray.get(ref))


def _add_usage(report: dict[str, Any]) -> None:
    """Add an actor's usage report (`AgentShard.usage_report`) to this process's counters.

    So that everything reading them (step usage, `get_agent_usage`, cost statistics)
    sees the calls made on the actors as if they had been made here.
    """
    usage.add_reported(report.pop("usage"), report.pop("usage_by_user"))
