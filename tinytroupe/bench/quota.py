"""Scenario ``provider_limit``: a provider quota held by the client's limiter.

The fake server enforces a quota (requests per window, answering 429 beyond it); the
client is configured with the same limit. The limiter should use >= 95% of the quota
with zero 429s, on threads (one process-wide gate) and, in the full run with Ray
installed, on the Ray backend with 8 actors sharing one `LimitLedger`.
"""

from __future__ import annotations

import statistics

from tinytroupe.bench.harness import fake_server, run_world, settings
from tinytroupe.bench.scenarios import Result
from tinytroupe.testing import FaultPlan


def provider_limit(quick: bool) -> Result:
    """7. A provider quota (requests per window) enforced by the fake server.

    The client's limiter should use >= 95% of it with zero 429s: on threads, and (full
    run, Ray installed) on the Ray backend with 8 actors sharing one quota.
    """
    agents, per_window, window = (40, 20, 1.0) if quick else (200, 60, 6.0)
    result = Result("provider_limit")
    backends = ["threads"]
    if not quick and _ray_available():
        backends.append("ray")
    for backend in backends:
        _quota_run(result, backend, agents, per_window, window)
    result.notes.append(f"quota {per_window} requests per {window:g} s window "
                        f"(= {per_window * 60 / window:g}/min; a {window:g} s window keeps "
                        "the run short); ray: 8 actors, one LimitLedger")
    return result


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _quota_run(result: Result, backend: str, agents: int, per_window: int,
               window: float) -> None:
    per_minute = per_window * 60 / window
    settings(max_workers="ALL", max_requests_per_minute=per_window,
             rate_limit_window_seconds=window, ray_agents_per_actor=max(1, agents // 8))
    with fake_server(0.2, FaultPlan(rate_limit=(per_window, window))) as server:
        run = run_world(agents, 1, True, backend=backend)
        stats = server.stats(timestamps=True)
    settings(max_requests_per_minute=None, rate_limit_window_seconds=60)
    if backend == "ray":
        import ray

        ray.shutdown()
    stamps = sorted(stats["timestamps"])
    windows = int((stamps[-1] - stamps[0]) // window)  # complete windows only
    counts = [sum(1 for t in stamps if stamps[0] + i * window <= t < stamps[0] + (i + 1) * window)
              for i in range(windows)]
    achieved = statistics.mean(counts) * 60 / window if counts else float("nan")
    refused = stats["outcomes"]["limited"]
    result.rows.append({"backend": backend, "agents": agents, "limit_per_minute": per_minute,
                        "window_s": window, "requests": stats["total_requests"],
                        "refused_429": refused, "achieved_per_minute": achieved,
                        "per_window": counts,
                        "throttled_seconds": run.metrics["llm_throttled_seconds"]})
    result.target(f"achieved / limit (requests per minute), {backend}", achieved / per_minute,
                  ">= 0.95", achieved / per_minute >= 0.95)
    result.target(f"429s from the provider, {backend}", refused, "0", refused == 0)
