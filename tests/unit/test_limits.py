"""Client-side provider limits: windows hold, tokens are corrected, 429s cut concurrency."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tinytroupe.clients.limits import AdaptiveConcurrency, ProviderGate, SlidingWindow
from tinytroupe.testing.stats import max_in_any_window


def test_sliding_window_never_admits_more_than_the_limit_in_any_window() -> None:
    window, limit = 0.3, 5
    limiter = SlidingWindow(limit, window)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            entry = limiter.reserve(1)
            with lock:  # the limiter's own admission time (a stamp taken after it returns
                stamps.append(entry.stamp)  # could drift into the next window)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(stamps) == 18
    assert max_in_any_window(stamps, window) <= limit
    assert max(stamps) - min(stamps) >= 3 * window  # 18 units at 5 per window: 4 windows


def test_token_corrections_free_or_take_capacity() -> None:
    now = [0.0]
    limiter = SlidingWindow(100, 60, clock=lambda: now[0])
    first = limiter.reserve(90)
    limiter.correct(first, 10)  # the answer was shorter than estimated
    limiter.reserve(90)  # fits now: 10 + 90 <= 100, would block without the correction
    assert limiter._used == 100
    now[0] = 61.0
    limiter.reserve(100)  # the window moved on
    assert limiter._used == 100


def test_an_oversized_request_goes_through_alone() -> None:
    limiter = SlidingWindow(10, 60)
    limiter.reserve(50)  # bigger than the limit, nothing else in the window: admitted
    assert limiter._used == 50


def test_adaptive_concurrency_halves_once_per_burst_and_regrows() -> None:
    now = [0.0]
    gate = AdaptiveConcurrency(ceiling=16, cooldown=1.0, clock=lambda: now[0])
    for _ in range(16):
        gate.acquire()
    for _ in range(8):  # a burst of 429s
        gate.release(rate_limited=True)
    assert gate.limit == 8  # cut once, not eight times
    now[0] = 2.0
    gate.release(rate_limited=True)
    assert gate.limit == 4  # a later 429, after the cool-down, cuts again
    for _ in range(7):
        gate.release(rate_limited=False)
    assert gate.limit == 11 and gate.in_flight == 0
    for _ in range(20):
        gate.acquire()
        gate.release(rate_limited=False)
    assert gate.limit == 16  # back to the configured cap, never above


def test_uncapped_concurrency_becomes_uncapped_again_after_recovery() -> None:
    gate = AdaptiveConcurrency(ceiling=None)
    for _ in range(10):
        gate.acquire()
    gate.release(rate_limited=True)
    assert gate.limit == 5
    for _ in range(9):
        gate.release(rate_limited=False)
    gate.acquire()
    gate.release(rate_limited=False)
    assert gate.limit == float("inf")


def test_adaptive_concurrency_blocks_beyond_the_limit() -> None:
    gate = AdaptiveConcurrency(ceiling=2)
    gate.acquire()
    gate.acquire()
    entered = threading.Event()

    def third() -> None:
        gate.acquire()
        entered.set()

    thread = threading.Thread(target=third, daemon=True)
    thread.start()
    assert not entered.wait(0.2)  # blocked while two are in flight
    gate.release(rate_limited=False)
    assert entered.wait(5)


def test_gate_pause_holds_new_requests_and_counts_the_wait() -> None:
    gate = ProviderGate()
    gate.pause(0.2)
    start = time.monotonic()
    with gate.slot(estimated_tokens=10) as reservation:
        pass
    assert time.monotonic() - start >= 0.19
    assert reservation.waited >= 0.19


@pytest.mark.parametrize("bad", [(0, 60), (10, 0)])
def test_window_rejects_nonsense(bad) -> None:
    with pytest.raises(ValueError):
        SlidingWindow(*bad)


def test_a_pause_that_starts_while_a_request_waits_for_a_slot_holds_it_back() -> None:
    gate = ProviderGate(max_concurrent=1)
    entered = threading.Event()
    started_at: list[float] = []

    def second() -> None:
        entered.set()
        with gate.slot(estimated_tokens=1):
            started_at.append(time.monotonic())

    with gate.slot(estimated_tokens=1) as first:
        waiter = threading.Thread(target=second)
        waiter.start()
        assert entered.wait(5)
        first.rate_limited = True
        gate.pause(0.3)  # the 429's Retry-After, set before the slot is released
        paused_at = time.monotonic()
    waiter.join(timeout=10)
    assert started_at and started_at[0] - paused_at >= 0.29


def test_regrowth_after_an_odd_cut_never_passes_the_ceiling() -> None:
    now = [0.0]
    gate = AdaptiveConcurrency(ceiling=5, cooldown=1.0, clock=lambda: now[0])
    for _ in range(5):
        gate.acquire()
    gate.release(rate_limited=True)  # 4 in flight: halved to (4 + 1) / 2 = 2.5
    assert gate.limit == 2.5
    for _ in range(4):
        gate.release(rate_limited=False)
    for _ in range(10):  # successes raise it by one each, up to the ceiling and no further
        gate.acquire()
        gate.release(rate_limited=False)
    assert gate.limit == 5


def _ledger_call(ledger: Any) -> Any:
    return lambda method, *args: getattr(ledger, method)(*args)


def test_gates_sharing_a_ledger_hold_the_limit_together() -> None:
    from tinytroupe.clients.cluster_limits import LeasedGate, LimitLedger
    from tinytroupe.testing.stats import max_in_any_window

    limit, window = 20, 0.5
    ledger = LimitLedger(limit, None, window)
    gates = [LeasedGate(_ledger_call(ledger)) for _ in range(4)]  # four "actors"
    stamps: list[float] = []
    lock = threading.Lock()

    def send(gate: Any) -> None:
        for _ in range(15):
            with gate.slot(100), lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=send, args=(gate,)) for gate in gates for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(stamps) == 120
    # four gates, one limit: never more than `limit` in any window (each alone would allow it)
    assert max_in_any_window(stamps, window) <= limit


def test_a_pause_seen_by_one_gate_holds_the_others() -> None:
    from tinytroupe.clients.cluster_limits import LeasedGate, LimitLedger

    ledger = LimitLedger(1000, None, 60.0)
    first, second = LeasedGate(_ledger_call(ledger)), LeasedGate(_ledger_call(ledger))
    paused_at = time.monotonic()
    first.pause(0.4)  # first got a 429 with Retry-After: 0.4
    with second.slot(10):
        admitted = time.monotonic()
    assert admitted >= paused_at + 0.4 - 0.01


def test_unused_leases_go_back_to_the_window() -> None:
    from tinytroupe.clients.cluster_limits import LimitLedger

    ledger = LimitLedger(10, 1000, 60.0)
    lease, granted, _, _, _ = ledger.lease(4, 100)
    assert granted == 4 and ledger.requests.room() == 6 and ledger.tokens.room() == 600
    _, again, _, _, _ = ledger.lease(4, 100, lease, 3, 350)  # used 1 request, 50 tokens
    assert again == 4
    assert ledger.requests.room() == 10 - 1 - 4
    assert ledger.tokens.room() == 1000 - 50 - 400


def test_gates_sharing_a_ledger_hold_one_concurrency_cap() -> None:
    from tinytroupe.clients.cluster_limits import LeasedGate, LimitLedger

    cap = 3
    ledger = LimitLedger(None, None, 60.0, max_concurrent=cap)
    gates = [LeasedGate(_ledger_call(ledger), max_concurrent=cap, holder=f"actor{i}")
             for i in range(4)]  # four "actors", each allowed `cap` on its own
    in_flight, peak, done = 0, 0, 0
    lock = threading.Lock()

    def send(gate: Any) -> None:
        nonlocal in_flight, peak, done
        for _ in range(10):
            with gate.slot(10):
                with lock:
                    in_flight += 1
                    peak = max(peak, in_flight)
                time.sleep(0.002)
                with lock:
                    in_flight -= 1
                    done += 1

    threads = [threading.Thread(target=send, args=(gate,)) for gate in gates for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert done == 120 and not any(t.is_alive() for t in threads)  # no call stranded
    assert peak == cap  # reached, never passed, across the four gates together
    assert ledger.slots_held() == {}  # every slot given back once the calls ended


def test_a_forgotten_holder_frees_its_slots_and_gets_no_more() -> None:
    from tinytroupe.clients.cluster_limits import LeasedGate, LimitLedger

    ledger = LimitLedger(None, None, 60.0, max_concurrent=2)
    dead = LeasedGate(_ledger_call(ledger), max_concurrent=2, holder="shard-0.1")
    held = [dead.slot(10) for _ in range(2)]  # the actor dies holding both slots
    for slot in held:
        slot.__enter__()
    assert ledger.slots_held() == {"shard-0.1": 2}
    ledger.forget("shard-0.1")  # its world replaced it (or closed)
    assert ledger.take_slots("shard-0.1", 1) == 0  # a late request from the dead actor
    replacement = LeasedGate(_ledger_call(ledger), max_concurrent=2, holder="shard-0.2")
    with replacement.slot(10), replacement.slot(10):  # both slots are free again
        assert ledger.slots_held() == {"shard-0.2": 2}


def test_a_busy_holder_does_not_starve_another() -> None:
    from tinytroupe.clients.cluster_limits import LeasedGate, LimitLedger

    ledger = LimitLedger(None, None, 60.0, max_concurrent=2)
    busy = LeasedGate(_ledger_call(ledger), max_concurrent=2, holder="busy")
    other = LeasedGate(_ledger_call(ledger), max_concurrent=2, holder="other")
    finished: list[str] = []
    lock = threading.Lock()

    def call(gate: Any, who: str) -> None:
        with gate.slot(10):
            time.sleep(0.002)
        with lock:
            finished.append(who)

    def backlog() -> None:
        for _ in range(60):
            call(busy, "busy")

    threads = [threading.Thread(target=backlog) for _ in range(4)]
    for thread in threads:
        thread.start()
    while len(finished) < 10:  # the busy holder is in full swing
        time.sleep(0.001)
    call(other, "other")
    for thread in threads:
        thread.join(30)
    assert len(finished) == 241
    assert finished.index("other") < 60  # served within a few turns, not after the backlog


def test_a_failed_ledger_call_strands_no_slot() -> None:
    from tinytroupe.clients.cluster_limits import LeasedGate, LimitLedger

    ledger = LimitLedger(None, None, 60.0, max_concurrent=1)
    asking, released = threading.Event(), threading.Event()

    def call(method: str, *args: Any) -> Any:
        if method == "take_slots" and args[0] == "a" and ledger.slots_held():
            asking.set()
            released.wait(5)  # the busy call ends while this request is under way...
            raise ConnectionError("the ledger's node is gone")  # ...which then fails
        return getattr(ledger, method)(*args)

    gate = LeasedGate(call, max_concurrent=2, holder="a")  # the cluster allows only 1
    outcome: list[Any] = []

    def waiter() -> None:
        try:
            with gate.slot(10):
                outcome.append("sent")
        except ConnectionError as exc:
            outcome.append(exc)

    with gate.slot(10):
        thread = threading.Thread(target=waiter)
        thread.start()
        assert asking.wait(5)
    released.set()
    thread.join(5)
    assert outcome and isinstance(outcome[0], ConnectionError)
    assert ledger.slots_held() == {}  # nothing kept for the failed waiter
    other = LeasedGate(_ledger_call(ledger), max_concurrent=1, holder="b")
    with other.slot(10):  # the one slot is free for anyone
        assert ledger.slots_held() == {"b": 1}
