"""TinyPersonValidator over real HTTP to the fake server.

Validating many people runs their interviews concurrently on the shared runner: the test
measures it as a ratio to one-at-a-time validations made in the same test. A person whose
requests fail gets ``(None, reason)`` in its slot, and the others are scored.
"""

from __future__ import annotations

import time

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.testing import FakeLLMServer, FaultPlan
from tinytroupe.validation import TinyPersonValidator

pytestmark = pytest.mark.integration

EXPECTATIONS = "A thoughtful commuter who cares about price and reliability."


def commuters(n: int) -> list[TinyPerson]:
    people = []
    for i in range(n):
        person = TinyPerson(f"Commuter{i}").define("age", 25 + i)
        people.append(person.define("occupation", {"title": "Nurse" if i % 2 else "Teacher"}))
    return people


def in_unit_interval(results: list[tuple[float | None, str | None]]) -> bool:
    return all(score is not None and 0.0 <= score <= 1.0 and justification
               for score, justification in results)


def test_one_person_is_interviewed_over_http(llm_over_http: FakeLLMServer) -> None:
    [person] = commuters(1)
    score, justification = TinyPersonValidator.validate_person(person, EXPECTATIONS)
    assert score is not None and 0.0 <= score <= 1.0 and justification
    per_agent = llm_over_http.stats()["per_agent"]
    assert set(per_agent) == {"interviewer", "Commuter0"}  # questions, answers, verdict


def test_twenty_people_are_validated_concurrently(llm_over_http: FakeLLMServer) -> None:
    llm_over_http.configure(latency=0.2)
    config_manager.set("max_workers", "ALL")
    people = commuters(22)
    start = time.perf_counter()
    sequential = [TinyPersonValidator.validate_person(p, EXPECTATIONS) for p in people[20:]]
    one_person = (time.perf_counter() - start) / 2  # the cost of one interview, measured here
    assert in_unit_interval(sequential)
    start = time.perf_counter()
    results = TinyPersonValidator.validate_people(people[:20], EXPECTATIONS)
    together = time.perf_counter() - start
    assert len(results) == 20 and in_unit_interval(results)
    assert together < 4 * one_person  # twenty interviews in under four interviews' time


def test_a_failing_person_gives_none_and_a_reason(use_server) -> None:
    with FakeLLMServer(faults=FaultPlan(by_agent={"Commuter3": "500"})) as server:
        use_server(server)
        config_manager.set("max_attempts", 1)
        results = TinyPersonValidator.validate_people(commuters(6), EXPECTATIONS)
    score, reason = results[3]
    assert score is None and "LLMRequestError" in reason
    assert in_unit_interval(results[:3] + results[4:])


def test_a_hung_person_is_bounded_by_the_step_timeout(use_server) -> None:
    config_manager.set("parallel_execution_timeout", 1.0)
    with FakeLLMServer(faults=FaultPlan(by_agent={"Commuter1": "hang"})) as server:
        use_server(server)
        start = time.perf_counter()
        results = TinyPersonValidator.validate_people(commuters(4), EXPECTATIONS)
        elapsed = time.perf_counter() - start
    assert elapsed < 1.0 + 0.5
    score, reason = results[1]
    assert score is None and reason.startswith("timed out")
    assert in_unit_interval([results[0], *results[2:]])
