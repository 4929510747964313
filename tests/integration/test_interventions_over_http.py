"""Interventions and propositions over real HTTP to the fake server.

Textual preconditions are judged by real requests to the fake server; a recorder
wrapped around `ask_structured` (the request and the answer still go over the wire)
then sets the verdict from a plan, so the test controls exactly when each intervention
holds (the fake model's booleans come from hashing). Agents are real TinyPersons acting
over the same server.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinyWorld
from tinytroupe.experimentation import Proposition
from tinytroupe.experimentation import proposition as proposition_module
from tinytroupe.steering import Intervention
from tinytroupe.testing import FakeLLMServer

NUDGE = "I should talk about my hobbies now."


def thoughts(agent: TinyPerson) -> list[str]:
    return [s["content"] for e in agent.episodic_memory.retrieve_all() if e["role"] == "user"
            for s in e["content"]["stimuli"] if s["type"] == "THOUGHT"]


class RecordedJudge:
    """Wraps the real `ask_structured`: the call goes over HTTP, the plan sets the value."""

    def __init__(self, real: Any, verdict: Any) -> None:
        self.real = real
        self.verdict = verdict
        self.calls: list[str | None] = []
        self._lock = threading.Lock()

    def __call__(self, messages: list[dict[str, Any]], model: Any, **kwargs: Any) -> Any:
        answer = self.real(messages, model, **kwargs)  # a real request to the fake server
        with self._lock:
            self.calls.append(kwargs.get("user"))
        return answer.model_copy(update={"value": self.verdict(kwargs.get("user"))})


@pytest.fixture
def recorded_judge(monkeypatch: pytest.MonkeyPatch):
    def install(verdict: Any) -> RecordedJudge:
        judge = RecordedJudge(proposition_module.ask_structured, verdict)
        monkeypatch.setattr(proposition_module, "ask_structured", judge)
        return judge

    return install


@pytest.mark.parametrize("parallelize", [False, True], ids=["sequential", "parallel"])
def test_textual_preconditions_fire_exactly_when_judged_true(
        llm_over_http: FakeLLMServer, recorded_judge, parallelize: bool) -> None:
    people = [TinyPerson(f"Speaker{i}") for i in range(3)]
    world = TinyWorld(f"panel-{parallelize}", people)
    plan = {(2, "Speaker1"), (3, "Speaker0"), (3, "Speaker2")}  # (step, agent) that holds
    judge = recorded_judge(lambda who: (world.steps_done + 1, who) in plan)
    fired: list[tuple[int, str]] = []

    def nudge(person: TinyPerson) -> None:
        fired.append((world.steps_done + 1, person.name))
        person.think(NUDGE)

    batch = Intervention.create_for_each(people, last_n=20)\
        .set_textual_precondition("The agent is talking about work.").set_effect(nudge)
    for intervention in batch:
        world.add_intervention(intervention)
    world.make_everyone_accessible()
    world.broadcast("Tell us about your work.")
    world.run(4, parallelize=parallelize)

    assert sorted(fired) == sorted(plan)
    assert [thoughts(p).count(NUDGE) for p in people] == [1, 1, 1]
    assert len(judge.calls) == 3 * 4  # every agent judged before every step
    stats = llm_over_http.stats()
    assert stats["total_requests"] == 3 * 4 + 3 * 4  # the judgments and the turns
    assert stats["outcomes"]["ok"] == stats["total_requests"]


def test_a_batch_in_a_world_is_judged_concurrently(llm_over_http: FakeLLMServer,
                                                   recorded_judge) -> None:
    llm_over_http.configure(latency=0.2)
    config_manager.set("max_workers", "ALL")
    recorded_judge(lambda who: who in {"Voter3", "Voter7"})
    people = [TinyPerson(f"Voter{i}") for i in range(10)]
    for person in people:
        person.listen("Do you support the new park?")
    batch = Intervention.create_for_each(people).set_textual_precondition(
        "The agent hesitates.").set_effect(lambda person: person.think(NUDGE))

    start = time.perf_counter()
    assert batch[0].check_precondition() is False
    one_call = time.perf_counter() - start
    llm_over_http.reset_stats()
    start = time.perf_counter()
    held = batch.check_preconditions()
    together = time.perf_counter() - start
    assert held == [p.name in {"Voter3", "Voter7"} for p in people]
    assert together < 4 * one_call  # ten judgments in a few calls' time
    assert llm_over_http.stats()["max_in_flight"] > 1

    llm_over_http.configure(latency=0.0)
    world = TinyWorld("referendum", people).add_intervention(batch)
    world.run(1, parallelize=True)
    assert [thoughts(p).count(NUDGE) for p in people] == [
        int(p.name in {"Voter3", "Voter7"}) for p in people]


def test_proposition_check_and_score_over_http(llm_over_http: FakeLLMServer) -> None:
    person = TinyPerson("Oscar")
    person.think("I will talk about my travel preferences.")
    person.listen("Where do you want to travel next?")
    claim = Proposition("Oscar is talking about travel.", target=person, last_n=10,
                        double_check=True)
    assert isinstance(claim.check(), bool)
    score = claim.score(return_full_response=True)
    assert type(score["value"]) is int and 0 <= score["value"] <= 9
    assert isinstance(score["justification"], str) and 0 <= score["confidence"] <= 1
    stats = llm_over_http.stats()
    assert stats["total_requests"] == 4  # two answers, each double-checked
    assert stats["per_agent"] == {"Oscar": 4}
