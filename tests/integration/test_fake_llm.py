"""The fake OpenAI-compatible server, exercised over real loopback HTTP."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import pytest
import urllib3

from tinytroupe.agent.prompts import act_messages, system_message
from tinytroupe.testing import FakeLLMServer, FaultPlan

pytestmark = pytest.mark.integration


def messages_for(name: str) -> list[dict[str, str]]:
    """A real act() request for an agent called `name`."""
    system = system_message(persona={"name": name}, accessible=[], mental_state={})
    return act_messages(system, [])


def post(http: urllib3.PoolManager, url: str, name: str = "Alice", timeout: Any = 10.0,
         **extra: Any) -> urllib3.BaseHTTPResponse:
    body = {"model": "fake-model", "messages": messages_for(name), **extra}
    return http.request("POST", f"{url}/chat/completions", json=body, timeout=timeout,
                        retries=False)


@pytest.fixture
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager(maxsize=64)


def test_valid_completion(http: urllib3.PoolManager) -> None:
    with FakeLLMServer() as server:
        response = post(http, server.base_url)
    assert response.status == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "fake-model"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    assert "actions" in json.loads(choice["message"]["content"])
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_other_routes_and_bad_request(http: urllib3.PoolManager) -> None:
    with FakeLLMServer() as server:
        plain = post(http, server.url)
        azure = post(http, f"{server.url}/openai/deployments/gpt-4o")
        bad = http.request("POST", f"{server.base_url}/chat/completions", body=b"{not json")
        stats = server.stats()
    assert plain.status == azure.status == 200
    assert bad.status == 400
    assert stats["outcomes"]["bad_request"] == 1


def test_custom_responder(http: urllib3.PoolManager) -> None:
    with FakeLLMServer(responder=lambda messages: '{"actions": []}') as server:
        content = post(http, server.base_url).json()["choices"][0]["message"]["content"]
    assert content == '{"actions": []}'


def test_latency_is_applied(http: urllib3.PoolManager) -> None:
    with FakeLLMServer(latency=0.25) as server:
        started = time.perf_counter()
        response = post(http, server.base_url)
        elapsed = time.perf_counter() - started
    assert response.status == 200
    assert elapsed >= 0.25


def test_requests_are_served_concurrently(http: urllib3.PoolManager) -> None:
    # a latency long enough that all 50 are in flight at once even on a loaded machine
    with FakeLLMServer(latency=2.0) as server, ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda i: post(http, server.base_url, f"A{i}"), range(50)))
        stats = server.stats()
    assert [r.status for r in responses] == [200] * 50
    assert stats["max_in_flight"] == 50
    assert stats["total_requests"] == 50 and stats["in_flight"] == 0
    assert stats["outcomes"]["ok"] == 50
    assert len(stats["per_agent"]) == 50


def test_429_carries_retry_after(http: urllib3.PoolManager) -> None:
    plan = FaultPlan(probabilities={"429": 1.0}, retry_after=0.5)
    with FakeLLMServer(faults=plan) as server:
        response = post(http, server.base_url)
        server.configure(faults=FaultPlan(probabilities={"429": 1.0}, retry_after=(0.1, 1.0)))
        ranged = [float(post(http, server.base_url).headers["Retry-After"]) for _ in range(5)]
    assert response.status == 429
    assert response.headers["Retry-After"] == "0.5"
    assert response.json()["error"]["type"] == "rate_limit_exceeded"
    assert all(0.1 <= seconds <= 1.0 for seconds in ranged)


def test_500(http: urllib3.PoolManager) -> None:
    with FakeLLMServer(faults=FaultPlan(probabilities={"500": 1.0})) as server:
        response = post(http, server.base_url)
        stats = server.stats()
    assert response.status == 500
    assert stats["outcomes"]["500"] == 1


def test_malformed_content_is_not_json(http: urllib3.PoolManager) -> None:
    with FakeLLMServer(faults=FaultPlan(probabilities={"malformed": 1.0})) as server:
        response = post(http, server.base_url)
    assert response.status == 200
    content = response.json()["choices"][0]["message"]["content"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_bad_body_is_not_json(http: urllib3.PoolManager) -> None:
    with FakeLLMServer(faults=FaultPlan(probabilities={"bad_body": 1.0})) as server:
        response = post(http, server.base_url)
    assert response.status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.data)


def test_slow_drip_delivers_a_valid_body_slowly(http: urllib3.PoolManager) -> None:
    plan = FaultPlan(probabilities={"slow_drip": 1.0}, drip_seconds=0.3)
    with FakeLLMServer(faults=plan) as server:
        started = time.perf_counter()
        response = post(http, server.base_url)
        elapsed = time.perf_counter() - started
    assert response.status == 200
    assert "actions" in json.loads(response.json()["choices"][0]["message"]["content"])
    assert elapsed >= 0.3


def test_fault_by_agent_hits_only_that_agent(http: urllib3.PoolManager) -> None:
    plan = FaultPlan(by_agent={"Bob": "500", "Carol": "429"})
    with FakeLLMServer(faults=plan) as server:
        bob = [post(http, server.base_url, "Bob").status for _ in range(3)]
        alice = [post(http, server.base_url, "Alice").status for _ in range(3)]
        marked = post(http, server.base_url, "Alice", user="Carol").status
        stats = server.stats()
    assert bob == [500] * 3
    assert alice == [200] * 3
    assert marked == 429
    assert stats["per_agent"] == {"Bob": 3, "Alice": 4}


def test_probabilities_are_reproducible_with_a_seed(http: urllib3.PoolManager) -> None:
    def statuses() -> list[int]:
        plan = FaultPlan(probabilities={"500": 0.5}, seed=7)
        with FakeLLMServer(faults=plan) as server:
            return [post(http, server.base_url).status for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 500}


def test_hang_is_bounded_by_client_timeout_and_stop_is_prompt(
        http: urllib3.PoolManager) -> None:
    server = FakeLLMServer(faults=FaultPlan(probabilities={"hang": 1.0})).start()
    try:
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            post(http, server.base_url, timeout=urllib3.Timeout(connect=2.0, read=0.3))
        outcome: list[Any] = []

        def waiting_client() -> None:
            try:
                outcome.append(post(http, server.base_url, timeout=30.0).status)
            except urllib3.exceptions.HTTPError as exc:
                outcome.append(exc)

        client = threading.Thread(target=waiting_client, daemon=True)
        client.start()
        deadline = time.monotonic() + 10
        while server.stats()["in_flight"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.stats()["in_flight"] == 2
        assert server.stats()["outcomes"]["hang"] == 2
    finally:
        started = time.perf_counter()
        server.stop()
        stop_seconds = time.perf_counter() - started
    client.join(5)
    assert stop_seconds < 3.0
    assert not client.is_alive()
    assert outcome and outcome[0] != 200  # released, not answered
    server.stop()  # idempotent


def test_fail_all_until_then_recovery(http: urllib3.PoolManager) -> None:
    with FakeLLMServer() as server:
        deadline = server.fail_all_until(kind="429", seconds=0.5)
        during = [post(http, server.base_url).status for _ in range(3)]
        time.sleep(max(0.0, deadline - time.monotonic()))  # the storm's end is known exactly
        after = post(http, server.base_url).status
    assert during == [429] * 3
    assert after == 200


def test_stats_reset_and_config_over_http(http: urllib3.PoolManager) -> None:
    with FakeLLMServer() as server:
        post(http, server.base_url, "Bob")
        stats = http.request("GET", f"{server.url}/stats").json()
        assert stats["total_requests"] == 1 and stats["per_agent"] == {"Bob": 1}
        assert "timestamps" not in stats
        with_times = http.request("GET", f"{server.url}/stats?timestamps=1").json()
        assert len(with_times["timestamps"]) == 1
        assert abs(with_times["timestamps"][0] - time.time()) < 60

        reset = http.request("POST", f"{server.url}/stats/reset").json()
        assert reset["total_requests"] == 0 and reset["max_in_flight"] == 0
        assert server.stats()["outcomes"]["ok"] == 0

        config = {"latency_range": [0.2, 0.3], "faults": {"by_agent": {"Bob": "500"}}}
        answer = http.request("POST", f"{server.url}/config", json=config)
        assert answer.status == 200
        assert answer.json()["latency"] == {"distribution": "uniform", "min": 0.2, "max": 0.3}
        started = time.perf_counter()
        assert post(http, server.base_url, "Alice").status == 200
        assert time.perf_counter() - started >= 0.2
        assert post(http, server.base_url, "Bob").status == 500

        unknown_kind = {"faults": {"by_agent": {"X": "?"}}}
        bad = http.request("POST", f"{server.url}/config", json=unknown_kind)
        assert bad.status == 400


def test_fault_plan_validation() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan(probabilities={"teapot": 0.1})
    with pytest.raises(ValueError, match="sum"):
        FaultPlan(probabilities={"429": 0.6, "500": 0.6})
    with pytest.raises(ValueError, match="retry_after"):
        FaultPlan(retry_after=(2.0, 1.0))
    plan = FaultPlan(probabilities={"429": 0.1}, by_agent={"Bob": "hang"}, retry_after=(0.1, 1))
    assert FaultPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_spawned_server_answers_and_stops(http: urllib3.PoolManager) -> None:
    with FakeLLMServer.spawn(latency=0.05, faults=FaultPlan(by_agent={"Bob": "429"})) as child:
        pid = child.process.pid
        assert post(http, child.base_url).status == 200
        assert post(http, child.base_url, "Bob").status == 429
        stats = child.stats()
        assert stats["outcomes"]["ok"] == 1 and stats["outcomes"]["429"] == 1
        child.configure(faults=FaultPlan())
        assert post(http, child.base_url, "Bob").status == 200
        child.reset_stats()
        assert child.stats()["total_requests"] == 0
    assert child.process.returncode == 0  # exited cleanly on SIGTERM
    assert not psutil.pid_exists(pid)


def test_heavy_tailed_latency_is_seeded_and_reported_per_request(
        http: urllib3.PoolManager) -> None:
    spec = {"distribution": "lognormal", "median": 0.01, "sigma": 1.0}
    drawn = []
    for _ in range(2):
        with FakeLLMServer(latency=spec, seed=7) as server:
            for _ in range(5):
                post(http, server.base_url, "Bob")
            stats = http.request("GET", f"{server.url}/stats?latencies=1").json()
            drawn.append(stats["latencies"])
            assert "latencies" not in http.request("GET", f"{server.url}/stats").json()
    assert drawn[0] == drawn[1]  # same seed, same sequence of waits
    assert len(set(drawn[0])) == 5  # drawn, not fixed
    assert stats["latency"]["count"] == 5 and stats["latency"]["max"] == max(drawn[0])


def test_latency_spec_travels_to_a_child_process_and_over_config() -> None:
    slow = {"distribution": "slow_replica", "median": 0.001, "fraction": 1.0, "factor": 50}
    with FakeLLMServer.spawn(latency=slow) as server:
        pool = urllib3.PoolManager()
        started = time.perf_counter()
        assert post(pool, server.base_url, "Bob").status == 200
        assert time.perf_counter() - started >= 0.05  # every call is the slow replica's
        assert server.stats(latencies=True)["latencies"] == [0.05]
        applied = server.configure(latency={"distribution": "lognormal", "median": 0.002,
                                            "sigma": 0.5})
        assert applied["latency"] == {"distribution": "lognormal", "median": 0.002, "sigma": 0.5}
