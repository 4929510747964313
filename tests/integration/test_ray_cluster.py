"""The Ray backend on a multi-node cluster simulated on this machine (ray.cluster_utils).

A node removed mid-step takes its actors with it: their agents' turns become recorded
errors for that step, the world restores them on the surviving node from their last
state copies (kept by keepers on the other node) with the deliveries since replayed,
and the run goes on with nothing delivered lost.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402

from tinytroupe import config_manager  # noqa: E402
from tinytroupe.agent import TinyPerson  # noqa: E402
from tinytroupe.environment import TinyWorld  # noqa: E402
from tinytroupe.testing import FakeLLMServer  # noqa: E402
from tinytroupe.testing.delivery import contents_heard  # noqa: E402

#: Runs by default (about 25 s); TINYTROUPE_RAY_CLUSTER_TESTS=0 skips it, e.g. on a
#: machine where Ray cannot start a second node.
pytestmark = [pytest.mark.timeout(240), pytest.mark.skipif(
    os.environ.get("TINYTROUPE_RAY_CLUSTER_TESTS") == "0",
    reason="multi-node Ray test skipped (TINYTROUPE_RAY_CLUSTER_TESTS=0)")]


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[Any, Any]]:
    """A head node and one worker node; the workers inherit the test key from here."""
    if ray.is_initialized():
        ray.shutdown()
    previous = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = "sk-test-not-a-real-key"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()  # both registered before any actor is placed (SPREAD)
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    try:
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()
        if previous is None:
            os.environ.pop("OPENAI_API_KEY", None)
        else:
            os.environ["OPENAI_API_KEY"] = previous


def test_a_node_lost_mid_step_loses_no_agent_and_no_delivery(
        two_nodes: tuple[Any, Any], llm_over_http: FakeLLMServer) -> None:
    cluster, worker = two_nodes
    config_manager.set("ray_agents_per_actor", 1)  # eight actors, spread over both nodes
    timeout = 20.0
    config_manager.set("parallel_execution_timeout", timeout)
    agents = [TinyPerson(f"Agent{i}") for i in range(8)]
    with TinyWorld("cluster", agents, seed=4, backend="ray") as world:
        world.make_everyone_accessible()
        world.broadcast("The factory may move abroad. What do you make of it?")
        world.run(1, parallelize=True)
        shards = world._agents.shard_handles()
        nodes = ray.get([shard.node_id.remote() for shard in shards])
        doomed = {f"Agent{i}" for i, node in enumerate(nodes) if node == worker.node_id}
        assert doomed and len(doomed) < 8  # some agents live on the node to be lost

        llm_over_http.configure(latency=1.0)
        stepping = threading.Thread(target=world.run, args=(1,), kwargs={"parallelize": True})
        started = time.monotonic()
        stepping.start()
        deadline = time.monotonic() + 30
        while llm_over_http.stats()["in_flight"] < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        cluster.remove_node(worker)  # mid-step: its actors (and keepers) are gone
        stepping.join(timeout + 10)
        assert not stepping.is_alive()
        assert time.monotonic() - started <= timeout + 5.0 + 5.0  # timeout + grace (+ start)
        failures = world.get_agent_failures()
        assert {f["agent"] for f in failures} == doomed
        assert {f["error_type"] for f in failures} == {"ActorFailure"}

        llm_over_http.configure(latency=0.0)
        third = world.run(1, parallelize=True, return_actions=True)[0]
        assert set(third) == {a.name for a in world.agents}  # restored agents act again
        talked_to = 0
        for lost in sorted(doomed):  # each restored agent remembers all it was told
            heard = contents_heard(world.get_agent_by_name(lost))
            assert "The factory may move abroad. What do you make of it?" in heard
            told = [e["content"] for e in world.transcript
                    if e["step"] == 1 and e["target"] == lost]
            assert all(content in heard for content in told)  # nothing delivered is lost
            talked_to += len(told)
        assert talked_to > 0  # and there was something to lose
