"""Process-wide counters of LLM usage, shared by every client, world and thread.

Counters are kept in total and per user (the agent a request was made for), so that
a world can report cost per step and per agent. `estimated_cost` prices tokens with
``PRICE_PER_MILLION_INPUT_TOKENS`` / ``PRICE_PER_MILLION_OUTPUT_TOKENS`` when set.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class UsageSnapshot:
    """A consistent copy of the counters at one moment."""

    requests: int = 0  # HTTP requests sent (every attempt)
    retries: int = 0
    rate_limited: int = 0  # 429 answers
    failures: int = 0  # calls that failed after every attempt
    prompt_tokens: int = 0
    completion_tokens: int = 0
    throttled_seconds: float = 0.0  # waited for client-side limits before sending
    cache_hits: int = 0  # answers served by the response cache (no request)
    cache_misses: int = 0
    hedged: int = 0  # second copies sent of slow calls (tinytroupe.clients.hedging)
    hedge_won: int = 0  # calls whose second copy answered first

    def minus(self, earlier: UsageSnapshot) -> UsageSnapshot:
        """What happened between `earlier` and this snapshot."""
        return UsageSnapshot(**{k: v - getattr(earlier, k) for k, v in asdict(self).items()})

    def add(self, deltas: dict[str, float]) -> None:
        """Add `deltas` (counter name to amount) to these counters.

        An unknown counter name raises AttributeError, before anything is added (no
        counter is left half-updated).
        """
        unknown = [name for name in deltas if not hasattr(self, name)]
        if unknown:
            raise AttributeError(f"unknown usage counter(s): {', '.join(unknown)}")
        for name, delta in deltas.items():
            setattr(self, name, getattr(self, name) + delta)

    def as_dict(self) -> dict[str, float]:
        """The counters as a new dict of counter name to value."""
        return asdict(self)


@dataclass
class UsageCounters:
    """Thread-safe counters; `snapshot()` never shows a torn update."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _total: UsageSnapshot = field(default_factory=UsageSnapshot)
    _by_user: dict[str, UsageSnapshot] = field(default_factory=dict)

    def add(self, user: str | None = None, **deltas: float) -> None:
        """Add `deltas` (counter name to amount) to the total and, with a `user`, to theirs."""
        with self._lock:
            self._total.add(deltas)
            if user:
                self._by_user.setdefault(user, UsageSnapshot()).add(deltas)

    def add_reported(self, total: dict[str, float], by_user: dict[str, dict[str, float]]
                     ) -> None:
        """Add usage another process reported: `total`, of which `by_user` per user.

        (A Ray actor's calls, so that they count here as if they had been made here.)
        """
        rest = dict(total)
        for user, deltas in by_user.items():
            self.add(user, **deltas)
            for name, value in deltas.items():
                rest[name] -= value
        if any(rest.values()):
            self.add(**rest)

    def snapshot_all(self) -> tuple[UsageSnapshot, dict[str, UsageSnapshot]]:
        """Copies of the total and of every user's counters, taken at one moment."""
        with self._lock:
            return copy.copy(self._total), {u: copy.copy(s) for u, s in self._by_user.items()}

    def snapshot(self, user: str | None = None) -> UsageSnapshot:
        """A copy of the total counters, or of `user`'s (all zero for an unknown user)."""
        with self._lock:
            source = self._total if user is None else self._by_user.get(user, UsageSnapshot())
            return UsageSnapshot(**asdict(source))

    def reset(self) -> None:
        """Zero the total and forget every user's counters."""
        with self._lock:
            self._total = UsageSnapshot()
            self._by_user = {}


def estimated_cost(used: UsageSnapshot) -> float | None:
    """The price of `used` tokens, or None when no price is configured."""
    from tinytroupe.config import config_manager

    price_in = config_manager.get("price_per_million_input_tokens")
    price_out = config_manager.get("price_per_million_output_tokens")
    if price_in is None and price_out is None:
        return None
    return ((price_in or 0.0) * used.prompt_tokens
            + (price_out or 0.0) * used.completion_tokens) / 1_000_000


#: The counters of this process.
usage = UsageCounters()


class UsageReporter:
    """What `counters` gained since the last report: a Ray actor's usage for its driver.

    Each report covers everything counted since the one before, calls that ended after
    their step included, so that nothing is reported twice or lost, however the
    reports and the calls interleave.
    """

    def __init__(self, counters: UsageCounters) -> None:
        self._counters = counters
        self._lock = threading.Lock()
        self._total = UsageSnapshot()
        self._by_user: dict[str, UsageSnapshot] = {}

    def report(self) -> dict[str, Any]:
        """``{"usage": total gained, "usage_by_user": {user: {counter: gained}}}``.

        Only the users, and their counters, that gained since the last report.
        """
        with self._lock:
            total, by_user = self._counters.snapshot_all()
            gained = total.minus(self._total).as_dict()
            gained_by_user = {}
            for user, now in by_user.items():
                delta = now.minus(self._by_user.get(user, UsageSnapshot())).as_dict()
                if any(delta.values()):  # only the counters that moved: less to send
                    gained_by_user[user] = {name: value for name, value in delta.items()
                                            if value}
            self._total, self._by_user = total, by_user
        return {"usage": gained, "usage_by_user": gained_by_user}
