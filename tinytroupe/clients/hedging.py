"""Hedged requests: a call with no answer after a while is sent a second time.

After "The Tail at Scale" (Dean and Barroso): a parallel step waits for its slowest
call, and on a heavy-tailed endpoint a few calls in a hundred take several times the
median. With ``HEDGE_AFTER`` set (seconds, or a quantile such as ``p90`` of this
endpoint's recent latencies), a call still unanswered that long after it was sent gets
a second copy; the first good answer wins and the other exchange's connection is shut
down. ``HEDGE_MAX_FRACTION`` caps the copies at that fraction of calls.

The mechanism, in `HedgedCall.run`: the caller's thread sends the first copy itself
(no hand-off on the common path); once it is on the wire, a timer (one scheduler
thread for the process) is armed; when it fires and the budget allows, the second
copy is sent from a helper thread. Each copy is a whole attempt of the client:
it passes the provider gate (concurrency, per-minute limits, Retry-After pauses) and
counts as a request in usage. An `Abort` lets the winner cut the loser short.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import re
import socket
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import urllib3

from tinytroupe.clients.usage import usage

T = TypeVar("T")

#: Calls answered before a quantile threshold is trusted (until then: no hedging).
MIN_SAMPLES = 50
#: Recent call latencies a quantile is computed from.
SAMPLES_KEPT = 1000
#: The quantile is recomputed after this many new samples (not on every call).
_REFRESH_EVERY = 16
#: A quantile threshold is never below this multiple of the median: a call only a
#: little slower than the typical one will answer before a copy could (a copy needs
#: about the median itself), so copies go to calls that are really stuck.
MIN_TAIL_RATIO = 1.25


class HedgeLost(Exception):
    """The exchange was cut short: the other copy of the call answered first."""

    def __init__(self, sent: bool = True) -> None:
        super().__init__("the other copy of this call answered first")
        self.sent = sent


#: Guards which exchange owns a pooled connection now: an abort shuts a connection's
#: socket down only while its own exchange still owns it, never after the connection
#: went back to the pool and on to another request.
_owners = threading.Lock()


class Abort:
    """Lets another thread cut one HTTP exchange short, and only before it completed.

    The exchange `attach`-es its connection once connected (and becomes its owner) and
    `detach`-es once the whole answer is read; `abort` between the two shuts the
    connection's socket down, which wakes the thread blocked reading it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None
        self.aborted = False
        self.expired = False  # cut at its deadline, not by a winning copy
        self._finished = False

    def attach(self, connection: Any) -> None:
        """The exchange's connection; raises `HedgeLost` (nothing sent) if already aborted."""
        with self._lock:
            if self.aborted:
                raise HedgeLost(sent=False)
            self._connection = connection

    def detach(self) -> bool:
        """The answer is complete: later aborts do nothing. False if aborted before."""
        with self._lock:
            self._finished = True
            self._connection = None
            return not self.aborted

    def abort(self) -> None:
        """Cut the exchange short (no effect once it has completed)."""
        with self._lock:
            if self._finished:
                return
            self.aborted = True
            connection, self._connection = self._connection, None
        if connection is None:
            return
        with _owners:
            sock = connection.sock if connection.owner is self else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    # the plain socket's shutdown: SSLSocket's would also drop its TLS
                    # state under a thread still reading it
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def expire(self) -> None:
        """The exchange's deadline passed: cut it short as a timeout."""
        with self._lock:
            if self._finished:
                return
            self.expired = True
        self.abort()


