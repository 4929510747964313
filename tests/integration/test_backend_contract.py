"""One contract, both backends: what a parallel step guarantees on threads and on Ray.

Each test runs once per backend (as CPython's executor tests run one suite against each
executor), over real HTTP to the fake server: delivery exactly once and in the world's
order, an agent's failure isolated and recorded once, a hung agent bounded by the step
timeout and counted once, and the same metrics from the one accounting path.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinyWorld
from tinytroupe.testing import FakeLLMServer, FaultPlan
from tinytroupe.testing.delivery import talks_heard, talks_sent

pytestmark = pytest.mark.timeout(180)

HAS_RAY = importlib.util.find_spec("ray") is not None
KEY = "sk-test-not-a-real-key"  # the key the local Ray runtime's workers inherit
#: How long the driver may wait beyond the step timeout, as each backend documents it.
GRACE = {"threads": 0.5, "ray": 5.0}


@pytest.fixture(params=["threads", pytest.param("ray", marks=pytest.mark.skipif(
    not HAS_RAY, reason="Ray is not installed"))])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_runtime")
    return request.param


@pytest.fixture
def server(use_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        use_server(fake, key=KEY)
        yield fake


def town(backend: str, size: int = 6) -> TinyWorld:
    world = TinyWorld("contract", [TinyPerson(f"Agent{i}") for i in range(size)], seed=3,
                      backend=backend)
    world.make_everyone_accessible()
    world.broadcast("The bridge is closed for a month. What now?")
    return world


def test_every_talk_is_delivered_once_in_the_worlds_order(backend: str,
                                                          server: FakeLLMServer) -> None:
    with town(backend) as world:
        results = world.run(3, parallelize=True, return_actions=True)
        names = {a.name for a in world.agents}
        heard = talks_heard(world.agents)
        metrics = world.get_parallel_metrics()
        transcript = list(world.transcript)
    assert all(set(step) == names for step in results)
    assert talks_sent(results, names) == heard  # exactly once, nothing else heard
    for step in (1, 2, 3):  # delivered in the step's agent order, not completion order
        sources = [e["source"] for e in transcript if e["step"] == step and e["source"]]
        order = [name for name in results[step - 1] if name in sources]
        assert [s for i, s in enumerate(sources) if s not in sources[:i]] == order
    assert metrics["total_parallel_steps"] == 3 and metrics["agent_turns_completed"] == 18
    assert metrics["parallel_errors"] == metrics["parallel_timeouts"] == 0


def test_a_failing_agent_is_isolated_and_recorded_once(backend: str,
                                                       server: FakeLLMServer) -> None:
    server.configure(faults=FaultPlan(by_agent={"Agent2": "500"}))
    config_manager.set("max_attempts", 1)
    with town(backend) as world:
        result = world.run(1, parallelize=True, return_actions=True)[0]
        failures = world.get_agent_failures()
        metrics = world.get_parallel_metrics()
    assert set(result) == {f"Agent{i}" for i in range(6)} - {"Agent2"}
    assert [(f["agent"], f["error_type"]) for f in failures] == [("Agent2", "LLMRequestError")]
    assert metrics["parallel_errors"] == 1 and metrics["agent_turns_completed"] == 5


def test_a_hung_agent_is_bounded_by_the_step_timeout(backend: str,
                                                     server: FakeLLMServer) -> None:
    server.configure(faults=FaultPlan(by_agent={"Agent4": "hang"}))
    config_manager.set("parallel_execution_timeout", 1.0)
    with town(backend) as world:
        world.run(1, parallelize=True)  # warm up (actors, connections); Agent4 times out
        start = time.monotonic()
        result = world.run(1, parallelize=True, return_actions=True)[0]
        elapsed = time.monotonic() - start
        failures = world.get_agent_failures()
        metrics = world.get_parallel_metrics()
    assert elapsed < 1.0 + GRACE[backend]
    assert "Agent4" not in result and len(result) == 5
    timeouts = [f for f in failures if f["error_type"] == "StepTimeout"]
    assert timeouts and all(f["agent"] == "Agent4" for f in timeouts)
    assert metrics["parallel_timeouts"] + metrics["agents_skipped_busy"] >= 2


def test_agents_created_from_specifications_where_the_world_runs(
        backend: str, server: FakeLLMServer) -> None:
    from pathlib import Path

    folder = Path(__file__).parent.parent / "fixtures" / "personas"
    files = sorted(folder.glob("*.agent.json"))
    with TinyWorld("specified", seed=3, backend=backend) as world:
        agents = world.add_agents_from_specifications(files)
        names = [agent.name for agent in agents]
        assert names == [a.name for a in world.agents] and len(names) == len(files)
        # on Ray the driver never created them; on threads they are the local agents
        assert all((name in TinyPerson.all_agents) == (backend == "threads") for name in names)
        world.make_everyone_accessible()
        world.broadcast("Would you pay for a faster train to work?")
        world.run(2, parallelize=True)
        assert world.get_parallel_metrics()["agent_turns_completed"] == 2 * len(files)
        occupation = world.get_agent_by_name(names[0]).get("occupation")
        assert occupation  # the persona came from the file
        with pytest.raises(ValueError, match="unique"):
            world.add_agents_from_specifications(files[:1])  # already there: none created
        assert len(world.agents) == len(files)


def test_people_generated_by_a_factory_where_the_world_runs(
        backend: str, server: FakeLLMServer) -> None:
    from tinytroupe.factory import TinyPersonFactory

    factory = TinyPersonFactory("Commuters asked about a night bus.", simulation_id="buses")
    with TinyWorld("generated", seed=3, backend=backend) as world:
        people = world.add_agents_from_factory(
            factory, 5, agent_particularities="Lisbon", attempts=2,
            post_processing_func=lambda person: person.define("panel", "night buses"))
        names = [person.name for person in people]
        assert names == [a.name for a in world.agents] and len(names) == 5
        assert len(set(names)) == 5
        assert factory.generated_names == names and len(factory.generated_minibios) == 5
        # on Ray the people were born on the actors; on threads they are local agents
        assert all((name in TinyPerson.all_agents) == (backend == "threads") for name in names)
        assert all(world.get_agent_by_name(name).get("occupation") for name in names)
        assert world.get_agent_by_name(names[-1]).get("panel") == "night buses"  # applied
        more = world.add_agents_from_factory(factory, 2)  # a second batch: new names again
        # a second factory (same context, so the model proposes the same names first)
        twin = TinyPersonFactory("Commuters asked about a night bus.", simulation_id="twin")
        more += world.add_agents_from_factory(twin, 3)
        assert len({a.name for a in world.agents}) == len(world.agents) == 10
        world.make_everyone_accessible()
        world.broadcast("Would you take a night bus home?")
        world.run(1, parallelize=True)
        assert world.get_parallel_metrics()["agent_turns_completed"] == 10
    assert factory.get_parallel_metrics()["agent_turns_completed"] == 7


def test_a_failing_post_processing_keeps_none_of_the_batch(backend: str,
                                                          server: FakeLLMServer) -> None:
    from tinytroupe.factory import TinyPersonFactory

    factory = TinyPersonFactory("Tram riders.", simulation_id="trams")
    with TinyWorld("all-or-none", seed=3, backend=backend) as world:
        with pytest.raises(ZeroDivisionError):
            world.add_agents_from_factory(factory, 3, post_processing_func=lambda p: 1 / 0)
        assert world.agents == [] and factory.generated_names == []
        people = world.add_agents_from_factory(factory, 3)  # their names are free again
        assert len(people) == 3 and not any(p.name[-1].isdigit() for p in people)
