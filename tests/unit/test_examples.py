"""Tests for tinytroupe.examples: the shipped focus-group personas."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tinytroupe.examples
from tinytroupe.agent import TinyPerson
from tinytroupe.examples import (
    create_lila_the_linguist,
    create_lila_the_linguist_2,
    create_lisa_the_data_scientist,
    create_lisa_the_data_scientist_2,
    create_marcos_the_physician,
    create_marcos_the_physician_2,
    create_oscar_the_architect,
    create_oscar_the_architect_2,
    example_agent_files,
    example_agents_folder,
    list_example_agents,
    list_example_fragments,
    load_example_agent_specification,
    load_example_agents,
    load_example_fragment_specification,
)

#: The focus group of `load_example_agents()` and the demo, in persona-name order.
FOCUS_GROUP = ["Amara Okafor", "Diego Ramirez", "Helen Brandt", "Priya Nair", "Samuel Mwangi",
               "Tomasz Wojcik"]
FOCUS_GROUP_FILES = ["amara_okafor.agent.json", "diego_ramirez.agent.json",
                     "helen_brandt.agent.json", "priya_nair.agent.json",
                     "samuel_mwangi.agent.json", "tomasz_wojcik.agent.json"]

#: TinyTroupe's example agents: file stem -> (name in the file, occupation title,
#: function loading the file, function building the agent with `define`).
CLASSIC: dict[str, tuple[str, str, Callable[[], TinyPerson], Callable[[], TinyPerson]]] = {
    "Lisa": ("Lisa Carter", "Data Scientist", create_lisa_the_data_scientist,
             create_lisa_the_data_scientist_2),
    "Oscar": ("Oscar", "Architect", create_oscar_the_architect, create_oscar_the_architect_2),
    "Marcos": ("Marcos Almeida", "Family Physician", create_marcos_the_physician,
               create_marcos_the_physician_2),
    "Lila": ("Lila", "Linguist", create_lila_the_linguist, create_lila_the_linguist_2),
}

FRAGMENTS = ["leftwing.agent", "libertarian.agent", "rightwing.agent"]

#: Every field and nesting of TinyTroupe's example ``.agent.json`` personas: a dict
#: shape must match key for key, ``[shape]`` is a non-empty list of that shape.
PERSONA_SHAPE: dict[str, Any] = {
    "name": str, "age": int, "gender": str, "nationality": str, "residence": str,
    "education": str, "long_term_goals": [str],
    "occupation": {"title": str, "organization": str, "description": str},
    "style": str,
    "personality": {"traits": [str], "big_five": dict.fromkeys(
        ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"], str)},
    "preferences": {"interests": [str], "likes": [str], "dislikes": [str]},
    "skills": [str], "beliefs": [str],
    "behaviors": {"general": [str], "routines": {
        key: [str] for key in ["morning", "workday", "evening", "weekend"]}},
    "health": str,
    "relationships": [{"name": str, "description": str}],
    "other_facts": [str],
}

EXPORTS = {
    "create_lila_the_linguist", "create_lila_the_linguist_2",
    "create_lisa_the_data_scientist", "create_lisa_the_data_scientist_2",
    "create_marcos_the_physician", "create_marcos_the_physician_2",
    "create_oscar_the_architect", "create_oscar_the_architect_2",
    "load_example_agent_specification", "load_example_fragment_specification",
    "list_example_agents", "list_example_fragments",
    "example_agent_files", "example_agents_folder", "load_example_agents",
}

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
    assert sorted(p.name for p in folder.glob("*.agent.json")) == sorted(
        FOCUS_GROUP_FILES + [f"{stem}.agent.json" for stem in CLASSIC])


def test_focus_group_is_the_six_demo_personas() -> None:
    files = example_agent_files()
    assert sorted(p.name for p in files) == FOCUS_GROUP_FILES
    assert all(p.parent == example_agents_folder() for p in files)
    assert [a.name for a in load_example_agents()] == FOCUS_GROUP


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


def _check_shape(value: Any, shape: Any, where: str, partial: bool = False) -> None:
    """Assert `value` has `shape` (see PERSONA_SHAPE); `partial` allows missing keys."""
    if isinstance(shape, dict):
        assert isinstance(value, dict), where
        if partial:
            assert value and value.keys() <= shape.keys(), f"{where}: {sorted(value)}"
        else:
            assert list(value) == list(shape), f"{where}: {list(value)}"
        for key, item in value.items():
            _check_shape(item, shape[key], f"{where}.{key}", partial)
    elif isinstance(shape, list):
        assert isinstance(value, list) and value, f"{where} is an empty list"
        for index, item in enumerate(value):
            _check_shape(item, shape[0], f"{where}[{index}]", partial)
    else:
        assert isinstance(value, shape) and not isinstance(value, bool), where
        if shape is str:
            assert value.strip() == value and value, f"{where} is blank or padded"


def _spec(stem: str) -> dict[str, Any]:
    return json.loads((example_agents_folder() / f"{stem}.agent.json").read_text(encoding="utf-8"))


# --- TinyTroupe's example agents: Lisa, Oscar, Marcos, Lila --------------------------------

@pytest.mark.parametrize("stem", CLASSIC)
def test_classic_files_have_tinytroupes_exact_format(stem: str) -> None:
    spec = _spec(stem)
    assert list(spec) == ["type", "persona"]
    assert spec["type"] == "TinyPerson"
    _check_shape(spec["persona"], PERSONA_SHAPE, f"{stem}.persona")
    name, title, _, _ = CLASSIC[stem]
    assert spec["persona"]["name"] == name
    assert spec["persona"]["occupation"]["title"] == title
    assert 18 <= spec["persona"]["age"] <= 100


@pytest.mark.parametrize("stem", CLASSIC)
def test_create_functions_load_every_field_of_the_file(stem: str) -> None:
    name, title, create, _ = CLASSIC[stem]
    agent = create()
    assert isinstance(agent, TinyPerson)
    assert agent.name == name
    assert TinyPerson.get_agent_by_name(name) is agent
    persona = _spec(stem)["persona"]
    for field, value in persona.items():
        assert agent.get(field) == value, field
    assert agent.get("occupation")["title"] == title


@pytest.mark.parametrize("stem", CLASSIC)
def test_create_functions_make_a_new_agent_each_time(stem: str) -> None:
    _, _, create, create_2 = CLASSIC[stem]
    for make in (create, create_2):
        first = make()
        with pytest.raises(ValueError, match="already in use"):
            make()
        TinyPerson.clear_agents()
        second = make()
        assert second is not first and second.name == first.name
        TinyPerson.clear_agents()


@pytest.mark.parametrize("stem", CLASSIC)
def test_programmatic_variants_build_the_same_person_with_define(
        stem: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    define = TinyPerson.define

    def recording_define(self: TinyPerson, *args: Any, **kwargs: Any) -> TinyPerson:
        calls.append((args, kwargs))
        return define(self, *args, **kwargs)

    monkeypatch.setattr(TinyPerson, "define", recording_define)
    _, title, _, create_2 = CLASSIC[stem]
    agent = create_2()
    assert isinstance(agent, TinyPerson)
    assert agent.name == stem, "the _2 variants use first names"
    assert calls and all(len(args) == 2 and not kwargs for args, kwargs in calls)
    defined = [args[0] for args, _ in calls]
    assert len(defined) == len(set(defined)), "each field defined once"
    assert set(defined) <= PERSONA_SHAPE.keys()
    assert {"age", "nationality", "occupation", "behaviors", "personality", "preferences",
            "skills", "relationships"} <= set(defined)

    persona = _spec(stem)["persona"]
    for field in ("age", "nationality", "residence"):
        assert agent.get(field) == persona[field], field
    occupation = agent.get("occupation")
    _check_shape(occupation, PERSONA_SHAPE["occupation"], "occupation")
    assert occupation["title"] == title
    assert occupation["organization"] == persona["occupation"]["organization"]
    _check_shape(agent.get("personality"), PERSONA_SHAPE["personality"], "personality",
                 partial=True)
    _check_shape(agent.get("preferences"), PERSONA_SHAPE["preferences"], "preferences",
                 partial=True)
    _check_shape(agent.get("behaviors"), PERSONA_SHAPE["behaviors"], "behaviors", partial=True)
    _check_shape(agent.get("skills"), PERSONA_SHAPE["skills"], "skills")
    _check_shape(agent.get("relationships"), PERSONA_SHAPE["relationships"], "relationships")


def test_file_and_programmatic_versions_share_names_only_when_the_file_does() -> None:
    lisa, short_lisa = create_lisa_the_data_scientist(), create_lisa_the_data_scientist_2()
    assert (lisa.name, short_lisa.name) == ("Lisa Carter", "Lisa")
    marcos, short_marcos = create_marcos_the_physician(), create_marcos_the_physician_2()
    assert (marcos.name, short_marcos.name) == ("Marcos Almeida", "Marcos")
    create_oscar_the_architect()
    with pytest.raises(ValueError, match="already in use"):
        create_oscar_the_architect_2()
    create_lila_the_linguist_2()
    with pytest.raises(ValueError, match="already in use"):
        create_lila_the_linguist()


def test_classic_agents_are_not_in_the_focus_group() -> None:
    classic = [create() for _, _, create, _ in CLASSIC.values()]
    focus_group = load_example_agents()
    assert not {a.name for a in classic} & {a.name for a in focus_group}
    assert len(focus_group) == 6


# --- the namespace and the loaders -------------------------------------------------------

def test_star_import_exports_every_function() -> None:
    namespace: dict[str, Any] = {}
    exec("from tinytroupe.examples import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == EXPORTS == set(tinytroupe.examples.__all__)
    assert all(callable(value) for value in namespace.values())
    assert namespace["create_oscar_the_architect"] is create_oscar_the_architect


def test_submodules_have_tinytroupes_layout() -> None:
    from tinytroupe.examples import agents, loaders

    assert set(agents.__all__) == {name for name in EXPORTS if name.startswith("create_")}
    assert set(loaders.__all__) == {
        "load_example_agent_specification", "load_example_fragment_specification",
        "list_example_agents", "list_example_fragments"}


def test_list_example_agents_names_every_loadable_file() -> None:
    names = list_example_agents()
    assert names == sorted(names)
    assert set(names) == set(CLASSIC) | {f.removesuffix(".agent.json") for f in FOCUS_GROUP_FILES}
    for name in names:
        spec = load_example_agent_specification(name)
        assert spec["type"] == "TinyPerson" and spec["persona"]["name"]


def test_load_example_agent_specification_returns_a_fresh_dict() -> None:
    spec = load_example_agent_specification("Oscar")
    assert spec == _spec("Oscar")
    spec["persona"]["name"] = "Changed"
    assert load_example_agent_specification("Oscar")["persona"]["name"] == "Oscar"
    agent = TinyPerson.load_specification(load_example_agent_specification("Lila"))
    assert agent.name == "Lila"


def test_list_example_fragments_keeps_tinytroupes_naming() -> None:
    assert list_example_fragments() == FRAGMENTS
    folder = example_agents_folder().with_name("fragments")
    assert sorted(p.name for p in folder.glob("*.json")) == [
        f"{name}.fragment.json" for name in FRAGMENTS]


@pytest.mark.parametrize("name", FRAGMENTS)
def test_fragments_are_partial_personas(name: str) -> None:
    spec = load_example_fragment_specification(name)
    assert list(spec) == ["type", "persona"]
    assert spec["type"] == "Fragment"
    persona = spec["persona"]
    assert "name" not in persona
    _check_shape(persona, PERSONA_SHAPE, f"{name}.persona", partial=True)
    assert {"preferences", "beliefs", "behaviors", "other_facts"} <= persona.keys()


def test_fragments_differ_from_each_other() -> None:
    beliefs = [frozenset(load_example_fragment_specification(n)["persona"]["beliefs"])
               for n in FRAGMENTS]
    assert len(set(beliefs)) == len(FRAGMENTS)
    assert not beliefs[0] & beliefs[1] and not beliefs[1] & beliefs[2]


@pytest.mark.parametrize("load, name, available", [
    (load_example_agent_specification, "Nobody", "Oscar"),
    (load_example_agent_specification, "oscar.agent", "Oscar"),
    (load_example_fragment_specification, "leftwing", "leftwing.agent"),
])
def test_unknown_names_raise_file_not_found(load: Callable[[str], dict[str, Any]], name: str,
                                            available: str) -> None:
    with pytest.raises(FileNotFoundError, match=repr(name)) as caught:
        load(name)
    assert available in str(caught.value)


@pytest.mark.parametrize("load", [load_example_agent_specification,
                                  load_example_fragment_specification])
@pytest.mark.parametrize("name", ["", "  ", ".", "..", "../agents/Oscar", "agents/Oscar",
                                  "..\\agents\\Oscar", "/etc/passwd"])
def test_path_like_names_are_rejected(load: Callable[[str], dict[str, Any]], name: str) -> None:
    with pytest.raises(ValueError, match="plain name"):
        load(name)


def test_pyproject_ships_every_example_file_as_package_data() -> None:
    tomllib = pytest.importorskip("tomllib")
    package = Path(tinytroupe.examples.__file__).resolve().parents[1]
    pyproject = package.parent / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not a source checkout")
    patterns = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["tinytroupe"]
    data = [p.relative_to(package).as_posix()
            for folder in ("agents", "fragments")
            for p in (package / "examples" / folder).iterdir()]
    assert len(data) == 13
    for path in data:
        assert any(fnmatch.fnmatch(path, pattern) for pattern in patterns), path
