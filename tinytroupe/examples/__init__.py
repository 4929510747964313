"""Example personas shipped with the package: a small, diverse focus group.

The ``agents/`` folder holds six ``.agent.json`` specifications (TinyTroupe's format)
written for this project: a retired teacher, a nurse, a student, a bakery owner, a
software engineer and a farmer. `load_example_agents()` turns them into agents;
`python -m tinytroupe demo` runs them as a focus group.
"""

from __future__ import annotations

from pathlib import Path

from tinytroupe.agent import TinyPerson
from tinytroupe.agent.persona import read_specification

__all__ = ["example_agent_files", "example_agents_folder", "load_example_agents"]

_AGENTS_FOLDER = Path(__file__).resolve().with_name("agents")


def example_agents_folder() -> Path:
    """The folder holding the example ``*.agent.json`` files (package data)."""
    return _AGENTS_FOLDER


def example_agent_files() -> list[Path]:
    """The example specification files, ordered by the persona name they define."""
    files = list(example_agents_folder().glob("*.agent.json"))
    return sorted(files, key=lambda path: read_specification(path)["persona"]["name"])


def load_example_agents() -> list[TinyPerson]:
    """Create one `TinyPerson` per example file, in persona-name order.

    Agent names are unique per process, so calling this twice without
    `TinyPerson.clear_agents()` (or `tinytroupe.control.reset()`) in between raises
    `ValueError`. A malformed file raises `PersonaSpecError` naming it.
    """
    return [TinyPerson.load_specification(path) for path in example_agent_files()]
