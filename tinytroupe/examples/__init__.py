"""Example personas shipped with the package.

The ``agents/`` folder holds ``.agent.json`` specifications (TinyTroupe's format),
all written for this project:

* six people forming a small, diverse focus group: a retired teacher, a nurse, a
  student, a bakery owner, a software engineer and a farmer. `load_example_agents()`
  turns them into agents; ``python -m tinytroupe demo`` runs them as a focus group.
* four agents under TinyTroupe's example names (``Lisa``, ``Oscar``, ``Marcos``,
  ``Lila``), created by the ``create_*`` functions of `tinytroupe.examples.agents`.

The ``fragments/`` folder holds persona fragments (``{"type": "Fragment", ...}``)
describing political leanings. `tinytroupe.examples.loaders` reads either kind by
name. Everything here is importable with ``from tinytroupe.examples import *``.
"""

from __future__ import annotations

from pathlib import Path

from tinytroupe.agent import TinyPerson
from tinytroupe.agent.persona import read_specification
from tinytroupe.examples import agents, loaders
from tinytroupe.examples.agents import *  # noqa: F403 - upstream's create_* functions
from tinytroupe.examples.loaders import *  # noqa: F403 - upstream's loaders

__all__ = [*agents.__all__, *loaders.__all__,
           "example_agent_files", "example_agents_folder", "load_example_agents"]

_AGENTS_FOLDER = Path(__file__).resolve().with_name("agents")

#: The focus group's files in ``agents/`` (the folder also holds Lisa, Oscar, Marcos
#: and Lila, which are not part of the demo).
_FOCUS_GROUP = ("amara_okafor", "diego_ramirez", "helen_brandt", "priya_nair",
                "samuel_mwangi", "tomasz_wojcik")


def example_agents_folder() -> Path:
    """The folder holding the example ``*.agent.json`` files (package data)."""
    return _AGENTS_FOLDER


def example_agent_files() -> list[Path]:
    """The focus group's six specification files, ordered by the persona name they define."""
    files = [example_agents_folder() / f"{stem}.agent.json" for stem in _FOCUS_GROUP]
    return sorted(files, key=lambda path: read_specification(path)["persona"]["name"])


def load_example_agents() -> list[TinyPerson]:
    """Create one `TinyPerson` per focus-group file, in persona-name order.

    Agent names are unique per process, so calling this twice without
    `TinyPerson.clear_agents()` (or `tinytroupe.control.reset()`) in between raises
    `ValueError`. A malformed file raises `PersonaSpecError` naming it.
    """
    return [TinyPerson.load_specification(path) for path in example_agent_files()]
