"""Provider limits for a whole cluster: one ledger, gates that lease from it in batches.

On the Ray backend every actor is its own process with its own client, so a
process-wide `ProviderGate` would let each actor send the full
``MAX_REQUESTS_PER_MINUTE``: 8 actors, 8 times the quota, and the provider answers
429. Here the windows live in one place, a `LimitLedger` (the Ray backend runs it as
one named actor), and each actor installs a `LeasedGate` (`limits.install_gate`) that
takes requests and tokens from the ledger in small batches, so that a request does
not pay a round trip, and hands back what it did not use when it asks again. A
Retry-After pause reported by one gate is recorded in the ledger, and every other
gate learns it with its next lease (leases last at most `LEASE_SECONDS`, so no gate
goes on sending for long on capacity leased before the pause). A leased request is
counted in the window from the moment it is leased, and may be sent a little later:
leases last at most 2% of the window, and the ledger keeps entries 4% of the window
longer (2% for that, 2% for network jitter, as a process-wide gate does).

Concurrency (``MAX_CONCURRENT_MODEL_CALLS``) is a cluster-wide cap too: the ledger
counts the call slots each process holds (`LeasedSlots`). A process asks for slots
when its calls need them (as many as are waiting, in one round trip: a call is long
next to it) and gives each back when its call ends, without waiting for an answer.
Slots are not handed from call to call inside a process, and a holder refused a slot
has the next free one kept for it, so that a busy process cannot starve the others.
A holder that is gone (its actor replaced, its world closed) is forgotten: what it
held is free, and whatever it asks for later is refused.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from tinytroupe.clients.limits import (
    AdaptiveConcurrency,
    ProviderGate,
    Reservation,
    SlidingWindow,
    WindowEntry,
)

#: Requests leased at a time (fewer when the window has less room).
LEASE_BATCH = 4
#: Seconds a lease may be used; then what is left goes back.
LEASE_SECONDS = 1.0
#: Seconds a process waits before asking again for call slots the ledger had none of.
SLOT_RETRY_SECONDS = 0.01
#: Seconds a refused holder keeps its place in the queue for slots without asking again.
SLOT_RESERVE_SECONDS = 0.1


class LimitLedger:
    """The cluster's windows and pause (module doc). Methods never block; thread-safe."""

    def __init__(self, requests_per_window: int | None, tokens_per_window: int | None,
                 window: float, max_concurrent: int | None = None) -> None:
        self.max_concurrent = max_concurrent
        self._slots: dict[str, int] = {}  # call slots held, by holder
        self._refused: dict[str, float] = {}  # holders refused a slot, and when
        self._retired: set[str] = set()  # holders forgotten: gone for good
        margin = 0.04 * window  # jitter (as ProviderGate) plus the lease's own life
        self.lease_seconds = min(LEASE_SECONDS, 0.02 * window)
        self.requests = (SlidingWindow(requests_per_window, window, margin=margin)
                         if requests_per_window else None)
        self.tokens = (SlidingWindow(tokens_per_window, window, margin=margin)
                       if tokens_per_window else None)
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._ids = itertools.count(1)
        self._leases: dict[int, tuple[WindowEntry | None, WindowEntry | None]] = {}

    def lease(self, requests: int, tokens_each: int, previous: int | None = None,
              unused_requests: int = 0, unused_tokens: int = 0
              ) -> tuple[int | None, int, float, float, float]:
        """Lease up to `requests` requests of `tokens_each` tokens.

        `previous` is the lease this replaces, with what was not used of it (tokens may
        be negative: used beyond the lease). Returns ``(lease id, requests granted,
        seconds of pause left, seconds until more fits, seconds the lease may be used)``;
        the tokens granted are ``granted x tokens_each``.
        """
        with self._lock:
            self._settle(previous, unused_requests, unused_tokens)
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                return None, 0, pause, pause, 0.0
            granted = requests
            if self.requests is not None:
                granted = min(granted, int(self.requests.room()))
            if self.tokens is not None and tokens_each > 0:
                granted = min(granted, int(self.tokens.room() // tokens_each))
                if granted == 0 and self.tokens.room() == self.tokens.limit:
                    granted = 1  # one request larger than the whole window goes alone
            if granted <= 0:
                return None, 0, 0.0, self._wait_for_room(tokens_each), 0.0
            entries = (self.requests.try_reserve(granted)[0] if self.requests else None,
                       self.tokens.try_reserve(granted * tokens_each)[0] if self.tokens
                       else None)
            lease = next(self._ids)
            self._leases[lease] = entries
            return lease, granted, 0.0, 0.0, self.lease_seconds

    def pause(self, seconds: float) -> None:
        """No lease is granted for `seconds` (a provider's Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def take_slots(self, holder: str, wanted: int) -> int:
        """Up to `wanted` call slots for `holder`, as many as the cap leaves; how many.

        Holders refused a slot queue in the order of their first refusal, and the free
        slots go to the front of the queue first, so that a busy holder asking again
        and again cannot starve the others. A refused holder that stops asking for
        `SLOT_RESERVE_SECONDS` leaves the queue. A forgotten holder gets none.
        """
        with self._lock:
            if holder in self._retired:
                return 0
            if self.max_concurrent is None:
                granted = wanted
            else:
                now = time.monotonic()
                for other, stamp in list(self._refused.items()):
                    if now - stamp > SLOT_RESERVE_SECONDS and other != holder:
                        del self._refused[other]  # it stopped asking
                queue = list(self._refused)
                ahead = queue.index(holder) if holder in self._refused else len(queue)
                free = self.max_concurrent - sum(self._slots.values()) - ahead
                granted = max(0, min(wanted, free))
                if granted:
                    self._refused.pop(holder, None)
                else:
                    self._refused[holder] = now  # keeps its place in the queue
            self._slots[holder] = self._slots.get(holder, 0) + granted
            return granted

    def give_slots(self, holder: str, count: int) -> None:
        """`holder` gives back `count` call slots."""
        with self._lock:
            if holder in self._slots:
                self._slots[holder] = max(0, self._slots[holder] - count)

    def forget(self, holder: str) -> None:
        """`holder` is gone: what it held is free, and it gets nothing more."""
        with self._lock:
            self._slots.pop(holder, None)
            self._refused.pop(holder, None)
            self._retired.add(holder)

    def slots_held(self) -> dict[str, int]:
        """The call slots held, by holder (for tests and diagnostics)."""
        with self._lock:
            return {holder: n for holder, n in self._slots.items() if n}

    def _settle(self, lease: int | None, unused_requests: int, unused_tokens: int) -> None:
        entries = self._leases.pop(lease, None) if lease is not None else None
        if entries is None:
            return
        requests, tokens = entries
        if requests is not None and self.requests is not None and unused_requests:
            self.requests.correct(requests, max(0, requests.units - unused_requests))
        if tokens is not None and self.tokens is not None and unused_tokens:
            self.tokens.correct(tokens, max(0, tokens.units - unused_tokens))

    def _wait_for_room(self, tokens_each: int) -> float:
        waits = [0.0]
        if self.requests is not None:
            waits.append(self.requests.time_until_room(1))
        if self.tokens is not None:
            waits.append(self.tokens.time_until_room(tokens_each))
        return min(1.0, max(0.005, *waits))


class LeasedSlots:
    """Calls in flight in this process, within the cluster-wide cap (module doc).

    The same `acquire`/`release` as `AdaptiveConcurrency`, which still applies inside
    (its 429 halving is this process's own).
    """

    def __init__(self, ledger: Callable[..., Any], holder: str, local: AdaptiveConcurrency,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._ledger, self._holder, self._local, self._sleep = ledger, holder, local, sleep
        self._tell = getattr(ledger, "tell", ledger)  # no answer needed
        self._changed = threading.Condition()
        self._held = self._busy = self._waiting = 0  # held = busy + granted, not yet taken
        self._asking = False

    @property
    def in_flight(self) -> int:
        """Calls of this process holding a slot now."""
        return self._busy

    def acquire(self) -> None:
        """Block until this process holds a free cluster slot, then take it."""
        self._local.acquire()
        with self._changed:
            self._waiting += 1
            try:
                while self._busy >= self._held:
                    if self._asking:  # another thread asks for all that wait
                        self._changed.wait()
                        continue
                    self._ask()
            except BaseException:
                self._waiting -= 1
                self._give_back(self._held - self._busy - self._waiting)
                self._local.release(False)
                raise
            self._waiting -= 1
            self._busy += 1

    def _ask(self) -> None:  # with the lock held; released during the round trip
        self._asking = True
        wanted = self._waiting - (self._held - self._busy)
        self._changed.release()
        try:
            granted = self._ledger("take_slots", self._holder, wanted)
            if not granted:
                self._sleep(SLOT_RETRY_SECONDS)
        finally:
            self._changed.acquire()
            self._asking = False
            self._changed.notify_all()
        self._held += granted

    def release(self, rate_limited: bool) -> None:
        """Give the slot back to the ledger (a call waiting here asks for it like any other)."""
        with self._changed:
            self._busy -= 1
            self._give_back(1)
        self._local.release(rate_limited)

    def _give_back(self, count: int) -> None:  # with the lock held
        if count > 0:
            self._held -= count
            self._tell("give_slots", self._holder, count)

class LeasedGate(ProviderGate):
    """A process's gate, with the windows, the pause and the call slots of a `LimitLedger`.

    `ledger(method, *args)` calls the ledger (for Ray: ``ray.get`` of the actor method);
    an optional ``ledger.tell(method, *args)`` calls it without waiting. With
    `max_concurrent`, calls in flight are capped for the whole cluster, under the name
    `holder` (module doc).
    """

    def __init__(self, ledger: Callable[..., Any], max_concurrent: int | None = None,
                 holder: str = "") -> None:
        super().__init__(max_concurrent=max_concurrent)
        if max_concurrent:
            self.concurrency = LeasedSlots(ledger, holder, self.concurrency)  # type: ignore
        self._ledger = ledger
        self._lease_lock = threading.Lock()
        self._lease: int | None = None
        self._requests_left = 0
        self._tokens_left = 0
        self._tokens_each = 0
        self._lease_ends = 0.0

    def pause(self, seconds: float) -> None:
        """Pause here, and everywhere else through the ledger."""
        super().pause(seconds)
        self._ledger("pause", seconds)

    def _admit(self, reservation: Reservation, estimated_tokens: int) -> None:
        while True:
            while (wait := self._paused_until - self._clock()) > 0:
                self._sleep(wait)
            with self._lease_lock:
                if self._take(estimated_tokens):
                    reservation._tokens = estimated_tokens
                    return
                previous, unused = self._lease, (self._requests_left, self._tokens_left)
                self._lease, self._requests_left, self._tokens_left = None, 0, 0
                lease, granted, pause, retry, valid = self._ledger(
                    "lease", LEASE_BATCH, estimated_tokens, previous, *unused)
                if granted:
                    self._lease, self._requests_left = lease, granted
                    self._tokens_left = granted * estimated_tokens
                    self._lease_ends = time.monotonic() + valid
            if pause > 0:
                ProviderGate.pause(self, pause)
            elif not granted:
                self._sleep(retry)

    def _take(self, estimated_tokens: int) -> bool:  # with the lease lock held
        if self._lease is None or time.monotonic() > self._lease_ends \
                or self._requests_left < 1 or self._tokens_left < estimated_tokens:
            return False
        self._requests_left -= 1
        self._tokens_left -= estimated_tokens
        return True

    def correct_tokens(self, reservation: Any, tokens: int) -> None:
        """A request used `tokens`, not its estimate: the difference stays in the lease."""
        if reservation is None:
            return
        with self._lease_lock:
            self._tokens_left += int(reservation) - tokens  # negative: owed to the ledger
