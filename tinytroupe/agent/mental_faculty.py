"""Mental faculties: abilities an agent gains beyond talking and thinking.

A faculty adds actions to what the agent may do (their definitions and constraints go
into the agent's system prompt) and reacts to them: after an `act()` is committed,
each of its actions is offered to each faculty (`process_action`), which may give the
agent new stimuli (`agent.think(...)`, `agent.see(...)`), so the next turn sees what the
faculty found. `TinyPerson.add_mental_faculty` attaches one; faculties are part of the
agent's saved state (`to_state` / `faculty_from_state`, by class name).

Subclasses: `CustomMentalFaculty` (actions described in plain text, handled by a
function), and in their own modules `RecallFaculty`, `FilesAndWebGroundingFaculty`,
`TinyToolUse`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar


class TinyMentalFaculty:
    """A faculty (module doc). Subclasses override the three hooks and the state."""

    #: Faculty classes by name, for restoring saved agents.
    registry: ClassVar[dict[str, type[TinyMentalFaculty]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        TinyMentalFaculty.registry[cls.__name__] = cls

    def __init__(self, name: str, requires_faculties: list[str] | None = None) -> None:
        self.name = name
        self.requires_faculties = list(requires_faculties or [])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TinyMentalFaculty) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def process_action(self, agent: Any, action: dict[str, Any]) -> bool:
        """React to one of the agent's committed actions; True if it was this faculty's."""
        return False

    def actions_definitions_prompt(self) -> str:
        """The actions this faculty adds, as prompt text (empty: none)."""
        return ""

    def actions_constraints_prompt(self) -> str:
        """Rules for using those actions, as prompt text (empty: none)."""
        return ""

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable description of this faculty, for `faculty_from_state`."""
        return {"type": type(self).__name__, "name": self.name}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TinyMentalFaculty:
        """The faculty described by `state` (the inverse of `to_state`)."""
        return cls(state["name"])


def faculty_from_state(state: dict[str, Any]) -> TinyMentalFaculty:
    """A faculty restored from `TinyMentalFaculty.to_state()` (ValueError if unknown)."""
    kind = TinyMentalFaculty.registry.get(str(state.get("type")))
    if kind is None:
        raise ValueError(f"unknown mental faculty type {state.get('type')!r}")
    return kind.from_state(state)


def faculties_prompt(faculties: list[TinyMentalFaculty]) -> str:
    """The prompt text of the faculties' actions (definitions, then constraints)."""
    parts = [p for f in faculties for p in (f.actions_definitions_prompt(),
                                            f.actions_constraints_prompt()) if p]
    return "\n".join(parts)


class CustomMentalFaculty(TinyMentalFaculty):
    """A faculty defined by its actions' descriptions and, optionally, a handler.

    `actions_configs` maps an action type to ``{"description": ...}``; `constraints`
    lists rules; `action_handler(agent, action)` (if given) reacts to those actions.
    """

    def __init__(self, name: str, requires_faculties: list[str] | None = None,
                 actions_configs: dict[str, dict[str, str]] | None = None,
                 constraints: list[str] | None = None,
                 action_handler: Callable[[Any, dict[str, Any]], Any] | None = None) -> None:
        super().__init__(name, requires_faculties)
        self.actions_configs = dict(actions_configs or {})
        self.constraints = list(constraints or [])
        self.action_handler = action_handler

    def add_action(self, action_name: str, description: str) -> None:
        """Add (or replace) an action this faculty offers."""
        self.actions_configs[action_name.upper()] = {"description": description}

    def add_actions(self, actions: dict[str, str]) -> None:
        """Add several actions (`name -> description`)."""
        for name, description in actions.items():
            self.add_action(name, description)

    def add_action_constraint(self, constraint: str) -> None:
        """Add a rule for using the actions."""
        self.constraints.append(constraint)

    def add_actions_constraints(self, constraints: list[str]) -> None:
        """Add several rules."""
        self.constraints.extend(constraints)

    def process_action(self, agent: Any, action: dict[str, Any]) -> bool:
        """Hand one of this faculty's actions to `action_handler`."""
        if str(action.get("type", "")).upper() not in self.actions_configs:
            return False
        if self.action_handler is not None:
            self.action_handler(agent, action)
        return True

    def actions_definitions_prompt(self) -> str:
        """One line per action: ``TYPE: description``."""
        return "\n".join(f"{name}: {config.get('description', '')}"
                         for name, config in self.actions_configs.items())

    def actions_constraints_prompt(self) -> str:
        """One line per rule."""
        return "\n".join(f"- {c}" for c in self.constraints)

    def to_state(self) -> dict[str, Any]:
        """Name, actions and rules (a handler function is not saved)."""
        return {**super().to_state(), "actions_configs": self.actions_configs,
                "constraints": self.constraints}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CustomMentalFaculty:
        """The faculty of `state`, without a handler."""
        return cls(state["name"], actions_configs=state.get("actions_configs"),
                   constraints=state.get("constraints"))
