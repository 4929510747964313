"""Parallel persona generation over the fake server (real loopback HTTP)."""

from __future__ import annotations

import time

from tinytroupe import config_manager
from tinytroupe.factory import TinyPersonFactory
from tinytroupe.testing import FakeLLMServer, FaultPlan

CONTEXT = "Residents of a mid-sized town asked about a new tram line."


def test_fifty_people_are_generated_at_once(llm_over_http: FakeLLMServer) -> None:
    llm_over_http.configure(latency=0.2)
    config_manager.set("max_workers", "ALL")
    factory = TinyPersonFactory(CONTEXT)
    llm_over_http.reset_stats()
    people = factory.generate_people(50)
    stats, metrics = llm_over_http.stats(), factory.get_parallel_metrics()
    assert len(people) == 50 and len({p.name for p in people}) == 50
    assert stats["total_requests"] == 51  # the plan, then one call per person
    # all persons were asked for at once: on a loaded 2-core machine the last few may be
    # sent just after the first answers arrive (0.2 s), so a few short of 50 at the peak
    assert stats["max_in_flight"] >= 40
    assert metrics["avg_parallel_speedup"] > 20  # measured: 50 x 0.2 s of work per wall second


def test_one_failure_leaves_forty_nine_people_and_one_recorded_error(
        llm_over_http: FakeLLMServer) -> None:
    config_manager.set("max_workers", "ALL")
    llm_over_http.configure(faults=FaultPlan(by_agent={"person-7": "500"}))
    factory = TinyPersonFactory(CONTEXT)
    people = factory.generate_people(50)
    assert len(people) == 49
    [failure] = factory.get_failures()
    assert (failure["agent"], failure["error_type"]) == ("batch1/person-7", "LLMRequestError")
    assert factory.get_parallel_metrics()["parallel_errors"] == 1


def test_a_hung_request_is_bounded_by_the_timeout(llm_over_http: FakeLLMServer) -> None:
    config_manager.set("max_workers", "ALL")
    config_manager.set("timeout", 30)  # the request itself would wait far longer
    config_manager.set("parallel_execution_timeout", 1.0)
    llm_over_http.configure(faults=FaultPlan(by_agent={"person-3": "hang"}))
    factory = TinyPersonFactory(CONTEXT)
    start = time.monotonic()
    people = factory.generate_people(10)
    assert time.monotonic() - start < 1.0 + 5.0  # bounded, although person-3 never answers
    assert len(people) == 9
    assert factory.get_parallel_metrics()["parallel_timeouts"] == 1
    assert factory.get_failures()[0]["error_type"] == "StepTimeout"


def test_the_same_answers_give_the_same_population_over_http(
        llm_over_http: FakeLLMServer) -> None:
    from tinytroupe import control

    llm_over_http.configure(latency=(0.0, 0.05))  # completion order varies
    first = [p._persona for p in TinyPersonFactory(CONTEXT).generate_people(20)]
    control.reset()
    second = [p._persona for p in TinyPersonFactory(CONTEXT).generate_people(20)]
    assert first == second
