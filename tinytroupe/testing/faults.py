"""Fault and latency policy for the fake LLM server (`tinytroupe.testing.fake_llm`).

A `FaultPlan` says which faults to inject: a fault per agent name (always, for every
request of that agent), and otherwise a probability per fault kind, drawn from a
`random.Random` seeded with the plan's seed, so that the same sequence of requests gets
the same sequence of faults. A `FaultPolicy` applies a plan request by request, and adds
"storms": every request fails with one kind until a monotonic deadline.

Fault kinds (`KINDS`):

* ``hang``       never answers until the server stops;
* ``429``        rate limited, with a ``Retry-After`` header (seconds, may be fractional);
* ``500``        internal server error;
* ``malformed``  200 whose message content is truncated JSON;
* ``bad_body``   200 whose body is not valid JSON at all;
* ``slow_drip``  200 with a valid body streamed in small chunks over ``drip_seconds``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from tinytroupe.testing.latency import Range, as_range

KINDS: tuple[str, ...] = ("hang", "429", "500", "malformed", "bad_body", "slow_drip")



def _check_kind(kind: str, where: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown fault kind {kind!r} (expected one of {KINDS})")
    return kind


@dataclass
class FaultPlan:
    """Which faults the fake server injects.

    `probabilities` maps a kind to the chance that a request gets it (the sum must be at
    most 1); `by_agent` maps an agent name to the kind every request of that agent gets
    (it takes precedence over probabilities). `retry_after` is the ``Retry-After`` of a
    429, in seconds: a number or a (min, max) uniform range. `drip_seconds` is how long a
    ``slow_drip`` body takes to arrive. `seed` seeds the draws. `rate_limit`, a pair
    (requests, window seconds), makes the server behave like a provider's quota: a
    request beyond `requests` admitted in the last `window` seconds gets a 429 whose
    ``Retry-After`` says when the window frees up (outcome ``limited``).
    """

    probabilities: dict[str, float] = field(default_factory=dict)
    by_agent: dict[str, str] = field(default_factory=dict)
    retry_after: float | Range = 1.0
    drip_seconds: float = 2.0
    seed: int = 0
    rate_limit: tuple[int, float] | None = None

    def __post_init__(self) -> None:
        for kind, p in self.probabilities.items():
            _check_kind(kind, "FaultPlan.probabilities")
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"FaultPlan.probabilities[{kind!r}]: {p} is not in [0, 1]")
        if sum(self.probabilities.values()) > 1.0 + 1e-9:
            raise ValueError(f"FaultPlan.probabilities: sum is more than 1: {self.probabilities}")
        for agent, kind in self.by_agent.items():
            _check_kind(kind, f"FaultPlan.by_agent[{agent!r}]")
        self.retry_after = as_range(self.retry_after, "FaultPlan.retry_after")
        if self.drip_seconds < 0:
            raise ValueError(f"FaultPlan.drip_seconds: {self.drip_seconds} is negative")
        if self.rate_limit is not None:
            requests, window = self.rate_limit
            if int(requests) < 1 or float(window) <= 0:
                raise ValueError(f"FaultPlan.rate_limit: need (requests >= 1, window > 0), "
                                 f"got {self.rate_limit!r}")
            self.rate_limit = (int(requests), float(window))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultPlan:
        """A plan from its JSON form (the keys of the dataclass; unknown keys are an error)."""
        unknown = set(data) - {"probabilities", "by_agent", "retry_after", "drip_seconds", "seed",
                               "rate_limit"}
        if unknown:
            raise ValueError(f"FaultPlan: unknown keys {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the plan (the inverse of `from_dict`)."""
        data = asdict(self)
        data["retry_after"] = list(self.retry_after)  # type: ignore[arg-type]
        if self.rate_limit is not None:
            data["rate_limit"] = list(self.rate_limit)
        return data


class FaultPolicy:
    """Decides, request by request, which fault (if any) to inject. Thread-safe."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self._storm: tuple[str, float] | None = None
        self.set_plan(plan or FaultPlan())

    @property
    def plan(self) -> FaultPlan:
        """The plan in force."""
        return self._plan

    def set_plan(self, plan: FaultPlan) -> None:
        """Replace the plan and re-seed the draws from its seed."""
        with self._lock:
            self._plan = plan
            self._rng = random.Random(plan.seed)
            self._admitted: deque[float] = deque()

    def fail_all_until(self, deadline: float, kind: str = "429") -> None:
        """Every request gets `kind` until ``time.monotonic()`` reaches `deadline`."""
        self._storm = (_check_kind(kind, "fail_all_until"), deadline)

    def choose(self, names: Iterable[str]) -> str | None:
        """The fault for a request made on behalf of `names` (agent name, user marker).

        Order: a storm in force, then the plan's `by_agent`, then one draw against the
        plan's probabilities. None means "answer normally".
        """
        storm = self._storm
        if storm is not None and time.monotonic() < storm[1]:
            return storm[0]
        with self._lock:
            for name in names:
                if name in self._plan.by_agent:
                    return self._plan.by_agent[name]
            if not self._plan.probabilities:
                return None
            draw, total = self._rng.random(), 0.0
            for kind in KINDS:
                total += self._plan.probabilities.get(kind, 0.0)
                if draw < total:
                    return kind
        return None

    def over_quota(self) -> float | None:
        """None when the request is admitted, else the seconds until the window frees up.

        Only a `rate_limit` refuses requests; a refused request is not counted.
        """
        if self._plan.rate_limit is None:
            return None
        limit, window = self._plan.rate_limit
        with self._lock:
            now = time.monotonic()
            while self._admitted and self._admitted[0] <= now - window:
                self._admitted.popleft()
            if len(self._admitted) >= limit:
                return self._admitted[0] + window - now
            self._admitted.append(now)
            return None

    def retry_after(self) -> float:
        """Seconds for the ``Retry-After`` of a 429 (drawn from the plan's range)."""
        with self._lock:
            low, high = self._plan.retry_after  # type: ignore[misc]
            return low if low == high else self._rng.uniform(low, high)
