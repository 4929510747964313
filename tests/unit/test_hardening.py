"""Regression tests for issue 19 (hardening), the items that need no network.

Each test names its item of the issue ("item 5" ...) and asserts behaviour that was
broken before the fix. The items that involve the network are tested over loopback
HTTP in tests/integration/test_hardening_over_http.py. Names introduced by the fix are
imported inside the tests, so that each test fails on its own behaviour, not on an
import. Concurrency is driven by events and joins with timeouts, never by sleeping.
"""

from __future__ import annotations

import copy
import functools
import gc
import hashlib
import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import tinytroupe
from tinytroupe import config_manager, control
from tinytroupe.agent import TinyPerson
from tinytroupe.agent import actions as actions_module
from tinytroupe.agent import display as display_module
from tinytroupe.agent.persona import PersonaSpecError
from tinytroupe.clients.cache import ResponseCache
from tinytroupe.clients.errors import LLMConfigurationError
from tinytroupe.config import ConfigError, ConfigManager
from tinytroupe.environment import TinyWorld
from tinytroupe.environment import parallel as parallel_module
from tinytroupe.environment.checkpoint import CheckpointError, write_checkpoint
from tinytroupe.environment.worker_pool import WorkerPool
from tinytroupe.testing.scripted import (
    ScriptedPerson,
    heard,
    in_thread,
    join_all,
    pool_threads,
    ring,
)

#: The wait slice of a parallel step (docs: Ctrl-C and close() noticed within ~0.25 s);
#: "promptly" is asserted against a bound of a few slices, never the step timeout.
PROMPT = 2.0


# --- item 1: keys are read stripped, refused with control characters, redacted -------


@pytest.mark.parametrize("inner", ["\n", "\r", "\t", " ", "\x1b", "\x7f"])
def test_item1_a_key_with_inner_control_characters_is_refused_without_echoing_it(
        monkeypatch, inner: str) -> None:
    from tinytroupe.clients import get_client

    key = f"sk-unit-FIRSTHALF{inner}SECONDHALF-0123"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    config_manager.set("api_type", "openai")
    with pytest.raises(LLMConfigurationError) as caught:
        get_client()
    message = str(caught.value)
    assert "OPENAI_API_KEY" in message
    assert "FIRSTHALF" not in message and "SECONDHALF" not in message


def test_item1_log_records_are_redacted_tracebacks_included(monkeypatch, caplog) -> None:
    from tinytroupe.clients import get_client

    key = "sk-unit-LOGGED-9f8e7d6c5b4a"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    config_manager.set("api_type", "openai")
    get_client()  # the key in use: whatever logs it, the record must not show it
    logger = logging.getLogger("tinytroupe")
    caplog.set_level(logging.DEBUG, logger="tinytroupe")
    try:
        raise ValueError(f"Invalid header value b'Bearer {key}'")
    except ValueError:
        logger.exception("request with %s failed", key)
    text = "\n".join(logging.Formatter().format(r) for r in caplog.records) + caplog.text
    assert "Invalid header value" in text and "Traceback" in text
    assert key not in text


# --- item 2: lone surrogates are cleaned at the boundary ---------------------------


def test_item2_user_input_and_persona_values_with_lone_surrogates_are_cleaned(
        tmp_path: Path) -> None:
    ann, bea = TinyPerson("Ann"), TinyPerson("Bea")
    ann.define("motto", "half \ud800 a pair")
    bea.listen("broken \udcff text", source=ann)
    with TinyWorld("surrogates", [ann, bea]) as world:
        world.broadcast("a \ud83d lone high half")
        world.run(1, parallelize=True)  # offline model: builds requests from that memory
        path = world.save_checkpoint(tmp_path / "s.ckpt")
        transcript = world.export_transcript(tmp_path / "s.jsonl")
    assert "broken \ufffd text" in heard(bea)
    assert ann.get("motto") == "half \ufffd a pair"
    path.read_bytes().decode("utf-8")  # valid UTF-8 all through
    lines = transcript.read_text(encoding="utf-8").splitlines()
    assert lines and all(json.loads(line) for line in lines)


