"""The scenarios of the suite. Each returns a `Result`: rows measured, and targets.

Ideal parallel step time = (LLM calls per agent turn) x latency, when MAX_WORKERS >=
agents; every agent turn here makes one call. Efficiency = ideal / measured.
"""

from __future__ import annotations

import cProfile
import math
import os
import pstats
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.bench.harness import (
    fake_server,
    fresh_simulation,
    make_world,
    rss_mb,
    run_world,
    settings,
    summary,
    time_steps,
    use_offline,
)
from tinytroupe.clients.offline import OfflineModel
from tinytroupe.factory import TinyPersonFactory
from tinytroupe.testing import FaultPlan


@dataclass
class Result:
    """One scenario's outcome: its measured rows, its targets (met or not) and notes."""

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def target(self, what: str, measured: float, goal: str, ok: bool) -> None:
        """Record a target: `what` was `measured` against `goal` (text), met if `ok`."""
        self.targets.append({"what": what, "measured": round(measured, 4), "target": goal,
                             "met": bool(ok)})


def speedup_curve(quick: bool) -> Result:
    """1. Parallel vs sequential step time as the agent count grows (MAX_WORKERS=ALL)."""
    latency, counts, reps = (0.1, [1, 10, 50], 1) if quick else (
        0.2, [1, 5, 10, 20, 50, 100, 200], 3)
    result = Result("speedup")
    settings(max_workers="ALL")
    with fake_server(latency):
        for agents in counts:
            parallel = [run_world(agents, 2, True).total / 2 for _ in range(reps)]
            sequential = run_world(agents, 1, False).total
            par = summary(parallel)
            efficiency, speedup = latency / par["median"], sequential / par["median"]
            result.rows.append({"agents": agents, "latency": latency,
                                "parallel_step_s": par, "sequential_step_s": sequential,
                                "efficiency": efficiency, "speedup": speedup})
            goal = 0.90 if agents <= 100 else 0.80
            result.target(f"efficiency at {agents} agents", efficiency, f">= {goal}",
                          efficiency >= goal)
            if agents <= 100:
                result.target(f"speedup at {agents} agents", speedup,
                              f">= {0.9 * agents:g}", speedup >= 0.9 * agents)
    return result


def worker_cap(quick: bool) -> Result:
    """2. Step time under a worker cap, and the reported speedup against the measured one."""
    agents, latency, caps = (20, 0.05, [1, 5, 20]) if quick else (50, 0.2, [1, 2, 5, 10, 25, 50])
    result = Result("worker_cap")
    with fake_server(latency):
        sequential = run_world(agents, 1, False).total
        for workers in caps:
            settings(max_workers=workers)
            run = run_world(agents, 1, True)
            expected = math.ceil(agents / workers) * latency
            measured_speedup = sequential / run.total
            reported = run.metrics["avg_parallel_speedup"]
            result.rows.append({"agents": agents, "workers": workers, "step_s": run.total,
                                "expected_s": expected, "measured_speedup": measured_speedup,
                                "reported_speedup": reported})
            result.target(f"step time with {workers} workers", run.total / expected,
                          "within 10% of ceil(agents/workers) x latency",
                          abs(run.total / expected - 1) <= 0.10)
            result.target(f"reported speedup with {workers} workers",
                          reported / measured_speedup, "within 15% of measured",
                          abs(reported / measured_speedup - 1) <= 0.15)
    return result


def _turn_costs(agents: int, steps: int, parallel: bool) -> dict[str, float]:
    run = run_world(agents, steps, parallel)
    turns = agents * steps
    return {"cpu_ms_per_turn": 1000 * run.cpu_seconds / turns,
            "wall_ms_per_turn": 1000 * run.total / turns}


def _responder_ms(world_agents: int) -> float:
    """CPU of the offline model alone for one typical request (subtracted from our code)."""
    world = make_world(world_agents)
    agent = world.agents[0]
    messages = agent.current_messages
    model, count = OfflineModel(), 300
    start = time.process_time()
    for _ in range(count):
        model.complete(messages)
    world.close()
    return 1000 * (time.process_time() - start) / count


def _profile_top(agents: int, steps: int, top: int = 8) -> list[str]:
    """The top costs of a sequential run over HTTP (one thread: cProfile sees it all)."""
    profile = cProfile.Profile()
    world = make_world(agents)
    profile.enable()
    time_steps(world, steps, False)
    profile.disable()
    world.close()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = sorted(((tottime, f"{path.split('site-packages/')[-1]}:{line} {func}")
                   for (path, line, func), (_cc, _nc, tottime, _ct, _callers) in stats.items()),
                  reverse=True)
    return [f"{seconds * 1000 / (agents * steps):.3f} ms/turn  {where}"
            for seconds, where in rows[:top]]


