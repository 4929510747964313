"""TinyPersonValidator on the offline model: the interview, its prompts, many people at once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from tinytroupe.agent import TinyPerson
from tinytroupe.clients.errors import LLMRequestError
from tinytroupe.validation import TinyPersonValidator
from tinytroupe.validation import tiny_person_validator as validator_module
from tinytroupe.validation.tiny_person_validator import InterviewTurn, ValidationVerdict

EXPECTATIONS = "She should be a marine biologist who distrusts aquarium tourism."
SECRET_HOBBY = "restoring nineteenth-century harmoniums"


def biologist(name: str = "Maren") -> TinyPerson:
    person = TinyPerson(name).define("age", 38).define("occupation", {"title": "Biologist"})
    person.define("nationality", "Norwegian").define("residence", "Bergen")
    return person.define("hobbies", [SECRET_HOBBY])


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every structured call of the validator, recorded (then answered as usual)."""
    recorded: list[dict[str, Any]] = []
    real = validator_module.ask_structured

    def recording(messages, model, **kwargs):
        recorded.append({"messages": [dict(m) for m in messages], "model": model, **kwargs})
        return real(messages, model, **kwargs)

    monkeypatch.setattr(validator_module, "ask_structured", recording)
    return recorded


def all_text(call: dict[str, Any]) -> str:
    return "\n".join(str(m["content"]) for m in call["messages"])


def test_validate_person_returns_a_score_in_the_unit_interval_and_a_justification(
        calls: list[dict[str, Any]]) -> None:
    person = biologist()
    score, justification = TinyPersonValidator.validate_person(person, EXPECTATIONS)
    assert isinstance(score, float) and 0.0 <= score <= 1.0
    assert isinstance(justification, str) and justification.strip()
    models = [c["model"] for c in calls]
    assert models[-1] is ValidationVerdict and models.count(ValidationVerdict) == 1
    turns = models.count(InterviewTurn)
    assert 1 <= turns <= TinyPersonValidator.max_interview_turns
    assert all(c["user"] == "interviewer" for c in calls)
    # every block of questions asked was heard by the person, and its actions not left over
    asked = [m["content"] for m in calls[-1]["messages"] if m["role"] == "assistant"]
    assert asked and all(q in person.pretty_current_interactions() for q in asked)
    assert person.pop_latest_actions() == []


def test_the_verdict_is_the_same_for_the_same_person_and_conversation() -> None:
    first = TinyPersonValidator.validate_person(biologist("Ada"))
    TinyPerson.clear_agents()
    assert TinyPersonValidator.validate_person(biologist("Ada")) == first


def test_expectations_and_the_specification_reach_the_interviewer(
        calls: list[dict[str, Any]]) -> None:
    TinyPersonValidator.validate_person(biologist(), expectations=EXPECTATIONS,
                                        max_content_length=None)  # as upstream's scripts
    assert calls and all(EXPECTATIONS in c["messages"][0]["content"] for c in calls)
    assert all(c["messages"][0]["role"] == "system" for c in calls)
    assert all(SECRET_HOBBY in all_text(c) for c in calls)  # include_agent_spec=True


def test_without_expectations_the_prompt_has_no_expectations_section(
        calls: list[dict[str, Any]]) -> None:
    TinyPersonValidator.validate_person(biologist(), expectations=None)
    assert "expectations for this person" not in calls[0]["messages"][0]["content"]


def test_include_agent_spec_false_leaves_the_persona_out(calls: list[dict[str, Any]]) -> None:
    person = biologist()
    person.think(f"I spent the weekend {SECRET_HOBBY}.")  # the person may still say it
    TinyPersonValidator.validate_person(person, EXPECTATIONS, include_agent_spec=False)
    introduction = calls[0]["messages"][1]["content"]
    assert SECRET_HOBBY not in introduction and '"hobbies"' not in introduction
    assert person.minibio(extended=False) in introduction  # the one-sentence bio only
    assert SECRET_HOBBY not in all_text(calls[0])


def scripted_turns(monkeypatch: pytest.MonkeyPatch, done: list[bool]) -> list[str]:
    """Answer interview calls with `done` in turn (then not done); returns the models asked."""
    asked: list[str] = []
    flags = iter(done)

    def scripted(messages, model, **kwargs):
        asked.append(model.__name__)
        if model is InterviewTurn:
            return InterviewTurn(done=next(flags, False), questions=f"{len(asked)}. Why?")
        return ValidationVerdict(score=0.75, justification="Consistent answers.")

    monkeypatch.setattr(validator_module, "ask_structured", scripted)
    return asked


