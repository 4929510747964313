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
    assert contents(memory.retrieve_first(3, include_omission_info=False)) == [0, 1, 2]
    assert contents(memory.retrieve_last(2, include_omission_info=False)) == [48, 49]
    assert memory.retrieve_last(0, include_omission_info=False) == []
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
    assert contents(memory.retrieve_recent(include_omission_info=False)) == [0, 1, 7, 8, 9]


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


def test_retrieval_marks_only_real_omissions_as_upstream_api() -> None:
    memory = EpisodicMemory(fixed_prefix_length=2, lookback_length=3)
    for i in range(4):
        memory.store(episode(i))
    assert contents(memory.retrieve(2, 2)) == [0, 1, 2, 3]  # nothing left out: no marker
    for i in range(4, 10):
        memory.store(episode(i))
    both = memory.retrieve(first_n=2, last_n=2)
    assert [e.get("type") for e in both][2] == "omission"
    assert contents([e for e in both if e.get("type") != "omission"]) == [0, 1, 8, 9]
    assert memory.retrieve_first(2)[-1]["type"] == "omission"
    assert memory.retrieve_last(3)[0]["type"] == "omission"
    assert contents(memory.retrieve_last(None)) == list(range(10))
    recent = memory.retrieve_recent()
    assert [e.get("type") for e in recent].count("omission") == 1
    assert recent[2]["type"] == "omission"  # between the prefix and the lookback


def test_episodes_and_type_filters() -> None:
    memory = EpisodicMemory()
    memory.store({**episode(0), "type": "stimulus"})
    memory.commit_episode()
    memory.store({**episode(1), "type": "action"})
    memory.store({**episode(2), "type": "stimulus"})
    assert contents(memory.get_current_episode()) == [1, 2]
    assert contents(memory.get_current_episode(item_types=["action"])) == [1]
    assert contents(memory.retrieve_all(item_type="stimulus")) == [0, 2]
    memory.commit_episode()
    assert memory.get_current_episode() == []
    assert memory.count() == 3


def test_clear_prefix_suffix_or_all() -> None:
    memory = EpisodicMemory()
    for i in range(6):
        memory.store(episode(i))
    memory.clear(max_prefix_to_clear=2)
    assert contents(memory.retrieve_all()) == [2, 3, 4, 5]
    memory.clear(max_suffix_to_clear=1)
    assert contents(memory.retrieve_all()) == [2, 3, 4]
    memory.clear()
    assert memory.count() == 0 and memory.retrieve_all() == []


def test_retrieve_relevant_finds_the_matching_episode() -> None:
    memory = EpisodicMemory()
    for text in ("The bakery on Elm Street closes at noon.", "I bought a red bicycle.",
                 "My sister lives in Lisbon."):
        memory.store({"role": "user", "type": "stimulus",
                      "content": {"stimuli": [{"type": "CONVERSATION", "content": text}]}})
    [best] = memory.retrieve_relevant("when does the bakery close", top_k=1)
    assert "bakery" in best["content"]["stimuli"][0]["content"]