def test_item2_a_persona_file_with_a_lone_surrogate_escape_is_cleaned(tmp_path: Path) -> None:
    spec = tmp_path / "sur.agent.json"
    spec.write_text('{"type": "TinyPerson", "persona": {"name": "Sur", '
                    '"note": "x \\ud800 y"}}', encoding="utf-8")
    agent = TinyPerson.load_specification(spec)
    assert agent.get("note") == "x \ufffd y"
    json.dumps(agent.encode_complete_state(), ensure_ascii=False).encode("utf-8")


def test_item2_serialisers_never_raise_on_a_lone_surrogate_already_in_memory(
        tmp_path: Path) -> None:
    with TinyWorld("raw", [TinyPerson("Raw")]) as world:
        # as if remembered before the fix (bypassing the boundary)
        world.transcript.append({"step": 1, "simulated_time": "t", "type": "TALK",
                                 "source": "Raw", "target": "x", "content": "bad \ud800"})
        world.save_checkpoint(tmp_path / "raw.ckpt")
        world.export_transcript(tmp_path / "raw.jsonl")
    assert "\ufffd" in (tmp_path / "raw.jsonl").read_text(encoding="utf-8")


# --- item 3: close() during a step ends it promptly, leaves no thread ------------------


def hung_world(name: str, agents: int, release: threading.Event
               ) -> tuple[TinyWorld, list[ScriptedPerson], threading.Semaphore]:
    """A world whose agents block in their turn until `release`.

    The semaphore is released by each turn that starts.
    """
    config_manager.set("max_workers", 2)
    config_manager.set("parallel_execution_timeout", 30)
    started = threading.Semaphore(0)

    def hang(agent: ScriptedPerson) -> None:
        started.release()
        release.wait(30)

    members = ring(agents, hang, prefix=f"{name}-")
    return TinyWorld(name, members), members, started


def acquire(semaphore: threading.Semaphore, times: int) -> None:
    for _ in range(times):
        assert semaphore.acquire(timeout=10)


def test_item3_close_from_another_thread_ends_a_hung_step_promptly(
        release, submissions) -> None:
    world, agents, started = hung_world("closing", 4, release)  # 2 running, 2 queued
    runner, box = in_thread(lambda: world.run(1, parallelize=True, return_actions=True))
    acquire(submissions, 4)
    acquire(started, 2)
    workers = pool_threads("closing")
    assert len(workers) == 2
    closed_at = time.perf_counter()
    world.close()
    runner.join(timeout=10)
    took = time.perf_counter() - closed_at
    assert not runner.is_alive() and "error" not in box
    assert took < PROMPT, f"run() went on {took:.1f} s after close()"
    assert box["result"] == [{}]  # nothing finished, nothing delivered
    metrics = world.get_parallel_metrics()
    assert metrics["turns_cancelled"] == 4  # queued and running alike
    assert metrics["parallel_timeouts"] == 0
    assert not [f for f in world.get_agent_failures() if f["error_type"] == "StepTimeout"]
    assert sum(a.turns for a in agents) == 2  # the queued turns never ran
    release.set()
    assert not join_all(workers), "a worker outlived its released call"
    assert pool_threads("closing") == []  # no replacement worker was started either
    assert all(heard(a) == [] for a in agents)  # abandoned turns applied nothing


def test_item3_closing_mid_step_repeatedly_leaks_no_thread(submissions) -> None:
    for round_ in range(3):
        gate = threading.Event()
        world, _, started = hung_world(f"leak{round_}", 3, gate)
        runner, _ = in_thread(lambda world=world: world.run(1, parallelize=True))
        acquire(submissions, 3)
        acquire(started, 2)
        workers = pool_threads(f"leak{round_}")
        world.close()
        runner.join(timeout=10)
        assert not runner.is_alive()
        gate.set()
        assert not join_all(workers)
        assert pool_threads(f"leak{round_}") == []


