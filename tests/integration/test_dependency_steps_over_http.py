"""Dependency-driven steps (run(schedule="dependency")) over real HTTP to the fake server.

Each rule of docs/parallel-execution.md, "Dependency-driven steps", has a test: the
transcript equals barrier mode's when every TALK targets a contact; a slow agent holds
back only the agents it talks to (proved with events, not sleeps); TALKs to
non-contacts are dropped and counted; REACH_OUTs wait for the window's barrier;
interventions make every step a barrier; a hung turn is bounded by the step timeout;
ON_AGENT_ERROR=raise still raises; checkpoints fall on global steps.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.clients.offline import OfflineModel, agent_name
from tinytroupe.environment import ParallelStepError, TinyWorld
from tinytroupe.environment.checkpoint import read_world_checkpoint
from tinytroupe.environment.parallel import WAIT_SLICE
from tinytroupe.testing import FakeLLMServer


def ring(names: list[str], reach: int = 1) -> list[TinyPerson]:
    """Agents on a ring, each with its `reach` neighbours on either side as contacts."""
    agents = [TinyPerson(name) for name in names]
    for i, agent in enumerate(agents):
        agent.make_agents_accessible([agents[(i + d) % len(agents)]
                                      for d in range(-reach, reach + 1) if d])
    return agents


def run_world(schedule: str, agents: list[TinyPerson], steps: int, **run: Any
              ) -> tuple[TinyWorld, Any]:
    world = TinyWorld(f"{schedule}-{time.monotonic_ns()}", agents)
    actions = world.run(steps, parallelize=True, schedule=schedule, **run)
    return world, actions


def actions_rewritten(change: Callable[[str, list[dict[str, str]]], None]) -> Any:
    """A responder: the offline model's answers, with `change(agent, actions)` applied."""
    model = OfflineModel()

    def respond(messages: list[dict[str, Any]]) -> str:
        answer = model.complete(messages)
        name = agent_name(messages)
        document = json.loads(answer)
        if name and isinstance(document, dict) and "actions" in document:
            change(name, document["actions"])
            return json.dumps(document)
        return answer

    return respond


@pytest.fixture
def latency_server(use_server: Any) -> Any:
    with FakeLLMServer(latency={"distribution": "lognormal", "median": 0.02, "sigma": 1.0},
                       seed=11) as server:
        use_server(server)
        yield server


@pytest.mark.parametrize("reach", [1, 3])
def test_the_transcript_equals_barrier_mode(latency_server: FakeLLMServer, reach: int) -> None:
    transcripts, returned = [], []
    for schedule in ("barrier", "dependency"):
        TinyPerson.clear_agents()
        config_manager.set("random_seed", 7)
        names = [f"Agent{i}" for i in range(12)]
        with run_world(schedule, ring(names, reach), 4, return_actions=True)[0] as world:
            world.broadcast("The market opens an hour early tomorrow.")  # a global barrier
            returned.append(world.run(1, parallelize=True, schedule=schedule,
                                      return_actions=True))
            transcripts.append(list(world.transcript))
            metrics = world.get_parallel_metrics()
        assert metrics["total_parallel_steps"] == 5 and metrics["parallel_errors"] == 0
    assert transcripts[0] == transcripts[1]
    assert len(transcripts[0]) >= 12  # the agents did talk
    assert returned[0] == returned[1]
    answered = {e["source"] for e in transcripts[1] if e["step"] == 5 and e["type"] == "TALK"}
    assert len(answered) == 12  # everyone heard the broadcast before its next turn


def test_a_fully_connected_world_gives_the_same_transcript(latency_server: FakeLLMServer
                                                           ) -> None:
    transcripts = []
    for schedule in ("barrier", "dependency"):
        TinyPerson.clear_agents()
        config_manager.set("random_seed", 2)
        agents = [TinyPerson(f"Agent{i}") for i in range(6)]
        world = TinyWorld(f"all-{schedule}", agents)
        world.make_everyone_accessible()
        with world:
            world.run(3, parallelize=True, schedule=schedule)
            transcripts.append(list(world.transcript))
            assert world.get_parallel_metrics()["max_steps_ahead"] == 0  # nobody can run ahead
    assert transcripts[0] == transcripts[1]


