"""ResultsExtractor and TinyStory over real HTTP to the fake server.

Extraction from many agents runs concurrently on the shared runner: the test measures
it as a ratio to one-at-a-time calls made in the same test, and checks the runner's
guarantees: a failing agent gives None in its slot and a recorded failure, a hung one is
bounded by the step timeout.
"""

from __future__ import annotations

import json
import time

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinyWorld
from tinytroupe.extraction import ResultsExtractor
from tinytroupe.steering import TinyStory
from tinytroupe.testing import FakeLLMServer, FaultPlan

FIELDS = ["opinion", "price_sensitivity"]


def customers(n: int) -> list[TinyPerson]:
    people = [TinyPerson(f"Customer{i}") for i in range(n)]
    for person in people:
        person.listen("Would you pay 30 euros a month for an e-bike subscription?")
    return people


def test_one_agent_gives_every_requested_field(llm_over_http: FakeLLMServer) -> None:
    [person] = customers(1)
    extractor = ResultsExtractor(extraction_objective="The customer's view of the offer.")
    result = extractor.extract_results_from_agent(person, fields=FIELDS,
                                                  fields_hints={"opinion": "yes or no, why"})
    assert set(result) >= set(FIELDS) and all(result[f] for f in FIELDS)
    assert extractor.agent_extraction == {"Customer0": result}
    request = llm_over_http.stats()
    assert request["total_requests"] == 1 and "Customer0" in request["per_agent"]


def test_fifty_agents_are_extracted_concurrently_in_their_order(
        llm_over_http: FakeLLMServer) -> None:
    llm_over_http.configure(latency=0.2)
    config_manager.set("max_workers", "ALL")
    people = customers(50)
    extractor = ResultsExtractor(fields=FIELDS)
    start = time.perf_counter()
    for person in people[:5]:  # the cost of one call, measured here
        extractor.extract_results_from_agent(person)
    one_call = (time.perf_counter() - start) / 5
    start = time.perf_counter()
    results = extractor.extract_results_from_agents(people)
    together = time.perf_counter() - start
    assert len(results) == 50 and all(r is not None and set(r) >= set(FIELDS) for r in results)
    assert list(extractor.agent_extraction) == [p.name for p in people]
    assert together < 3 * one_call  # 50 calls in under three calls' time


def test_a_failing_agent_gives_none_and_a_recorded_failure(use_server) -> None:
    with FakeLLMServer(faults=FaultPlan(by_agent={"Customer7": "500"})) as server:
        use_server(server)
        config_manager.set("max_attempts", 1)
        people = customers(50)
        extractor = ResultsExtractor(fields=FIELDS)
        results = extractor.extract_results_from_agents(people)
    assert results[7] is None
    assert all(r is not None for i, r in enumerate(results) if i != 7)
    [failure] = extractor.get_failures()
    assert failure["agent"] == "7:Customer7" and failure["error_type"] == "LLMRequestError"


def test_a_hung_request_is_bounded_by_the_step_timeout(use_server) -> None:
    config_manager.set("parallel_execution_timeout", 1.0)
    with FakeLLMServer(faults=FaultPlan(by_agent={"Customer2": "hang"})) as server:
        use_server(server)
        people = customers(5)
        extractor = ResultsExtractor(fields=FIELDS)
        start = time.perf_counter()
        results = extractor.extract_results_from_agents(people)
        elapsed = time.perf_counter() - start
    assert elapsed < 1.0 + 0.5  # the documented bound: the step timeout plus 0.5 s
    assert results[2] is None and all(r is not None for i, r in enumerate(results) if i != 2)
    assert [f["error_type"] for f in extractor.get_failures()] == ["StepTimeout"]


def test_results_round_trip_through_json(llm_over_http: FakeLLMServer, tmp_path) -> None:
    people = customers(3)
    extractor = ResultsExtractor(fields=FIELDS)
    extractor.extract_results_from_agents(people)
    with TinyWorld("Shop", people) as world:
        extractor.extract_results_from_world(world)
    extractor.save_as_json(tmp_path / "out" / "results.json")
    saved = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert saved == {"agent_extractions": extractor.agent_extraction,
                     "world_extraction": extractor.world_extraction}
    assert set(saved["world_extraction"]) == {"Shop"}


def test_a_story_is_started_and_continued(llm_over_http: FakeLLMServer) -> None:
    people = customers(2)
    with TinyWorld("Street", people) as world:
        story = TinyStory(world, purpose="A realistic market test.")
        opening = story.start_story(number_of_words=50)
        world.run(1)
        following = story.continue_story()
    assert opening and following
    assert story.current_story.endswith(following) and opening in story.current_story


def test_a_story_needs_exactly_one_subject() -> None:
    with pytest.raises(ValueError, match="either an environment or an agent"):
        TinyStory()
