"""Ray scenarios: threads vs Ray for a big world, and Ray worlds of tens of thousands.

``ray_backend`` compares the two backends on one world built on the driver.
``ray_scale`` builds its worlds the way a big Ray world should be built: the agents
are created on the actors from persona specifications (the driver holds handles),
on a local cluster of two nodes (``ray.cluster_utils.Cluster``; one node in --quick),
and measures what limits the driver: its CPU per agent per step, its heap (which
must not grow with the agents' memories), placement time, and step time against the
thread backend on the same world.
"""

from __future__ import annotations

import contextlib
import statistics
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

from tinytroupe.bench.harness import (
    fake_server,
    fresh_simulation,
    make_world,
    settings,
    time_steps,
)
from tinytroupe.bench.scenarios import Result
from tinytroupe.environment import TinyWorld

#: Per agent per step, the driver's CPU (all its threads) the issue allows.
DRIVER_CPU_TARGET_MS = 0.05
#: Each step's broadcast in the heap runs: short, then long enough that the agents'
#: memories grow by megabytes (10 KB each per step).
_NEWS = ("The bike lanes stay.", "Today's council minutes, in full: "
         + "the bike lanes stay as they are. " * 320)


def ray_backend(quick: bool) -> Result:
    """9. Threads vs Ray actors for a big world (agents talk to 4 neighbours each)."""
    agents, steps, latency, per_actor = (200, 2, 0.5, 50) if quick else (2000, 3, 0.5, 250)
    result = Result("ray_backend")
    ray = _ray()
    if ray is None:
        result.notes.append("skipped: Ray is not installed (pip install -e '.[ray]')")
        return result
    settings(max_workers="ALL", ray_agents_per_actor=per_actor)
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    with fake_server(latency):
        for backend in ("threads", "ray"):
            fresh_simulation()
            start = time.perf_counter()
            world = make_world(agents, neighbours=4, backend=backend)
            setup = time.perf_counter() - start
            run = time_steps(world, steps, True)
            world.close()
            fresh_simulation()
            tracemalloc.start()  # a separate pass: tracing would distort the timings
            world = make_world(agents, neighbours=4, backend=backend)
            time_steps(world, 1, True)
            driver_mb = tracemalloc.get_traced_memory()[0] / 2**20
            tracemalloc.stop()
            world.close()
            result.rows.append({"backend": backend, "agents": agents, "steps": steps,
                                "latency": latency, "setup_s": setup,
                                "step_s": run.step_seconds,
                                "overhead_per_step_s": statistics.mean(run.step_seconds)
                                - latency, "driver_heap_mb": driver_mb})
    ray.shutdown()
    threads, on_ray = result.rows
    result.notes.append(
        f"mean step: threads {statistics.mean(threads['step_s']):.2f} s, ray "
        f"{statistics.mean(on_ray['step_s']):.2f} s; driver Python heap after one step: "
        f"threads {threads['driver_heap_mb']:.0f} MB, ray {on_ray['driver_heap_mb']:.0f} MB")
    return result


