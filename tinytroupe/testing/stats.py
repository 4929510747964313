"""Request counters of the fake LLM server (`tinytroupe.testing.fake_llm`).

`RequestStats` counts what the server received: totals, requests in flight (and the
most at once), outcomes by kind, requests per agent, arrival times, and the latency
drawn for each request (summarised; the list on request). Its `snapshot` is the
``GET /stats`` document.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter, deque
from typing import Any

from tinytroupe.testing.faults import KINDS

#: How a request can be answered: normally, with an injected fault, or with an error.
OUTCOMES: tuple[str, ...] = ("ok", *KINDS, "limited", "bad_request", "error")


class RequestStats:
    """Counters of the requests a server received. Thread-safe; `snapshot` is the /stats JSON."""

    def __init__(self, max_timestamps: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._timestamps: deque[float] = deque(maxlen=max_timestamps)
        self._latencies: deque[float] = deque(maxlen=max_timestamps)
        self._in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero every counter.

        Requests still in flight stay counted as in flight, and max in-flight restarts from
        that number (0 when the server is idle).
        """
        with self._lock:
            self._total = 0
            self._max_in_flight = self._in_flight
            self._outcomes = Counter(dict.fromkeys(OUTCOMES, 0))
            self._agents: Counter[str] = Counter()
            self._timestamps.clear()
            self._latencies.clear()

    def enter(self) -> None:
        """A request arrived."""
        with self._lock:
            self._total += 1
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            self._timestamps.append(time.time())

    def leave(self) -> None:
        """A request was answered (or abandoned)."""
        with self._lock:
            self._in_flight -= 1

    def record_latency(self, seconds: float) -> None:
        """The latency drawn for a request (before any fault's own delay)."""
        with self._lock:
            self._latencies.append(seconds)

    def count(self, outcome: str, agent: str | None = None) -> None:
        """Record how a request was answered, and for which agent."""
        with self._lock:
            self._outcomes[outcome] += 1
            if agent:
                self._agents[agent] += 1

    def snapshot(self, timestamps: bool = False, latencies: bool = False) -> dict[str, Any]:
        """A JSON-serialisable copy of the counters (with the per-request lists if asked)."""
        with self._lock:
            data: dict[str, Any] = {
                "total_requests": self._total,
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "outcomes": dict(self._outcomes),
                "per_agent": dict(self._agents),
            }
            data["latency"] = latency_summary(list(self._latencies))
            if timestamps:
                data["timestamps"] = list(self._timestamps)
            if latencies:
                data["latencies"] = list(self._latencies)
            return data


def latency_summary(latencies: list[float]) -> dict[str, float | int | None]:
    """Count, mean, median, p90, p99 and max of `latencies` (None where undefined)."""
    if not latencies:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    cuts = (statistics.quantiles(latencies, n=100, method="inclusive")
            if len(latencies) > 1 else [latencies[0]] * 99)
    return {"count": len(latencies), "mean": statistics.fmean(latencies),
            "p50": statistics.median(latencies), "p90": cuts[89], "p99": cuts[98],
            "max": max(latencies)}


def max_in_any_window(timestamps: list[float], window: float) -> int:
    """The most timestamps that fall in any `window` seconds (e.g. `/stats` arrivals)."""
    stamps, best, start = sorted(timestamps), 0, 0
    for end, stamp in enumerate(stamps):
        while stamps[start] <= stamp - window:
            start += 1
        best = max(best, end - start + 1)
    return best
