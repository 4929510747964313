"""Checkpoint files and the response cache, in isolation."""

from __future__ import annotations

import json
import threading

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.clients import Completion, get_client, usage
from tinytroupe.clients.cache import CachedClient, ResponseCache, request_key
from tinytroupe.environment import TinyWorld
from tinytroupe.environment.checkpoint import CheckpointError, read_checkpoint, write_checkpoint


def test_checkpoint_round_trip_keeps_the_previous_file(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    write_checkpoint(path, {"steps_done": 1})
    write_checkpoint(path, {"steps_done": 2})
    assert read_checkpoint(path) == {"steps_done": 2}
    assert read_checkpoint(tmp_path / "run.ckpt.prev") == {"steps_done": 1}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[: len(text) // 2], "truncated or corrupted"),
    (lambda text: text.replace('"steps_done": 2', '"steps_done": 3'), "checksum"),
    (lambda text: json.dumps({"hello": 1}), "not a tinytroupe checkpoint"),
])
def test_a_damaged_checkpoint_is_reported_and_the_previous_one_still_loads(
        tmp_path, damage, message) -> None:
    path = tmp_path / "run.ckpt"
    write_checkpoint(path, {"steps_done": 1})
    write_checkpoint(path, {"steps_done": 2})
    path.write_text(damage(path.read_text()))
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(path)
    assert str(path) in str(caught.value) and message in str(caught.value)
    assert "run.ckpt.prev" in str(caught.value)
    assert read_checkpoint(f"{path}.prev") == {"steps_done": 1}


def test_missing_checkpoint_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        TinyWorld.resume(tmp_path / "nothing.ckpt")


def test_world_resume_restores_agents_time_order_and_transcript(tmp_path) -> None:
    path = tmp_path / "w.ckpt"
    agents = [TinyPerson(f"A{i}") for i in range(4)]
    with TinyWorld("saved", agents, seed=9) as world:
        world.make_everyone_accessible()
        world.run(2, parallelize=True, checkpoint_every=1, checkpoint_path=path)
        expected = world.encode_complete_state()
        world.run(2, parallelize=True)
        finished = list(world.transcript)
    from tinytroupe import control
    control.reset()
    resumed = TinyWorld.resume(path)
    assert resumed.encode_complete_state() == expected
    assert resumed.steps_done == 2 and len(resumed.agents) == 4
    resumed.run(2, parallelize=True)
    assert list(resumed.transcript) == finished  # same shuffles, same answers, same order
    resumed.close()


def test_checkpoint_every_needs_a_path() -> None:
    with (TinyWorld("nopath", [TinyPerson("A")]) as world,
          pytest.raises(ValueError, match="checkpoint_path")):
        world.run(1, checkpoint_every=1)


def test_request_key_is_stable_and_ignores_the_agent_name() -> None:
    messages = [{"role": "user", "content": "hi"}]
    a = request_key("m", messages, {"temperature": 1.0, "user": "Bob"})
    b = request_key("m", [dict(m) for m in messages], {"user": "Eve", "temperature": 1.0})
    assert a == b and len(a) == 64
    assert a != request_key("m", messages, {"temperature": 0.5})
    assert a != request_key("other", messages, {"temperature": 1.0})


def test_cached_client_answers_repeats_from_the_file(tmp_path) -> None:
    calls = []

    class Counting:
        def complete(self, messages, **params):
            calls.append(messages)
            return Completion(f"answer {len(calls)}", 3, 4)

    client = CachedClient(Counting(), ResponseCache(tmp_path / "c.sqlite"), "m")
    first = client.complete([{"role": "user", "content": "x"}], user="A")
    again = CachedClient(Counting(), ResponseCache(tmp_path / "c.sqlite"), "m").complete(
        [{"role": "user", "content": "x"}], user="B")
    assert first == again == Completion("answer 1", 3, 4) and len(calls) == 1
    used = usage.snapshot()
    assert (used.cache_hits, used.cache_misses) == (1, 1)


def test_fifty_threads_writing_the_cache_lose_nothing(tmp_path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")

    def write(thread: int) -> None:
        for i in range(40):
            cache.put(f"{thread}-{i}", Completion(f"{thread}:{i}", i, thread))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=50)
    reopened = ResponseCache(tmp_path / "c.sqlite")
    assert len(reopened) == 50 * 40
    assert reopened.get("49-39") == Completion("49:39", 39, 49)


def test_cache_api_calls_wraps_the_configured_client(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config_manager.set("cache_api_calls", True)
    client = get_client()
    assert isinstance(client, CachedClient)
    assert client.cache.path.resolve() == (tmp_path / "tinytroupe_cache.sqlite").resolve()
