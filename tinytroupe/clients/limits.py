"""Provider limits, enforced client-side and shared by every world and thread.

`ProviderGate` is what a request passes before it is sent:

1. **adaptive concurrency** (`AdaptiveConcurrency`): at most
   ``MAX_CONCURRENT_MODEL_CALLS`` calls in flight (None = no fixed cap); each 429
   halves the effective cap (at most once per cool-down, so one burst of 429s halves
   it once), and every success raises it by one, back up to the configured cap;
2. a **pause** after a 429: when the provider says ``Retry-After: s``, no new request
   of this process is sent before s seconds have passed;
3. **requests per minute** and **tokens per minute** (`SlidingWindow`): at most
   `limit` units in any window, so that a provider's own window never sees more; a
   request's tokens are estimated before sending and corrected with the usage the
   response reports.

Waiting here consumes no retry attempt; the time spent is counted as
``throttled_seconds`` in `tinytroupe.clients.usage`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Clock = Callable[[], float]


class WindowEntry:
    """One reservation in a `SlidingWindow`: when, how many units, still counted."""

    __slots__ = ("in_window", "stamp", "units")

    def __init__(self, stamp: float, units: float) -> None:
        self.stamp, self.units, self.in_window = stamp, units, True


class SlidingWindow:
    """At most `limit` units in any `window` seconds (a sliding-window log).

    `reserve(units)` blocks until the units fit, records them and returns a handle
    for `correct()`. A single reservation larger than the limit is let through alone
    (when nothing else is in the window) rather than blocking forever. Entries are
    kept `margin` seconds longer than the window, so that network jitter between
    here and the provider cannot put one request too many into the provider's window.
    """

    def __init__(self, limit: float, window: float, clock: Clock = time.monotonic,
                 margin: float = 0.0) -> None:
        if limit <= 0 or window <= 0:
            raise ValueError(f"limit and window must be > 0, got {limit}, {window}")
        self.limit, self.window = limit, window + margin
        self._clock = clock
        self._entries: deque[WindowEntry] = deque()  # oldest first
        self._used = 0.0
        self._changed = threading.Condition()

    def reserve(self, units: float) -> WindowEntry:
        """Block until `units` fit in the window, record them, and return their entry.

        The entry is the handle `correct` takes.
        """
        with self._changed:
            while True:
                entry, wait = self._try(units)
                if entry is not None:
                    return entry
                self._changed.wait(wait)

    def room(self) -> float:
        """Units that would fit in the window now."""
        with self._changed:
            self._expire(self._clock())
            return max(0.0, self.limit - self._used)

    def time_until_room(self, units: float) -> float:
        """Seconds until `units` would fit (0 if they fit now); reserves nothing."""
        with self._changed:
            now = self._clock()
            self._expire(now)
            if self._used + units <= self.limit or not self._entries:
                return 0.0
            return self._time_until_fits(units, now)

    def try_reserve(self, units: float) -> tuple[WindowEntry | None, float]:
        """Record `units` if they fit now: (their entry, 0); else (None, seconds until they fit)."""
        with self._changed:
            return self._try(units)

    def _try(self, units: float) -> tuple[WindowEntry | None, float]:  # with the lock held
        now = self._clock()
        self._expire(now)
        if self._used + units <= self.limit or not self._entries:
            entry = WindowEntry(now, units)
            self._entries.append(entry)
            self._used += units
            return entry, 0.0
        return None, self._time_until_fits(units, now)

    def correct(self, entry: WindowEntry, units: float) -> None:
        """Replace a reservation's units by what it really used."""
        with self._changed:
            if entry.in_window:
                self._used += units - entry.units
            entry.units = units
            self._changed.notify_all()

    def _expire(self, now: float) -> None:
        while self._entries and self._entries[0].stamp <= now - self.window:
            expired = self._entries.popleft()
            self._used -= expired.units
            expired.in_window = False

    def _time_until_fits(self, units: float, now: float) -> float:
        freed = self.limit - self._used
        for entry in self._entries:
            freed += entry.units
            if freed >= units:
                return max(0.001, entry.stamp + self.window - now)
        return max(0.001, self._entries[-1].stamp + self.window - now)