class HedgePolicy:
    """When to hedge and how often: ``HEDGE_AFTER`` and ``HEDGE_MAX_FRACTION`` (module doc).

    `after` is seconds, or ``"pNN"`` (a quantile of this endpoint's recent latencies,
    e.g. ``p90``, but at least `MIN_TAIL_RATIO` times their median; no hedging until
    `MIN_SAMPLES` calls were answered).
    """

    def __init__(self, after: float | str, max_fraction: float = 0.1) -> None:
        self.quantile: float | None = None
        self.fixed: float | None = None
        if isinstance(after, str):
            self.quantile = parse_quantile(after)
        else:
            self.fixed = float(after)
        self.max_fraction = max_fraction
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=SAMPLES_KEPT)
        self._fresh = 0
        self._threshold: float | None = self.fixed
        self._calls = 0
        self._hedges = 0

    def delay(self) -> float | None:
        """Seconds after sending at which a call is hedged now (None: do not hedge)."""
        return self._threshold

    def record(self, seconds: float) -> None:
        """A call's latency (sent to answered); updates a quantile threshold."""
        if self.quantile is None:
            return
        with self._lock:
            self._latencies.append(seconds)
            self._fresh += 1
            if len(self._latencies) >= MIN_SAMPLES and (
                    self._threshold is None or self._fresh >= _REFRESH_EVERY):
                cuts = statistics.quantiles(self._latencies, n=1000, method="inclusive")
                wanted = cuts[min(998, max(0, round(self.quantile * 1000) - 1))]
                self._threshold = max(wanted, MIN_TAIL_RATIO * cuts[499])
                self._fresh = 0

    def note_call(self) -> None:
        """One more call that may be hedged (the budget grows with calls)."""
        with self._lock:
            self._calls += 1
            if self._calls > 100_000:  # a long run's budget follows its recent traffic
                self._calls //= 2
                self._hedges //= 2

    def spend(self) -> bool:
        """Take one hedge from the budget; False when hedges would exceed the fraction."""
        with self._lock:
            if self._hedges + 1 > self.max_fraction * self._calls:
                return False
            self._hedges += 1
            return True


def parse_quantile(text: str) -> float:
    """``"p90"`` -> 0.9, ``"p99.9"`` -> 0.999; ValueError for anything else."""
    match = re.fullmatch(r"\s*[pP](\d{1,2}(?:\.\d+)?)\s*", text)
    if match is None or not 0 < float(match.group(1)) < 100:
        raise ValueError(f"not a quantile like p90: {text!r}")
    return float(match.group(1)) / 100


class HedgedCall:
    """One call that may be sent twice; `run` returns the first good answer (module doc).

    `attempt(abort, on_sent)` makes one whole attempt: it calls ``on_sent()`` once its
    request has passed the gate and is being sent, and raises `HedgeLost` when `abort`
    cut it short. `user` is whom usage is counted for.
    """

    def __init__(self, policy: HedgePolicy,
                 attempt: Callable[[Abort, Callable[[], None] | None], T],
                 user: str | None) -> None:
        self.policy, self.attempt, self.user = policy, attempt, user
        self._lock = threading.Lock()
        self._winner: str | None = None
        self._primary_abort = Abort()
        self._hedge_abort = Abort()
        self._hedge: Future | None = None
        self._timer: _Timer | None = None
        self._sent_at = 0.0

    def run(self) -> T:
        """Send the call (and its copy if it is slow); the first good answer (module doc)."""
        self.policy.note_call()
        try:
            result = self.attempt(self._primary_abort, self._arm)
        except HedgeLost:
            return self._hedge_outcome()
        except Exception:
            self._disarm()
            with self._lock:  # from here on, no copy is launched for this call
                hedge = self._hedge
                if hedge is None:
                    self._winner = "nobody"
            if hedge is not None:  # the copy may still answer: it is the call's answer
                with contextlib.suppress(Exception):
                    return self._hedge_outcome()
            raise
        except BaseException:  # Ctrl-C: nobody waits for this call any more
            self._disarm()
            with self._lock:
                self._winner = self._winner or "nobody"
            self._hedge_abort.abort()
            raise
        if self._claim("primary"):
            self._disarm()
            self._hedge_abort.abort()
            self.policy.record(time.monotonic() - self._sent_at)
            return result
        return self._hedge_outcome()  # both answered; the copy was first

    def _arm(self) -> None:
        self._sent_at = time.monotonic()
        delay = self.policy.delay()
        if delay is not None:
            self._timer = schedule_at(delay, self._launch)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _launch(self) -> None:  # on the scheduler thread: quick
        with self._lock:
            if self._winner is not None or not self.policy.spend():
                return
            self._hedge = _helpers().submit(self._run_hedge)
        usage.add(self.user, hedged=1)

    def _run_hedge(self) -> T:
        result = self.attempt(self._hedge_abort, None)
        if not self._claim("hedge"):
            raise HedgeLost()
        usage.add(self.user, hedge_won=1)
        self._primary_abort.abort()
        self.policy.record(time.monotonic() - self._sent_at)
        return result

    def _claim(self, who: str) -> bool:
        with self._lock:
            if self._winner is None:
                self._winner = who
            return self._winner == who

    def _hedge_outcome(self) -> T:
        """The copy's answer (waiting for it); its error if it failed."""
        hedge = self._hedge
        assert hedge is not None, "cut short with no copy in flight"
        return hedge.result()


