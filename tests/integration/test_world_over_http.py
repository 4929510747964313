"""Whole simulations of real TinyPersons over the fake server (real loopback HTTP)."""

from __future__ import annotations

from datetime import datetime

from tinytroupe import config_manager, control
from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinyWorld
from tinytroupe.testing import FakeLLMServer, FaultPlan
from tinytroupe.testing.delivery import talks_heard, talks_sent

START = datetime(2025, 3, 1, 9, 0)


def test_full_sequential_run_of_five_agents(llm_over_http: FakeLLMServer,
                                            upstream_personas) -> None:
    agents = [TinyPerson.load_specification(p)
              for p in sorted(upstream_personas.glob("*.agent.json"))]
    agents += [TinyPerson("Dana").define("occupation", {"title": "nurse"}), TinyPerson("Eli")]
    with TinyWorld("Focus group", agents) as world:
        world.make_everyone_accessible()
        results = world.run(3, parallelize=False, return_actions=True)
        metrics = world.get_parallel_metrics()
    assert metrics["total_sequential_steps"] == 3
    assert all(set(step) == {a.name for a in agents} for step in results)
    stats = llm_over_http.stats()
    assert stats["outcomes"]["ok"] == stats["total_requests"] == 5 * 3
    assert set(stats["per_agent"]) == {a.name for a in agents}
    assert talks_sent(results, set(world.name_to_agent)) == talks_heard(agents)


def test_every_talk_is_delivered_exactly_once_under_parallel_stress(
        llm_over_http: FakeLLMServer) -> None:
    config_manager.set("max_workers", "ALL")
    agents = [TinyPerson(f"Agent{i}") for i in range(50)]
    with TinyWorld("stress", agents, seed=11) as world:
        world.make_everyone_accessible()
        world.broadcast("Let's talk about the new bike-sharing scheme.")
        results = world.run(20, parallelize=True, return_actions=True)
        metrics = world.get_parallel_metrics()
    sent = talks_sent(results, set(world.name_to_agent))
    heard = talks_heard(agents)
    assert sum(sent.values()) > 50 * 20 / 2  # a conversation really happened
    assert heard == sent
    assert metrics["total_parallel_steps"] == 20
    assert metrics["parallel_errors"] == metrics["parallel_timeouts"] == 0
    assert metrics["llm_calls"] == llm_over_http.stats()["total_requests"] == 50 * 20
    assert llm_over_http.stats()["max_in_flight"] > 1


def test_same_seed_and_answers_give_identical_transcripts_despite_random_latency(
        llm_over_http: FakeLLMServer) -> None:
    llm_over_http.configure(latency=(0.0, 0.05))
    transcripts = []
    for _run in range(3):
        agents = [TinyPerson(f"Agent{i}") for i in range(10)]
        with TinyWorld("repeat", agents, seed=5, initial_datetime=START) as world:
            world.make_everyone_accessible()
            world.broadcast("What should the town build next?")
            world.run(3, parallelize=True)
        transcripts.append(list(world.transcript))
        control.reset()
    assert transcripts[0] == transcripts[1] == transcripts[2]


def test_a_failing_agent_over_http_does_not_stop_the_others(fake_llm: FakeLLMServer,
                                                             monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    for key, value in [("api_type", "openai"), ("base_url", fake_llm.base_url),
                       ("max_attempts", 2), ("retry_base_delay", 0.0), ("timeout", 0.5),
                       ("parallel_execution_timeout", 5)]:
        config_manager.set(key, value)
    fake_llm.configure(faults=FaultPlan(by_agent={"Agent1": "500", "Agent2": "hang"}))
    agents = [TinyPerson(f"Agent{i}") for i in range(6)]
    with TinyWorld("faulty", agents) as world:
        world.make_everyone_accessible()
        first = world.step(parallelize=True)
        fake_llm.configure(faults=FaultPlan())
        second = world.step(parallelize=True)
        failures = world.get_agent_failures()
    assert set(first) == {"Agent0", "Agent3", "Agent4", "Agent5"}
    assert {(f["agent"], f["error_type"]) for f in failures} == {
        ("Agent1", "LLMRequestError"), ("Agent2", "LLMTimeoutError")}
    assert set(second) == {a.name for a in agents}  # both failed agents act again
