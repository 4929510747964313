"""TinyPerson: a simulated person that perceives, remembers and acts through an LLM.

Thread-safety contract: an agent has two locks of its own, shared with no other agent.
``_acting`` is held for a whole `act()`, so one agent never acts in two threads at
once. ``_lock`` (re-entrant) guards memory, the action buffer and mental state for
short critical sections only; it is never held across an LLM call, so delivering a
message to an agent (`listen`) never waits for that agent's slow or hung model call.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from tinytroupe import sanitize
from tinytroupe.agent import prompts
from tinytroupe.agent.action_generator import ActionGenerator
from tinytroupe.agent.contacts import DEFAULT_RELATION, AgentRef, Contacts
from tinytroupe.agent.display import display_length, show_action, show_stimulus
from tinytroupe.agent.inspection import Inspection
from tinytroupe.agent.memory import EpisodicMemory
from tinytroupe.agent.mental_faculty import faculties_prompt, faculty_from_state
from tinytroupe.agent.persona_definition import PersonaDefinition
from tinytroupe.config import config_manager
from tinytroupe.unsupported import warn_unsupported

logger = logging.getLogger("tinytroupe")



class TinyPerson(PersonaDefinition, Contacts, Inspection):
    """A persona-driven agent (TinyTroupe's public API).

    Names are unique in the process (`TinyPerson.all_agents`); `clear_agents()` or
    `tinytroupe.control.reset()` forgets them. The persona and its files are
    `PersonaDefinition`'s.
    """

    all_agents: ClassVar[dict[str, TinyPerson]] = {}
    communication_display: ClassVar[bool] = True
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str | None = None, action_generator: Any = None,
                 episodic_memory: EpisodicMemory | None = None, semantic_memory: Any = None,
                 mental_faculties: list[Any] | None = None,
                 enable_basic_action_repetition_prevention: bool = True,
                 **unsupported: Any) -> None:
        if not name or not str(name).strip():
            raise ValueError("A TinyPerson needs a non-empty name")
        given = {"semantic_memory": semantic_memory} if semantic_memory is not None else {}
        warn_unsupported("TinyPerson", {**given, **unsupported})
        #: How the agent's actions are produced (and quality-checked when enabled).
        self.action_generator = action_generator or ActionGenerator()
        self.name = sanitize.clean_text(str(name).strip())
        self._init_persona(self.name)
        self._mental_state: dict[str, Any] = {
            "datetime": None, "location": None, "context": [], "goals": [],
            "attention": None, "emotions": "Feeling nothing in particular, just calm.",
        }
        if episodic_memory is None:  # not `or`: an empty memory is falsy (it has a length)
            episodic_memory = EpisodicMemory(
                max_size=config_manager.get("episodic_memory_max_size"))
        self.episodic_memory = episodic_memory
        self._init_contacts()
        self._actions_buffer: list[dict[str, str]] = []
        #: Upstream's counters: actions committed and stimuli perceived so far.
        self.actions_count = 0
        self.stimuli_count = 0
        self._mental_faculties: list[Any] = []
        self._faculty_prompt = ""
        self._prompt_cache: tuple[Any, str, str] | None = None
        self._turn_guard: Any = None  # set by a parallel step while it runs our turn
        self._moved_to: str | None = None  # a Ray world's name, once the agent lives there
        self._lock = threading.RLock()
        self._acting = threading.Lock()
        self._environment: weakref.ref[Any] | None = None
        with TinyPerson._registry_lock:
            if self.name in TinyPerson.all_agents:
                raise ValueError(f"Agent name {self.name!r} is already in use.")
            TinyPerson.all_agents[self.name] = self
        if mental_faculties:
            self.add_mental_faculties(mental_faculties)

    def __repr__(self) -> str:
        return f"TinyPerson(name={self.name!r})"

    @property
    def environment(self) -> Any:
        """The world this agent is in, or None.

        Held weakly: an agent (which stays registered by name) does not keep a world the
        script dropped alive.
        """
        ref = self._environment
        return ref() if ref is not None else None

    @environment.setter
    def environment(self, world: Any) -> None:
        self._environment = weakref.ref(world) if world is not None else None

    # --- registry -------------------------------------------------------------------

    @classmethod
    def get_agent_by_name(cls, name: str) -> TinyPerson | None:
        """The agent of this process named `name`, or None."""
        return cls.all_agents.get(name)

    @classmethod
    def clear_agents(cls) -> None:
        """Forget every agent of the process (their names become free)."""
        with cls._registry_lock:
            cls.all_agents.clear()

    @staticmethod
    def all_agents_names() -> list[str]:
        """The names of every agent of this process."""
        return list(TinyPerson.all_agents)

    @classmethod
    def free_name(cls, name: str, also_taken: Callable[[str], bool] | None = None) -> str:
        """`name`, or `name` with the first free numeric suffix ("Ana 2").

        Free means not registered in this process, and not `also_taken(name)` if given.
        """
        unique, k = name, 1
        while unique in cls.all_agents or (also_taken is not None and also_taken(unique)):
            k += 1
            unique = f"{name} {k}"
        return unique

    def unregister(self) -> None:
        """Free this agent's name in the process registry (if it still holds this agent)."""
        with TinyPerson._registry_lock:
            if TinyPerson.all_agents.get(self.name) is self:
                del TinyPerson.all_agents[self.name]

    # --- perception -----------------------------------------------------------------

    def retire(self, world_name: str) -> None:
        """Mark this object as a retired copy.

        The agent now lives on a Ray actor of `world_name`, and using this object raises a
        clear error.
        """
        self._moved_to = world_name

    @contextlib.contextmanager
    def guarded_turn(self, guard: Any) -> Iterator[None]:
        """Run this agent's turn of a parallel step under `guard` (a `TurnGuard`).

        Once the step gives up on the turn, the turn's outcome is refused (see `_commit`).
        """
        if self._turn_guard is not None:  # a safety net: busy tracking prevents it
            raise RuntimeError(f"{self.name} is still acting in an earlier turn")
        self._turn_guard = guard
        try:
            yield
        finally:
            self._turn_guard = None

    def _check_local(self) -> None:
        if self._moved_to is not None:
            raise RuntimeError(
                f"{self.name} now lives on a Ray actor of world {self._moved_to!r}; use "
                f"world.get_agent_by_name({self.name!r}) instead of the original object")

    def _observe(self, kind: str, content: str, source: Any = None,
                 max_content_length: int | None = None,
                 communication_display: bool | None = None) -> TinyPerson:
        self._check_local()
        source_name = sanitize.clean_text(str(getattr(source, "name", source) or ""))
        stimulus = {"type": kind, "content": sanitize.clean_text(str(content)),
                    "source": source_name}
        with self._lock:
            self.episodic_memory.store({
                "role": "user", "content": {"stimuli": [stimulus]}, "type": "stimulus",
                "simulation_timestamp": self._mental_state["datetime"],
            })
            self.stimuli_count += 1
        if _displaying(communication_display):
            show_stimulus(self.name, stimulus, display_length(max_content_length))
        return self

    def listen(self, speech: str, source: Any = None, max_content_length: int | None = None,
               communication_display: bool | None = None) -> TinyPerson:
        """Hear `speech` (from `source`, an agent or a name; None: the user or the world).

        `max_content_length` cuts what is displayed, never what is remembered.
        """
        return self._observe("CONVERSATION", speech, source, max_content_length,
                             communication_display)

    def see(self, description: str, source: Any = None,
            max_content_length: int | None = None) -> TinyPerson:
        """See `description` (from `source`): remembered as a VISUAL stimulus; returns the agent."""
        return self._observe("VISUAL", description, source, max_content_length)

    def think(self, thought: str, max_content_length: int | None = None) -> TinyPerson:
        """Think `thought`: remembered as a THOUGHT stimulus; returns the agent."""
        return self._observe("THOUGHT", thought, None, max_content_length)

    def internalize_goal(self, goal: str, max_content_length: int | None = None) -> TinyPerson:
        """Adopt `goal`: remembered as an INTERNAL_GOAL_FORMULATION stimulus; returns the agent."""
        return self._observe("INTERNAL_GOAL_FORMULATION", goal, None, max_content_length)

    def socialize(self, social_description: str, source: Any = None,
                  max_content_length: int | None = None) -> TinyPerson:
        """Perceive `social_description` (from `source`) as a SOCIAL stimulus; returns the agent."""
        return self._observe("SOCIAL", social_description, source, max_content_length)

    def listen_and_act(self, speech: str, return_actions: bool = False,
                       max_content_length: int | None = None,
                       communication_display: bool | None = None, n: int | None = None,
                       source: Any = None) -> list[dict[str, Any]] | None:
        """`listen`, then `act`; returns what `act` returns."""
        self.listen(speech, source, max_content_length, communication_display)
        return self.act(return_actions=return_actions, n=n,
                        max_content_length=max_content_length,
                        communication_display=communication_display)

    def see_and_act(self, description: str, return_actions: bool = False,
                    max_content_length: int | None = None, n: int | None = None
                    ) -> list[dict[str, Any]] | None:
        """`see`, then `act`; returns what `act` returns."""
        self.see(description, max_content_length=max_content_length)
        return self.act(return_actions=return_actions, n=n,
                        max_content_length=max_content_length)

    def think_and_act(self, thought: str, return_actions: bool = False,
                      max_content_length: int | None = None, n: int | None = None
                      ) -> list[dict[str, Any]] | None:
        """`think`, then `act`; returns what `act` returns."""
        self.think(thought, max_content_length)
        return self.act(return_actions=return_actions, n=n,
                        max_content_length=max_content_length)

    # --- mental state ---------------------------------------------------------------

    def change_context(self, context: list[str] | str) -> None:
        """Set the situation the agent is in: a list of descriptions, or one."""
        context = sanitize.clean_data(context if isinstance(context, list) else [context])
        with self._lock:
            self._mental_state["context"] = context
            self._prompt_changed()

    def move_to(self, location: str, context: list[str] | None = None) -> None:
        """Go to `location`, in the situation `context` (upstream's defaults: none)."""
        with self._lock:
            self._mental_state["location"] = sanitize.clean_text(str(location))
        self.change_context(context or [])

    def cognitive_state(self) -> dict[str, Any]:
        """Goals, context, attention and emotions as the agent last updated them."""
        with self._lock:
            return copy.deepcopy({key: self._mental_state.get(key)
                                  for key in ("goals", "context", "attention", "emotions")})

    def _set_datetime(self, value: Any) -> None:
        with self._lock:
            self._mental_state["datetime"] = None if value is None else str(value)

    # --- acting ---------------------------------------------------------------------

    def act(self, until_done: bool = True, n: int | None = None, return_actions: bool = False,
            max_content_length: int | None = None, communication_display: bool | None = None,
            **unsupported: Any) -> list[dict[str, Any]] | None:
        """Ask the LLM what to do; remember, buffer (and display) the actions.

        With `n`, take at most `n` actions; otherwise with `until_done`, keep asking
        until a DONE action or `MAX_ACTIONS_BEFORE_DONE`; else make one LLM call.
        The actions of one `act()` are committed together at its end (memory, buffer,
        mental state), so an `act()` that raises an `LLMError` (model unreachable,
        answer malformed after repairs) leaves no trace of itself. With
        `return_actions`, returns upstream's shape: one ``{"action": {...},
        "cognitive_state": {...}}`` per action, in order.
        """
        warn_unsupported("TinyPerson.act", unsupported)
        self._check_local()
        limit = n if n is not None else config_manager.get("max_actions_before_done")
        taken: list[dict[str, str]] = []
        state: dict[str, Any] = {}
        with self._acting:
            while len(taken) < limit:
                actions, state = self._next_actions(taken)
                actions = actions[: limit - len(taken)]
                taken.extend(actions)
                if any(a["type"] == "DONE" for a in actions) or (n is None and not until_done):
                    break
            committed = self._commit(taken, state, _displaying(communication_display),
                                     display_length(max_content_length))
            if committed:  # faculties react to what was really done (never to a dropped turn)
                for action in taken:
                    for faculty in list(self._mental_faculties):
                        faculty.process_action(self, action)
        return self.action_contents(taken) if return_actions else None

    def add_mental_faculty(self, faculty: Any) -> TinyPerson:
        """Give the agent a mental faculty (ValueError if it has one of that name)."""
        with self._lock:
            if faculty in self._mental_faculties:
                raise ValueError(f"{self.name} already has the faculty {faculty.name!r}")
            self._mental_faculties.append(faculty)
            self._faculty_prompt = faculties_prompt(self._mental_faculties)
            self._prompt_changed()
        return self

    def add_mental_faculties(self, mental_faculties: list[Any]) -> TinyPerson:
        """Give the agent several mental faculties."""
        for faculty in mental_faculties:
            self.add_mental_faculty(faculty)
        return self

    @property
    def mental_faculties(self) -> list[Any]:
        """The agent's mental faculties (a copy of the list)."""
        return list(self._mental_faculties)

    def action_contents(self, actions: list[dict[str, str]]) -> list[dict[str, Any]]:
        """`actions` in upstream's return shape, with the current cognitive state."""
        state = self.cognitive_state()
        return [{"action": dict(action), "cognitive_state": state} for action in actions]

    def _next_actions(self, taken: list[dict[str, str]]
                      ) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """One model answer, parsed and quality-checked by the agent's action generator."""
        return self.action_generator.generate_next_actions(self, self._messages(taken))

    def _messages(self, taken: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
        """The request: persona, recent memory, then this act's actions so far."""
        with self._lock:
            persona_json, accessible_json = self._prompt_parts()
            system = prompts.system_message_from_json(persona_json, accessible_json,
                                                      self._mental_state, self._faculty_prompt)
            episodes = self.episodic_memory.recent_messages()
        episodes += [prompts.episode_message(self._action_episode(a)) for a in taken or ()]
        return prompts.act_messages(system, episode_messages=episodes)

    def prepare_turn(self) -> None:
        """Build now what the next turn's prompt needs (a world does it before its first step)."""
        with self._lock:
            self._prompt_parts()

    def _prompt_parts(self) -> tuple[str, str]:
        """Persona and contacts as JSON, re-serialised only when they changed.

        They are in every prompt, and with hundreds of contacts serialising them per
        turn would cost more than the rest of the turn. Persona changes go through
        `define`/loading and the accessibility methods, which bump `_prompt_version`
        (a list assigned to, or appended to, `accessible_agents` is noticed too).
        """
        key = (self._prompt_version, id(self.accessible_agents), len(self.accessible_agents))
        if self._prompt_cache is None or self._prompt_cache[0] != key:
            names = [agent.name for agent in self.accessible_agents]
            self._prompt_cache = (key, prompts.to_json(self._persona),
                                  prompts.contacts_json(names, self._relations))
        return self._prompt_cache[1], self._prompt_cache[2]

    def _action_episode(self, action: dict[str, str]) -> dict[str, Any]:
        return {"role": "assistant", "content": {"action": action}, "type": "action",
                "simulation_timestamp": self._mental_state["datetime"]}

    def _commit(self, actions: list[dict[str, str]], state: dict[str, Any],
                display: bool = False, display_length: int | None = None) -> bool:
        """Apply an act's outcome: memory, buffer, mental state (and display).

        While a parallel step runs this agent's turn, `_turn_guard` is that turn: once
        the step gave up on the turn (timeout), nothing is applied and False returned.
        """
        guard = self._turn_guard
        with guard.lock if guard is not None else contextlib.nullcontext():
            if guard is not None:
                if guard.abandoned:
                    return False
                guard.committed = True
            with self._lock:
                for action in actions:
                    self.episodic_memory.store(self._action_episode(action))
                    self._actions_buffer.append(action)
                self.actions_count += len(actions)
                for key in ("goals", "attention", "emotions"):
                    if key in state:
                        self._mental_state[key] = state[key]
        if display:
            for action in actions:
                show_action(self.name, action, display_length)
        return True

    def pop_latest_actions(self) -> list[dict[str, str]]:
        """The actions buffered since the last pop, oldest first; clears the buffer."""
        with self._lock:
            actions, self._actions_buffer = self._actions_buffer, []
        return actions

    # --- state ----------------------------------------------------------------------

    def encode_complete_state(self) -> dict[str, Any]:
        """A JSON-serialisable copy of this agent's whole state."""
        with self._lock:
            return copy.deepcopy({
                "type": "TinyPerson", "name": self.name, "persona": self._persona,
                "mental_state": self._mental_state,
                "episodic_memory": self.episodic_memory.encode(),
                "accessible_agents": [{"name": a.name, "relation": self._relations.get(a.name)}
                                      for a in self.accessible_agents],
                "mental_faculties": [f.to_state() for f in self._mental_faculties],
            })

    def decode_complete_state(self, state: dict[str, Any]) -> TinyPerson:
        """Restore the state from `encode_complete_state` (accessible agents by name)."""
        state = copy.deepcopy(state)
        with self._lock:
            self._set_persona(state["persona"])
            self._mental_state = state["mental_state"]
            self.episodic_memory = EpisodicMemory.decode(state["episodic_memory"])
            self._actions_buffer = []  # undelivered actions belong to no saved state
            self.accessible_agents, self._relations = [], {}
            for entry in state.get("accessible_agents", []):
                other = TinyPerson.all_agents.get(entry["name"]) or AgentRef(entry["name"])
                self.make_agent_accessible(other, entry.get("relation") or DEFAULT_RELATION)
            self._mental_faculties = [faculty_from_state(f)
                                      for f in state.get("mental_faculties", [])]
            self._faculty_prompt = faculties_prompt(self._mental_faculties)
        return self


def _displaying(communication_display: bool | None) -> bool:
    return TinyPerson.communication_display if communication_display is None \
        else communication_display