def ray_scale(quick: bool) -> Result:
    """15. Ray worlds of 2,000 and 20,000 agents born on the actors (module doc)."""
    sizes, steps, latency = ((200,), 2, 0.5) if quick else ((2000, 20000), 3, 0.5)
    result = Result("ray_scale")
    ray = _ray()
    if ray is None:
        result.notes.append("skipped: Ray is not installed (pip install -e '.[ray]')")
        return result
    with fake_server(latency), _local_cluster(ray, nodes=1 if quick else 2):  # key first
        for agents in sizes:
            settings(max_workers="ALL", ray_agents_per_actor=agents // (2 if quick else 8))
            threads = _timed_run("threads", agents, steps)
            on_ray = _timed_run("ray", agents, steps)
            result.rows += [threads, on_ray]
            cpu_ms = on_ray["driver_cpu_ms_per_agent_step"]
            result.target(f"driver CPU per agent per step, ray, {agents} agents (ms)", cpu_ms,
                          f"<= {DRIVER_CPU_TARGET_MS}", cpu_ms <= DRIVER_CPU_TARGET_MS)
            ratio = on_ray["mean_step_s"] / threads["mean_step_s"]
            result.target(f"step time ray / threads, {agents} agents", ratio, "report", True)
        short, long = (_driver_heap(sizes[0], steps + 1, news) for news in _NEWS)
        result.rows += [short, long]
        follows = ((long["growth_per_step_mb"] - short["growth_per_step_mb"])
                   / long["memories_grow_per_step_mb"])
        result.target(f"driver heap growth / agents' memory growth, {sizes[0]} agents (memories"
                      f" {long['memories_grow_per_step_mb']:.1f} MB more per step)",
                      follows, "<= 0.02", follows <= 0.02)
    where = "one node" if quick else "a local two-node cluster"
    result.notes.append(f"{latency} s latency, 4 contacts each (a ring), agents created on "
                        f"the actors from specifications; {where}; the fake server is one "
                        "process on this machine")
    return result


def _timed_run(backend: str, agents: int, steps: int) -> dict[str, Any]:
    """Build a ring of `agents` on `backend`, run `steps`; times and driver CPU."""
    fresh_simulation()
    start = time.perf_counter()
    world = _ring(agents, backend)
    placement = time.perf_counter() - start
    walls, cpus = [], []
    try:
        for _ in range(steps):
            cpu, wall = time.process_time(), time.perf_counter()
            world.step(parallelize=True)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        done = world.get_parallel_metrics()["agent_turns_completed"]
    finally:
        world.close()
    later = cpus[1:] or cpus  # the first step also opens every connection
    return {"backend": backend, "agents": agents, "steps": steps, "placement_s": placement,
            "step_s": walls, "mean_step_s": statistics.mean(walls),
            "driver_cpu_s": cpus, "turns_completed": done,
            "driver_cpu_ms_per_agent_step": 1000 * statistics.mean(later) / agents}


def _driver_heap(agents: int, steps: int, news: str) -> dict[str, Any]:
    """The driver's Python heap over `steps` steps of a Ray world hearing `news` each step.

    Every agent's memory grows by `news` each step, on the actors; the driver's heap
    grows by its transcript and metrics only, whatever the news's length.
    """
    fresh_simulation()
    tracemalloc.start()
    world = _ring(agents, "ray")
    heaps = []
    try:
        for _ in range(steps):
            world.broadcast(news)
            world.step(parallelize=True)
            heaps.append(tracemalloc.get_traced_memory()[0] / 2**20)
    finally:
        world.close()
        tracemalloc.stop()
    return {"backend": "ray", "agents": agents, "steps": steps, "news_chars": len(news),
            "heap_mb": heaps, "growth_per_step_mb": (heaps[-1] - heaps[0]) / (steps - 1),
            "memories_grow_per_step_mb": agents * len(news) / 2**20}


def _ring(agents: int, backend: str) -> TinyWorld:
    """A world of `agents` created from specifications, each with 4 contacts after it."""
    specs = [{"type": "TinyPerson", "persona": {
        "name": f"Agent{i}", "occupation": {"title": ("teacher", "nurse", "engineer")[i % 3]}}}
        for i in range(agents)]
    world = TinyWorld(f"scale-{backend}", seed=1, backend=backend)
    people = world.add_agents_from_specifications(specs)
    for i, person in enumerate(people):
        person.make_agents_accessible([people[(i + k) % agents] for k in range(1, 5)])
    world.broadcast("What do you think of the city's new bike lanes?")
    return world


@contextlib.contextmanager
def _local_cluster(ray: Any, nodes: int) -> Iterator[None]:
    """Ray on `nodes` local nodes of one CPU each (`ray.cluster_utils.Cluster`)."""
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
        cluster.shutdown()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        return None
    return ray
