"""Tests for tinytroupe.examples: the shipped focus-group personas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tinytroupe.examples
from tinytroupe.agent import TinyPerson
from tinytroupe.examples import example_agent_files, example_agents_folder, load_example_agents

#: Persona fields every example must define, with the type each must have.
REQUIRED_FIELDS: dict[str, type] = {
    "name": str, "age": int, "gender": str, "nationality": str, "residence": str,
    "education": str, "occupation": dict, "style": str, "personality": dict,
    "preferences": dict, "skills": list, "beliefs": list, "behaviors": dict,
    "other_facts": list,
}


def _non_empty_strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, str) and item.strip() for item in value)


def test_folder_is_package_data() -> None:
    folder = example_agents_folder()
    assert folder.is_dir()
    assert folder.parent == Path(tinytroupe.examples.__file__).resolve().parent
    assert len(list(folder.glob("*.agent.json"))) == 6


def test_load_example_agents_gives_six_agents_with_unique_names_in_name_order() -> None:
    agents = load_example_agents()
    names = [agent.name for agent in agents]
    assert len(agents) == 6
    assert all(isinstance(agent, TinyPerson) for agent in agents)
    assert len(set(names)) == 6
    assert names == sorted(names)
    assert all(len(name.split()) >= 2 for name in names), "first and last name"


def test_loaded_agents_keep_their_persona_fields() -> None:
    agents = load_example_agents()
    for agent in agents:
        assert isinstance(agent.get("occupation"), dict)
        assert agent.get("preferences")["interests"]
        assert agent.minibio().startswith(f"{agent.name} is a {agent.get('age')} year old")


def test_loading_twice_needs_a_reset() -> None:
    load_example_agents()
    with pytest.raises(ValueError, match="already in use"):
        load_example_agents()


@pytest.mark.parametrize("path", example_agent_files(), ids=lambda p: p.name)
def test_every_file_has_the_required_fields(path: Path) -> None:
    spec = json.loads(path.read_text(encoding="utf-8"))
    assert spec["type"] == "TinyPerson"
    persona = spec["persona"]
    for field, kind in REQUIRED_FIELDS.items():
        assert isinstance(persona.get(field), kind), f"{path.name}: {field}"
        assert persona[field], f"{path.name}: {field} is empty"
    assert 18 <= persona["age"] <= 100
    assert {"title", "organization", "description"} <= persona["occupation"].keys()
    assert _non_empty_strings(persona["personality"]["traits"])
    for key in ("interests", "likes", "dislikes"):
        assert _non_empty_strings(persona["preferences"][key]), f"{path.name}: {key}"
    assert _non_empty_strings(persona["skills"])
    assert _non_empty_strings(persona["beliefs"])
    assert _non_empty_strings(persona["behaviors"]["general"])
    assert _non_empty_strings(persona["other_facts"])
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 50, "keep personas compact"


def test_examples_cover_distinct_occupations() -> None:
    titles = {json.loads(p.read_text(encoding="utf-8"))["persona"]["occupation"]["title"]
              for p in example_agent_files()}
    assert len(titles) == 6
