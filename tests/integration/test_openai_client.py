"""The real HTTP client (`OpenAICompatibleClient`, `get_client`) against the fake server.

Every test talks over real loopback HTTP to `tinytroupe.testing.FakeLLMServer`; faults
are injected with `FaultPlan`. Request counts are read at the server. Timing assertions
are lower bounds only (safe on a slow machine).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.agent.actions import parse_actions
from tinytroupe.agent.prompts import act_messages, system_message
from tinytroupe.clients import (
    Completion,
    LLMConfigurationError,
    LLMRequestError,
    LLMTimeoutError,
    OpenAICompatibleClient,
    get_client,
    usage,
)
from tinytroupe.clients.errors import LLMOutputError
from tinytroupe.clients.offline import OfflineModel
from tinytroupe.testing import FakeLLMServer, FaultPlan

#: Run against each transport (libcurl and urllib3): one contract, two implementations.
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("each_transport")]

SECRET = "sk-test-SECRET-0123456789abcdef"


def messages_for(name: str) -> list[dict[str, str]]:
    """A real act() request for an agent called `name` (the server reads the name)."""
    system = system_message(persona={"name": name}, accessible=[], mental_state={})
    return act_messages(system, [])


def first_request_only(kind: str, **extra: Any) -> FaultPlan:
    """A plan whose first request gets `kind` and whose next one is answered normally.

    Deterministic: the fault draws come from ``random.Random(seed)``, whose first two
    values straddle the probability.
    """
    seed, p = 1, 0.5
    draws = random.Random(seed)
    assert draws.random() < p <= draws.random()
    return FaultPlan(probabilities={kind: p}, seed=seed, **extra)


def direct_client(server: FakeLLMServer, **overrides: Any) -> OpenAICompatibleClient:
    settings: dict[str, Any] = {
        "url": f"{server.base_url}/chat/completions", "api_key": "sk-test-not-a-real-key",
        "model": "fake-model", "timeout": 5.0, "max_attempts": 3, "retry_base_delay": 0.01,
        "retry_max_delay": 0.05, "transport": config_manager.get("http_transport")}
    settings.update(overrides)
    return OpenAICompatibleClient(**settings)


@pytest.fixture
def secret_llm(fake_llm: FakeLLMServer, use_server) -> FakeLLMServer:
    """Like `llm_over_http`, with a recognisable key to look for in errors and logs."""
    use_server(fake_llm, key=SECRET)
    return fake_llm


# --- success ------------------------------------------------------------------------


def test_success_parses_and_records_usage(llm_over_http: FakeLLMServer) -> None:
    client = get_client()
    assert isinstance(client, OpenAICompatibleClient)

    completion = client.complete(messages_for("Alice"), user="Alice")

    assert isinstance(completion, Completion)
    actions, state = parse_actions(completion.content)
    assert actions[-1]["type"] == "DONE"
    assert isinstance(state, dict)
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0
    used = usage.snapshot("Alice")  # Alice's own counters: an earlier test's late thread
    assert used.requests == 1        # may still add to the process totals
    assert used.retries == used.failures == used.rate_limited == 0
    assert used.prompt_tokens == completion.prompt_tokens
    assert used.completion_tokens == completion.completion_tokens
    stats = llm_over_http.stats()
    assert stats["total_requests"] == 1
    assert stats["outcomes"]["ok"] == 1
    assert stats["per_agent"] == {"Alice": 1}


def test_client_is_cached_per_configuration(llm_over_http: FakeLLMServer) -> None:
    assert get_client() is get_client()
    config_manager.set("max_attempts", 4)
    assert get_client().max_attempts == 4


# --- 429 and Retry-After ------------------------------------------------------------


def test_429_then_success_honours_retry_after(llm_over_http: FakeLLMServer) -> None:
    llm_over_http.configure(faults=first_request_only("429", retry_after=0.3))
    started = time.monotonic()

    completion = get_client().complete(messages_for("Alice"))

    elapsed = time.monotonic() - started
    parse_actions(completion.content)
    stats = llm_over_http.stats()
    assert stats["total_requests"] == 2
    assert stats["outcomes"]["429"] == 1 and stats["outcomes"]["ok"] == 1
    # The configured backoff is at most 0.05 s: only Retry-After explains 0.3 s.
    assert elapsed >= 0.3
    used = usage.snapshot()
    assert (used.requests, used.retries, used.rate_limited, used.failures) == (2, 1, 1, 0)


def test_429_by_agent_exhausts_attempts_after_waiting(llm_over_http: FakeLLMServer) -> None:
    llm_over_http.configure(faults=FaultPlan(by_agent={"Bob": "429"}, retry_after=0.2))
    config_manager.set("max_attempts", 2)
    started = time.monotonic()

    with pytest.raises(LLMRequestError) as caught:
        get_client().complete(messages_for("Bob"))

    assert time.monotonic() - started >= 0.2  # one Retry-After between the two attempts
    assert caught.value.status == 429
    assert llm_over_http.stats()["per_agent"] == {"Bob": 2}
    assert usage.snapshot().failures == 1


def test_429_storm_is_waited_out(llm_over_http: FakeLLMServer) -> None:
    """fail_all_until: the client cannot succeed before the storm ends, then does."""
    llm_over_http.configure(faults=FaultPlan(retry_after=0.15))
    config_manager.set("max_attempts", 10)
    deadline = llm_over_http.fail_all_until(0.4, "429")

    completion = get_client().complete(messages_for("Alice"))

    assert time.monotonic() >= deadline
    parse_actions(completion.content)
    stats = llm_over_http.stats()
    limited = stats["outcomes"]["429"]
    assert limited >= 1
    assert stats["outcomes"]["ok"] == 1
    assert stats["total_requests"] == limited + 1
    assert usage.snapshot().rate_limited == limited


# --- 500 ----------------------------------------------------------------------------


def test_500_then_success(llm_over_http: FakeLLMServer) -> None:
    llm_over_http.configure(faults=first_request_only("500"))

    completion = get_client().complete(messages_for("Alice"))

    parse_actions(completion.content)
    stats = llm_over_http.stats()
    assert stats["total_requests"] == 2
    assert stats["outcomes"]["500"] == 1 and stats["outcomes"]["ok"] == 1
    assert usage.snapshot().retries == 1


def test_500_forever_fails_after_max_attempts(llm_over_http: FakeLLMServer) -> None:
    config_manager.set("max_attempts", 4)
    llm_over_http.configure(faults=FaultPlan(by_agent={"Bob": "500"}))

    with pytest.raises(LLMRequestError) as caught:
        get_client().complete(messages_for("Bob"))

    assert not isinstance(caught.value, LLMTimeoutError)
    assert caught.value.status == 500
    assert "4 attempts" in str(caught.value)
    stats = llm_over_http.stats()
    assert stats["total_requests"] == 4
    assert stats["outcomes"]["500"] == 4
    used = usage.snapshot()
    assert (used.requests, used.retries, used.failures) == (4, 3, 1)


# --- timeouts and broken bodies -----------------------------------------------------


def test_hang_times_out(llm_over_http: FakeLLMServer) -> None:
    config_manager.set("timeout", 0.3)
    config_manager.set("max_attempts", 2)
    llm_over_http.configure(faults=FaultPlan(by_agent={"Bob": "hang"}))
    started = time.monotonic()

    with pytest.raises(LLMTimeoutError) as caught:
        get_client().complete(messages_for("Bob"))

    assert time.monotonic() - started >= 2 * 0.3
    assert "timed out" in str(caught.value)
    stats = llm_over_http.stats()
    assert stats["total_requests"] == 2
    assert stats["outcomes"]["hang"] == 2
    assert usage.snapshot().failures == 1


def test_bad_body_is_retried_then_succeeds(llm_over_http: FakeLLMServer) -> None:
    llm_over_http.configure(faults=first_request_only("bad_body"))

    completion = get_client().complete(messages_for("Alice"))

    parse_actions(completion.content)
    stats = llm_over_http.stats()
    assert stats["total_requests"] == 2
    assert stats["outcomes"]["bad_body"] == 1 and stats["outcomes"]["ok"] == 1


def test_bad_body_forever_is_a_clear_error(llm_over_http: FakeLLMServer) -> None:
    llm_over_http.configure(faults=FaultPlan(by_agent={"Bob": "bad_body"}))

    with pytest.raises(LLMRequestError) as caught:
        get_client().complete(messages_for("Bob"))

    message = str(caught.value)
    assert "not a chat completion" in message
    assert "3 attempts" in message
    assert llm_over_http.stats()["outcomes"]["bad_body"] == 3


def test_slow_drip_body_is_bounded_by_timeout(llm_over_http: FakeLLMServer) -> None:
    config_manager.set("timeout", 0.3)
    config_manager.set("max_attempts", 1)
    llm_over_http.configure(faults=FaultPlan(by_agent={"Bob": "slow_drip"}, drip_seconds=1.5))

    with pytest.raises(LLMTimeoutError):
        get_client().complete(messages_for("Bob"))


def test_refused_connection_is_a_request_error_not_a_timeout(llm_over_http: FakeLLMServer) -> None:
    llm_over_http.stop()
    with pytest.raises(LLMRequestError) as caught:
        get_client().complete(messages_for("Bob"))
    assert not isinstance(caught.value, LLMTimeoutError)
    assert "cannot connect" in str(caught.value)


# --- concurrency cap ----------------------------------------------------------------


@pytest.mark.parametrize(("cap", "latency", "expected"), [(3, 0.2, 3), (None, 0.5, 20)])
def test_concurrency_cap(fake_llm: FakeLLMServer, cap: int | None, latency: float,
                         expected: int) -> None:
    fake_llm.configure(latency=latency)
    client = direct_client(fake_llm, max_concurrent_calls=cap)
    calls = 20
    start = threading.Barrier(calls)

    def call(_: int) -> Completion:
        start.wait(timeout=10)
        return client.complete(messages_for("Alice"))

    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=calls) as pool:
            completions = list(pool.map(call, range(calls)))
        elapsed = time.monotonic() - started
    finally:
        client.close()

    assert len(completions) == calls
    for completion in completions:
        parse_actions(completion.content)
    stats = fake_llm.stats()
    assert stats["total_requests"] == calls
    assert stats["max_in_flight"] == expected
    if cap:
        assert elapsed >= -(-calls // cap) * latency  # ceil(20 / 3) waves


def test_concurrency_cap_from_configuration(llm_over_http: FakeLLMServer) -> None:
    config_manager.set("max_concurrent_model_calls", 2)
    llm_over_http.configure(latency=0.1)
    client = get_client()
    assert client.gate.concurrency.ceiling == 2

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: client.complete(messages_for("Alice")), range(8)))

    assert llm_over_http.stats()["max_in_flight"] == 2


# --- configuration and secrets ------------------------------------------------------


def test_missing_openai_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config_manager.set("api_type", "openai")

    with pytest.raises(LLMConfigurationError) as caught:
        get_client()

    message = str(caught.value)
    assert "OPENAI_API_KEY" in message
    assert "API_TYPE=offline" in message


def test_missing_azure_key_is_a_configuration_error(fake_llm: FakeLLMServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_OPENAI_KEY", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake_llm.url)
    config_manager.set("api_type", "azure")

    with pytest.raises(LLMConfigurationError, match="AZURE_OPENAI_KEY"):
        get_client()


def _texts_of(exc: BaseException) -> Iterator[str]:
    """Every message of `exc` and of the exceptions chained to it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield from (str(arg) for arg in current.args)
        current = current.__cause__ or current.__context__


