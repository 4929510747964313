"""TinyPersonFactory on the offline model and on scripted answers."""

from __future__ import annotations

import json

import pytest

from tinytroupe import config_manager, control
from tinytroupe.agent import TinyPerson
from tinytroupe.agent.contacts import AgentRef
from tinytroupe.clients import Completion, OfflineClient
from tinytroupe.factory import PersonGenerationError, TinyPersonFactory

CONTEXT = "A focus group about a new e-bike subscription in Lisbon."


def population(n: int, parallelize: bool = True) -> list[dict]:
    people = TinyPersonFactory(CONTEXT).generate_people(n, parallelize=parallelize)
    return [p._persona for p in people]


@pytest.mark.parametrize("parallelize", [True, False])
def test_people_are_valid_unique_and_reproducible(parallelize: bool, tmp_path) -> None:
    first = population(12, parallelize)
    control.reset()
    assert population(12, parallelize) == first  # same answers, same population, same order
    names = [p["name"] for p in first]
    assert len(set(names)) == 12
    control.reset()
    for i, persona in enumerate(first):
        path = tmp_path / f"p{i}.agent.json"
        path.write_text(json.dumps({"type": "TinyPerson", "persona": persona}))
        assert TinyPerson.load_specification(path)._persona == persona


def test_unique_names_avoid_the_process_the_factory_and_names_given() -> None:
    factory = TinyPersonFactory(CONTEXT)
    TinyPerson("Ana Rossi")
    assert factory.unique_name("Ana Rossi") == "Ana Rossi 2"  # taken in the process
    factory.record_person(AgentRef("Remote One"), "a person on a Ray actor")
    assert factory.unique_name("Remote One") == "Remote One 2"  # made by this factory
    assert factory.unique_name("Bo Li", taken={"Bo Li", "Bo Li 2"}) == "Bo Li 3"
    batch = factory.plan_batch(2, existing=["Zed Remote"])  # e.g. a Ray world's agents
    for request in batch.requests.values():
        assert request["existing"][-1] == "Zed Remote" and "Ana Rossi" in request["existing"]


def test_generate_person_avoids_names_already_in_the_process() -> None:
    factory = TinyPersonFactory(CONTEXT)
    planned = factory.generate_people(3)
    again = TinyPersonFactory(CONTEXT).generate_people(3)  # same context, same plan...
    assert {p.name for p in planned}.isdisjoint({p.name for p in again})  # ...but new names
    single = factory.generate_person("likes cycling")
    assert single.name not in {p.name for p in planned + again}
    assert any("cycling" in fact for fact in single.get("other_facts"))


def test_parallel_agent_generation_is_the_default_of_generate_people() -> None:
    config_manager.set("parallel_agent_generation", False)
    factory = TinyPersonFactory(CONTEXT)
    assert len(factory.generate_people(3)) == 3
    assert factory.get_parallel_metrics()["total_parallel_steps"] == 0
    config_manager.set("parallel_agent_generation", True)
    factory.generate_people(3)
    assert factory.get_parallel_metrics()["total_parallel_steps"] == 1


class Scripted(OfflineClient):
    """Offline answers, except what `override(user, attempt)` returns instead."""

    def __init__(self, override) -> None:
        super().__init__()
        self.override, self.calls = override, []

    def complete(self, messages, **params):
        self.calls.append(params.get("user"))
        answer = self.override(params.get("user"), self.calls.count(params.get("user")))
        return Completion(answer) if answer is not None else super().complete(messages)


def use(monkeypatch, client) -> None:
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)


def test_a_name_clash_gets_a_numeric_suffix(monkeypatch) -> None:
    same = json.dumps({"type": "TinyPerson", "persona": {"name": "Ana Rossi", "age": 40}})
    use(monkeypatch, Scripted(lambda user, n: same if user != "plan" else None))
    people = TinyPersonFactory(CONTEXT).generate_people(3)
    assert [p.name for p in people] == ["Ana Rossi", "Ana Rossi 2", "Ana Rossi 3"]


def test_invalid_answers_are_repaired_then_reported(monkeypatch) -> None:
    def override(user, attempt):
        if user == "person-1":
            return '{"type": "TinyPerson", "persona": {"age": 30}}'  # never valid: no name
        if user == "person-2" and attempt == 1:
            return '{"persona": '  # invalid once, then fine
        return None

    client = Scripted(override)
    use(monkeypatch, client)
    factory = TinyPersonFactory(CONTEXT)
    people = factory.generate_people(4, attempts=2)  # upstream's argument: calls per person
    assert len(people) == 3
    assert client.calls.count("person-1") == 2 and client.calls.count("person-2") == 2
    [failure] = factory.get_failures()
    assert (failure["agent"], failure["error_type"]) == ("batch1/person-1", "LLMOutputError")
    assert "persona.name" in failure["message"]


def test_generate_person_failure_is_a_clear_error(monkeypatch) -> None:
    use(monkeypatch, Scripted(lambda user, n: "not json"))
    config_manager.set("max_output_repair_attempts", 0)
    with pytest.raises(PersonGenerationError, match="could not generate"):
        TinyPersonFactory(CONTEXT).generate_person()


def test_control_reset_clears_factories() -> None:
    TinyPersonFactory(CONTEXT)
    assert TinyPersonFactory.all_factories
    control.reset()
    assert TinyPersonFactory.all_factories == {}


def test_a_person_still_busy_from_a_timed_out_batch_does_not_shrink_the_next(
        monkeypatch) -> None:
    import threading

    release = threading.Event()
    first_call = []

    def override(user, attempt):
        if user == "person-1" and not first_call:
            first_call.append(1)
            release.wait(10)  # the first batch's person-1 hangs past the timeout
        return None

    use(monkeypatch, Scripted(override))
    config_manager.set("parallel_execution_timeout", 0.5)
    factory = TinyPersonFactory(CONTEXT)
    try:
        assert len(factory.generate_people(3)) == 2
        assert len(factory.generate_people(3)) == 3  # person-1 of batch 2 is not skipped
    finally:
        release.set()
    assert [f["agent"] for f in factory.get_failures()] == ["batch1/person-1"]


def test_a_failed_plan_is_reported_and_recorded(monkeypatch) -> None:
    use(monkeypatch, Scripted(lambda user, n: "[]" if user == "plan" else None))
    config_manager.set("max_output_repair_attempts", 0)
    factory = TinyPersonFactory(CONTEXT)
    with pytest.raises(PersonGenerationError, match="could not plan 4 people"):
        factory.generate_people(4)
    assert factory.get_failures()[0]["agent"] == "plan"
