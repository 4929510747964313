"""What every scenario needs: a fake server in its own process, worlds, clocks, RSS."""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil

from tinytroupe import config_manager, control
from tinytroupe.agent import EpisodicMemory, TinyPerson
from tinytroupe.clients import clear_clients
from tinytroupe.environment import TinyWorld
from tinytroupe.testing import FakeLLMServer, FaultPlan

_BENCH_KEY = "sk-bench-not-a-real-key"


@dataclass
class Timing:
    """Per-step wall seconds of one run, and the CPU seconds this process used."""

    step_seconds: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """The run's wall seconds: its step times added up."""
        return sum(self.step_seconds)


def summary(values: list[float]) -> dict[str, float]:
    """Min and median: the two figures a noisy machine still makes meaningful."""
    return {"min": min(values), "median": statistics.median(values)}


def rss_mb() -> float:
    """This process's resident memory, in MiB."""
    return psutil.Process().memory_info().rss / 2**20


@contextlib.contextmanager
def fake_server(latency: Any = 0.0, faults: FaultPlan | None = None) -> Iterator[Any]:
    """A fake server in a child process (its CPU stays out of our GIL), client pointed at it."""
    with FakeLLMServer.spawn(latency=latency, faults=faults) as server:
        use_http(server)
        yield server


def use_http(server: Any) -> None:
    """Point the client at `server` over HTTP (OpenAI API type, quick retries).

    Sets a dummy ``OPENAI_API_KEY`` in this process's environment and drops the cached
    clients.
    """
    os.environ["OPENAI_API_KEY"] = _BENCH_KEY
    for key, value in [("api_type", "openai"), ("base_url", server.base_url),
                       ("timeout", 60), ("max_attempts", 3), ("retry_base_delay", 0.05)]:
        config_manager.set(key, value)
    clear_clients()


def use_offline() -> None:
    """Send the model calls to the offline model (API type ``offline``)."""
    config_manager.set("api_type", "offline")


def fresh_simulation() -> None:
    """Forget all agents and worlds, keep the LLM settings."""
    control.reset()
    gc.collect()


def make_world(agents: int, name: str = "bench", memory_size: int | None = None,
               neighbours: int | None = None, around: int | None = None,
               **world_kwargs: Any) -> TinyWorld:
    """A world of `agents` plain personas who can all talk to each other.

    Or, with `neighbours`, each to that many agents after it on a ring; with `around`,
    to that many on either side (a symmetric ring: whoever talks to you is a contact).
    """
    fresh_simulation()
    people = []
    for i in range(agents):
        person = TinyPerson(f"Agent{i}", episodic_memory=EpisodicMemory(max_size=memory_size))
        person.define("occupation", {"title": ("teacher", "nurse", "engineer")[i % 3]})
        people.append(person)
    offsets = (range(1, neighbours + 1) if neighbours is not None else
               [k for k in range(-around, around + 1) if k] if around is not None else None)
    if offsets is not None:
        for i, person in enumerate(people):
            person.make_agents_accessible([people[(i + k) % agents] for k in offsets])
    world = TinyWorld(name, people, seed=1, **world_kwargs)
    if offsets is None:
        world.make_everyone_accessible()
    world.broadcast("What do you think of the city's new bike lanes?")
    return world


def time_steps(world: TinyWorld, steps: int, parallel: bool) -> Timing:
    """Run `steps` steps one by one, timing each."""
    timing = Timing()
    cpu = time.process_time()
    for _ in range(steps):
        start = time.perf_counter()
        world.step(parallelize=parallel)
        timing.step_seconds.append(time.perf_counter() - start)
    timing.cpu_seconds = time.process_time() - cpu
    timing.metrics = world.get_parallel_metrics()
    return timing


def run_world(agents: int, steps: int, parallel: bool, **world_kwargs: Any) -> Timing:
    """`steps` steps of a fresh `make_world`, timed (`time_steps`); the world is closed."""
    world = make_world(agents, **world_kwargs)
    try:
        return time_steps(world, steps, parallel)
    finally:
        world.close()


def settings(**values: Any) -> None:
    """Set these configuration values (`config_manager` keys)."""
    for key, value in values.items():
        config_manager.set(key, value)


def quiet() -> None:
    """Turn off the agents' and worlds' console display."""
    TinyPerson.communication_display = False
    TinyWorld.communication_display = False
