"""The Ray execution backend on a local Ray runtime, against the fake server."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import pytest

ray = pytest.importorskip("ray")

from tinytroupe import config_manager, control  # noqa: E402
from tinytroupe.agent import TinyPerson  # noqa: E402
from tinytroupe.environment import TinyWorld  # noqa: E402
from tinytroupe.testing import FakeLLMServer, FaultPlan  # noqa: E402
from tinytroupe.testing.delivery import contents_heard  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module", autouse=True)
def local_ray(ray_runtime: None) -> None:
    """Every test here runs on the module's local Ray runtime."""


def scenario(backend: str, steps: int = 3) -> dict:
    """A scripted focus group; what a user would look at afterwards."""
    agents = [TinyPerson(f"Agent{i}") for i in range(10)]
    with TinyWorld("town", agents, seed=8, backend=backend) as world:
        world.make_everyone_accessible()
        world.broadcast("The library may close on Sundays. Opinions?")
        world.run(steps, parallelize=True)
        result = {"transcript": list(world.transcript),
                  "memory": world.get_agent_by_name("Agent3").episodic_memory.retrieve_all(),
                  "state": world.get_agent_by_name("Agent7").encode_complete_state(),
                  "metrics": world.get_parallel_metrics(),
                  "failures": world.get_agent_failures()}
    control.reset()
    return result


def test_same_scenario_same_transcript_on_threads_and_on_ray(llm_over_http: FakeLLMServer
                                                             ) -> None:
    config_manager.set("ray_agents_per_actor", 3)  # four actors
    llm_over_http.configure(latency=(0.0, 0.03))
    threads, on_ray = scenario("threads"), scenario("ray")
    assert on_ray["transcript"] == threads["transcript"] and len(threads["transcript"]) > 10
    assert on_ray["memory"] == threads["memory"]
    assert on_ray["state"] == threads["state"]
    keys = ("total_parallel_steps", "agent_turns_completed", "parallel_errors",
            "parallel_timeouts", "agents_skipped_busy", "llm_calls", "prompt_tokens",
            "completion_tokens")  # the actors' LLM usage is reported to the driver
    assert {k: on_ray["metrics"][k] for k in keys} == {k: threads["metrics"][k] for k in keys}
    assert set(on_ray["metrics"]) == set(threads["metrics"])


def test_a_sequential_step_reports_every_actors_usage(llm_over_http: FakeLLMServer) -> None:
    config_manager.set("ray_agents_per_actor", 2)  # three actors, asked one agent at a time
    calls = {}
    for backend in ("threads", "ray"):
        agents = [TinyPerson(f"Agent{i}") for i in range(6)]
        with TinyWorld("one-by-one", agents, seed=2, backend=backend) as world:
            world.make_everyone_accessible()
            world.run(1, parallelize=False)
            calls[backend] = world.get_parallel_metrics()["llm_calls"]
        control.reset()
    assert calls["ray"] == calls["threads"] >= 6  # not just the last agent's


def test_the_actors_usage_is_counted_in_the_process_per_agent_and_in_total(
        llm_over_http: FakeLLMServer) -> None:
    from tinytroupe.clients import cost

    config_manager.set("ray_agents_per_actor", 2)
    seen = {}
    for backend in ("threads", "ray"):
        cost.reset()
        agents = [TinyPerson(f"Agent{i}") for i in range(4)]
        with TinyWorld("costed", agents, seed=2, backend=backend) as world:
            world.make_everyone_accessible()
            world.run(2, parallelize=True)
            per_agent = {name: (u["requests"], u["prompt_tokens"])
                         for name, u in world.get_agent_usage().items()}
        seen[backend] = (per_agent, cost.stats()["model_calls"], cost.stats()["input_tokens"])
        control.reset()
    assert seen["ray"] == seen["threads"]
    assert all(requests >= 2 for requests, _ in seen["ray"][0].values())


def test_timeouts_and_errors_behave_as_on_threads(llm_over_http: FakeLLMServer) -> None:
    for key, value in [("parallel_execution_timeout", 1.0), ("timeout", 30),
                       ("max_attempts", 1), ("ray_agents_per_actor", 4)]:
        config_manager.set(key, value)
    llm_over_http.configure(faults=FaultPlan(by_agent={"Agent1": "500", "Agent2": "hang"}))
    threads, on_ray = scenario("threads", steps=2), scenario("ray", steps=2)
    for result in (threads, on_ray):
        metrics = result["metrics"]
        assert (metrics["parallel_errors"], metrics["parallel_timeouts"]) == (2, 1)
        assert metrics["agents_skipped_busy"] == 1  # the hung agent sits out step 2
        assert {(f["agent"], f["error_type"]) for f in result["failures"]} == {
            ("Agent1", "LLMRequestError"), ("Agent2", "StepTimeout")}
    assert on_ray["transcript"] == threads["transcript"]


