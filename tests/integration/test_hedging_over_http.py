"""Hedged requests over real HTTP to the fake server (docs/parallel-execution.md, tail latency).

The server's waits are scripted per request (`Scripted`), so which copy of a call is
slow is known: a test proves the call returned without waiting for the slow copy,
that the slow copy's exchange was cut short (its thread is free long before its
answer was due), and that every copy passed the gate and was counted.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.agent.prompts import act_messages, system_message
from tinytroupe.clients import usage
from tinytroupe.clients.hedging import MIN_SAMPLES, MIN_TAIL_RATIO, HedgeLost, HedgePolicy
from tinytroupe.clients.limits import ProviderGate
from tinytroupe.clients.openai_client import OpenAICompatibleClient
from tinytroupe.environment import TinyWorld
from tinytroupe.testing import FakeLLMServer


def messages_for(name: str) -> list[dict[str, str]]:
    return act_messages(system_message(persona={"name": name}, accessible=[],
                                       mental_state={}), [])


def direct_client(server: FakeLLMServer, **settings: Any) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        url=f"{server.base_url}/chat/completions", api_key="sk-test-not-a-real-key",
        model="fake-model", timeout=5.0, max_attempts=2, retry_base_delay=0.01,
        retry_max_delay=0.05, **settings)


class Scripted:
    """Server latency: the given waits in arrival order, then `rest` for every request."""

    def __init__(self, *waits: float, rest: float = 0.0) -> None:
        self.waits, self.rest = list(waits), rest
        self.lock = threading.Lock()

    def draw(self) -> float:
        with self.lock:
            return self.waits.pop(0) if self.waits else self.rest


def scripted(server: FakeLLMServer, *waits: float, rest: float = 0.0) -> None:
    server.app.latency = Scripted(*waits, rest=rest)  # type: ignore[assignment]


def wait_until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_second_copy_wins_and_the_slow_one_is_cut_short(fake_llm: FakeLLMServer) -> None:
    scripted(fake_llm, 3.0, 0.05)  # the first copy is stuck for 3 s, the second is quick
    client = direct_client(fake_llm, hedge_after=0.1, hedge_max_fraction=1.0)
    before = usage.snapshot()
    started = time.perf_counter()
    answer = client.complete(messages_for("Bob"), user="Bob")
    elapsed = time.perf_counter() - started
    used = usage.snapshot().minus(before)
    assert answer.content
    # The caller's thread was blocked reading the first copy: returning this early
    # means the winner shut that exchange down instead of waiting out its 3 s.
    assert elapsed < 1.5
    assert (used.requests, used.hedged, used.hedge_won) == (2, 1, 1)
    assert used.completion_tokens > 0 and used.failures == 0
    assert fake_llm.stats()["total_requests"] == 2


def test_the_first_copy_wins_and_the_second_is_cut_short(fake_llm: FakeLLMServer) -> None:
    scripted(fake_llm, 0.4, 3.0)  # the hedge (sent at 0.1 s) is the slow one
    client = direct_client(fake_llm, hedge_after=0.1, hedge_max_fraction=1.0)
    before = usage.snapshot()
    client.complete(messages_for("Bob"), user="Bob")
    # The hedge's attempt is counted when its exchange ends: well before its answer
    # was due (3 s), because the winner shut its connection down.
    assert wait_until(lambda: usage.snapshot().minus(before).requests == 2, 1.5)
    used = usage.snapshot().minus(before)
    assert (used.hedged, used.hedge_won, used.failures) == (1, 0, 0)


def test_no_copy_for_a_call_answered_in_time(fake_llm: FakeLLMServer) -> None:
    scripted(fake_llm, rest=0.0)
    client = direct_client(fake_llm, hedge_after=0.5, hedge_max_fraction=1.0)
    before = usage.snapshot()
    for _ in range(5):
        client.complete(messages_for("Bob"), user="Bob")
    used = usage.snapshot().minus(before)
    assert (used.requests, used.hedged) == (5, 0)


def test_a_copy_waits_for_the_gate_like_any_request(fake_llm: FakeLLMServer) -> None:
    scripted(fake_llm, 0.6, rest=0.0)
    gate = ProviderGate(max_concurrent=1)  # the first copy holds the only slot
    client = direct_client(fake_llm, hedge_after=0.1, hedge_max_fraction=1.0, gate=gate)
    before = usage.snapshot()
    client.complete(messages_for("Bob"), user="Bob")
    assert wait_until(lambda: gate.concurrency.in_flight == 0, 2.0)
    used = usage.snapshot().minus(before)
    stats = fake_llm.stats()
    # The copy was launched but never got a slot before the first answered: not sent.
    assert used.hedged == 1 and used.hedge_won == 0
    assert stats["total_requests"] == 1 and stats["max_in_flight"] == 1
    assert used.requests == 1


def test_a_copy_is_held_back_by_a_retry_after_pause(fake_llm: FakeLLMServer) -> None:
    scripted(fake_llm, 2.0, 0.05)
    gate = ProviderGate()
    client = direct_client(fake_llm, hedge_after=0.1, hedge_max_fraction=1.0, gate=gate)
    result: list[Any] = []
    caller = threading.Thread(target=lambda: result.append(
        client.complete(messages_for("Bob"), user="Bob")))
    caller.start()
    assert wait_until(lambda: fake_llm.stats()["in_flight"] == 1, 2.0)
    paused_at = time.time()
    gate.pause(0.5)  # as if another call had just been answered 429, Retry-After: 0.5
    caller.join(5.0)
    stamps = fake_llm.stats(timestamps=True)["timestamps"]
    assert result and len(stamps) == 2
    assert stamps[1] >= paused_at + 0.5 - 0.02  # the copy waited the pause out
    assert stamps[1] - stamps[0] < 1.5  # and still beat the 2 s first copy


def test_the_budget_caps_copies_at_the_fraction_of_calls() -> None:
    policy = HedgePolicy(0.1, max_fraction=0.1)
    spent = 0
    for _ in range(200):
        policy.note_call()
        spent += policy.spend()
    assert spent == 20


def test_a_quantile_threshold_follows_recent_latencies() -> None:
    policy = HedgePolicy("p90")
    for i in range(MIN_SAMPLES - 1):
        policy.record((i + 1) / 100)
    assert policy.delay() is None  # too few answers to trust a quantile
    for i in range(MIN_SAMPLES - 1, 100):
        policy.record((i + 1) / 100)
    assert policy.delay() == pytest.approx(0.9, abs=0.02)
    with pytest.raises(ValueError, match="quantile"):
        HedgePolicy("p100")


def test_a_quantile_threshold_ignores_noise_around_the_median() -> None:
    policy = HedgePolicy("p90")
    for i in range(200):  # 1.00 to 1.02 s: no call is really stuck
        policy.record(1.0 + (i % 20) / 1000)
    assert policy.delay() == pytest.approx(MIN_TAIL_RATIO * 1.01, abs=0.01)


def test_a_hedged_world_has_the_same_transcript_and_counts_hedges(
        llm_over_http: FakeLLMServer) -> None:
    def run(hedge: bool) -> tuple[list[Any], dict[str, Any]]:
        TinyPerson.clear_agents()
        scripted(llm_over_http, *([0.9] + [0.0] * 5) * 4, rest=0.0)  # one slow call in six
        config_manager.set("hedge_after", 0.3 if hedge else None)
        config_manager.set("hedge_max_fraction", 0.5)
        config_manager.set("random_seed", 5)
        agents = [TinyPerson(f"Agent{i}") for i in range(6)]
        with TinyWorld(f"hedged-{hedge}", agents) as world:
            world.make_everyone_accessible()
            world.run(2, parallelize=True)
            return list(world.transcript), world.get_parallel_metrics()

    plain, plain_metrics = run(hedge=False)
    hedged, metrics = run(hedge=True)
    assert hedged == plain  # the winning answer is the one delivered, whoever sent it
    assert plain_metrics["llm_hedged"] == 0
    assert metrics["llm_hedged"] >= 1 and metrics["llm_hedge_won"] >= 1
    assert metrics["parallel_errors"] == 0


def test_a_late_abort_never_cuts_the_next_request_on_the_same_connection() -> None:
    """A copy that lost after its answer was read must not shut a reused connection."""
    import http.server
    import socketserver

    from tinytroupe.clients.hedging import Abort
    from tinytroupe.clients.transport import Urllib3Transport

    class Answer(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            wait = float(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(wait)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/v1"
    transport = Urllib3Transport(url, url, {}, 5.0, 10**6, pool_size=1)
    loser, answered = Abort(), threading.Event()
    finish = loser.detach

    def detach_late() -> bool:  # the losing copy's thread is slow to finish its exchange
        answered.set()
        time.sleep(0.4)
        return finish()

    loser.detach = detach_late  # type: ignore[method-assign]
    outcome: dict[str, Any] = {}

    def run(name: str, body: bytes, abort: Abort | None) -> None:
        try:
            outcome[name] = transport.post(body, abort)
        except Exception as exc:
            outcome[name] = exc

    try:
        losing = threading.Thread(target=run, args=("loser", b"0", loser))
        losing.start()
        assert answered.wait(5)
        other = threading.Thread(target=run, args=("other", b"0.5", None))
        other.start()
        time.sleep(0.1)  # the other request is on the wire
        loser.abort()  # the winner cuts its loser short, late
        losing.join(5)
        other.join(5)
    finally:
        server.shutdown()
        transport.close()
    assert outcome["other"] == (200, None, b"ok")
    assert isinstance(outcome["loser"], HedgeLost)