class AdaptiveConcurrency:
    """Calls in flight, capped by `ceiling` (None: none) and lowered on 429s (module doc)."""

    def __init__(self, ceiling: int | None, cooldown: float = 1.0,
                 clock: Clock = time.monotonic) -> None:
        self.ceiling = ceiling
        self.limit: float = ceiling if ceiling else math.inf
        self.in_flight = 0
        self._cooldown, self._clock = cooldown, clock
        self._last_cut = -math.inf
        self._changed = threading.Condition()

    def acquire(self) -> None:
        """Block until fewer than `limit` calls are in flight, then count one more."""
        with self._changed:
            while self.in_flight >= self.limit:
                self._changed.wait()
            self.in_flight += 1

    def release(self, rate_limited: bool) -> None:
        """Count one call fewer and adapt `limit`.

        A `rate_limited` call halves it (at most once per `cooldown`, never below 1); any
        other raises it by one, up to `ceiling` (without a ceiling, back to no limit once it
        is well above what is in flight).
        """
        with self._changed:
            self.in_flight -= 1
            now = self._clock()
            if rate_limited:
                if now - self._last_cut >= self._cooldown:
                    self._last_cut = now
                    self.limit = max(1.0, min(self.limit, self.in_flight + 1) / 2)
            elif self.limit < (self.ceiling or math.inf):
                self.limit = min(self.limit + 1, self.ceiling or math.inf)  # never past it
                if self.ceiling is None and self.limit > 2 * (self.in_flight + 1):
                    self.limit = math.inf  # recovered beyond any demand: uncapped again
            self._changed.notify_all()


class ProviderGate:
    """Everything a request waits for before it is sent (module doc)."""

    def __init__(self, *, max_concurrent: int | None = None, requests_per_window: int | None = None,
                 tokens_per_window: int | None = None, window: float = 60.0,
                 clock: Clock = time.monotonic, sleep: Callable[[float], None] = time.sleep
                 ) -> None:
        self.concurrency = AdaptiveConcurrency(max_concurrent or None, clock=clock)
        margin = 0.02 * window
        self.requests = (SlidingWindow(requests_per_window, window, clock, margin)
                         if requests_per_window else None)
        self.tokens = (SlidingWindow(tokens_per_window, window, clock, margin)
                       if tokens_per_window else None)
        self._clock, self._sleep = clock, sleep
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        """Send nothing new for `seconds` (the provider's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    @contextmanager
    def slot(self, estimated_tokens: int) -> Iterator[Reservation]:
        """Wait until a request may go; yields a `Reservation` to report what happened.

        The concurrency slot is taken first and the windows last, so that a request's
        place in a window is taken when it is really about to be sent, and a pause
        that starts while it waits for a slot still holds it back.
        """
        start = self._clock()
        self.concurrency.acquire()
        reservation = Reservation(self, None, waited=0.0)
        try:
            self._admit(reservation, estimated_tokens)
            reservation.waited = self._clock() - start
            yield reservation
        finally:
            self.concurrency.release(reservation.rate_limited)

    def _admit(self, reservation: Reservation, estimated_tokens: int) -> None:
        """Wait out a pause, then take the request's place in the windows."""
        while (wait := self._paused_until - self._clock()) > 0:
            self._sleep(wait)
        if self.requests is not None:
            self.requests.reserve(1)
        if self.tokens is not None:
            reservation._tokens = self.tokens.reserve(estimated_tokens)

    def correct_tokens(self, reservation: Any, tokens: int) -> None:
        """A request's token reservation (`reservation`, from `_admit`) really used `tokens`."""
        if reservation is not None and self.tokens is not None:
            self.tokens.correct(reservation, tokens)


class Reservation:
    """One request's passage through the gate."""

    def __init__(self, gate: ProviderGate, tokens: Any, waited: float) -> None:
        self.waited = waited
        self.rate_limited = False
        self._gate, self._tokens = gate, tokens

    def used_tokens(self, tokens: int) -> None:
        """Correct the token-window reservation to the `tokens` really used (if one was made)."""
        self._gate.correct_tokens(self._tokens, tokens)


_gates: dict[tuple, ProviderGate] = {}
_gates_lock = threading.Lock()


_installed: ProviderGate | None = None  # a cluster-wide gate for this whole process


def install_gate(gate: ProviderGate | None) -> None:
    """Make `shared_gate` return `gate` in this process (None: back to local gates).

    A Ray actor installs a `tinytroupe.clients.cluster_limits.LeasedGate` this way, so
    that every client in it counts against the limits of the whole cluster.
    """
    global _installed
    _installed = gate


def shared_gate(max_concurrent: int | None, requests_per_window: int | None,
                tokens_per_window: int | None, window: float) -> ProviderGate:
    """The process-wide gate for these limits (one per distinct setting).

    An installed cluster-wide gate (`install_gate`) takes precedence.
    """
    if _installed is not None:
        return _installed
    key = (max_concurrent or None, requests_per_window, tokens_per_window, window)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = ProviderGate(
                max_concurrent=max_concurrent, requests_per_window=requests_per_window,
                tokens_per_window=tokens_per_window, window=window)
        return gate


def clear_gates() -> None:
    """Forget every shared gate: the next `shared_gate` call builds a new one."""
    with _gates_lock:
        _gates.clear()