def test_an_actor_killed_mid_step_is_replaced_and_nothing_delivered_is_lost(
        llm_over_http: FakeLLMServer) -> None:
    config_manager.set("ray_agents_per_actor", 5)  # two actors: Agent0-4 and Agent5-9
    agents = [TinyPerson(f"Agent{i}") for i in range(10)]
    with TinyWorld("fragile", agents, seed=2, backend="ray") as world:
        world.make_everyone_accessible()
        world.broadcast("Before anything else: the bridge is closed.")
        world.run(1, parallelize=True)
        llm_over_http.configure(latency=1.0)
        stepping = threading.Thread(target=world.run, args=(1,), kwargs={"parallelize": True})
        stepping.start()
        deadline = time.monotonic() + 30
        while llm_over_http.stats()["in_flight"] < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        ray.kill(world._agents.shard_handles()[0], no_restart=True)
        stepping.join(timeout=60)
        failures = world.get_agent_failures()
        assert {f["agent"] for f in failures} == {f"Agent{i}" for i in range(5)}
        assert {f["error_type"] for f in failures} == {"ActorFailure"}
        assert world.get_parallel_metrics()["agent_turns_completed"] == 10 + 5
        llm_over_http.configure(latency=0.0)
        third = world.run(1, parallelize=True, return_actions=True)[0]
        assert set(third) == {a.name for a in world.agents}  # the new actor's agents act
        heard = contents_heard(world.get_agent_by_name("Agent1"))
        assert "Before anything else: the bridge is closed." in heard  # restored, not lost
        step_one = [e for e in world.transcript if e["step"] == 1 and e["target"] == "Agent1"]
        assert all(e["content"] in heard for e in step_one)


def test_a_frozen_actor_is_bounded_by_the_step_timeout_and_replaced(
        llm_over_http: FakeLLMServer) -> None:
    """A stopped process (SIGSTOP: alive to Ray, answering nothing) fails only its agents."""
    timeout = 2.0
    config_manager.set("ray_agents_per_actor", 3)  # Agent0-2 | Agent3-5
    config_manager.set("parallel_execution_timeout", timeout)
    agents = [TinyPerson(f"Agent{i}") for i in range(6)]
    with TinyWorld("frozen", agents, seed=5, backend="ray") as world:
        world.make_everyone_accessible()
        world.broadcast("The ferry timetable changes next week.")
        world.run(1, parallelize=True)
        frozen = world._agents.shard_handles()[1]
        pid = ray.get(frozen.__ray_call__.remote(lambda _: os.getpid()))
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            second = world.run(1, parallelize=True, return_actions=True)[0]
            elapsed = time.monotonic() - started
        finally:
            with contextlib.suppress(ProcessLookupError):  # replaced: killed already
                os.kill(pid, signal.SIGCONT)
        assert elapsed <= timeout + 5.0 + 2.0  # the step timeout, the grace, the slack
        assert set(second) == {"Agent0", "Agent1", "Agent2"}
        failures = world.get_agent_failures()
        assert {(f["agent"], f["error_type"]) for f in failures} == {
            (f"Agent{i}", "ActorFailure") for i in (3, 4, 5)}
        assert world._agents.shard_handles()[1] != frozen  # replaced by a new actor
        third = world.run(1, parallelize=True, return_actions=True)[0]
        assert set(third) == {a.name for a in world.agents}  # its agents act again
        heard = contents_heard(world.get_agent_by_name("Agent4"))
        assert "The ferry timetable changes next week." in heard


def test_a_checkpointed_ray_world_resumes_with_its_agents_state(tmp_path) -> None:
    path = tmp_path / "ray.ckpt"
    agents = [TinyPerson(f"Agent{i}") for i in range(6)]
    with TinyWorld("saved", agents, seed=4, backend="ray") as world:
        world.make_everyone_accessible()
        world.broadcast("Keep this in mind.")
        world.run(2, parallelize=True, checkpoint_every=1, checkpoint_path=path)
        saved = world.encode_complete_state()
        world.run(1, parallelize=True)
        expected = list(world.transcript)
    control.reset()
    resumed = TinyWorld.resume(path, backend="ray")
    try:
        assert resumed.encode_complete_state() == saved
        resumed.run(1, parallelize=True)
        assert list(resumed.transcript) == expected
    finally:
        resumed.close()