def test_item3_close_while_turns_are_being_submitted_ends_the_step_cleanly(
        release, monkeypatch) -> None:
    submitting, closed = threading.Event(), threading.Event()
    count = [0]

    class PausingPool(WorkerPool):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            count[0] += 1
            if count[0] == 3:  # two turns are in; close() comes before the third
                submitting.set()
                closed.wait(10)
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(parallel_module, "WorkerPool", PausingPool)
    world, _, _ = hung_world("racing", 4, release)
    runner, box = in_thread(lambda: world.run(1, parallelize=True))
    assert submitting.wait(10)
    world.close()
    closed.set()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert "error" not in box, box.get("error")
    assert world.get_parallel_metrics()["parallel_timeouts"] == 0


def test_item3_close_during_a_multi_step_run_ends_the_run_promptly(
        release, submissions) -> None:
    world, _, started = hung_world("multistep", 4, release)
    config_manager.set("parallel_execution_timeout", 2.5)  # each later step waits it out
    runner, _ = in_thread(lambda: world.run(3, parallelize=True))
    acquire(submissions, 4)
    acquire(started, 2)
    closed_at = time.perf_counter()
    world.close()
    runner.join(timeout=15)
    took = time.perf_counter() - closed_at
    assert took < PROMPT, f"run() went on {took:.1f} s after close()"


# --- item 4: dropped worlds are released; idle workers exit -----------------------------


def test_item4_dropped_worlds_are_garbage_collected_and_their_threads_end() -> None:
    refs: list[weakref.ref] = []
    threads: list[threading.Thread] = []
    agents: list[ScriptedPerson] = []
    for i in range(50):
        agent = ScriptedPerson(f"Dropped{i}")
        world = TinyWorld(f"dropped{i}", [agent])
        world.run(1, parallelize=True)  # starts the world's worker thread
        threads += pool_threads(f"dropped{i}")
        refs.append(weakref.ref(world))
        agents.append(agent)  # agents stay registered; they must not keep worlds alive
        del world
    assert len(threads) == 50
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert not alive, f"{len(alive)} dropped worlds are still alive"
    assert not join_all(threads), "threads of dropped worlds are still running"
    assert TinyWorld.get_environment_by_name("dropped0") is None
    assert all(a.environment is None for a in agents)
    TinyWorld("dropped0", [agents[0]]).close()  # the name and the agent are free again


def test_item4_idle_workers_exit_and_the_pool_starts_new_ones_on_demand() -> None:
    pool = WorkerPool(2, "idle-pool", idle_timeout=0.05)
    assert [f.result(timeout=10) for f in [pool.submit(pow, 2, 3), pool.submit(pow, 3, 2)]] \
        == [8, 9]
    workers = pool.threads()
    assert workers and not join_all(workers), "idle workers must exit by themselves"
    assert pool.submit(pow, 2, 5).result(timeout=10) == 32  # restarted on demand
    pool.shutdown()


def test_item4_an_open_but_idle_world_holds_no_thread(monkeypatch) -> None:
    monkeypatch.setattr(parallel_module, "WorkerPool",
                        functools.partial(WorkerPool, idle_timeout=0.05))
    with TinyWorld("idle", ring(3, prefix="I")) as world:
        world.run(1, parallelize=True)
        workers = pool_threads("idle")
        assert workers and not join_all(workers)
        assert pool_threads("idle") == []
        results = world.run(1, parallelize=True, return_actions=True)  # workers start again
        assert set(results[0]) == {"I0", "I1", "I2"}


# --- item 5: resume never takes over a live agent -------------------------------------


