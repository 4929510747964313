"""Scenario ``tail``: steps on heavy-tailed latencies, with hedging and dependency steps.

The fake server (its own process) draws each answer's wait from a seeded distribution:
lognormal (median, sigma) or a slow-replica mix (5% of calls 10 times slower). Two
experiments, each a ratio from one run of the same machine:

* **hedging** (100 agents, barrier steps): mean step time with ``HEDGE_AFTER=p90``
  over the unhedged one, and the extra requests hedging sent. One warm-up step gives
  the client the latencies its p90 is computed from; it is not timed.
* **dependency** (1,000 agents on a ring, 4 contacts each, 10 steps): total wall time
  of ``schedule="dependency"`` over barrier mode, and whether the transcripts are
  identical; plus a fixed-latency ring and a fully connected world, where dependency
  mode can gain little and must lose nothing.

Step time is also given over the mean call latency the server drew, the figure the
issue's baseline used (a barrier step at sigma 0.5 took 2.3 to 3.4 times it).
"""

from __future__ import annotations

import time
from typing import Any

from tinytroupe.bench.harness import fake_server, make_world, settings
from tinytroupe.bench.scenarios import Result

LOGNORMAL_05 = {"distribution": "lognormal", "median": 1.0, "sigma": 0.5}
LOGNORMAL_10 = {"distribution": "lognormal", "median": 1.0, "sigma": 1.0}
SLOW_REPLICA = {"distribution": "slow_replica", "median": 1.0, "fraction": 0.05, "factor": 10}


def _scaled(spec: dict[str, Any], median: float) -> dict[str, Any]:
    return {**spec, "median": median}


def _mean_latency(server: Any) -> float:
    return server.stats()["latency"]["mean"] or 0.0


def _hedging_run(spec: dict[str, Any], agents: int, steps: int, hedge: bool) -> dict[str, Any]:
    settings(max_workers="ALL", hedge_after="p90" if hedge else None, hedge_max_fraction=0.1)
    with fake_server(spec) as server:
        world = make_world(agents)
        try:
            world.step(parallelize=True)  # warm-up: the p90 needs answered calls
            started = time.perf_counter()
            for _ in range(steps):
                world.step(parallelize=True)
            step_s = (time.perf_counter() - started) / steps
            stats, metrics = server.stats(), world.get_parallel_metrics()
        finally:
            world.close()
    requests = stats["total_requests"]  # the warm-up's included: the budget covers the run
    return {"step_s": step_s, "mean_latency_s": stats["latency"]["mean"], "requests": requests,
            "extra_requests": requests / (agents * (steps + 1)) - 1,
            "hedged": metrics["llm_hedged"], "hedge_won": metrics["llm_hedge_won"]}


def _hedging(result: Result, quick: bool) -> None:
    agents, steps, median = (30, 3, 0.1) if quick else (100, 5, 1.0)
    goals = {"slow_replica": 0.45, "lognormal sigma 1.0": 0.6, "lognormal sigma 0.5": None,
             "fixed latency": 1.05}
    for label, spec in (("slow_replica", SLOW_REPLICA), ("lognormal sigma 1.0", LOGNORMAL_10),
                        ("lognormal sigma 0.5", LOGNORMAL_05),
                        ("fixed latency", {"distribution": "fixed", "seconds": 1.0})):
        spec = _scaled(spec, median) if "median" in spec else {**spec, "seconds": median}
        plain = _hedging_run(spec, agents, steps, hedge=False)
        hedged = _hedging_run(spec, agents, steps, hedge=True)
        ratio = hedged["step_s"] / plain["step_s"]
        result.rows.append({"experiment": "hedging", "latency": label, "median": median,
                            "agents": agents, "steps": steps, "unhedged": plain,
                            "hedged_p90": hedged, "step_ratio": ratio,
                            "unhedged_step_over_mean_latency":
                                plain["step_s"] / plain["mean_latency_s"]})
        goal = goals[label]
        if label == "fixed latency":
            result.target(f"hedged/unhedged step, {label}", ratio, "<= 1.05 (no loss beyond "
                          "noise)", ratio <= goal)
        elif goal is not None:
            result.target(f"hedged/unhedged step, {label}", ratio, f"<= {goal}", ratio <= goal)
            result.target(f"extra requests, {label}", hedged["extra_requests"], "<= 0.12",
                          hedged["extra_requests"] <= 0.12)
        else:
            result.notes.append(f"hedging at {label}: {ratio:.2f} x the unhedged step (the "
                                "idealised limit is 0.84: the tail is too mild to gain much)")


def _schedule_run(spec: Any, agents: int, steps: int, schedule: str,
                  around: int | None) -> dict[str, Any]:
    settings(max_workers="ALL", hedge_after=None, random_seed=1)
    with fake_server(spec) as server:
        world = make_world(agents, around=around)
        try:
            server.reset_stats()
            started = time.perf_counter()
            world.run(steps, parallelize=True, schedule=schedule)
            total = time.perf_counter() - started
            metrics = world.get_parallel_metrics()
            transcript = list(world.transcript)
        finally:
            world.close()
        mean_latency = _mean_latency(server)
    return {"total_s": total, "step_over_mean_latency": total / steps / mean_latency,
            "idle_wait_mean_s": metrics["idle_wait_seconds"]["mean"],
            "max_steps_ahead": metrics["max_steps_ahead"],
            "talks_dropped": metrics["talks_dropped_not_contact"], "transcript": transcript}


def _dependency(result: Result, quick: bool) -> None:
    agents, steps, median = (100, 5, 0.1) if quick else (1000, 10, 1.0)
    cases = [("lognormal sigma 0.5", _scaled(LOGNORMAL_05, median), 2, 0.6),
             ("lognormal sigma 1.0", _scaled(LOGNORMAL_10, median), 2, 0.5),
             ("fixed latency", median / 5, 2, None),
             ("fully connected, lognormal sigma 1.0", _scaled(LOGNORMAL_10, median / 5),
              None, None)]
    for label, spec, around, goal in cases:
        size = agents if around is not None else min(agents, 50)
        barrier = _schedule_run(spec, size, steps, "barrier", around)
        dependency = _schedule_run(spec, size, steps, "dependency", around)
        ratio = dependency["total_s"] / barrier["total_s"]
        same = barrier.pop("transcript") == dependency.pop("transcript")
        result.rows.append({"experiment": "dependency", "latency": label, "agents": size,
                            "contacts": 2 * around if around else size - 1, "steps": steps,
                            "barrier": barrier, "dependency": dependency,
                            "total_ratio": ratio, "identical_transcript": same})
        result.target(f"identical transcript, {label}", float(same), "1 (identical)", same)
        if goal is not None:
            result.target(f"dependency/barrier total, {label}", ratio, f"<= {goal}",
                          ratio <= goal)
        else:
            result.target(f"dependency/barrier total, {label}", ratio,
                          "<= 1.05 (no loss beyond noise)", ratio <= 1.05)


def tail(quick: bool) -> Result:
    """Hedged requests and dependency-driven steps on heavy-tailed latencies (module doc)."""
    result = Result("tail")
    _hedging(result, quick)
    _dependency(result, quick)
    return result