def test_the_interview_ends_when_the_interviewer_is_done(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked = scripted_turns(monkeypatch, [True, False, True])  # done on the first: ignored
    person = biologist()
    assert TinyPersonValidator.validate_person(person) == (0.75, "Consistent answers.")
    assert asked == ["InterviewTurn"] * 3 + ["ValidationVerdict"]
    heard = person.pretty_current_interactions().count("[CONVERSATION]")
    assert heard == 2  # two blocks of questions asked


def test_the_interview_is_bounded_by_max_interview_turns(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked = scripted_turns(monkeypatch, [])
    monkeypatch.setattr(TinyPersonValidator, "max_interview_turns", 2)
    TinyPersonValidator.validate_person(biologist())
    assert asked == ["InterviewTurn", "InterviewTurn", "ValidationVerdict"]


@pytest.mark.parametrize("score", [-0.1, 1.5, float("nan")])
def test_a_score_outside_the_unit_interval_is_rejected(score: float) -> None:
    with pytest.raises(ValueError):
        ValidationVerdict(score=score, justification="x")
    schema = ValidationVerdict.model_json_schema()["properties"]["score"]
    assert schema["minimum"] == 0.0 and schema["maximum"] == 1.0


def test_a_failing_model_call_gives_none_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(messages, model, **kwargs):
        raise LLMRequestError("the endpoint answered 500", status=500)

    monkeypatch.setattr(validator_module, "ask_structured", failing)
    assert TinyPersonValidator.validate_person(biologist()) == (None, None)


def verdict_per_person(monkeypatch: pytest.MonkeyPatch, fail_for: str | None = None) -> None:
    """Verdicts naming the person interviewed (score from its number); one may fail."""
    real = validator_module.ask_structured

    def scripted(messages, model, **kwargs):
        introduction = messages[1]["content"]
        name = next(p.name for p in TinyPerson.all_agents.values() if p.name in introduction)
        if name == fail_for:
            raise RuntimeError(f"interviewer crashed on {name}")
        if model is ValidationVerdict:
            return ValidationVerdict(score=int(name[len("Person"):]) / 10, justification=name)
        return real(messages, model, **kwargs)

    monkeypatch.setattr(validator_module, "ask_structured", scripted)


def test_validate_people_keeps_the_order_and_isolates_a_failure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    verdict_per_person(monkeypatch, fail_for="Person3")
    people = [TinyPerson(f"Person{i}") for i in range(8)]
    results = TinyPersonValidator.validate_people(people, expectations=EXPECTATIONS)
    assert len(results) == 8
    for i, (score, justification) in enumerate(results):
        if i == 3:
            assert score is None and "RuntimeError" in justification
            assert "interviewer crashed on Person3" in justification
        else:
            assert (score, justification) == (i / 10, f"Person{i}")


def test_validate_people_of_nobody_is_empty() -> None:
    assert TinyPersonValidator.validate_people([]) == []


def test_a_person_is_interviewed_by_one_thread_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    person = biologist()
    active: Counter[str] = Counter()
    overlaps: list[str] = []
    guard = threading.Lock()
    real_listen_and_act = TinyPerson.listen_and_act
    real_ask = validator_module.ask_structured

    def ask(messages, model, **kwargs):
        if model is InterviewTurn and len(messages) == 2:  # an interview starts
            with guard:
                active[person.name] += 1
                if active[person.name] > 1:
                    overlaps.append(person.name)
        answer = real_ask(messages, model, **kwargs)
        if model is ValidationVerdict:  # it ends
            with guard:
                active[person.name] -= 1
        return answer

    def slow_listen_and_act(self, *args, **kwargs):
        time.sleep(0.01)  # widens the window in which a second interview could interleave
        return real_listen_and_act(self, *args, **kwargs)

    monkeypatch.setattr(validator_module, "ask_structured", ask)
    monkeypatch.setattr(TinyPerson, "listen_and_act", slow_listen_and_act)
    results = TinyPersonValidator.validate_people([person, person, person])
    assert overlaps == []
    assert all(score is not None and 0.0 <= score <= 1.0 for score, _ in results)