def test_an_actor_dead_between_steps_loses_no_delivery(llm_over_http: FakeLLMServer) -> None:
    config_manager.set("ray_agents_per_actor", 3)
    agents = [TinyPerson(f"Agent{i}") for i in range(6)]
    with TinyWorld("between", agents, seed=5, backend="ray") as world:
        world.make_everyone_accessible()
        world.run(1, parallelize=True)
        doomed = world._agents.shard_handles()[0]
        ray.kill(doomed, no_restart=True)
        deadline = time.monotonic() + 30  # the kill is asynchronous: wait until it is dead
        while time.monotonic() < deadline:
            try:
                ray.get(doomed.states.remote(), timeout=10)
            except ray.exceptions.RayActorError:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the killed actor kept answering")
        world.broadcast("Important news after the crash.")
        results = world.run(2, parallelize=True, return_actions=True)
        assert all(set(step) == {a.name for a in agents} for step in results)
        heard = contents_heard(world.get_agent_by_name("Agent0"))
        assert "Important news after the crash." in heard


def test_broadcast_from_an_agent_and_moved_objects(llm_over_http: FakeLLMServer) -> None:
    people = [TinyPerson(f"P{i}") for i in range(3)]
    with TinyWorld("voices", people, backend="ray") as world:
        world.broadcast("I have an announcement.", source=people[0])
        own = [s for e in world.get_agent_by_name("P0").episodic_memory.retrieve_all()
               if e["role"] == "user" for s in e["content"]["stimuli"]]
        assert own == []  # the sender does not hear itself
        with pytest.raises(RuntimeError, match="get_agent_by_name"):
            people[1].listen("this would go nowhere")


def test_ctrl_c_during_a_ray_step_applies_nothing_on_the_actors(
        llm_over_http: FakeLLMServer) -> None:
    import signal

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    llm_over_http.configure(latency=1.0)
    agents = [TinyPerson(f"Agent{i}") for i in range(4)]
    with TinyWorld("interrupted", agents, seed=1, backend="ray") as world:
        previous = signal.signal(signal.SIGALRM, interrupt)
        try:
            with pytest.raises(KeyboardInterrupt):
                signal.setitimer(signal.ITIMER_REAL, 0.5)
                world.run(1, parallelize=True)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        assert world.steps_done == 0 and list(world.transcript) == []
        llm_over_http.configure(latency=0.0)
        delivered: dict[str, int] = {a.name: 0 for a in agents}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the abandoned turns have ended
            step = world.run(1, parallelize=True, return_actions=True)[0]
            for name, actions in step.items():
                delivered[name] += len(actions)
            if len(step) == len(agents):
                break
        for agent in world.agents:
            own = [e for e in agent.episodic_memory.retrieve_all() if e["role"] == "assistant"]
            assert len(own) == delivered[agent.name]  # nothing of the interrupted step


def test_provider_limits_hold_for_the_whole_cluster(llm_over_http: FakeLLMServer) -> None:
    from tinytroupe.testing.stats import max_in_any_window

    limit, window = 5, 1.0
    for key, value in [("ray_agents_per_actor", 3), ("max_requests_per_minute", limit),
                       ("rate_limit_window_seconds", window)]:
        config_manager.set(key, value)
    llm_over_http.configure(faults=FaultPlan(rate_limit=(limit, window)))  # the quota
    agents = [TinyPerson(f"Agent{i}") for i in range(12)]  # four actors, one quota
    with TinyWorld("quota", agents, backend="ray") as world:
        world.make_everyone_accessible()
        world.run(2, parallelize=True)
        metrics = world.get_parallel_metrics()
    stats = llm_over_http.stats(timestamps=True)
    assert stats["outcomes"]["limited"] == 0  # each actor alone would have sent 5 at once
    assert max_in_any_window(stats["timestamps"], window) <= limit
    assert stats["total_requests"] == 24 and metrics["parallel_errors"] == 0


