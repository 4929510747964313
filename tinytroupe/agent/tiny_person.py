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
import json
import logging
import threading
import weakref
from pathlib import Path
from typing import Any, ClassVar

from tinytroupe import sanitize
from tinytroupe.agent import prompts
from tinytroupe.agent.actions import ActionDocument, parse_actions
from tinytroupe.agent.display import show_action, show_stimulus
from tinytroupe.agent.memory import EpisodicMemory
from tinytroupe.agent.persona import read_specification
from tinytroupe.clients.structured import ask_structured
from tinytroupe.config import config_manager

logger = logging.getLogger("tinytroupe")

_DEFAULT_RELATION = "An agent I can currently interact with."


class AgentRef:
    """A contact known only by name: an agent of this simulation that lives in another
    process (see the Ray backend), or one not loaded yet. Equal to any agent of that name.
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


class TinyPerson:
    """A persona-driven agent (TinyTroupe's public API).

    Names are unique in the process (`TinyPerson.all_agents`); `clear_agents()` or
    `tinytroupe.control.reset()` forgets them.
    """

    all_agents: ClassVar[dict[str, TinyPerson]] = {}
    communication_display: ClassVar[bool] = True
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str | None = None, episodic_memory: EpisodicMemory | None = None,
                 **_ignored: Any) -> None:
        if not name or not str(name).strip():
            raise ValueError("A TinyPerson needs a non-empty name")
        self.name = str(name).strip()
        self._persona: dict[str, Any] = {"name": self.name}
        self._mental_state: dict[str, Any] = {
            "datetime": None, "location": None, "context": [], "goals": [],
            "attention": None, "emotions": "Feeling nothing in particular, just calm.",
        }
        if episodic_memory is None:  # not `or`: an empty memory is falsy (it has a length)
            episodic_memory = EpisodicMemory(
                max_size=config_manager.get("episodic_memory_max_size"))
        self.episodic_memory = episodic_memory
        self.accessible_agents: list[TinyPerson] = []
        self._relations: dict[str, str] = {}
        self._actions_buffer: list[dict[str, str]] = []
        self._prompt_version = 0
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

    def __repr__(self) -> str:
        return f"TinyPerson(name={self.name!r})"

    @property
    def environment(self) -> Any:
        """The world this agent is in, or None. Held weakly: an agent (which stays
        registered by name) does not keep a world the script dropped alive."""
        ref = self._environment
        return ref() if ref is not None else None

    @environment.setter
    def environment(self, world: Any) -> None:
        self._environment = weakref.ref(world) if world is not None else None

    # --- registry -------------------------------------------------------------------

    @classmethod
    def get_agent_by_name(cls, name: str) -> TinyPerson | None:
        return cls.all_agents.get(name)

    @classmethod
    def clear_agents(cls) -> None:
        with cls._registry_lock:
            cls.all_agents.clear()

    def unregister(self) -> None:
        """Free this agent's name in the process registry (if it still holds this agent)."""
        with TinyPerson._registry_lock:
            if TinyPerson.all_agents.get(self.name) is self:
                del TinyPerson.all_agents[self.name]

    # --- persona --------------------------------------------------------------------

    def define(self, key: str, value: Any, group: str | None = None) -> TinyPerson:
        """Set a persona field (or append to list field `group`); returns self."""
        self._check_local()
        value = sanitize.clean_data(value)  # a copy: the caller's object stays theirs
        with self._lock:
            if group is None:
                self._persona[key] = copy.deepcopy(value)
            else:
                self._persona.setdefault(group, []).append({key: value})
            self._prompt_version += 1
        return self

    def define_several(self, group: str, records: list[Any]) -> TinyPerson:
        records = sanitize.clean_data(list(records))
        with self._lock:
            self._persona.setdefault(group, []).extend(copy.deepcopy(records))
            self._prompt_version += 1
        return self

    def get(self, key: str) -> Any:
        return self._persona.get(key)

    def minibio(self) -> str:
        """A one-sentence description built from the persona."""
        p = self._persona
        occupation = p.get("occupation")
        if isinstance(occupation, dict):
            occupation = occupation.get("title")
        parts = [f"{self.name} is"]
        parts.append(f"a {p['age']} year old" if p.get("age") else "a")
        parts.append(str(occupation or "person"))
        if p.get("nationality"):
            parts.append(f"({p['nationality']})")
        bio = " ".join(parts)
        if p.get("residence"):
            bio += f", living in {p['residence']}"
        return bio + "."

    @classmethod
    def load_specification(cls, path_or_dict: str | Path | dict[str, Any],
                           new_agent_name: str | None = None, **_ignored: Any) -> TinyPerson:
        """Create an agent from a TinyTroupe ``.agent.json`` spec, keeping every field."""
        spec = read_specification(path_or_dict)
        persona = spec["persona"]
        agent = cls(new_agent_name or persona["name"])
        try:
            with agent._lock:
                agent._persona = copy.deepcopy(persona)
                agent._persona["name"] = agent.name
                agent._prompt_version += 1
        except BaseException:
            agent.unregister()  # a retry with a good file must find the name free
            raise
        return agent

    @classmethod
    def load_specifications_from_folder(cls, folder: str | Path) -> list[TinyPerson]:
        return [cls.load_specification(p) for p in sorted(Path(folder).glob("*.agent.json"))]

    def save_specification(self, path: str | Path, **_ignored: Any) -> None:
        spec = {"type": "TinyPerson", "persona": self._persona}
        Path(path).write_text(json.dumps(spec, indent=4, ensure_ascii=False), encoding="utf-8")

    # --- accessibility --------------------------------------------------------------

    def make_agent_accessible(self, agent: TinyPerson,
                              relation_description: str = _DEFAULT_RELATION) -> None:
        with self._lock:
            if agent is not self and agent not in self.accessible_agents:
                self.accessible_agents.append(agent)
            self._relations[agent.name] = relation_description
            self._prompt_version += 1

    def make_agents_accessible(self, agents: list[TinyPerson],
                               relation_description: str = _DEFAULT_RELATION) -> None:
        for agent in agents:
            self.make_agent_accessible(agent, relation_description)

    def make_agent_inaccessible(self, agent: TinyPerson) -> None:
        with self._lock:
            if agent in self.accessible_agents:
                self.accessible_agents.remove(agent)
            self._relations.pop(agent.name, None)
            self._prompt_version += 1

    def make_all_agents_inaccessible(self) -> None:
        with self._lock:
            self.accessible_agents.clear()
            self._relations.clear()
            self._prompt_version += 1

    # --- perception -----------------------------------------------------------------

    def _check_local(self) -> None:
        if self._moved_to is not None:
            raise RuntimeError(
                f"{self.name} now lives on a Ray actor of world {self._moved_to!r}; use "
                f"world.get_agent_by_name({self.name!r}) instead of the original object")

    def _observe(self, kind: str, content: str, source: Any = None) -> TinyPerson:
        self._check_local()
        source_name = sanitize.clean_text(str(getattr(source, "name", source) or ""))
        stimulus = {"type": kind, "content": sanitize.clean_text(str(content)),
                    "source": source_name}
        with self._lock:
            self.episodic_memory.store({
                "role": "user", "content": {"stimuli": [stimulus]}, "type": "stimulus",
                "simulation_timestamp": self._mental_state["datetime"],
            })
        if TinyPerson.communication_display:
            show_stimulus(self.name, stimulus)
        return self

    def listen(self, speech: str, source: Any = None) -> TinyPerson:
        return self._observe("CONVERSATION", speech, source)

    def see(self, description: str, source: Any = None) -> TinyPerson:
        return self._observe("VISUAL", description, source)

    def think(self, thought: str) -> TinyPerson:
        return self._observe("THOUGHT", thought)

    def internalize_goal(self, goal: str) -> TinyPerson:
        return self._observe("INTERNAL_GOAL_FORMULATION", goal)

    def socialize(self, social_description: str, source: Any = None) -> TinyPerson:
        return self._observe("SOCIAL", social_description, source)

    def listen_and_act(self, speech: str, return_actions: bool = False, n: int | None = None,
                       source: Any = None) -> list[dict[str, str]] | None:
        return self.listen(speech, source).act(return_actions=return_actions, n=n)

    def see_and_act(self, description: str, return_actions: bool = False,
                    n: int | None = None) -> list[dict[str, str]] | None:
        return self.see(description).act(return_actions=return_actions, n=n)

    def think_and_act(self, thought: str, return_actions: bool = False,
                      n: int | None = None) -> list[dict[str, str]] | None:
        return self.think(thought).act(return_actions=return_actions, n=n)

    # --- mental state ---------------------------------------------------------------

    def change_context(self, context: list[str] | str) -> None:
        with self._lock:
            self._mental_state["context"] = context if isinstance(context, list) else [context]

    def _set_datetime(self, value: Any) -> None:
        with self._lock:
            self._mental_state["datetime"] = None if value is None else str(value)

    # --- acting ---------------------------------------------------------------------

    def act(self, until_done: bool = True, n: int | None = None, return_actions: bool = False,
            **_ignored: Any) -> list[dict[str, str]] | None:
        """Ask the LLM what to do; remember, buffer (and display) the actions.

        With `n`, take at most `n` actions; otherwise with `until_done`, keep asking
        until a DONE action or `MAX_ACTIONS_BEFORE_DONE`; else make one LLM call.
        The actions of one `act()` are committed together at its end (memory, buffer,
        mental state), so an `act()` that raises an `LLMError` (model unreachable,
        answer malformed after repairs) leaves no trace of itself.
        """
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
            self._commit(taken, state)
        return taken if return_actions else None

    def _next_actions(self, taken: list[dict[str, str]]
                      ) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """One model answer, parsed; malformed answers are asked again with the error shown."""
        return ask_structured(self._messages(taken), ActionDocument, name="agent_actions",
                              user=self.name, parse=parse_actions)

    def _messages(self, taken: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
        """The request: persona, recent memory, then this act's actions so far."""
        with self._lock:
            persona_json, accessible_json = self._prompt_parts()
            system = prompts.system_message_from_json(persona_json, accessible_json,
                                                      self._mental_state)
            episodes = self.episodic_memory.recent_messages()
        episodes += [prompts.episode_message(self._action_episode(a)) for a in taken or ()]
        return prompts.act_messages(system, episode_messages=episodes)

    def _prompt_parts(self) -> tuple[str, str]:
        """Persona and contacts as JSON, re-serialised only when they changed.

        They are in every prompt, and with hundreds of contacts serialising them per
        turn would cost more than the rest of the turn. Persona changes go through
        `define`/loading and the accessibility methods, which bump `_prompt_version`
        (a list assigned to, or appended to, `accessible_agents` is noticed too).
        """
        key = (self._prompt_version, id(self.accessible_agents), len(self.accessible_agents))
        if self._prompt_cache is None or self._prompt_cache[0] != key:
            accessible = [{"name": a.name, "relation": self._relations.get(a.name, "")}
                          for a in self.accessible_agents]
            self._prompt_cache = (key, prompts.to_json(self._persona),
                                  prompts.to_json(accessible))
        return self._prompt_cache[1], self._prompt_cache[2]

    def _action_episode(self, action: dict[str, str]) -> dict[str, Any]:
        return {"role": "assistant", "content": {"action": action}, "type": "action",
                "simulation_timestamp": self._mental_state["datetime"]}

    def _commit(self, actions: list[dict[str, str]], state: dict[str, Any]) -> bool:
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
                for key in ("goals", "attention", "emotions"):
                    if key in state:
                        self._mental_state[key] = state[key]
        if TinyPerson.communication_display:
            for action in actions:
                show_action(self.name, action)
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
            })

    def decode_complete_state(self, state: dict[str, Any]) -> TinyPerson:
        """Restore the state from `encode_complete_state` (accessible agents by name)."""
        state = copy.deepcopy(state)
        with self._lock:
            self._persona = state["persona"]
            self._persona["name"] = self.name
            self._prompt_version += 1
            self._mental_state = state["mental_state"]
            self.episodic_memory = EpisodicMemory.decode(state["episodic_memory"])
            self._actions_buffer = []  # undelivered actions belong to no saved state
            self.accessible_agents, self._relations = [], {}
            for entry in state.get("accessible_agents", []):
                other = TinyPerson.all_agents.get(entry["name"]) or AgentRef(entry["name"])
                self.make_agent_accessible(other, entry.get("relation") or _DEFAULT_RELATION)
        return self
