"""Response latency of the fake LLM server: fixed, uniform, or heavy-tailed.

Real endpoints are heavy-tailed: most calls take about the median and a few take
several times as long. A `Latency` draws one wait per request from a seeded
`random.Random`, so the same sequence of requests gets the same sequence of waits.
Its specification (the ``latency`` of ``POST /config`` and of `FakeLLMServer`) is one of:

* ``s``: every answer after `s` seconds;
* ``[min, max]``: uniform in that range;
* ``{"distribution": "lognormal", "median": m, "sigma": s}``: ``m * exp(s * N(0, 1))``
  (its mean is ``m * exp(s**2 / 2)``);
* ``{"distribution": "slow_replica", "median": m, "sigma": s, "fraction": f,
  "factor": k}``: lognormal as above (``sigma`` 0 by default: exactly `m`), and a
  fraction `f` of calls, drawn independently, `k` times slower (one replica in a pool
  of a provider's replicas being slow).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable
from typing import Any

Range = tuple[float, float]
LatencySpec = float | Range | list[float] | dict[str, Any]

DISTRIBUTIONS = ("fixed", "uniform", "lognormal", "slow_replica")


def as_range(value: float | Iterable[float], what: str) -> Range:
    """`value` (a number, or a (min, max) pair) as a validated (min, max) pair of seconds."""
    if isinstance(value, (int, float)):
        low = high = float(value)
    else:
        pair = [float(v) for v in value]
        if len(pair) != 2:
            raise ValueError(f"{what}: expected a number or a (min, max) pair, got {value!r}")
        low, high = pair
    if low < 0 or high < low:
        raise ValueError(f"{what}: need 0 <= min <= max, got ({low}, {high})")
    return (low, high)


def _number(spec: dict[str, Any], key: str, default: float | None, low: float,
            high: float = math.inf) -> float:
    value = spec.get(key, default)
    if value is None:
        raise ValueError(f"latency: {spec.get('distribution')} needs {key!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not low <= float(value) <= high:
        raise ValueError(f"latency: {key} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


class Latency:
    """Seconds to wait before each answer, drawn from a specification (module doc).

    Thread-safe: the server draws from its event loop, tests may reconfigure from others.
    """

    def __init__(self, spec: LatencySpec = 0.0, seed: int = 0) -> None:
        self.spec = self._normalised(spec)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @staticmethod
    def _normalised(spec: LatencySpec) -> dict[str, Any]:
        if not isinstance(spec, dict):
            low, high = as_range(spec, "latency")
            return ({"distribution": "fixed", "seconds": low} if low == high
                    else {"distribution": "uniform", "min": low, "max": high})
        kind = spec.get("distribution")
        if kind not in DISTRIBUTIONS:
            raise ValueError(f"latency: distribution must be one of {DISTRIBUTIONS}, "
                             f"got {kind!r}")
        known = {"fixed": {"seconds"}, "uniform": {"min", "max"},
                 "lognormal": {"median", "sigma"},
                 "slow_replica": {"median", "sigma", "fraction", "factor"}}[kind]
        unknown = set(spec) - known - {"distribution"}
        if unknown:
            raise ValueError(f"latency: unknown keys for {kind}: {sorted(unknown)}")
        if kind == "fixed":
            return {"distribution": kind, "seconds": _number(spec, "seconds", None, 0.0)}
        if kind == "uniform":
            low, high = as_range((_number(spec, "min", None, 0.0),
                                  _number(spec, "max", None, 0.0)), "latency")
            return {"distribution": kind, "min": low, "max": high}
        normal = {"distribution": kind, "median": _number(spec, "median", None, 0.0),
                  "sigma": _number(spec, "sigma", 0.0 if kind == "slow_replica" else None,
                                   0.0, 5.0)}
        if kind == "slow_replica":
            normal["fraction"] = _number(spec, "fraction", None, 0.0, 1.0)
            normal["factor"] = _number(spec, "factor", None, 1.0)
        return normal

    @property
    def median(self) -> float:
        """The distribution's median (for a uniform range, its midpoint)."""
        spec = self.spec
        if spec["distribution"] == "fixed":
            return spec["seconds"]
        if spec["distribution"] == "uniform":
            return (spec["min"] + spec["max"]) / 2
        return spec["median"]

    def draw(self) -> float:
        """Seconds to wait before the next answer."""
        spec = self.spec
        kind = spec["distribution"]
        if kind == "fixed":
            return spec["seconds"]
        with self._lock:
            if kind == "uniform":
                return self._rng.uniform(spec["min"], spec["max"])
            seconds = spec["median"] * math.exp(spec["sigma"] * self._rng.gauss(0.0, 1.0))
            if kind == "slow_replica" and self._rng.random() < spec["fraction"]:
                seconds *= spec["factor"]
            return seconds

    def to_json(self) -> dict[str, Any]:
        """The normalised specification (accepted back by `Latency`)."""
        return dict(self.spec)
