"""Provider-aware limits and fault tolerance, over real HTTP to the fake server."""

from __future__ import annotations

import threading
import time

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.clients import usage
from tinytroupe.environment import TinyWorld
from tinytroupe.testing import FakeLLMServer, FaultPlan
from tinytroupe.testing.delivery import talks_heard, talks_sent
from tinytroupe.testing.stats import max_in_any_window


def test_requests_per_window_hold_at_the_server(llm_over_http: FakeLLMServer) -> None:
    limit, window = 8, 1.0
    config_manager.set("max_requests_per_minute", limit)
    config_manager.set("rate_limit_window_seconds", window)  # "per minute", scaled down
    config_manager.set("max_workers", "ALL")
    llm_over_http.configure(faults=FaultPlan(rate_limit=(limit, window)))
    agents = [TinyPerson(f"Agent{i}") for i in range(15)]
    with TinyWorld("limited", agents) as world:
        world.make_everyone_accessible()
        world.run(2, parallelize=True)
        metrics = world.get_parallel_metrics()
    stats = llm_over_http.stats(timestamps=True)
    assert stats["total_requests"] == 30
    assert stats["outcomes"]["limited"] == 0  # the client never went over the quota
    assert max_in_any_window(stats["timestamps"], window) <= limit
    assert metrics["llm_throttled_seconds"] > 0 and metrics["parallel_errors"] == 0


def test_token_limit_spaces_requests_and_is_corrected_from_usage(
        llm_over_http: FakeLLMServer) -> None:
    agents = [TinyPerson(f"Agent{i}") for i in range(6)]
    for agent in agents:
        agent.define("biography", "A long life story. " * 150)  # ~700 prompt tokens each
    config_manager.set("max_tokens_per_minute", 2000)
    config_manager.set("rate_limit_window_seconds", 0.5)
    with TinyWorld("tokens", agents) as world:
        world.run(1, parallelize=True)
        metrics = world.get_parallel_metrics()
    per_request = (metrics["prompt_tokens"] + metrics["completion_tokens"]) / 6
    assert per_request > 700
    stamps = llm_over_http.stats(timestamps=True)["timestamps"]
    assert max_in_any_window(stamps, 0.5) <= 2000 // per_request + 1
    assert metrics["llm_throttled_seconds"] > 0.5  # six requests needed three windows


def test_cost_per_step_and_per_agent(llm_over_http: FakeLLMServer) -> None:
    config_manager.set("price_per_million_input_tokens", 2.0)
    config_manager.set("price_per_million_output_tokens", 8.0)
    agents = [TinyPerson(f"Agent{i}") for i in range(3)]
    with TinyWorld("priced", agents) as world:
        world.run(2, parallelize=True)
        steps, per_agent = world.get_step_usage(), world.get_agent_usage()
        metrics = world.get_parallel_metrics()
    assert [s["step"] for s in steps] == [1, 2] and all(s["requests"] == 3 for s in steps)
    expected = (2.0 * metrics["prompt_tokens"] + 8.0 * metrics["completion_tokens"]) / 1e6
    assert metrics["estimated_cost"] == pytest.approx(expected)
    assert sum(s["estimated_cost"] for s in steps) == pytest.approx(expected)
    assert sum(a["estimated_cost"] for a in per_agent.values()) == pytest.approx(expected)
    assert all(a["requests"] == 2 for a in per_agent.values())


@pytest.mark.timeout(240)
def test_chaos_run_completes_every_step_and_loses_nothing(fake_llm: FakeLLMServer,
                                                         use_server) -> None:
    use_server(fake_llm)
    for key, value in [("timeout", 0.5), ("max_attempts", 6), ("retry_base_delay", 0.02),
                       ("retry_max_delay", 0.2), ("max_workers", "ALL"),
                       ("parallel_execution_timeout", 60)]:
        config_manager.set(key, value)
    fake_llm.configure(faults=FaultPlan(
        probabilities={"429": 0.20, "500": 0.10, "malformed": 0.05, "hang": 0.02},
        retry_after=(0.1, 1.0), seed=3))
    threads_before = threading.active_count()
    agents = [TinyPerson(f"Agent{i}") for i in range(100)]
    world = TinyWorld("chaos", agents, seed=1)
    world.make_everyone_accessible()
    world.broadcast("Should the town ban cars from the centre?")
    results = world.run(10, parallelize=True, return_actions=True)
    metrics = world.get_parallel_metrics()
    failures = world.get_agent_failures()
    world.close()
    stats = fake_llm.stats()

    assert world.steps_done == 10 and len(results) == 10
    sent, heard = talks_sent(results, {a.name for a in agents}), talks_heard(agents)
    assert sent == heard  # every delivered TALK exactly once, nothing else heard
    # every agent turn either completed or is a recorded error; none timed out
    turns = sum(len(step) for step in results)
    assert turns + metrics["parallel_errors"] == 100 * 10
    assert metrics["parallel_timeouts"] == 0
    assert {f["error_type"] for f in failures} <= {"LLMRequestError", "LLMTimeoutError",
                                                   "LLMOutputError"}
    # what the client counted matches what the server injected
    used = usage.snapshot()
    assert used.requests == stats["total_requests"]
    assert used.rate_limited == stats["outcomes"]["429"]
    assert stats["outcomes"]["429"] > 100 and stats["outcomes"]["hang"] > 5
    assert metrics["llm_failures"] == sum(
        1 for f in failures if f["error_type"] in ("LLMRequestError", "LLMTimeoutError"))
    # no thread leaks once the world is closed and the hung requests are released
    fake_llm.stop()
    deadline = time.monotonic() + 20
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before


def test_a_429_storm_backs_off_and_the_run_finishes_soon_after(
        fake_llm: FakeLLMServer, use_server) -> None:
    use_server(fake_llm)
    attempts = 8
    for key, value in [("max_attempts", attempts), ("retry_base_delay", 0.01),
                       ("retry_max_delay", 0.05), ("max_workers", "ALL")]:
        config_manager.set(key, value)
    fake_llm.configure(faults=FaultPlan(retry_after=0.5))
    agents = [TinyPerson(f"Agent{i}") for i in range(20)]
    with TinyWorld("storm", agents) as world:
        storm_end = time.monotonic() + 2.0
        fake_llm.fail_all_until(2.0, kind="429")
        world.run(1, parallelize=True)
        finished = time.monotonic()
        metrics = world.get_parallel_metrics()
    stats = fake_llm.stats()
    assert metrics["parallel_errors"] == 0 and metrics["agent_turns_completed"] == 20
    assert finished - storm_end < 5.0  # soon after the storm, not a retry budget later
    # it backed off: at most one round of 429s per Retry-After, far below hammering
    assert stats["outcomes"]["429"] <= 20 * (2.0 / 0.5 + 1)
    assert max(stats["per_agent"].values()) <= attempts  # no request beyond its budget
