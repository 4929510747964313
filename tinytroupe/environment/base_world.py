"""The base world: agents, time, message routing and the turn-based (sequential) step.

`BaseWorld` is TinyTroupe's world semantics without the parallel machinery, which
`tinytroupe.environment.tiny_world.TinyWorld` layers on top. Routing contract:

* a TALK is delivered exactly once to its target; an agent never receives its own
  message; a TALK to an unknown target is broadcast to everyone else when
  `broadcast_if_no_target` is true, and dropped (logged) otherwise;
* REACH_OUT makes source and target accessible to each other;
* every delivered communication is appended to `transcript` in delivery order.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from tinytroupe.agent import TinyPerson
from tinytroupe.agent.display import show_world
from tinytroupe.agent.persona import read_specification
from tinytroupe.config import config_defaults, config_manager
from tinytroupe.environment.checkpoint import (
    CheckpointError,
    read_world_checkpoint,
    write_checkpoint,
)
from tinytroupe.environment.local_agents import LocalAgents
from tinytroupe.environment.time_units import TimeUnits
from tinytroupe.sanitize import utf8
from tinytroupe.unsupported import warn_unsupported

logger = logging.getLogger("tinytroupe")

#: Where a seeded world's clock starts when no initial_datetime is given.
SEEDED_START = datetime(2025, 1, 1, 9, 0)

#: Transcript events kept per world by default (oldest dropped first; None: all).
TRANSCRIPT_MAX_EVENTS = 100_000


class BaseWorld(TimeUnits):
    """A place where agents act in steps and talk to each other."""

    # Weak: a world the script dropped is released (its threads too), as TinyTroupe
    # scripts never close worlds; its name is free again once it is gone.
    all_environments: ClassVar[weakref.WeakValueDictionary[str, BaseWorld]] = (
        weakref.WeakValueDictionary())
    communication_display: ClassVar[bool] = True
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str | None = None, agents: list[TinyPerson] | None = None,
                 initial_datetime: datetime | None = None, interventions: list[Any] | None = None,
                 broadcast_if_no_target: bool = True, seed: int | None = None,
                 max_transcript_events: int | None = TRANSCRIPT_MAX_EVENTS,
                 max_additional_targets_to_display: int = 3, **unsupported: Any) -> None:
        warn_unsupported(type(self).__name__, unsupported)
        with BaseWorld._registry_lock:
            self.name = name or _fresh_world_name()
            if self.name in BaseWorld.all_environments:
                raise ValueError(f"Environment name {self.name!r} is already in use.")
            BaseWorld.all_environments[self.name] = self
        seed = config_manager.get("random_seed") if seed is None else seed
        if initial_datetime is None:  # a seeded run must not depend on the wall clock
            initial_datetime = SEEDED_START if seed is not None else datetime.now()
        self.current_datetime = initial_datetime
        self.broadcast_if_no_target = broadcast_if_no_target
        self.agents: list[TinyPerson] = []
        self.name_to_agent: dict[str, TinyPerson] = {}
        self.interventions: list[Any] = list(interventions or [])
        self.transcript: deque[dict[str, Any]] = deque(maxlen=max_transcript_events)
        self.steps_done = 0
        self._random = random.Random(seed)
        self._running = threading.Lock()  # one run() at a time
        try:
            self._agents = self._placement()  # where the agents live (and act)
        except BaseException:
            self._forget()
            raise
        self._stops = 0  # _stop_run() calls: a run() in flight ends after its step
        try:
            self.add_agents(agents or [])
        except BaseException:  # the agents stay the caller's; the world goes
            self._agents.close()
            self._drop_name()
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, agents={len(self.agents)})"

    @classmethod
    def clear_environments(cls) -> None:
        """Unregister every world of the process (their names become free); closes none."""
        with cls._registry_lock:
            BaseWorld.all_environments.clear()

    @classmethod
    def get_environment_by_name(cls, name: str) -> BaseWorld | None:
        """The registered world named `name`, or None."""
        return BaseWorld.all_environments.get(name)

    # --- agents ---------------------------------------------------------------------

    def add_agent(self, agent: TinyPerson) -> BaseWorld:
        """Add `agent` (see `add_agents`); returns the world."""
        return self.add_agents([agent])

    def add_agents(self, agents: list[TinyPerson]) -> BaseWorld:
        """Add `agents`; returns the world.

        Raises ValueError, adding none of them, if a name is already in the world (or
        twice in `agents`), or an agent belongs to another open world.
        """
        names = [agent.name for agent in agents]
        for agent in agents:
            if agent.name in self.name_to_agent or names.count(agent.name) > 1:
                raise ValueError(f"Agent names must be unique, but {agent.name!r} is "
                                 f"already in the environment {self.name!r}.")
            other = agent.environment
            if other is not None and other is not self and not getattr(other, "closed", False):
                raise ValueError(f"Agent {agent.name!r} already belongs to the world "
                                 f"{other.name!r}; remove it there first "
                                 f"(world.remove_agent(agent)) or close that world.")
        self._register(self._agents.place(agents))
        return self

    def add_agents_from_specifications(self, specifications: list[Any]) -> list[Any]:
        """Create agents from persona specifications where this world's agents live.

        Each item is a TinyTroupe ``.agent.json`` path or its dict. On the Ray backend
        the agents are created on the actors: the driver holds their handles, never
        the agents. Raises ValueError, creating none, if a name is already in the
        world (or twice in `specifications`). Returns the agents (handles on Ray).
        """
        specs = [read_specification(item) for item in specifications]
        names = [spec["persona"]["name"] for spec in specs]
        for name in names:
            if name in self.name_to_agent or names.count(name) > 1:
                raise ValueError(f"Agent names must be unique, but {name!r} is already in "
                                 f"the environment {self.name!r} (or twice in the list).")
        agents = self._agents.create(specs)
        self._register(agents)
        return agents

    def add_agents_from_factory(self, factory: Any, number_of_people: int | None = None,
                                agent_particularities: str | None = None,
                                post_processing_func: Any = None, temperature: float = 1.5,
                                frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                                attempts: int = 10) -> list[Any]:
        """Generate people with `factory` where this world's agents live, and add them.

        Arguments as `TinyPersonFactory.generate_people`, always in parallel.
        On the Ray backend each actor generates and keeps its share of the people (the
        driver holds handles, never the agents); names are unique in the world, the
        factory and this process. People that fail are left out and recorded in the
        factory (`factory.get_failures()`). Returns the people added, in request order.
        """
        sampling_args = {"temperature": temperature, "frequency_penalty": frequency_penalty,
                         "presence_penalty": presence_penalty, "attempts": attempts}
        agents = self._agents.generate(factory, number_of_people, agent_particularities,
                                       post_processing_func, sampling_args)
        self._register(agents)
        return agents

    def _register(self, agents: list[Any]) -> None:
        for agent in agents:
            self.agents.append(agent)
            self.name_to_agent[agent.name] = agent
            agent.environment = self
            agent._set_datetime(self.current_datetime)
        self._agents.prepare(self.agents)

    def remove_agent(self, agent: TinyPerson) -> BaseWorld:
        """Remove `agent` (no error if it is not here); returns the world."""
        if self.name_to_agent.pop(agent.name, None) is not None:
            self._agents.remove(agent.name)
            self.agents.remove(agent)
            agent.environment = None
        return self

    def remove_all_agents(self) -> BaseWorld:
        """Remove every agent of the world (see `remove_agent`); returns the world."""
        for agent in list(self.agents):
            self.remove_agent(agent)
        return self

    def get_agent_by_name(self, name: str) -> TinyPerson | None:
        """The agent of this world named `name`, or None."""
        return self.name_to_agent.get(name)

    def make_everyone_accessible(self) -> None:
        """Make every agent of the world able to reach every other one."""
        self._agents.everyone_accessible(self.agents)
        self._agents.prepare(self.agents)

    def add_intervention(self, intervention: Any) -> BaseWorld:
        """Add an object with `check_precondition()` and `apply_effect()`, run each step."""
        self.interventions.append(intervention)
        return self

    # --- stimuli from the world -----------------------------------------------------

    def broadcast(self, speech: str, source: TinyPerson | None = None) -> None:
        """Make every agent but `source` hear `speech`; recorded once in the transcript."""
        for agent in self.agents:
            if not _same_agent(agent, source):
                agent.listen(speech, source=source)
        self._record("broadcast", source, "*", speech)

    def broadcast_thought(self, thought: str, source: TinyPerson | None = None) -> None:
        """Make every agent think `thought` (`source` is accepted and ignored)."""
        for agent in self.agents:
            agent.think(thought)

    def broadcast_internal_goal(self, internal_goal: str) -> None:
        """Make every agent internalize `internal_goal`."""
        for agent in self.agents:
            agent.internalize_goal(internal_goal)

    def broadcast_context_change(self, context: list[str] | str) -> None:
        """Set every agent's context to `context` (see `TinyPerson.change_context`)."""
        for agent in self.agents:
            agent.change_context(context)

    # --- running --------------------------------------------------------------------

    @config_defaults(parallelize="parallel_agent_actions", checkpoint_every="checkpoint_every",
                     checkpoint_path="checkpoint_path", schedule="step_schedule")
    def run(self, steps: int, timedelta_per_step: timedelta | None = None,
            return_actions: bool = False, randomize_agents_order: bool = True,
            parallelize: bool | None = None, checkpoint_every: int | None = None,
            checkpoint_path: str | Path | None = None, schedule: str | None = None
            ) -> list[dict[str, list[dict]]] | None:
        """Run `steps` steps; with `return_actions`, return each step's actions by agent.

        `parallelize=None` takes ``PARALLEL_AGENT_ACTIONS`` from the configuration. With
        `checkpoint_every=K`, the complete state is written atomically to
        `checkpoint_path` every K steps and at the end (see `resume`). `schedule`
        (``STEP_SCHEDULE``) is how parallel steps follow each other: ``barrier`` or
        ``dependency`` (a `TinyWorld` feature; see docs/parallel-execution.md).
        """
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        if schedule not in ("barrier", "dependency"):
            raise ValueError(f"schedule must be 'barrier' or 'dependency', got {schedule!r}")
        if checkpoint_every is not None and checkpoint_path is None:
            raise ValueError("run(checkpoint_every=...) needs checkpoint_path= (or "
                             "CHECKPOINT_PATH in config.ini)")
        if not self._running.acquire(blocking=False):
            raise RuntimeError(f"World {self.name!r} is already running in another thread; "
                               "a world runs one step at a time.")
        try:
            return self._run(steps, timedelta_per_step, return_actions,
                             randomize_agents_order, parallelize, checkpoint_every,
                             checkpoint_path, schedule)
        finally:
            self._running.release()

    def _run(self, steps: int, timedelta_per_step: timedelta | None, return_actions: bool,
             randomize_agents_order: bool, parallelize: bool | None,
             checkpoint_every: int | None, checkpoint_path: str | Path | None,
             schedule: str = "barrier") -> list[dict[str, list[dict]]] | None:
        results = []
        stops = self._stops
        with self._progress(steps) as advance:
            for i in range(steps):
                if self._stops != stops:
                    logger.info("%s: run() stopped after %d of %d steps", self.name, i, steps)
                    break
                if self.communication_display:
                    show_world(f"{self.name} step {i + 1} of {steps} ({self.current_datetime})")
                actions = self._step(timedelta_per_step, randomize_agents_order, parallelize)
                if return_actions:  # upstream's shape: {"action", "cognitive_state"} items
                    results.append({name: self.name_to_agent[name].action_contents(taken)
                                    for name, taken in actions.items()})
                advance()
                if checkpoint_every and (self.steps_done % checkpoint_every == 0
                                         or i == steps - 1):
                    self.save_checkpoint(checkpoint_path)
        return results if return_actions else None

    def _stop_run(self) -> None:
        """Make a run() in flight (in another thread) stop after the step it is in."""
        self._stops += 1

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the complete state to `path` atomically (the previous one is kept as .prev)."""
        return write_checkpoint(path, self.encode_complete_state())

    @classmethod
    def resume(cls, checkpoint_path: str | Path, **world_kwargs: Any) -> BaseWorld:
        """Rebuild a world and its agents from a checkpoint; `run()` continues from the next step.

        Raises `CheckpointError` for a missing, truncated, corrupted or malformed file,
        and when an agent of the checkpoint is alive in this process (resume never
        takes over a live agent); nothing stays registered after a failure.
        """
        state = read_world_checkpoint(checkpoint_path)
        live = [a["name"] for a in state["agents"] if a["name"] in TinyPerson.all_agents]
        if live:
            raise CheckpointError(
                f"cannot resume {checkpoint_path}: agent(s) {', '.join(map(repr, live[:5]))} "
                "already exist in this process; resume in a fresh process, or forget them "
                "first (tinytroupe.control.reset() or TinyPerson.clear_agents())")
        world = cls(state["name"], **world_kwargs)
        try:
            return world.decode_complete_state(state)
        except Exception as exc:
            world._forget()
            raise CheckpointError(f"cannot resume {checkpoint_path}: {type(exc).__name__}: "
                                  f"{exc}") from exc

    def _forget(self) -> None:
        """Unregister this world and the agents it holds, and close it (a failed restore)."""
        for agent in list(self.agents):
            self.remove_agent(agent)
            if isinstance(agent, TinyPerson):
                agent.unregister()
        placement = getattr(self, "_agents", None)
        if placement is not None:
            placement.close()
        self._drop_name()

    def _drop_name(self) -> None:
        """Free this world's name in the registry (if it still holds this world)."""
        with BaseWorld._registry_lock:
            if BaseWorld.all_environments.get(self.name) is self:
                del BaseWorld.all_environments[self.name]

    def export_transcript(self, path: str | Path) -> Path:
        """Write the transcript as JSONL, one delivered event per line, in delivery order.

        Each line holds step, simulated_time, type, source, target, content. Reproducible
        runs write byte-identical files.
        """
        path = Path(path)
        with path.open("wb") as out:
            for event in self.transcript:
                out.write(utf8(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n"))
        return path

    @contextmanager
    def _progress(self, steps: int) -> Iterator[Any]:
        """Progress reporting for `run`; the base world reports nothing."""
        yield lambda: None

    def _step(self, timedelta_per_step: timedelta | None = None,
              randomize_agents_order: bool = True, parallelize: bool = False
              ) -> dict[str, list[dict]]:
        if parallelize:
            return self._step_in_parallel(timedelta_per_step, randomize_agents_order)
        return self._step_sequentially(timedelta_per_step, randomize_agents_order)

    def _step_in_parallel(self, timedelta_per_step: timedelta | None = None,
                          randomize_agents_order: bool = True) -> dict[str, list[dict]]:
        """The base world has no parallel machinery: it steps sequentially."""
        return self._step_sequentially(timedelta_per_step, randomize_agents_order)

    def _step_sequentially(self, timedelta_per_step: timedelta | None = None,
                           randomize_agents_order: bool = True) -> dict[str, list[dict]]:
        """Turn-based step: each agent acts, and its actions are delivered before the next."""
        order = self._begin_step(timedelta_per_step, randomize_agents_order)
        results: dict[str, list[dict]] = {}
        for agent in order:
            if not self._agents.may_act(agent.name):  # busy from a timed-out turn
                continue
            agent.act()
            actions = agent.pop_latest_actions()
            results[agent.name] = actions
            self._handle_actions(agent, actions)
        self._end_step()
        return results

    def _begin_step(self, timedelta_per_step: timedelta | None,
                    randomize_agents_order: bool) -> list[TinyPerson]:
        """Prepare the world, advance time, apply interventions.

        Returns the agents in this step's order.
        """
        self._before_step()
        self._advance_datetime(timedelta_per_step)
        for intervention in self.interventions:
            if intervention.check_precondition():
                intervention.apply_effect()
        order = list(self.agents)
        if randomize_agents_order:
            self._random.shuffle(order)
        return order

    def _placement(self) -> LocalAgents:
        """Where this world's agents live: here, in this process."""
        return LocalAgents()

    def _before_step(self) -> None:
        """What a kind of world does before every step, in either mode (here: nothing)."""

    def _rewind_clock(self, value: datetime) -> None:
        self.current_datetime = value
        for agent in self.agents:
            agent._set_datetime(value)

    def _end_step(self) -> None:
        self.steps_done += 1

    def _advance_datetime(self, delta: timedelta | None) -> None:
        if delta is not None:
            self.current_datetime += delta
            for agent in self.agents:
                agent._set_datetime(self.current_datetime)

    def skip(self, steps: int, timedelta_per_step: timedelta | None = None) -> None:
        """Advance time by `steps` x `timedelta_per_step` without anyone acting."""
        for _ in range(steps):
            self._advance_datetime(timedelta_per_step)

    # --- routing --------------------------------------------------------------------

    def _handle_actions(self, source: TinyPerson, actions: list[dict[str, str]]) -> None:
        """Deliver `source`'s actions: TALK to its target, REACH_OUT between the two."""
        for action in actions:
            kind, target = action.get("type"), action.get("target") or ""
            if kind == "TALK":
                self._handle_talk(source, action.get("content", ""), target)
            elif kind == "REACH_OUT":
                self._handle_reach_out(source, action.get("content", ""), target)

    def _handle_talk(self, source: TinyPerson, content: str, target: str) -> None:
        recipient = self.get_agent_by_name(target)
        if _same_agent(recipient, source):
            logger.debug("%s talked to itself; not delivered", source.name)
        elif recipient is not None:
            recipient.listen(content, source=source)
            self._record("TALK", source, recipient.name, content)
        elif self.broadcast_if_no_target:
            self.broadcast(content, source=source)
        else:
            logger.info("%s talked to unknown target %r; dropped", source.name, target)

    def _handle_reach_out(self, source: TinyPerson, content: str, target: str) -> None:
        other = self.get_agent_by_name(target)
        if other is None or _same_agent(other, source):
            return
        source.make_agent_accessible(other)
        other.make_agent_accessible(source)
        source.socialize(f"{other.name} was successfully reached out, and is now available "
                         "for interaction.", source=self.name)
        other.socialize(f"{source.name} reached out to you, and is now available for "
                        "interaction.", source=self.name)
        self._record("REACH_OUT", source, other.name, content)

    def _record(self, kind: str, source: TinyPerson | None, target: str, content: str) -> None:
        self.transcript.append({
            "step": self.steps_done + 1, "simulated_time": self.current_datetime.isoformat(),
            "type": kind,
            "source": source.name if source is not None else None, "target": target,
            "content": content,
        })

    # --- state ----------------------------------------------------------------------

    def encode_complete_state(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the world and all its agents."""
        return {
            "type": type(self).__name__, "name": self.name,
            "current_datetime": self.current_datetime.isoformat(),
            "broadcast_if_no_target": self.broadcast_if_no_target,
            "steps_done": self.steps_done,
            "random_state": _random_state_to_json(self._random.getstate()),
            "max_transcript_events": self.transcript.maxlen,
            "transcript": list(self.transcript),
            "agents": self._agent_states(),
        }

    def _agent_states(self) -> list[dict[str, Any]]:
        return self._agents.states(self.agents)

    def decode_complete_state(self, state: dict[str, Any]) -> BaseWorld:
        """Restore from `encode_complete_state`; agents are matched (or created) by name."""
        self.current_datetime = datetime.fromisoformat(state["current_datetime"])
        self.broadcast_if_no_target = state.get("broadcast_if_no_target", True)
        self.steps_done = state.get("steps_done", 0)
        if "random_state" in state:
            self._random.setstate(_random_state_from_json(state["random_state"]))
        self.transcript = deque(state.get("transcript", []),
                                maxlen=state.get("max_transcript_events", TRANSCRIPT_MAX_EVENTS))
        self.remove_all_agents()
        self._restore_agents(state["agents"])
        return self

    def _restore_agents(self, states: list[dict[str, Any]]) -> None:
        """Add agents in the given saved states (matched, or created, by name)."""
        agents = self._agents.restore(states)
        try:
            self.add_agents(agents)
        except BaseException:
            for agent in agents:  # nothing of a failed restore stays registered
                if isinstance(agent, TinyPerson):
                    agent.unregister()
            raise


_world_numbers = itertools.count(1)


def _fresh_world_name() -> str:  # called with the registry lock held
    while (name := f"TinyWorld {next(_world_numbers)}") in BaseWorld.all_environments:
        pass
    return name


def _random_state_to_json(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _random_state_from_json(state: list) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def _same_agent(agent: Any, other: Any) -> bool:
    """Agents are one and the same by name (a Ray world holds handles, not the objects)."""
    return agent is not None and other is not None and agent.name == getattr(other, "name", other)