def test_key_stays_out_of_repr(secret_llm: FakeLLMServer) -> None:
    client = get_client()
    assert SECRET not in repr(client)
    assert SECRET not in str(client)


@pytest.mark.parametrize("kind", ["500", "hang", "429"])
def test_key_stays_out_of_errors_and_logs(secret_llm: FakeLLMServer, kind: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    config_manager.set("timeout", 0.3)
    config_manager.set("max_attempts", 2)
    secret_llm.configure(faults=FaultPlan(by_agent={"Bob": kind}, retry_after=0.05))
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="tinytroupe")

    with pytest.raises(LLMRequestError) as caught:
        get_client().complete(messages_for("Bob"))

    for text in _texts_of(caught.value):
        assert SECRET not in text
    assert secret_llm.stats()["total_requests"] == 2
    # The failing call was logged (so the capture works), and no record has the key.
    assert any("retrying" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in (record.exc_text or "")
    assert SECRET not in caplog.text


# --- Azure --------------------------------------------------------------------------


def test_azure_endpoint(fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake server does not record request headers, so that the key travels in the
    # api-key header is not observable here; the call must simply succeed.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake_llm.url)
    monkeypatch.setenv("AZURE_OPENAI_KEY", SECRET)
    config_manager.set("api_type", "azure")
    config_manager.set("azure_deployment", "my-deployment")

    client = get_client()
    completion = client.complete(messages_for("Alice"))

    assert isinstance(client, OpenAICompatibleClient)
    assert "/openai/deployments/my-deployment/chat/completions" in client.url
    assert SECRET not in repr(client)
    parse_actions(completion.content)
    stats = fake_llm.stats()
    assert stats["total_requests"] == 1 and stats["outcomes"]["ok"] == 1


# --- malformed model output, at agent level -----------------------------------------


def test_malformed_output_exhausts_repairs(llm_over_http: FakeLLMServer) -> None:
    config_manager.set("max_output_repair_attempts", 1)
    llm_over_http.configure(faults=FaultPlan(by_agent={"Bob": "malformed"}))
    bob = TinyPerson("Bob")

    with pytest.raises(LLMOutputError) as caught:
        bob.act()

    assert "Bob" in str(caught.value)
    stats = llm_over_http.stats()
    assert stats["total_requests"] == 2
    assert stats["outcomes"]["malformed"] == 2


class FlakyResponder:
    """Malformed content on the first call, the offline model's answer afterwards."""

    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []
        self._model = OfflineModel()

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        self.requests.append(messages)
        if len(self.requests) == 1:
            return '{"actions": [{"type": "TALK", '
        return self._model.complete(messages)


def test_malformed_output_is_repaired(use_server) -> None:
    responder = FlakyResponder()
    with FakeLLMServer(responder=responder) as server:
        use_server(server)
        config_manager.set("max_output_repair_attempts", 1)
        bob = TinyPerson("Bob")

        actions = bob.act(return_actions=True)

        stats = server.stats()
    assert actions and actions[-1]["action"]["type"] == "DONE"
    assert stats["total_requests"] == 2 and stats["outcomes"]["ok"] == 2
    first, second = responder.requests
    assert second[: len(first)] == first
    repair = second[len(first):]
    assert repair[0] == {"role": "assistant", "content": '{"actions": [{"type": "TALK", '}
    assert repair[-1]["role"] == "user"
    assert "Your answer was invalid" in repair[-1]["content"]
    assert "not valid JSON" in repair[-1]["content"]