def test_item5_resume_refuses_a_live_agent_and_leaves_it_untouched(tmp_path: Path) -> None:
    ann = TinyPerson("Ann")
    old = TinyWorld("Old", [ann])
    ann.listen("from the checkpoint")
    path = old.save_checkpoint(tmp_path / "old.ckpt")
    old.close()
    TinyWorld.all_environments.pop("Old", None)  # the world is gone; Ann lives on
    live = TinyWorld("Live", [ann])
    ann.listen("only in the live world")
    memory = ann.episodic_memory.retrieve_all()
    with pytest.raises(CheckpointError, match="Ann"):
        TinyWorld.resume(path)
    assert ann.episodic_memory.retrieve_all() == memory
    assert "only in the live world" in heard(ann)
    assert ann.environment is live and live.agents == [ann]
    assert TinyWorld.get_environment_by_name("Old") is None  # nothing registered
    live.close()


# --- item 6: one action's size is bounded; MAX_RESPONSE_BYTES exists --------------------


def test_item6_one_action_puts_a_bounded_amount_of_text_into_memory() -> None:
    limit = getattr(actions_module, "MAX_ACTION_CHARS", 20_000)
    huge = "y" * (5 * limit)
    actions, _ = actions_module.parse_actions(json.dumps({"actions": [
        {"type": "TALK", "target": "Bea", "content": huge}, {"type": "DONE"}]}))
    assert len(actions[0]["content"]) <= limit
    assert actions[0]["content"].endswith("[...]")


def test_item6_max_response_bytes_has_a_sensible_default_and_is_validated() -> None:
    assert config_manager.get("max_response_bytes") == 8 * 1024 * 1024
    with pytest.raises(ConfigError, match="MAX_RESPONSE_BYTES"):
        config_manager.set("max_response_bytes", 0)


# --- item 7: no terminal control sequences reach the console ----------------------------


@pytest.fixture
def console_output(monkeypatch) -> io.StringIO:
    """What the agent display prints (plain text: rich adds no escape codes of its own)."""
    out = io.StringIO()
    monkeypatch.setattr(display_module, "console",
                        Console(file=out, color_system=None, force_terminal=False, width=400))
    return out


HOSTILE = ["\x1b]0;owned title\x07", "\x1b[2J", "\x1b[31m", "\x9b2J", "\x07", "\x08", "\x1bP"]


def test_item7_model_output_and_names_are_displayed_without_control_sequences(
        console_output: io.StringIO) -> None:
    TinyPerson.communication_display = True
    eve = TinyPerson("\x1b]0;pwned\x07Eve")
    bob = TinyPerson("Bob\x1b[2J")
    bob.listen("".join(HOSTILE) + "hello", source=eve)
    display_module.show_action(eve.name, {"type": "TALK", "target": "Bob\x1b[2J",
                                          "content": "hi\x1b]8;;http://evil\x1b\\link"})
    display_module.show_action(eve.name, {"type": "\x1b[5mTHINK", "content": "x\x9b1m"})
    display_module.show_world("world \x1b[H\x1b[2J cleared")
    text = console_output.getvalue()
    assert "hello" in text and "Eve" in text and "Bob" in text and "link" in text
    for char in ("\x1b", "\x07", "\x08", "\x9b"):
        assert char not in text, f"{char!r} reached the console: {text!r}"


def test_item7_the_progress_bar_shows_the_world_name_without_control_sequences(
        monkeypatch) -> None:
    from tinytroupe.environment import tiny_world

    out = io.StringIO()
    console = Console(file=out, color_system=None, force_terminal=False, width=400)
    monkeypatch.setattr(display_module, "console", console)
    monkeypatch.setattr(tiny_world, "console", console)
    TinyWorld.communication_display = True
    with TinyWorld("\x1b]0;owned\x07World", [TinyPerson("P0"), TinyPerson("P1")]) as world:
        world.run(2, parallelize=True)
    text = out.getvalue()
    assert "World" in text
    assert "\x1b" not in text, f"ESC reached the console: {text!r}"


