"""EpisodicMemory: order, bounds, retrieval and round trip."""

from __future__ import annotations

import threading

import pytest

from tinytroupe.agent import EpisodicMemory, TinyPerson
from tinytroupe.agent.memory import EpisodicMemory as FromModule


def episode(i: int) -> dict:
    return {"role": "user", "content": {"stimuli": [{"type": "THOUGHT", "content": str(i)}]}}


def contents(episodes: list[dict]) -> list[int]:
    return [int(e["content"]["stimuli"][0]["content"]) for e in episodes]


def test_unbounded_memory_keeps_everything_in_order() -> None:
    memory = EpisodicMemory()
    for i in range(50):
        memory.store(episode(i))
    assert contents(memory.retrieve_all()) == list(range(50))
    assert len(memory) == memory.count() == 50
    assert contents(memory.retrieve_first(3)) == [0, 1, 2]
    assert contents(memory.retrieve_last(2)) == [48, 49]
    assert memory.retrieve_last(0) == []
    assert FromModule is EpisodicMemory


def test_bounded_memory_never_exceeds_max_size_and_keeps_the_prefix() -> None:
    memory = EpisodicMemory(max_size=10, fixed_prefix_length=3)
    for i in range(100):
        memory.store(episode(i))
        assert len(memory) <= 10
    assert contents(memory.retrieve_all()) == [0, 1, 2, *range(93, 100)]
    assert memory.omitted == 100 - 10


def test_prefix_is_capped_to_leave_room_for_recent_episodes() -> None:
    memory = EpisodicMemory(max_size=4, fixed_prefix_length=20)
    for i in range(10):
        memory.store(episode(i))
    assert contents(memory.retrieve_all()) == [0, 1, 8, 9]


def test_retrieve_recent_is_prefix_plus_lookback() -> None:
    memory = EpisodicMemory(fixed_prefix_length=2, lookback_length=3)
    for i in range(10):
        memory.store(episode(i))
    assert contents(memory.retrieve_recent()) == [0, 1, 7, 8, 9]


def test_invalid_max_size_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_size"):
        EpisodicMemory(max_size=0)


def test_encode_decode_round_trip() -> None:
    memory = EpisodicMemory(max_size=5, fixed_prefix_length=1)
    for i in range(8):
        memory.store(episode(i))
    copy = EpisodicMemory.decode(memory.encode())
    assert copy.retrieve_all() == memory.retrieve_all()
    assert (copy.max_size, copy.omitted) == (5, memory.omitted)


def test_concurrent_stores_lose_nothing() -> None:
    memory = EpisodicMemory()
    threads = [threading.Thread(target=lambda k=k: [memory.store(episode(k * 1000 + i))
                                                    for i in range(200)]) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(contents(memory.retrieve_all())) == sorted(
        k * 1000 + i for k in range(20) for i in range(200))


def test_assigning_a_new_memory_to_an_agent_works() -> None:
    agent = TinyPerson("Mem")
    agent.episodic_memory = EpisodicMemory(max_size=3)
    for i in range(10):
        agent.think(f"thought {i}")
    assert len(agent.episodic_memory) == 3


def test_a_memory_given_to_the_constructor_is_used_even_when_empty() -> None:
    memory = EpisodicMemory(max_size=5)
    agent = TinyPerson("Kept", episodic_memory=memory)
    assert agent.episodic_memory is memory


def test_memory_max_size_from_config_bounds_new_agents() -> None:
    from tinytroupe import config_manager

    config_manager.set("episodic_memory_max_size", 6)
    agent = TinyPerson("Bounded")
    for i in range(20):
        agent.think(str(i))
    assert len(agent.episodic_memory) == 6