def overhead(quick: bool) -> Result:
    """3. CPU and wall per agent turn at latency 0, split into ours, HTTP client, server."""
    agents, steps = (50, 2) if quick else (100, 5)
    result = Result("overhead")
    settings(max_workers="ALL")
    use_offline()
    responder = _responder_ms(agents)
    offline = {mode: _turn_costs(agents, steps, mode == "parallel")
               for mode in ("parallel", "sequential")}
    with fake_server(0.0) as server:
        child = psutil.Process(server.process.pid)
        http = {}
        for mode in ("parallel", "sequential"):
            server_cpu = sum(child.cpu_times()[:2])
            http[mode] = _turn_costs(agents, steps, mode == "parallel")
            http[mode]["server_cpu_ms_per_turn"] = (
                1000 * (sum(child.cpu_times()[:2]) - server_cpu) / (agents * steps))
        profile = [] if quick else _profile_top(agents, steps)
    for mode in ("parallel", "sequential"):
        ours = offline[mode]["cpu_ms_per_turn"] - responder
        client = http[mode]["cpu_ms_per_turn"] - ours
        turns_per_s = 1000 / http[mode]["wall_ms_per_turn"]
        result.rows.append({"mode": mode, "our_code_cpu_ms": ours, "http_client_cpu_ms": client,
                            "server_cpu_ms": http[mode]["server_cpu_ms_per_turn"],
                            "offline_wall_ms": offline[mode]["wall_ms_per_turn"],
                            "http_wall_ms": http[mode]["wall_ms_per_turn"],
                            "turns_per_second_http": turns_per_s})
        result.target(f"our code per turn ({mode})", ours, "<= 1 ms", ours <= 1.0)
        result.target(f"total per turn over HTTP ({mode})", http[mode]["wall_ms_per_turn"],
                      "<= 2 ms (>= 500 turns/s)", http[mode]["wall_ms_per_turn"] <= 2.0)
    result.notes.append(f"offline responder alone: {responder:.3f} ms per call (subtracted)")
    result.notes.extend(f"profile: {line}" for line in profile)
    return result