# --- item 9: values that would fail every turn later are refused at load ----------------


@pytest.mark.parametrize(("key", "value"), [
    ("TIMEOUT", 1e10),
    ("RATE_LIMIT_WINDOW_SECONDS", 1e12),
    ("PARALLEL_EXECUTION_TIMEOUT", 1e300),
    ("RETRY_MAX_DELAY", 1e300),
    ("RETRY_BASE_DELAY", 1e300),
    ("BASE_URL", "http://"),
    ("BASE_URL", "http://localhost:99999/v1"),
    ("BASE_URL", "http://local host/v1"),
    ("BASE_URL", "https://api.example.com/v1\r\nX-Injected: 1"),
    ("BASE_URL", "http://:8080/v1"),
])
def test_item9_values_that_would_fail_later_are_refused_naming_the_key(key: str,
                                                                       value: Any) -> None:
    with pytest.raises(ConfigError, match=key):
        config_manager.set(key, value)


@pytest.mark.parametrize("url", ["http://", "http://localhost:99999/v1", "http://local host/v1"])
def test_item9_a_malformed_openai_base_url_variable_is_a_clear_error_naming_it(
        monkeypatch, url: str) -> None:
    from tinytroupe.clients import get_client

    monkeypatch.setenv("OPENAI_API_KEY", "sk-unit-url-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    config_manager.set("api_type", "openai")
    with pytest.raises((LLMConfigurationError, ConfigError), match="OPENAI_BASE_URL"):
        get_client()


def test_item9_the_same_bounds_apply_to_files(tmp_path: Path) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text("[OpenAI]\nTIMEOUT=1e10\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="TIMEOUT"):
        ConfigManager(user_path=ini, environ={})


def test_item9_a_folder_as_cache_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CACHE_FILE_NAME"):
        config_manager.set("cache_file_name", str(tmp_path))


def test_item9_an_unopenable_cache_path_is_a_configuration_error_naming_the_key(
        tmp_path: Path) -> None:
    from tinytroupe.clients import get_client

    path = tmp_path / "no-such-folder" / "cache.sqlite"
    config_manager.set("cache_api_calls", True)
    config_manager.set("cache_file_name", str(path))
    with pytest.raises(LLMConfigurationError, match="CACHE_FILE_NAME") as caught:
        get_client()
    assert str(path) in str(caught.value)


# --- item 10: an unreadable cache is a miss with one warning -----------------------------


def test_item10_a_cache_file_that_is_not_sqlite_is_a_miss_with_one_warning(
        tmp_path: Path, caplog) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not an SQLite database at all\n" * 200)
    config_manager.set("cache_api_calls", True)
    config_manager.set("cache_file_name", str(path))
    caplog.set_level(logging.WARNING, logger="tinytroupe")
    agents = [TinyPerson("Cached0"), TinyPerson("Cached1")]
    with TinyWorld("cached", agents) as world:
        world.make_everyone_accessible()
        world.run(2, parallelize=True)
        failures = world.get_agent_failures()
    assert failures == []
    assert all(a.episodic_memory.retrieve_all() for a in agents)
    warnings = [r for r in caplog.records if str(path) in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_item10_a_blob_row_is_a_miss_not_a_type_error(tmp_path: Path, caplog) -> None:
    path = tmp_path / "cache.sqlite"
    ResponseCache(path)  # a real cache file
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO answers VALUES (?, ?, ?, ?)",
                           ("k1", b"\x00\x01 binary", 10, 5))
        connection.execute("INSERT INTO answers VALUES (?, ?, ?, ?)",
                           ("k2", "text", "many", 5))
    caplog.set_level(logging.WARNING, logger="tinytroupe")
    cache = ResponseCache(path)
    assert cache.get("k1") is None
    assert cache.get("k2") is None
    assert len([r for r in caplog.records if str(path) in r.getMessage()]) == 1


# --- item 11: checkpoints are validated; a failed resume leaves nothing behind ----------


@pytest.fixture
def saved_state() -> dict[str, Any]:
    """A real world's state (world "Saved", agents Zed and Yan), then a fresh process."""
    agents = [TinyPerson("Zed"), TinyPerson("Yan")]
    with TinyWorld("Saved", agents) as world:
        world.make_everyone_accessible()
        world.run(1, parallelize=True)
        state = world.encode_complete_state()
    control.reset()
    return state


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def write_raw_checkpoint(path: Path, state_text: str) -> Path:
    """A checkpoint whose checksum matches `state_text` (canonical JSON of the state)."""
    digest = hashlib.sha256(state_text.encode()).hexdigest()
    path.write_text('{"format": "tinytroupe-checkpoint", "version": 1, '
                    f'"sha256": "{digest}", "state": {state_text}}}', encoding="utf-8")
    return path


def _set(path: tuple, value: Any) -> Callable[[dict], None]:
    def change(state: dict) -> None:
        target = state
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return change


MALFORMED = {
    "negative steps": _set(("steps_done",), -5),
    "steps not a number": _set(("steps_done",), "three"),
    "bad datetime": _set(("current_datetime",), "yesterday"),
    "agents not a list": _set(("agents",), "Zed"),
    "agent without persona": _set(("agents", 0), {"name": "Zed"}),
    "agent without name": _set(("agents", 1, "name"), ""),
    "memory not a dict": _set(("agents", 0, "episodic_memory"), "nothing"),
    "memory episodes not a list": _set(("agents", 1, "episodic_memory", "episodes"), 5),
    "random state garbage": _set(("random_state",), "garbage"),
    "transcript not a list": _set(("transcript",), 7),
}


@pytest.mark.parametrize("problem", sorted(MALFORMED))
def test_item11_a_malformed_checkpoint_with_a_valid_checksum_is_a_checkpoint_error(
        tmp_path: Path, saved_state: dict[str, Any], problem: str) -> None:
    bad = copy.deepcopy(saved_state)
    MALFORMED[problem](bad)
    path = write_checkpoint(tmp_path / "bad.ckpt", bad)
    with pytest.raises(CheckpointError):
        TinyWorld.resume(path)
    assert TinyWorld.get_environment_by_name("Saved") is None
    assert TinyPerson.get_agent_by_name("Zed") is None
    assert TinyPerson.get_agent_by_name("Yan") is None
    # the retry with a good file finds every name free
    world = TinyWorld.resume(write_checkpoint(tmp_path / "good.ckpt", saved_state))
    assert [a.name for a in world.agents] == ["Zed", "Yan"]
    world.close()


def test_item11_a_deeply_nested_checkpoint_is_a_checkpoint_error(tmp_path: Path) -> None:
    path = write_raw_checkpoint(tmp_path / "deep.ckpt", f'{{"name":"Deep","x":{nested(50_000)}}}')
    with pytest.raises(CheckpointError):
        TinyWorld.resume(path)
    assert TinyWorld.get_environment_by_name("Deep") is None


def test_item11_a_checkpoint_the_library_wrote_can_be_resumed(tmp_path: Path) -> None:
    spec = tmp_path / "nested.agent.json"
    spec.write_text('{"type": "TinyPerson", "persona": {"name": "Nest", "notes": '
                    f'{nested(60)}}}}}', encoding="utf-8")
    agent = TinyPerson.load_specification(spec)  # within the bound for persona files
    with TinyWorld("nested", [agent]) as world:
        path = world.save_checkpoint(tmp_path / "nested.ckpt")
    control.reset()
    resumed = TinyWorld.resume(path)
    assert [a.name for a in resumed.agents] == ["Nest"]
    resumed.close()


# --- item 12: persona files: latin-1 and deep nesting ------------------------------------


def test_item12_a_latin1_persona_file_is_a_persona_error_naming_it(tmp_path: Path) -> None:
    spec = '{"type": "TinyPerson", "persona": {"name": "José", "city": "Málaga"}}'
    bad = tmp_path / "jose.agent.json"
    bad.write_bytes(spec.encode("latin-1"))
    with pytest.raises(PersonaSpecError, match=r"jose\.agent\.json"):
        TinyPerson.load_specification(bad)
    assert TinyPerson.get_agent_by_name("José") is None
    good = tmp_path / "jose-utf8.agent.json"
    good.write_text(spec, encoding="utf-8")
    assert TinyPerson.load_specification(good).name == "José"


@pytest.mark.parametrize("depth", [500, 5_000])
def test_item12_a_deeply_nested_persona_is_a_persona_error_with_nothing_registered(
        tmp_path: Path, depth: int) -> None:
    bad = tmp_path / "deep.agent.json"
    bad.write_text('{"type": "TinyPerson", "persona": {"name": "Deep", "notes": '
                   f'{nested(depth)}}}}}', encoding="utf-8")
    with pytest.raises(PersonaSpecError, match=r"deep\.agent\.json"):
        TinyPerson.load_specification(bad)
    assert TinyPerson.get_agent_by_name("Deep") is None
    bad.write_text('{"type": "TinyPerson", "persona": {"name": "Deep", "notes": [[1]]}}',
                   encoding="utf-8")
    assert TinyPerson.load_specification(bad).name == "Deep"


# --- item 13: set("loglevel") takes effect ------------------------------------------------


def test_item13_setting_loglevel_applies_at_once() -> None:
    logger = logging.getLogger("tinytroupe")
    config_manager.set("loglevel", "DEBUG")
    assert logger.isEnabledFor(logging.DEBUG)
    config_manager.set("loglevel", "ERROR")
    assert not logger.isEnabledFor(logging.WARNING) and logger.isEnabledFor(logging.ERROR)


# --- item 14: a bad configuration is a message and exit code 2, no traceback -------------


def run_cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``python -m tinytroupe`` in a hermetic environment (this checkout's package)."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("TINYTROUPE_", "OPENAI_", "AZURE_OPENAI_"))}
    environ["PYTHONPATH"] = str(Path(tinytroupe.__file__).resolve().parents[1])
    environ["COLUMNS"] = "200"
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "tinytroupe", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=30)


def test_item14_a_bad_environment_variable_is_reported_with_exit_code_2(tmp_path: Path) -> None:
    done = run_cli(["demo", "--quiet", "--steps", "1", "--agents", "2"], tmp_path,
                   TINYTROUPE_MAX_WORKERS="-3")
    assert done.returncode == 2, done.stderr
    assert "TINYTROUPE_MAX_WORKERS" in done.stderr and "Traceback" not in done.stderr
    shown = run_cli(["--help"], tmp_path, TINYTROUPE_MAX_WORKERS="-3")
    assert shown.returncode in (0, 2) and "Traceback" not in shown.stderr


def test_item14_a_bad_config_file_is_reported_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "config.ini").write_text("MAX_WORKERS=3\n[Simulation\n", encoding="utf-8")
    done = run_cli(["demo", "--quiet", "--steps", "1", "--agents", "2"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "config.ini" in done.stderr and "Traceback" not in done.stderr


# --- item 15: a BOM is fine -----------------------------------------------------------


def test_item15_a_config_file_with_a_utf8_bom_is_read(tmp_path: Path) -> None:
    ini = tmp_path / "config.ini"
    ini.write_bytes(b"\xef\xbb\xbf[Simulation]\r\nMAX_WORKERS=3\r\n")
    assert ConfigManager(user_path=ini, environ={}).get("max_workers") == 3


# --- item 16: an agent belongs to one world; a world runs one step at a time ------------


def test_item16_an_agent_in_an_open_world_cannot_join_another() -> None:
    ann = TinyPerson("Ann")
    first, second = TinyWorld("First", [ann]), TinyWorld("Second")
    with pytest.raises(ValueError, match="First"):
        second.add_agent(ann)
    assert second.agents == [] and ann.environment is first
    first.close()  # a closed world lets its agents go
    second.add_agent(ann)
    assert ann.environment is second
    second.close()


def test_item16_a_second_run_of_one_world_from_another_thread_is_refused(release) -> None:
    config_manager.set("parallel_execution_timeout", 10)
    started = threading.Event()

    def block(agent: ScriptedPerson) -> None:
        started.set()
        release.wait(10)

    agents = ring(2, block, prefix="R")
    with TinyWorld("busy", agents) as world:
        runner, box = in_thread(lambda: world.run(1, parallelize=True, return_actions=True))
        assert started.wait(10)
        with pytest.raises(RuntimeError, match="already running"):
            world.run(1, parallelize=True)
        release.set()
        runner.join(10)
        assert not runner.is_alive() and "error" not in box
        assert set(box["result"][0]) == {"R0", "R1"}  # the first run was not disturbed
        assert world.get_agent_failures() == []
        assert world.run(1, parallelize=True, return_actions=True)  # free again


# --- item 17: the shipped comment about Retry-After matches the behaviour ---------------


def test_item17_the_config_comment_no_longer_claims_retry_after_is_honoured_as_given() -> None:
    text = (Path(tinytroupe.__file__).parent / "config.ini").read_text(encoding="utf-8")
    assert "honoured as given" not in text
    assert "Retry-After" in text


# --- item 18: stale temporary files of a checkpoint are removed on the next write -------


def test_item18_stale_temporary_files_of_a_checkpoint_are_removed(tmp_path: Path) -> None:
    stale = [tmp_path / ".run.ckpt.k3j4x1.tmp", tmp_path / ".run.ckpt.zz9.tmp"]
    for path in stale:
        path.write_bytes(b"{" * 1_000_000)  # what a killed write leaves
    other = tmp_path / ".other.ckpt.q1.tmp"  # another checkpoint's: not ours to touch
    other.write_bytes(b"{")
    with TinyWorld("tmp", [TinyPerson("Tom")]) as world:
        world.save_checkpoint(tmp_path / "run.ckpt")
        world.save_checkpoint(tmp_path / "run.ckpt")
    assert not any(p.exists() for p in stale)
    assert other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.ckpt.q1.tmp", "run.ckpt", "run.ckpt.prev"]


# --- item 19: environment typos are warned; closed worlds free their name ---------------


def test_item19_a_misspelt_environment_key_is_warned_with_a_suggestion(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="tinytroupe")
    manager = ConfigManager(user_path=Path(os.devnull),
                            environ={"TINYTROUPE_MAX_WORKRS": "4", "TINYTROUPE_MODEL": "m"})
    assert manager.get("max_workers") == "ALL" and manager.get("model") == "m"  # ignored
    [warning] = [r.getMessage() for r in caplog.records if "MAX_WORKRS" in r.getMessage()]
    assert "TINYTROUPE_MAX_WORKERS" in warning


def test_item19_a_closed_world_frees_its_name() -> None:
    world = TinyWorld("Reused", [TinyPerson("Rita")])
    world.close()
    assert TinyWorld.get_environment_by_name("Reused") is None
    again = TinyWorld("Reused", [TinyPerson.get_agent_by_name("Rita")])
    assert TinyWorld.get_environment_by_name("Reused") is again
    again.close()


def test_item19_default_world_names_stay_unique_after_a_world_is_closed() -> None:
    # with names freed on close (and worlds collected), "TinyWorld-<registry size + 1>"
    # could be a live world's name
    first, second = TinyWorld(), TinyWorld()
    first.close()
    third = TinyWorld()
    assert third.name != second.name
    second.close()
    third.close()
