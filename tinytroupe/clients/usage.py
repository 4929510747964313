"""Process-wide counters of LLM usage, shared by every client, world and thread."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field


@dataclass
class UsageSnapshot:
    """A consistent copy of the counters at one moment."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def minus(self, earlier: UsageSnapshot) -> UsageSnapshot:
        """What happened between `earlier` and this snapshot."""
        return UsageSnapshot(**{k: v - getattr(earlier, k) for k, v in asdict(self).items()})

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class UsageCounters:
    """Thread-safe counters; `snapshot()` never shows a torn update."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _data: UsageSnapshot = field(default_factory=UsageSnapshot)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self._data, name, getattr(self._data, name) + delta)

    def snapshot(self) -> UsageSnapshot:
        with self._lock:
            return UsageSnapshot(**asdict(self._data))

    def reset(self) -> None:
        with self._lock:
            self._data = UsageSnapshot()


#: The counters of this process.
usage = UsageCounters()