def test_the_concurrency_cap_holds_for_the_whole_cluster(llm_over_http: FakeLLMServer) -> None:
    cap = 3
    config_manager.set("ray_agents_per_actor", 3)
    config_manager.set("max_concurrent_model_calls", cap)
    llm_over_http.configure(latency=0.2)
    agents = [TinyPerson(f"Agent{i}") for i in range(12)]  # four actors, one cap
    with TinyWorld("capped", agents, backend="ray") as world:
        world.make_everyone_accessible()
        world.run(2, parallelize=True)
        metrics = world.get_parallel_metrics()
        ledger = world._agents.ledger_actor()
        deadline = time.monotonic() + 5  # slots go back without waiting for an answer
        while ray.get(ledger.slots_held.remote()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ray.get(ledger.slots_held.remote()) == {}  # no call in flight: all returned
    stats = llm_over_http.stats()
    assert stats["max_in_flight"] == cap  # each actor alone would have sent 3 at once
    assert stats["total_requests"] == 24 and metrics["parallel_errors"] == 0


def test_people_who_fail_to_be_born_leave_no_hole_on_the_actors(
        llm_over_http: FakeLLMServer) -> None:
    from tinytroupe.factory import TinyPersonFactory

    config_manager.set("ray_agents_per_actor", 2)
    config_manager.set("max_attempts", 1)
    llm_over_http.configure(faults=FaultPlan(by_agent={"person-1": "500"}))
    factory = TinyPersonFactory("Ferry commuters.", simulation_id="ferries")
    with TinyWorld("born", backend="ray") as world:
        first = world.add_agents_from_factory(factory, 4)  # person-1 fails: 3 born
        assert len(first) == 3
        assert [f["agent"] for f in factory.get_failures()] == ["batch1/person-1"]
        llm_over_http.configure(faults=FaultPlan())
        world.add_agents_from_factory(factory, 1)  # fills the hole the failure left
        assert len(world.agents) == 4 and len(world._agents.shard_handles()) == 2
        world.make_everyone_accessible()
        assert set(world.run(1, parallelize=True, return_actions=True)[0]) == {
            a.name for a in world.agents}


def test_agent_names_are_unique_across_the_ray_worlds_of_a_process(
        llm_over_http: FakeLLMServer) -> None:
    from tinytroupe.factory import TinyPersonFactory

    spec = {"type": "TinyPerson", "persona": {"name": "Ines Varga", "occupation": "pilot"}}
    with TinyWorld("north", backend="ray") as north:
        north.add_agents_from_specifications([spec])
        south = TinyWorld("south", backend="ray")
        try:
            with pytest.raises(ValueError, match="Ines Varga"):  # as for two local agents
                south.add_agents_from_specifications([spec])
            assert south.agents == []
            namesake = TinyPerson("Ines Varga")  # a local agent may not move in either
            with pytest.raises(ValueError, match="Ines Varga"):
                TinyWorld("west", [namesake], backend="ray")
            assert "west" not in TinyWorld.all_environments  # the failed world is gone
            namesake.unregister()
            # a factory generating into another world avoids the names north holds
            north_people = north.add_agents_from_factory(
                TinyPersonFactory("Pilots.", simulation_id="a"), 3)
            south_people = south.add_agents_from_factory(
                TinyPersonFactory("Pilots.", simulation_id="b"), 3)
            assert not {p.name for p in north_people} & {p.name for p in south_people}
        finally:
            south.close()
    with TinyWorld("east", backend="ray") as east:  # north closed: its names are free
        assert [a.name for a in east.add_agents_from_specifications([spec])] == ["Ines Varga"]


def test_a_failed_placing_leaves_no_name_or_agent_behind(llm_over_http: FakeLLMServer) -> None:
    from tinytroupe.environment import ray_names

    with TinyWorld("first", [TinyPerson("Uma Weber")], backend="ray") as first:
        handle = first.get_agent_by_name("Uma Weber")
    with TinyWorld("second", backend="ray") as second:
        with pytest.raises(ValueError, match="another Ray world"):
            second.add_agents([handle])  # a handle (of a closed world) is not an agent
        with pytest.raises(ray.exceptions.RayTaskError):  # a state the actor cannot load
            second._agents.restore([{"name": "Zoe Xu", "episodic_memory": 5}])
        assert "Zoe Xu" not in ray_names.held() and second.agents == []
        assert second.add_agents_from_specifications(  # the name is free again
            [{"type": "TinyPerson", "persona": {"name": "Zoe Xu"}}])[0].name == "Zoe Xu"
