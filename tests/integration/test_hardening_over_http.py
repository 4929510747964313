"""Regression tests for issue 19 (hardening), the items that involve the network.

Every test talks over real loopback HTTP: to `tinytroupe.testing.FakeLLMServer` (hostile
bodies through its `rewrite` hook, hostile answers through its `responder`), or, for
response headers the fake server cannot send, to `ScriptedEndpoint` below. Each test
names its item of the issue and asserts behaviour that was broken before the fix. The
items that need no network are in tests/unit/test_hardening.py.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tinytroupe import cli, config_manager, control
from tinytroupe.agent import TinyPerson
from tinytroupe.agent import actions as actions_module
from tinytroupe.agent.prompts import act_messages, system_message
from tinytroupe.clients import (
    LLMRequestError,
    OpenAICompatibleClient,
    get_client,
    usage,
)
from tinytroupe.clients.errors import LLMOutputError
from tinytroupe.clients.limits import ProviderGate
from tinytroupe.clients.offline import agent_name
from tinytroupe.clients.transport import CurlTransport, Urllib3Transport
from tinytroupe.environment import ParallelStepError, TinyWorld
from tinytroupe.testing import FakeLLMServer, FaultPlan
from tinytroupe.testing.scripted import in_thread, join_all, pool_threads

#: Run against each transport (libcurl and urllib3): one contract, two implementations.
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("each_transport")]

#: close() ends a step within ~0.25 s (the wait slice); asserted with slack.
PROMPT = 2.0

CALM = '{"actions": [{"type": "THINK", "content": "calm"}, {"type": "DONE"}]}'


def messages_for(name: str) -> list[dict[str, str]]:
    """A real act() request for an agent called `name` (the server reads the name)."""
    system = system_message(persona={"name": name}, accessible=[], mental_state={})
    return act_messages(system, [])


def talk(target: str, content: str) -> str:
    """An answer that TALKs `content` (JSON text, inserted as is) to `target`."""
    return (f'{{"actions": [{{"type": "TALK", "target": "{target}", "content": "{content}"}}, '
            '{"type": "DONE"}]}')


def heard(agent: TinyPerson) -> list[str]:
    """What `agent` heard (CONVERSATION contents), in order."""
    return [s["content"] for e in agent.episodic_memory.retrieve_all() if e["role"] == "user"
            for s in e["content"]["stimuli"] if s["type"] == "CONVERSATION"]


def assert_no_key(text: str, key: str, where: str) -> None:
    """Neither the key nor its distinctive middle appears in `text`.

    Not even across a line break a console may have inserted.
    """
    middle = key[len(key) // 4: -len(key) // 4]
    squeezed = re.sub(r"\s+", "", text)
    for form in (key.strip(), middle):
        assert form not in text and form not in squeezed, f"the API key leaked into {where}"


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` (a server counter) until true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich sizes its output from COLUMNS when not on a terminal."""
    monkeypatch.setenv("COLUMNS", "200")


# --- item 1: the API key ----------------------------------------------------------------


@pytest.mark.parametrize("around", ["\n", "\r\n", "\r"])
def test_item1_a_key_read_with_surrounding_whitespace_is_stripped_and_works(
        fake_llm: FakeLLMServer, use_server, around: str) -> None:
    use_server(fake_llm, key=f"sk-strip-0123456789abcdef{around}")
    completion = get_client().complete(messages_for("Ann"), user="Ann")
    assert parse_ok(completion.content)
    assert fake_llm.stats()["outcomes"]["ok"] == 1


def parse_ok(content: str) -> bool:
    return bool(actions_module.parse_actions(content)[0])


