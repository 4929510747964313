"""Read the example specifications shipped with the package, by name (TinyTroupe's API).

Agents live in ``agents/<name>.agent.json`` and fragments in
``fragments/<name>.fragment.json``. As in TinyTroupe, a fragment's name keeps the
``.agent`` part of its file name: ``fragments/leftwing.agent.fragment.json`` is
``"leftwing.agent"``. The specifications come back as plain dicts, ready for
`TinyPerson.load_specification()`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "list_example_agents",
    "list_example_fragments",
    "load_example_agent_specification",
    "load_example_fragment_specification",
]

_EXAMPLES_FOLDER = Path(__file__).resolve().parent
_AGENTS_FOLDER = _EXAMPLES_FOLDER / "agents"
_FRAGMENTS_FOLDER = _EXAMPLES_FOLDER / "fragments"
_AGENT_SUFFIX = ".agent.json"
_FRAGMENT_SUFFIX = ".fragment.json"


def _names(folder: Path, suffix: str) -> list[str]:
    """The names of the files in `folder` ending with `suffix`, suffix removed, sorted."""
    return sorted(path.name[: -len(suffix)] for path in folder.iterdir()
                  if path.is_file() and path.name.endswith(suffix) and path.name != suffix)


def _load(folder: Path, suffix: str, name: str, kind: str) -> dict[str, Any]:
    """The JSON object in ``folder/<name><suffix>`` (a new dict on every call)."""
    if (not isinstance(name, str) or not name.strip() or name in (".", "..")
            or "/" in name or "\\" in name):
        raise ValueError(f"an example {kind} name is a plain name such as "
                         f"{_names(folder, suffix)[0]!r}, not {name!r}")
    path = folder / f"{name}{suffix}"
    if not path.is_file():
        raise FileNotFoundError(f"no example {kind} named {name!r} (expected {path}); "
                                f"available: {', '.join(_names(folder, suffix))}")
    return json.loads(path.read_text(encoding="utf-8"))


def load_example_agent_specification(name: str) -> dict[str, Any]:
    """The specification in ``agents/<name>.agent.json``, e.g. ``"Oscar"``.

    Raises `FileNotFoundError` for an unknown name and `ValueError` for a name that
    is a path rather than a plain name.
    """
    return _load(_AGENTS_FOLDER, _AGENT_SUFFIX, name, "agent")


def load_example_fragment_specification(name: str) -> dict[str, Any]:
    """The fragment in ``fragments/<name>.fragment.json``, e.g. ``"leftwing.agent"``.

    Raises `FileNotFoundError` for an unknown name and `ValueError` for a name that
    is a path rather than a plain name.
    """
    return _load(_FRAGMENTS_FOLDER, _FRAGMENT_SUFFIX, name, "fragment")


def list_example_agents() -> list[str]:
    """The names `load_example_agent_specification()` accepts, sorted."""
    return _names(_AGENTS_FOLDER, _AGENT_SUFFIX)


def list_example_fragments() -> list[str]:
    """The names `load_example_fragment_specification()` accepts, sorted."""
    return _names(_FRAGMENTS_FOLDER, _FRAGMENT_SUFFIX)
