"""TinyPerson: persona, perception, acting on the offline model, state, thread safety."""

from __future__ import annotations

import json
import threading

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import PersonaSpecError, TinyPerson
from tinytroupe.clients.errors import LLMOutputError

UPSTREAM = ["Lisa", "Oscar", "Marcos"]


def test_names_are_unique_process_wide() -> None:
    TinyPerson("Ann")
    with pytest.raises(ValueError, match="already in use"):
        TinyPerson("Ann")
    assert TinyPerson.get_agent_by_name("Ann") is TinyPerson.all_agents["Ann"]
    TinyPerson.clear_agents()
    TinyPerson("Ann")


def test_define_get_and_minibio() -> None:
    agent = TinyPerson("Joe").define("age", 41).define("occupation", {"title": "Baker"})
    agent.define("nationality", "Irish").define("residence", "Cork")
    assert agent.get("age") == 41
    assert agent.minibio(extended=False) == (
        "Joe is a 41 year old Baker, Irish, currently living in Cork.")
    assert agent.get("occupation.title") == "Baker"
    extended = agent.minibio()  # a model call (here: the offline model), made once
    assert extended.startswith("Joe is a 41 year old Baker") and len(extended) > 60
    assert agent.minibio() == extended


@pytest.mark.parametrize("name", UPSTREAM)
def test_upstream_specs_load_and_round_trip_every_field(name: str, tmp_path,
                                                       upstream_personas) -> None:
    path = upstream_personas / f"{name}.agent.json"
    original = json.loads(path.read_text())
    agent = TinyPerson.load_specification(path)
    assert agent.name == original["persona"]["name"]
    assert agent._persona == original["persona"]
    out = tmp_path / "copy.agent.json"
    agent.save_specification(out)
    TinyPerson.clear_agents()
    again = TinyPerson.load_specification(out)
    assert again._persona == original["persona"]


def test_load_specifications_from_folder_loads_all(upstream_personas) -> None:
    agents = TinyPerson.load_specifications_from_folder(upstream_personas)
    assert sorted(a.name for a in agents) == sorted(
        json.loads((upstream_personas / f"{n}.agent.json").read_text())["persona"]["name"]
        for n in UPSTREAM)


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not valid JSON"),
    ('{"type": "TinyPerson", "persona": {"age": 3}}', "persona.name"),
    ('{"type": "TinyWorld", "persona": {"name": "X"}}', "type"),
    ('["a list"]', "expected a JSON object"),
])
def test_bad_persona_files_name_the_file_and_the_problem(tmp_path, content, expected) -> None:
    path = tmp_path / "bad.agent.json"
    path.write_text(content)
    with pytest.raises(PersonaSpecError) as caught:
        TinyPerson.load_specification(path)
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_perception_is_stored_as_stimuli() -> None:
    agent, other = TinyPerson("Eve"), TinyPerson("Bob")
    agent.listen("hello", source=other)
    agent.see("a red door")
    agent.think("hmm")
    agent.internalize_goal("buy bread")
    agent.socialize("Bob waves", source=other)
    kinds = [(e["content"]["stimuli"][0]["type"], e["content"]["stimuli"][0]["source"])
             for e in agent.episodic_memory.retrieve_all()]
    assert kinds == [("CONVERSATION", "Bob"), ("VISUAL", ""), ("THOUGHT", ""),
                     ("INTERNAL_GOAL_FORMULATION", ""), ("SOCIAL", "Bob")]


def test_act_on_the_offline_model_answers_whoever_spoke() -> None:
    agent, bob = TinyPerson("Eve"), TinyPerson("Bob")
    agent.make_agent_accessible(bob)
    contents = agent.listen_and_act("Do you like tea?", return_actions=True, source=bob)
    assert all(set(c) == {"action", "cognitive_state"} for c in contents)  # upstream's shape
    assert set(contents[0]["cognitive_state"]) == {"goals", "context", "attention", "emotions"}
    actions = [c["action"] for c in contents]
    assert [a["type"] for a in actions] == ["THINK", "TALK", "DONE"]
    assert actions[1]["target"] == "Bob"
    assert agent.pop_latest_actions() == actions
    assert agent.pop_latest_actions() == []
    remembered = [e["content"]["action"] for e in agent.episodic_memory.retrieve_all()
                  if e["role"] == "assistant"]
    assert remembered == actions


def test_act_with_n_takes_at_most_n_actions() -> None:
    agent = TinyPerson("Eve")
    assert len(agent.think_and_act("I wonder", return_actions=True, n=1)) == 1