def test_item1_the_demo_with_a_key_from_a_crlf_env_file_runs_and_shows_no_key(
        fake_llm: FakeLLMServer, use_server, capsys, caplog) -> None:
    key = "sk-crlf-DEMOKEY-0123456789abcdef"
    use_server(fake_llm, key=key + "\r\n")
    caplog.set_level(logging.DEBUG, logger="tinytroupe")
    code = cli.main(["demo", "--api-type", "openai", "--steps", "1", "--agents", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert fake_llm.stats()["outcomes"]["ok"] == 2
    for where, text in {"stdout": out, "stderr": err, "log": caplog.text}.items():
        assert_no_key(text, key, where)


def test_item1_the_demo_refuses_a_key_with_an_inner_line_break_without_echoing_it(
        fake_llm: FakeLLMServer, use_server, capsys) -> None:
    key = "sk-inner-FIRSTHALF\nSECONDHALF-0123"
    use_server(fake_llm, key=key)
    code = cli.main(["demo", "--api-type", "openai", "--steps", "1", "--agents", "2"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "OPENAI_API_KEY" in err
    for fragment in ("FIRSTHALF", "SECONDHALF"):
        assert fragment not in out + err
    assert fake_llm.stats()["total_requests"] == 0


@pytest.fixture
def echoed_key(fake_llm: FakeLLMServer, use_server, monkeypatch) -> str:
    """The client's HTTP layer fails with an error that quotes the key.

    (As http.client does for a header value it refuses.) Whatever raised, the key must
    not get out.
    """
    key = "sk-echo-LEAKCHECK-0123456789abcdef"
    use_server(fake_llm, key=key)

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"Invalid header value b'Bearer {key}\\n'")

    for transport in (CurlTransport, Urllib3Transport):
        monkeypatch.setattr(transport, "_post", refuse)
    return key


def formatted(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def test_item1_an_error_quoting_the_key_is_an_llm_error_without_it(echoed_key: str) -> None:
    with pytest.raises(LLMRequestError) as caught:
        get_client().complete(messages_for("Ann"), user="Ann")
    assert "Invalid header value" in str(caught.value)  # the cause is still explained
    assert_no_key(formatted(caught.value), echoed_key, "the error and its chain")


def test_item1_an_error_quoting_the_key_leaks_it_nowhere_in_a_world(
        echoed_key: str, caplog, tmp_path: Path) -> None:
    config_manager.set("on_agent_error", "raise")
    caplog.set_level(logging.DEBUG, logger="tinytroupe")
    agents = [TinyPerson(f"Echo{i}") for i in range(3)]
    with TinyWorld("echo", agents) as world:
        world.make_everyone_accessible()
        with pytest.raises(ParallelStepError) as caught:
            world.run(1, parallelize=True)
        failures = world.get_agent_failures()
        reports = [world.get_parallel_metrics(), world.get_agent_usage(), world.get_step_usage()]
        checkpoint = world.save_checkpoint(tmp_path / "echo.ckpt")
    assert len(failures) == 3 and "Invalid header value" in failures[0]["message"]
    records = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert "Traceback" in records  # the failures were logged with their tracebacks
    texts = {
        "ParallelStepError": formatted(caught.value) + repr(caught.value.failures),
        "get_agent_failures()": json.dumps(failures),
        "log records": records,
        "captured log": caplog.text,
        "metrics": json.dumps(reports),
        "checkpoint": checkpoint.read_text(encoding="utf-8"),
    }
    for where, text in texts.items():
        assert_no_key(text, echoed_key, where)


def test_item1_the_demo_stderr_never_shows_a_key_quoted_by_an_error(
        echoed_key: str, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="tinytroupe")
    code = cli.main(["demo", "--api-type", "openai", "--steps", "1", "--agents", "2"])
    out, err = capsys.readouterr()
    assert code == 1  # every turn failed
    assert "Invalid header value" in err
    for where, text in {"stdout": out, "stderr": err, "log": caplog.text}.items():
        assert_no_key(text, echoed_key, where)


# --- item 2: a lone surrogate in an answer poisons nothing --------------------------------

POISON = "poison \\ud800 here"  # the six-character JSON escape of a lone surrogate


def poisoning(messages: list[dict[str, Any]]) -> str:
    if agent_name(messages) == "Ann":
        return talk("Bea", POISON)
    return CALM


def test_item2_a_lone_surrogate_in_an_answer_leaves_every_later_turn_and_save_working(
        use_server, tmp_path: Path) -> None:
    ann, bea = TinyPerson("Ann"), TinyPerson("Bea")
    checkpoint = tmp_path / "poison.ckpt"
    with FakeLLMServer(responder=poisoning) as server:
        use_server(server)
        with TinyWorld("poisoned", [ann, bea]) as world:
            world.make_everyone_accessible()
            world.run(3, parallelize=True, checkpoint_every=1, checkpoint_path=checkpoint)
            failures = world.get_agent_failures()
            transcript = world.export_transcript(tmp_path / "poison.jsonl")
            world.save_checkpoint(tmp_path / "again.ckpt")
        stats = server.stats()
    assert failures == []
    assert stats["per_agent"] == {"Ann": 3, "Bea": 3}  # every later request went out
    assert heard(bea) == ["poison \ufffd here"] * 3
    events = [json.loads(line) for line in transcript.read_text(encoding="utf-8").splitlines()]
    assert [e["content"] for e in events if e["type"] == "TALK"] == ["poison \ufffd here"] * 3
    control.reset()  # a fresh process resumes the saved run
    resumed = TinyWorld.resume(checkpoint)
    assert heard(resumed.get_agent_by_name("Bea")) == ["poison \ufffd here"] * 3
    resumed.close()


# --- item 3: close() during a step with hung requests ------------------------------------


@pytest.fixture
def hanging_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(faults=FaultPlan(probabilities={"hang": 1.0})).start()
    yield server
    server.stop()


def test_item3_close_during_a_step_with_hung_requests_ends_it_promptly(
        hanging_server: FakeLLMServer, use_server, submissions) -> None:
    use_server(hanging_server)
    for key, value in [("timeout", 30), ("max_workers", 2),
                       ("parallel_execution_timeout", 30)]:
        config_manager.set(key, value)
    world = TinyWorld("hung", [TinyPerson(f"Hung{i}") for i in range(4)])
    runner, box = in_thread(lambda: world.run(1, parallelize=True, return_actions=True))
    for _ in range(4):
        assert submissions.acquire(timeout=10)
    wait_until(lambda: hanging_server.stats()["outcomes"]["hang"] == 2)  # 2 hung, 2 queued
    workers = pool_threads("hung")
    closed_at = time.perf_counter()
    world.close()
    runner.join(timeout=10)
    took = time.perf_counter() - closed_at
    assert not runner.is_alive() and "error" not in box
    assert took < PROMPT, f"run() went on {took:.1f} s after close()"
    metrics = world.get_parallel_metrics()
    assert (metrics["turns_cancelled"], metrics["parallel_timeouts"]) == (4, 0)
    assert hanging_server.stats()["total_requests"] == 2  # the queued turns never ran
    hanging_server.stop()  # the hung requests end (and are not retried for long)
    assert len(workers) == 2 and not join_all(workers)
    assert pool_threads("hung") == []


# --- item 6: bounded response size and action size ---------------------------------------


def test_item6_a_body_over_max_response_bytes_is_dropped_while_it_is_read(use_server) -> None:
    body = (b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "'
            + b"x" * 10_000_000 + b'"}}]}')
    dripping = FaultPlan(probabilities={"slow_drip": 1.0}, drip_seconds=8.0)
    with FakeLLMServer(faults=dripping, rewrite=lambda _doc: body) as server:
        use_server(server)
        config_manager.set("max_response_bytes", 1_000_000)
        start = time.perf_counter()
        with pytest.raises(LLMRequestError, match="MAX_RESPONSE_BYTES"):
            get_client().complete(messages_for("Big"), user="Big")
        took = time.perf_counter() - start
        requests = server.stats()["total_requests"]
    assert took < 4.0, "the 10 MB body takes 8 s to arrive: it was read, not cut off"
    assert requests == 1  # a body too large is not asked for again


def test_item6_one_huge_answer_puts_a_bounded_amount_into_memory(use_server) -> None:
    limit = getattr(actions_module, "MAX_ACTION_CHARS", 20_000)
    huge = "y" * (10 * limit)

    def respond(messages: list[dict[str, Any]]) -> str:
        return talk("Bea", huge) if agent_name(messages) == "Ann" else CALM

    ann, bea = TinyPerson("Ann"), TinyPerson("Bea")
    with FakeLLMServer(responder=respond) as server:
        use_server(server)
        with TinyWorld("huge", [ann, bea]) as world:
            world.make_everyone_accessible()
            world.run(2, parallelize=True)
            assert world.get_agent_failures() == []
    said = heard(bea)
    assert len(said) == 2 and all(len(text) <= limit for text in said)
    assert said[0].startswith("yyyy") and said[0].endswith("[...]")
    remembered = json.dumps(ann.episodic_memory.retrieve_all())
    assert len(remembered) < 3 * limit  # two turns of Ann's, each bounded


# --- item 8: token usage reported by the endpoint is validated ---------------------------


def reporting(value: str) -> Callable[[dict[str, Any]], bytes]:
    """A rewrite whose usage numbers are `value`, spelt as is in the JSON."""

    def rewrite(document: dict[str, Any]) -> bytes:
        document["usage"] = {"prompt_tokens": "@", "completion_tokens": "@",
                             "total_tokens": "@"}
        return json.dumps(document).replace('"@"', value).encode()

    return rewrite


@pytest.mark.parametrize("value", ["-1000000", "1e999", "-1e999", "1000000000000000"])
def test_item8_implausible_usage_numbers_fall_back_to_the_estimate(use_server,
                                                                   value: str) -> None:
    with FakeLLMServer(rewrite=reporting(value)) as server:
        use_server(server)
        completion = get_client().complete(messages_for("Ann"), user="Ann")
    assert parse_ok(completion.content)
    assert 0 < completion.prompt_tokens < 100_000
    assert 0 < completion.completion_tokens < 100_000
    used = usage.snapshot()
    assert 0 < used.prompt_tokens < 100_000 and 0 < used.completion_tokens < 100_000


def test_item8_negative_usage_neither_frees_the_token_limit_nor_makes_cost_negative(
        use_server) -> None:
    config_manager.set("price_per_million_input_tokens", 1.0)
    config_manager.set("price_per_million_output_tokens", 1.0)
    with FakeLLMServer(rewrite=reporting("-1000000")) as server:
        use_server(server)
        gate = ProviderGate(tokens_per_window=100_000, window=60.0)
        client = OpenAICompatibleClient(
            url=f"{server.base_url}/chat/completions", api_key="sk-test-gate-0123",
            model="fake-model", timeout=5.0, max_attempts=1, gate=gate,
            transport=config_manager.get("http_transport"))
        client.complete(messages_for("Ann"), user="Ann")
        assert gate.tokens is not None
        assert 0 < gate.tokens._used <= 100_000  # counted, not credited back
        with TinyWorld("priced", [TinyPerson("Cy"), TinyPerson("Di")]) as world:
            world.run(1, parallelize=True)
            metrics = world.get_parallel_metrics()
    assert metrics["prompt_tokens"] > 0 and metrics["completion_tokens"] > 0
    assert metrics["estimated_cost"] > 0


# --- item 17: error paths ------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_item17_a_deeply_nested_answer_is_an_output_error_not_a_recursion_error(
        use_server) -> None:
    with FakeLLMServer(responder=lambda _m: f'{{"actions": {nested(5_000)}}}') as server:
        use_server(server)
        with pytest.raises(LLMOutputError):
            TinyPerson("Deep").act()
        repairs = config_manager.get("max_output_repair_attempts")
        assert server.stats()["total_requests"] == repairs + 1  # inside the repair loop


def test_item17_a_deeply_nested_body_is_a_request_error_not_a_recursion_error(
        use_server) -> None:
    body = f'{{"choices": {nested(100_000)}}}'.encode()
    with FakeLLMServer(rewrite=lambda _doc: body) as server:
        use_server(server)
        with pytest.raises(LLMRequestError, match="not a chat completion"):
            get_client().complete(messages_for("Ann"), user="Ann")


def test_item17_a_200_answer_carrying_an_error_object_keeps_the_provider_message(
        use_server) -> None:
    error = {"error": {"message": "Your organisation exhausted its quota (fake)",
                       "type": "insufficient_quota"}}
    with FakeLLMServer(rewrite=lambda _doc: error) as server:
        use_server(server)
        with pytest.raises(LLMRequestError, match="exhausted its quota"):
            get_client().complete(messages_for("Ann"), user="Ann")


class ScriptedEndpoint:
    """A loopback chat-completions endpoint.

    Answers each scripted (status, headers) in turn with an error body, then valid
    completions (for headers the fake server does not send, such as odd Retry-After values).
    """

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.requests = 0
        endpoint, lock = self, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    endpoint.requests += 1
                    step = endpoint.script.pop(0) if endpoint.script else None
                if step is None:
                    status, headers, body = 200, {}, json.dumps(
                        {"choices": [{"message": {"role": "assistant", "content": CALM}}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 5}}).encode()
                else:
                    (status, headers), body = step, b'{"error": {"message": "later"}}'
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json",
                                    "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1/chat/completions"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)

    def __enter__(self) -> ScriptedEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def waits_after(status: int, retry_after: str) -> list[float]:
    """The delays the client chose before retrying one `status` with `retry_after`.

    (Recorded instead of slept: backoff at most 1 s, Retry-After cap 60 s.)
    """
    with ScriptedEndpoint([(status, {"Retry-After": retry_after})]) as endpoint:
        client = OpenAICompatibleClient(url=endpoint.url, api_key="sk-test-retry-0123",
                                        model="fake-model", timeout=5.0, max_attempts=2,
                                        retry_base_delay=1.0, retry_max_delay=1.0,
                                        transport=config_manager.get("http_transport"))
        waits: list[float] = []
        client._retrying.sleep = waits.append
        assert client.complete(messages_for("Ann"), user="Ann").content == CALM
        assert endpoint.requests == 2
    return waits


@pytest.mark.parametrize("header", ["0", "-5", "NaN", "inf"])
def test_item17_a_zero_negative_or_unreadable_retry_after_means_backoff(header: str) -> None:
    [wait] = waits_after(503, header)
    assert 0 < wait <= 1.0, f"Retry-After {header!r} gave a wait of {wait} s, not a backoff"


def test_item17_an_http_date_retry_after_is_honoured() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    [wait] = waits_after(503, email.utils.format_datetime(when, usegmt=True))
    assert 25 <= wait <= 31


def test_a_response_trickling_in_before_its_body_is_bounded_by_the_timeout() -> None:
    """The request timeout bounds the whole exchange, headers included (both transports)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 10:
                if stop.wait(0.1):
                    return
                with contextlib.suppress(OSError):
                    connection.sendall(bytes([byte]))

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1/chat/completions"
    client = OpenAICompatibleClient(url=url, api_key="sk-test-trickle-0123", model="m",
                                    timeout=1.0, max_attempts=1,
                                    transport=config_manager.get("http_transport"))
    started = time.monotonic()
    try:
        with pytest.raises(LLMRequestError, match=r"timed out after 1\.0 s"):
            client.complete(messages_for("Ann"), user="Ann")
    finally:
        stop.set()
        listener.close()
        client.close()
    assert time.monotonic() - started < 1.0 + 0.5  # the timeout, not 5 s of trickle