class Tracked(TinyPerson):
    """An agent that records its turns; `hold` blocks one agent's first turn."""

    started: ClassVar[dict[str, int]] = defaultdict(int)
    finished: ClassVar[dict[str, int]] = defaultdict(int)
    changed = threading.Condition()
    hold: ClassVar[dict[str, threading.Event]] = {}

    def act(self, *args: Any, **kwargs: Any) -> Any:
        with Tracked.changed:
            Tracked.started[self.name] += 1
            Tracked.changed.notify_all()
        gate = Tracked.hold.get(self.name)
        if gate is not None and Tracked.started[self.name] == 1:
            gate.wait(30)
        try:
            return super().act(*args, **kwargs)
        finally:
            with Tracked.changed:
                Tracked.finished[self.name] += 1
                Tracked.changed.notify_all()


def test_a_slow_agent_holds_back_only_the_agents_it_talks_to(
        llm_over_http: FakeLLMServer, release: threading.Event) -> None:
    Tracked.started.clear()
    Tracked.finished.clear()
    Tracked.hold = {"A0": release}
    agents = [Tracked(f"A{i}") for i in range(8)]
    for i, agent in enumerate(agents):
        agent.make_agents_accessible([agents[(i - 1) % 8], agents[(i + 1) % 8]])
    world = TinyWorld("one-slow", agents)
    runner = threading.Thread(target=world.run, args=(3,),
                              kwargs={"parallelize": True, "schedule": "dependency"})
    runner.start()
    try:
        with Tracked.changed:  # A4, three hops from A0, finishes all three steps
            assert Tracked.changed.wait_for(lambda: Tracked.finished["A4"] == 3, timeout=30)
            # while A0 is still in its first turn, its neighbours cannot start step 2
            assert Tracked.finished["A0"] == 0
            assert Tracked.started["A1"] == 1 and Tracked.started["A7"] == 1
            assert Tracked.started["A2"] <= 2  # two hops: one step ahead at most
    finally:
        release.set()
        runner.join(30)
    assert not runner.is_alive()
    assert all(count == 3 for count in Tracked.finished.values())
    metrics = world.get_parallel_metrics()
    assert metrics["max_steps_ahead"] == 2 and world.steps_done == 3
    world.close()


def test_talks_to_non_contacts_are_dropped_and_counted(use_server: Any, caplog: Any) -> None:
    def to_a_stranger(name: str, actions: list[dict[str, str]]) -> None:
        if name == "Agent0":
            actions.insert(0, {"type": "TALK", "content": "hello all", "target": "everyone"})
            actions.insert(0, {"type": "TALK", "content": "psst", "target": "Agent3"})

    with FakeLLMServer(responder=actions_rewritten(to_a_stranger)) as server:
        use_server(server)
        with run_world("dependency", ring([f"Agent{i}" for i in range(6)]), 2)[0] as world:
            metrics = world.get_parallel_metrics()
            transcript = list(world.transcript)
    assert metrics["talks_dropped_not_contact"] == 4  # two per step
    assert not any(e["content"] in ("hello all", "psst") for e in transcript)
    assert "not one of its contacts" in caplog.text


def test_a_reach_out_waits_for_the_windows_barrier(use_server: Any) -> None:
    def reach_out(name: str, actions: list[dict[str, str]]) -> None:
        if name == "Agent0":
            actions.insert(0, {"type": "REACH_OUT", "content": "", "target": "Agent3"})

    with FakeLLMServer(responder=actions_rewritten(reach_out)) as server:
        use_server(server)
        agents = ring([f"Agent{i}" for i in range(6)])
        with run_world("dependency", agents, 3)[0] as world:
            reach = [e for e in world.transcript if e["type"] == "REACH_OUT"]
            talks_before = [e for e in world.transcript if e["type"] == "TALK"
                            and e["source"] == "Agent0" and e["target"] == "Agent3"]
            assert reach and all(e["step"] == 3 for e in reach)  # applied at the end
            assert not talks_before  # Agent3 became a contact only then
            assert agents[3] in agents[0].accessible_agents