def test_max_actions_before_done_stops_a_model_that_never_says_done(monkeypatch) -> None:
    from tinytroupe.clients import Completion

    class Chatty:
        def complete(self, messages, **params):
            return Completion(json.dumps({"action": {"type": "THINK", "content": "more"}}))

    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: Chatty())
    config_manager.set("max_actions_before_done", 4)
    assert len(TinyPerson("Eve").act(return_actions=True)) == 4


def test_malformed_output_is_retried_then_reported(monkeypatch) -> None:
    from tinytroupe.clients import Completion
    calls = []

    class Broken:
        def complete(self, messages, **params):
            calls.append(messages)
            return Completion('{"actions": [')

    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: Broken())
    config_manager.set("max_output_repair_attempts", 2)
    with pytest.raises(LLMOutputError, match="Eve"):
        TinyPerson("Eve").act()
    assert len(calls) == 3
    assert "invalid" in calls[-1][-1]["content"]


def test_accessibility() -> None:
    a, b, c = TinyPerson("A"), TinyPerson("B"), TinyPerson("C")
    a.make_agents_accessible([b, c, a])
    assert a.accessible_agents == [b, c]
    a.make_agent_inaccessible(b)
    assert a.accessible_agents == [c]
    a.make_all_agents_inaccessible()
    assert a.accessible_agents == []


def test_complete_state_round_trips_through_json() -> None:
    a, b = TinyPerson("A").define("age", 30), TinyPerson("B")
    a.make_agent_accessible(b, "my neighbour")
    a.listen("hi", source=b)
    a.act()
    state = json.loads(json.dumps(a.encode_complete_state()))
    TinyPerson.clear_agents()
    b2 = TinyPerson("B")
    restored = TinyPerson("A").decode_complete_state(state)
    assert restored.encode_complete_state() == state
    assert restored.accessible_agents == [b2]


def test_concurrent_listens_lose_no_entry() -> None:
    agent, speakers = TinyPerson("Hub"), [TinyPerson(f"S{i}") for i in range(50)]

    def talk(speaker: TinyPerson) -> None:
        for i in range(200):
            agent.listen(f"{speaker.name}:{i}", source=speaker)

    threads = [threading.Thread(target=talk, args=(s,)) for s in speakers]
    actor = threading.Thread(target=lambda: [agent.act() for _ in range(20)])
    for t in [*threads, actor]:
        t.start()
    for t in [*threads, actor]:
        t.join(timeout=50)
    heard = [s["content"] for e in agent.episodic_memory.retrieve_all() if e["role"] == "user"
             for s in e["content"]["stimuli"]]
    assert sorted(heard) == sorted(f"S{k}:{i}" for k in range(50) for i in range(200))


def test_prompt_reflects_persona_and_contact_changes() -> None:
    agent, bob, cleo = TinyPerson("Eve"), TinyPerson("Bob"), TinyPerson("Cleo")

    def system_prompt() -> str:
        return agent.current_messages[0]["content"]

    assert "Bob" not in system_prompt()
    agent.make_agent_accessible(bob, "my brother")
    assert "my brother" in system_prompt()
    agent.define("occupation", "pilot")
    assert "pilot" in system_prompt()
    agent.accessible_agents.append(cleo)  # direct list edits are noticed too
    assert "Cleo" in system_prompt()
    agent.make_all_agents_inaccessible()
    assert "Bob" not in system_prompt() and "Cleo" not in system_prompt()


def test_loading_a_folder_is_all_or_nothing(tmp_path) -> None:
    good = {"type": "TinyPerson", "persona": {"name": "Ana Good"}}
    (tmp_path / "a.agent.json").write_text(json.dumps(good), encoding="utf-8")
    (tmp_path / "b.agent.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(PersonaSpecError, match=r"b\.agent\.json"):
        TinyPerson.load_specifications_from_folder(tmp_path)
    assert "Ana Good" not in TinyPerson.all_agents  # a retry finds the name free
    (tmp_path / "b.agent.json").unlink()
    assert [a.name for a in TinyPerson.load_specifications_from_folder(tmp_path)] == ["Ana Good"]


def test_the_offline_model_ignores_a_malformed_generation_tag() -> None:
    from tinytroupe.clients import offline_personas

    bad = [{"role": "user", "content": "<persona_request>{oops</persona_request>"}]
    assert offline_personas.answer(bad) is None


def test_upstreams_counters_count_actions_and_stimuli() -> None:
    agent = TinyPerson("Counted")
    agent.listen("Hello")
    agent.think("Hmm")
    actions = agent.act(return_actions=True)
    assert agent.stimuli_count == 2 and agent.actions_count == len(actions) > 0