_current = threading.local()


class _AbortableMixin:
    """Hands a request made under `exchange_abort` to its `Abort`, as the owner."""

    owner: Abort | None = None

    def request(self, *args: Any, **kwargs: Any) -> Any:
        abort = getattr(_current, "abort", None)
        with _owners:
            self.owner = abort  # a late abort of a former owner no longer reaches it
        if abort is not None:
            if self.sock is None:  # type: ignore[attr-defined]
                self.connect()  # type: ignore[attr-defined]
            abort.attach(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_AbortableMixin, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_AbortableMixin, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


def abortable_pool(url: str, maxsize: int) -> urllib3.HTTPConnectionPool:
    """A connection pool for `url`'s host whose exchanges an `Abort` can cut short."""
    parts = urllib3.util.parse_url(url)
    cls = _HTTPSPool if parts.scheme == "https" else _HTTPPool
    return cls(parts.host, parts.port, maxsize=maxsize, block=False)


@contextlib.contextmanager
def exchange_abort(abort: Abort | None) -> Any:
    """Requests this thread makes inside the block hand their socket to `abort`."""
    _current.abort = abort
    try:
        yield
    finally:
        _current.abort = None


class _Timer:
    __slots__ = ("cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[[], None] | None) -> None:
        self.when, self.fn, self.cancelled = when, fn, False

    def cancel(self) -> None:
        """Skip it when due; drop the callback now (it holds the call and its payload)."""
        self.cancelled, self.fn = True, None


class _Scheduler:
    """One daemon thread running callbacks at their time (cancelled ones are skipped)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        threading.Thread(target=self._loop, name="tinytroupe-hedge-timer", daemon=True).start()

    def schedule(self, delay: float, fn: Callable[[], None]) -> _Timer:
        timer = _Timer(time.monotonic() + delay, fn)
        with self._changed:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (timer.when, next(self._order), timer))
            if earliest is None or timer.when < earliest:  # only then is a wake-up needed
                self._changed.notify()
        return timer

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._changed.wait(self._heap[0][0] - time.monotonic()
                                       if self._heap else None)
                _, _, timer = heapq.heappop(self._heap)
            fn = timer.fn
            if fn is not None and not timer.cancelled:
                try:
                    fn()
                except Exception:  # a failing callback must not stop every later hedge
                    import logging

                    logging.getLogger("tinytroupe").exception("hedge timer callback failed")


_shared: dict[str, Any] = {}
_shared_lock = threading.Lock()


def schedule_at(delay: float, fn: Callable[[], None]) -> _Timer:
    """Run `fn` on the process's timer thread after `delay` seconds; `cancel()` the result."""
    return _scheduler().schedule(delay, fn)


def _scheduler() -> _Scheduler:
    with _shared_lock:
        if "scheduler" not in _shared:
            _shared["scheduler"] = _Scheduler()
        return _shared["scheduler"]


def _helpers() -> Any:
    """The executor second copies run on (daemon threads, idle ones exit)."""
    with _shared_lock:
        if "helpers" not in _shared:
            from tinytroupe.environment.worker_pool import WorkerPool  # no import cycle

            _shared["helpers"] = WorkerPool(1024, "tinytroupe-hedge")
        return _shared["helpers"]