def _import_rss_mb() -> float:
    code = ("import psutil, tinytroupe, tinytroupe.agent, tinytroupe.environment;"
            "print(psutil.Process().memory_info().rss / 2**20)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout)


def scale(quick: bool) -> Result:
    """4. Many agents at 1 s latency; RSS at import, per idle agent, and over a long run."""
    agents, latency, flat_steps = (200, 0.5, 60) if quick else (1000, 1.0, 200)
    result = Result("scale")
    import_rss = _import_rss_mb()
    settings(max_workers="ALL")
    with fake_server(latency):
        before = rss_mb()
        world = make_world(agents)
        per_agent_kb = 1024 * (rss_mb() - before) / agents
        run = time_steps(world, 2, True)
        world.close()
    requests = agents * 2
    result.rows.append({"agents": agents, "latency": latency, "step_s": run.step_seconds,
                        "client_cpu_ms_per_request": 1000 * run.cpu_seconds / requests,
                        "rss_mb_peak": psutil.Process().memory_info().rss / 2**20,
                        "import_rss_mb": import_rss, "rss_kb_per_idle_agent": per_agent_kb})
    worst = max(run.step_seconds)
    result.target(f"step time, {agents} agents at {latency} s", worst, f"<= {2 * latency} s",
                  worst <= 2 * latency)
    result.target("RSS after import", import_rss, "< 80 MB", import_rss < 80)
    result.target("RSS per idle agent", per_agent_kb, "< 50 KB", per_agent_kb < 50)
    use_offline()
    for transcript in (None, 1000):  # the world's transcript is the other thing that grows
        world = make_world(50, memory_size=40, max_transcript_events=transcript)
        tracemalloc.start()  # exact Python heap, unlike RSS after the big run above
        samples = []
        for _ in range(flat_steps):
            time_steps(world, 1, True)
            samples.append(tracemalloc.get_traced_memory()[0] / 2**20)
        tracemalloc.stop()
        world.close()
        start = samples[len(samples) // 4]
        result.rows.append({"memory_steps": flat_steps, "memory_max_size": 40,
                            "transcript_max_events": transcript or "unbounded",
                            "heap_mb_quarter": start, "heap_mb_end": samples[-1]})
        kept = "all transcript events" if transcript is None else f"last {transcript} events"
        result.target(f"heap growth over the last 3/4 of {flat_steps} steps ({kept})",
                      samples[-1] - start, "< 5 MB (flat)", samples[-1] - start < 5)
    return result


def metrics_overhead(quick: bool) -> Result:
    """5. COLLECT_PARALLEL_METRICS on vs off at latency 0 (interleaved repetitions)."""
    agents, steps, reps = (50, 2, 3) if quick else (100, 5, 11)
    result = Result("metrics_overhead")
    settings(max_workers="ALL")
    times: dict[bool, list[float]] = {True: [], False: []}
    with fake_server(0.0):
        for _ in range(reps):
            for collect in (True, False):
                settings(collect_parallel_metrics=collect)
                times[collect].append(run_world(agents, steps, True).total / steps)
    settings(collect_parallel_metrics=True)
    on, off = summary(times[True]), summary(times[False])
    # paired runs ran back to back: the median of their ratios cancels most drift
    pairs = zip(times[True], times[False], strict=True)
    difference = statistics.median(on_s / off_s for on_s, off_s in pairs) - 1
    result.rows.append({"agents": agents, "on_step_s": on, "off_step_s": off,
                        "median_paired_difference": difference})
    result.target("metrics on vs off (median of paired step-time ratios)", difference,
                  "< 2%", difference < 0.02)
    return result


def timeout(quick: bool) -> Result:
    """6. One agent hangs forever: every step still returns within the timeout."""
    limit, steps = (1.0, 3) if quick else (2.0, 5)
    result = Result("timeout")
    settings(max_workers="ALL", parallel_execution_timeout=limit)
    with fake_server(0.0, FaultPlan(by_agent={"Agent7": "hang"})):
        run = run_world(20, steps, True)
    settings(parallel_execution_timeout=300)
    result.rows.append({"agents": 20, "timeout_s": limit, "step_s": run.step_seconds,
                        "timeouts": run.metrics["parallel_timeouts"],
                        "skipped_busy": run.metrics["agents_skipped_busy"]})
    worst = max(run.step_seconds)
    result.target("slowest step", worst, f"<= {limit + 0.5} s", worst <= limit + 0.5)
    result.target("whole run", run.total, f"<= {steps * (limit + 0.5)} s",
                  run.total <= steps * (limit + 0.5))
    return result


def provider_limit(quick: bool) -> Result:
    """7. A provider quota enforced by the fake server (`bench.quota`)."""
    from tinytroupe.bench.quota import provider_limit as run  # it imports this module

    return run(quick)


def factory(quick: bool) -> Result:
    """8. Persona generation: `generate_people` in parallel vs one at a time."""
    people, latency = (10, 0.05) if quick else (50, 0.2)
    result = Result("factory")
    settings(max_workers="ALL")
    times = {}
    with fake_server(latency):
        for parallel in (True, False):
            fresh_simulation()
            start = time.perf_counter()
            made = TinyPersonFactory("Residents asked about a new tram line.").generate_people(
                people, parallelize=parallel)
            times[parallel] = time.perf_counter() - start
            assert len(made) == people, f"only {len(made)} of {people} people were generated"
    ideal = 2 * latency  # the plan call, then all persons at once
    speedup = times[False] / times[True]
    result.rows.append({"people": people, "latency": latency, "parallel_s": times[True],
                        "sequential_s": times[False], "speedup": speedup,
                        "efficiency": ideal / times[True]})
    result.target(f"speedup generating {people} people", speedup,
                  f">= {0.8 * people * latency / ideal:g} (0.8 x ideal)",
                  speedup >= 0.8 * people * latency / ideal)
    _sampled_population(result, 20 if quick else 200, latency)
    return result


def _sampled_population(result: Result, size: int, latency: float) -> None:
    """A sampling-plan population: dimensions, plan, then everyone at once, vs in turn."""
    times = {}
    with fake_server(latency):
        for parallel in (True, False):
            fresh_simulation()
            factory = TinyPersonFactory("Commuters of a large city, of every age and job.",
                                        total_population_size=size)
            start = time.perf_counter()
            made = factory.generate_people(parallelize=parallel)
            times[parallel] = time.perf_counter() - start
            assert len(made) == size, f"only {len(made)} of {size} people were generated"
    ideal = 3 * latency  # the dimensions, the plan, then all persons at once
    speedup = times[False] / times[True]
    best = (size + 2) / 3  # sequential (2 + size calls) over the ideal parallel (3 calls)
    result.rows.append({"sampled_population": size, "latency": latency,
                        "parallel_s": times[True], "sequential_s": times[False],
                        "speedup": speedup, "efficiency": ideal / times[True]})
    result.target(f"speedup of a sampling-plan population of {size}", speedup,
                  f">= {0.8 * best:.0f} (0.8 x ideal)", speedup >= 0.8 * best)


def extraction(quick: bool) -> Result:
    """10. `ResultsExtractor.extract_results_from_agents` in parallel vs one at a time."""
    from tinytroupe.extraction import ResultsExtractor

    agents, latency = (10, 0.05) if quick else (100, 0.2)
    result = Result("extraction")
    settings(max_workers="ALL")
    times = {}
    with fake_server(latency):
        fresh_simulation()
        people = [TinyPerson(f"Customer{i}") for i in range(agents)]
        for person in people:
            person.listen("Would you pay 30 euros a month for an e-bike subscription?")
        extractor = ResultsExtractor(fields=["opinion", "price_sensitivity"])
        start = time.perf_counter()
        found = extractor.extract_results_from_agents(people)
        times[True] = time.perf_counter() - start
        start = time.perf_counter()
        for person in people:
            extractor.extract_results_from_agent(person)
        times[False] = time.perf_counter() - start
    assert all(found), "an extraction failed"
    workers = agents  # MAX_WORKERS=ALL: the cap is the agent count
    speedup = times[False] / times[True]
    result.rows.append({"agents": agents, "latency": latency, "parallel_s": times[True],
                        "sequential_s": times[False], "speedup": speedup,
                        "efficiency": latency / times[True]})
    result.target(f"speedup extracting from {agents} agents", speedup,
                  f">= {0.8 * workers:g} (0.8 x agents)", speedup >= 0.8 * workers)
    return result


def quality_checks(quick: bool) -> Result:
    """11. A parallel step with the action quality checks on (every check enabled)."""
    agents, latency, steps = (10, 0.05, 2) if quick else (50, 0.2, 3)
    result = Result("quality_checks")
    checks = ("persona_adherence", "selfconsistency", "fluency", "suitability", "similarity")
    settings(max_workers="ALL", action_generator_enable_quality_checks=True,
             action_generator_quality_threshold=0,  # every proposal passes: no regeneration
             **{f"action_generator_enable_quality_check_for_{c}": True for c in checks})
    with fake_server(latency):
        timing = run_world(agents, steps, parallel=True)
    step = statistics.median(timing.step_seconds)
    result.rows.append({"agents": agents, "latency": latency, "checks": len(checks),
                        "median_step_s": step, "step_over_latency": step / latency})
    bound = 1 + len(checks)
    result.target(f"{agents}-agent step with {len(checks)} checks / latency", step / latency,
                  f"<= {bound} (1 + checks)", step / latency <= bound)
    return result


def defaults(quick: bool) -> Result:
    """12. The package defaults as shipped (no config.ini, no variables): 50 and 200 agents."""
    sizes, latency, steps = ((20,), 0.05, 2) if quick else ((50, 200), 0.2, 3)
    result = Result("defaults")
    config_manager.use_sources(user_path=Path(os.devnull), environ={})  # the package's own
    try:
        with fake_server(latency):
            for agents in sizes:
                timing = run_world(agents, steps, parallel=True)
                step = statistics.median(timing.step_seconds)
                result.rows.append({"agents": agents, "latency": latency,
                                    "max_workers": config_manager.get("max_workers"),
                                    "median_step_s": step, "step_over_latency": step / latency})
                if agents == 50 or quick:
                    result.target(f"{agents}-agent step / latency, package defaults",
                                  step / latency, "<= 1.2", step / latency <= 1.2)
    finally:
        config_manager.use_sources()
    return result


def _tail(quick: bool) -> Result:
    """13. Heavy-tailed latencies: hedging and dependency-driven steps (`bench.tail`)."""
    from tinytroupe.bench.tail import tail  # it imports this module

    return tail(quick)


def _transport(quick: bool) -> Result:
    """14. Client CPU per request of each HTTP transport, side by side (`bench.transport`)."""
    from tinytroupe.bench.transport import transport  # it imports this module

    return transport(quick)


def _ray_backend(quick: bool) -> Result:
    """9. Threads vs Ray actors for a big world (`bench.ray_scale`)."""
    from tinytroupe.bench.ray_scale import ray_backend  # it imports this module

    return ray_backend(quick)


def _ray_scale(quick: bool) -> Result:
    """15. Ray worlds of 2,000 and 20,000 agents born on the actors (`bench.ray_scale`)."""
    from tinytroupe.bench.ray_scale import ray_scale  # it imports this module

    return ray_scale(quick)


SCENARIOS = {"speedup": speedup_curve, "worker_cap": worker_cap, "overhead": overhead,
             "scale": scale, "metrics_overhead": metrics_overhead, "timeout": timeout,
             "provider_limit": provider_limit, "factory": factory, "extraction": extraction,
             "quality_checks": quality_checks, "defaults": defaults, "tail": _tail,
             "transport": _transport,
             "ray_backend": _ray_backend, "ray_scale": _ray_scale}