def test_interventions_make_every_step_a_barrier(llm_over_http: FakeLLMServer,
                                                 caplog: Any) -> None:
    class Counting:
        applied = 0

        def check_precondition(self) -> bool:
            return True

        def apply_effect(self) -> None:
            Counting.applied += 1

    world = TinyWorld("intervened", ring([f"Agent{i}" for i in range(4)]),
                      interventions=[Counting()])
    with world:
        world.run(3, parallelize=True, schedule="dependency")
        assert Counting.applied == 3 and world.steps_done == 3
        assert world.get_parallel_metrics()["max_steps_ahead"] == 0
    assert "every step is a barrier step" in caplog.text


def test_a_hung_turn_is_bounded_by_the_step_timeout(llm_over_http: FakeLLMServer,
                                                    release: threading.Event) -> None:
    timeout, steps = 0.5, 3
    config_manager.set("parallel_execution_timeout", timeout)
    Tracked.started.clear()
    Tracked.finished.clear()
    Tracked.hold = {"A0": release}  # A0's first turn never ends by itself
    agents = [Tracked(f"A{i}") for i in range(6)]
    for i, agent in enumerate(agents):
        agent.make_agents_accessible([agents[(i - 1) % 6], agents[(i + 1) % 6]])
    with TinyWorld("hung", agents) as world:
        started = time.perf_counter()
        world.run(steps, parallelize=True, schedule="dependency")
        elapsed = time.perf_counter() - started
        metrics = world.get_parallel_metrics()
        failures = world.get_agent_failures()
    # A0's turn was given up at its deadline; it skipped the steps while it stayed busy
    assert metrics["parallel_timeouts"] == 1 and metrics["agents_skipped_busy"] == steps - 1
    assert failures[0]["agent"] == "A0" and failures[0]["error_type"] == "StepTimeout"
    assert world.steps_done == steps and Tracked.finished["A1"] == steps
    # only one turn was hung; each step waits at most its timeout (plus one wait slice)
    assert elapsed < steps * (timeout + WAIT_SLICE) + timeout


def test_on_agent_error_raise_still_raises(llm_over_http: FakeLLMServer) -> None:
    class Failing(TinyPerson):
        def act(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("broken agent")

    config_manager.set("on_agent_error", "raise")
    agents = ring([f"Agent{i}" for i in range(5)])
    broken = Failing("Broken")
    broken.make_agents_accessible([agents[0]])
    agents[0].make_agents_accessible([broken])
    with TinyWorld("raising", [*agents, broken]) as world:
        with pytest.raises(ParallelStepError, match="broken agent"):
            world.run(10, parallelize=True, schedule="dependency")
        metrics = world.get_parallel_metrics()
    # It stopped on a global step: every healthy agent took exactly steps_done turns.
    assert 1 <= world.steps_done < 10
    assert metrics["agent_turns_completed"] == 5 * world.steps_done


def test_checkpoints_fall_on_global_steps(llm_over_http: FakeLLMServer, tmp_path: Any) -> None:
    path = tmp_path / "world.json"
    agents = ring([f"Agent{i}" for i in range(6)])
    with TinyWorld("checkpointed", agents) as world:
        world.run(4, parallelize=True, schedule="dependency", checkpoint_every=2,
                  checkpoint_path=path)
        assert read_world_checkpoint(path)["steps_done"] == 4
        earlier = read_world_checkpoint(path.with_suffix(path.suffix + ".prev"))
    assert earlier["steps_done"] == 2
    assert all(e["step"] <= 2 for e in earlier["transcript"])


def test_a_bad_schedule_is_named() -> None:
    with TinyWorld("scheduled") as world, pytest.raises(ValueError, match="schedule"):
        world.run(1, parallelize=True, schedule="eventually")
