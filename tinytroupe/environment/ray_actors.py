"""The actors of one Ray world: its shards, their keepers, and how full each shard is.

`ShardActors` starts, places, replaces and stops the actors; `RayBackend` decides
which agent lives on which shard and what the actors are asked to do. Shard `i` is an
`AgentShard` actor (replaced by a new one when it dies: each is an *incarnation*) and
a `StateKeeper` actor holding its agents' last state copies. Shards are spread over
the cluster's nodes, and a keeper runs on another node than its shard where there is
one, so that one node lost never takes an agent and its only copy together.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from tinytroupe.config import config_manager
from tinytroupe.environment.ray_cluster import RayLedger, node_other_than
from tinytroupe.environment.ray_shard import AgentShard, StateKeeper


class ShardActors:
    """The shard and keeper actors of the world `world_name` (module doc)."""

    def __init__(self, ray: Any, world_name: str, per_actor: int,
                 ledger: RayLedger | None) -> None:
        self.ray, self.world_name, self.per_actor, self.ledger = ray, world_name, per_actor, ledger
        self.id = f"{world_name}-{uuid.uuid4().hex[:8]}"  # this world's, among the cluster's
        self._shard_class = ray.remote(AgentShard)
        self._keeper_class = ray.remote(StateKeeper)
        self.shards: list[Any] = []  # the current actor of each shard
        self.keepers: list[Any] = []
        self.shard_of: dict[str, int] = {}  # agent name -> its shard
        self.load: list[int] = []  # agents on each shard
        self._incarnations: list[int] = []  # actors started for each shard so far

    def __len__(self) -> int:
        return len(self.shards)

    def with_room(self, count: int) -> list[int]:
        """Shards for `count` new agents: the first with room, then new shards.

        Nothing is counted in `load`: the caller counts the agents it really places.
        """
        chosen, load, index = [], list(self.load), 0
        while len(chosen) < count:
            if index == len(load):
                self._add_shard()
                load.append(0)
            if load[index] < self.per_actor:
                load[index] += 1
                chosen.append(index)
            else:
                index += 1
        return chosen

    def assign(self, name: str) -> int:
        """A shard for the new agent `name` (the first with room), counted there."""
        index = self.with_room(1)[0]
        self.settle(name, index)
        return index

    def settle(self, name: str, index: int) -> None:
        """Count the new agent `name` on shard `index` (chosen with `with_room`)."""
        self.shard_of[name] = index
        self.load[index] += 1

    def unassign(self, name: str) -> int | None:
        """Agent `name` leaves its shard; the shard it was on (None: unknown)."""
        index = self.shard_of.pop(name, None)
        if index is not None:
            self.load[index] -= 1
        return index

    def names_on(self, index: int) -> list[str]:
        """The agents of shard `index`."""
        return [name for name, i in self.shard_of.items() if i == index]

    def take_back(self, names: list[str]) -> None:
        """Unassign these agents and unload them from their shards and keepers (best effort).

        For agents whose placing failed part-way: whatever of them got onto an actor goes.
        """
        by_shard: dict[int, list[str]] = {}
        for name in names:
            index = self.unassign(name)
            if index is not None:
                by_shard.setdefault(index, []).append(name)
        for index, unplaced in by_shard.items():
            with contextlib.suppress(Exception):  # the shard or its keeper may be gone
                self.keepers[index].forget.remote(unplaced)
                self.ray.get(self.shards[index].unload.remote(unplaced))

    def _add_shard(self) -> None:
        """Start shard `len(self)` and its keeper; added only once both are up."""
        index = len(self.shards)
        self._incarnations.append(0)
        shard = None
        try:
            shard = self._start_shard(index)
            keeper = self._start_keeper(index, shard)
        except BaseException:
            if shard is not None:
                with contextlib.suppress(Exception):
                    self.ray.kill(shard, no_restart=True)
            self._incarnations.pop()
            raise
        self.shards.append(shard)
        self.keepers.append(keeper)
        self.load.append(0)

    def holder(self, index: int) -> str:
        """The name of shard `index`'s current actor, unique in the cluster.

        Each actor is its own holder of call slots in the limit ledger, so that slots a
        replaced actor still asks for are refused, not lost.
        """
        return f"{self.id}-shard-{index}.{self._incarnations[index]}"

    def _start_shard(self, index: int, away_from: str | None = None) -> Any:
        """A new actor for shard `index`: spread, or away from node `away_from` if given."""
        self._incarnations[index] += 1
        where = "SPREAD" if away_from is None else node_other_than(self.ray, away_from, index)
        return self._shard_class.options(
            num_cpus=0, max_concurrency=4, scheduling_strategy=where).remote(
            self.holder(index), config_manager.as_dict(), self.ledger)

    def _start_keeper(self, index: int, shard: Any) -> Any:
        """A keeper for shard `index`, on another node than `shard` where there is one."""
        shard_node = self.ray.get(shard.node_id.remote())
        return self._keeper_class.options(
            num_cpus=0, scheduling_strategy=node_other_than(self.ray, shard_node, index)).remote()

    def replace_shard(self, index: int) -> Any:
        """Kill shard `index`'s actor (if still there) and start a new, empty one.

        The new actor runs away from the keeper's node where it can; the old one's call
        slots are freed in the ledger. Returns the new actor.
        """
        try:
            keeper_node = self.ray.get(self.keepers[index].node_id.remote())
        except self.ray.exceptions.RayActorError:  # gone too: the load will say so
            keeper_node = None
        with contextlib.suppress(Exception):  # it may be gone already
            self.ray.kill(self.shards[index], no_restart=True)
        self._forget(index)
        self.shards[index] = self._start_shard(index, away_from=keeper_node)
        return self.shards[index]

    def renew_keeper(self, index: int) -> Any:
        """A new, empty keeper for shard `index` (the old one is gone); returns it."""
        self.keepers[index] = self._start_keeper(index, self.shards[index])
        return self.keepers[index]

    def close(self) -> None:
        """Kill every actor (one already gone is skipped) and free their call slots."""
        for actor in (*self.shards, *self.keepers):
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(actor, no_restart=True)
        for index in range(len(self.shards)):
            self._forget(index)
        self.shards, self.keepers, self.load, self._incarnations = [], [], [], []
        self.shard_of = {}

    def _forget(self, index: int) -> None:
        if self.ledger is not None:
            self.ledger.tell("forget", self.holder(index))
