"""Offline embeddings, SemanticMemory, and the RecallFaculty of an acting agent."""

from __future__ import annotations

import json
import math
import threading

import pytest

from tinytroupe.agent import (
    CustomMentalFaculty,
    EpisodicMemory,
    RecallFaculty,
    SemanticMemory,
    TinyMentalFaculty,
    TinyPerson,
)
from tinytroupe.agent.semantic_memory import chunk_text, episode_text, relevant_episodes
from tinytroupe.clients import Completion, usage
from tinytroupe.clients.embeddings import OFFLINE_DIMENSIONS, embed, offline_embedding
from tinytroupe.clients.errors import LLMRequestError

FACTS = [
    "My sister Carla's birthday party is on the 14th of May.",
    "The office coffee machine is broken since Tuesday.",
    "Paris is the capital of France.",
    {"content": "I am allergic to peanuts and shellfish.", "type": "fact"},
]


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# --- embeddings -------------------------------------------------------------------------

def test_offline_embeddings_are_deterministic_unit_vectors() -> None:
    first, again, other = embed(["Coffee machine broken", "Coffee machine broken", "Peanuts"])
    assert first == again == pytest.approx(offline_embedding("Coffee machine broken"), abs=1e-6)
    assert len(first) == OFFLINE_DIMENSIONS
    assert math.isclose(sum(x * x for x in first), 1.0, rel_tol=1e-5)
    assert _cosine(first, other) == pytest.approx(0.0, abs=1e-6)
    assert embed([]) == []
    assert not any(offline_embedding("the and of"))  # no words that say anything: zero


def test_offline_embeddings_make_texts_sharing_words_similar() -> None:
    query, near, far = embed(["broken coffee machines",
                              "The office coffee machine is broken since Tuesday.",
                              "Paris is the capital of France."])
    assert _cosine(query, near) > 0.5 > _cosine(query, far)


def test_embed_counts_a_request_per_batch_and_caches_by_text() -> None:
    embed(["one fact", "another fact"], user="Ann")
    assert usage.snapshot("Ann").requests == 1
    embed(["one fact", "another fact"], user="Ann")  # cached: no request
    assert usage.snapshot("Ann").requests == 1
    with pytest.raises(TypeError):
        embed("a string, not a list")  # type: ignore[arg-type]


# --- SemanticMemory ---------------------------------------------------------------------

def test_semantic_recall_returns_the_stored_fact_that_matches_a_query() -> None:
    memory = SemanticMemory()
    memory.store_all(FACTS)
    assert memory.retrieve_relevant("Carla birthday", top_k=1) == [FACTS[0]]
    assert memory.retrieve_relevant("peanut allergy", top_k=1) == [FACTS[3]["content"]]
    hits = memory.search("capital of France", top_k=2)
    assert hits[0].text == FACTS[2] and hits[0].score > hits[1].score
    assert memory.retrieve_relevant("anything", top_k=0) == []
    assert len(memory.retrieve_relevant("coffee")) == len(FACTS)  # top_k=20 by default


def test_memories_are_indexed_incrementally_in_batches() -> None:
    # texts no other test embeds: the process-wide cache does not know them yet
    memory = SemanticMemory(["Incremental fact one: oat milk.", "Incremental fact two: rye."])
    memory.user = "Ann"
    memory.retrieve_relevant("incremental oat")  # two facts, then the query: two requests
    assert usage.snapshot("Ann").requests == 2
    memory.store("Incremental fact three: the supplier is BeanCo.")
    assert memory.retrieve_relevant("incremental supplier", top_k=1) == [
        "Incremental fact three: the supplier is BeanCo."]
    assert usage.snapshot("Ann").requests == 4  # only the new fact and the new query


def test_retrieve_all_returns_engrams_by_type_and_state_round_trips() -> None:
    memory = SemanticMemory()
    memory.store_all(FACTS)
    memory.add_document("Refunds are possible within 30 days.\n\nShipping takes 2 days.",
                        source="policy.md")
    engrams = memory.retrieve_all()
    assert [e["type"] for e in engrams] == ["information"] * 3 + ["fact", "document"]
    assert memory.retrieve_all(item_type="fact")[0]["content"] == FACTS[3]["content"]
    assert memory.memories == engrams and len(memory) == 5
    restored = SemanticMemory.decode(json.loads(json.dumps(memory.encode())))
    assert restored.retrieve_all() == engrams
    hit = restored.search("refund days", top_k=1)[0]
    assert hit.source == "policy.md" and "Refunds" in hit.text
    restored.clear()
    assert restored.retrieve_relevant("refund") == [] and len(restored) == 0


def test_stored_episodes_read_as_what_happened() -> None:
    heard = {"role": "user", "type": "stimulus", "simulation_timestamp": None,
             "content": {"stimuli": [{"type": "CONVERSATION", "content": "Lunch at noon?",
                                      "source": "Bob"}]}}
    said = {"role": "assistant", "type": "action", "simulation_timestamp": None,
            "content": {"action": {"type": "TALK", "content": "Sure!", "target": "Bob"}}}
    assert episode_text(heard) == "CONVERSATION from Bob: Lunch at noon?"
    assert episode_text(said) == "TALK to Bob: Sure!"
    memory = SemanticMemory([heard, said])
    assert memory.retrieve_relevant("lunch noon", 1) == ["CONVERSATION from Bob: Lunch at noon?"]
    assert relevant_episodes([said, heard], "lunch", top_k=1) == [heard]


def test_chunk_text_cuts_at_paragraphs_then_sentences_then_words() -> None:
    text = "First paragraph.\n\nSecond one. " + "word " * 100
    chunks = chunk_text(text, max_chars=60)
    assert all(len(c) <= 60 for c in chunks)
    assert chunks[0] == "First paragraph.\n\nSecond one."
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())
    assert chunk_text("   \n\n  ") == []


def test_concurrent_stores_and_searches_lose_nothing() -> None:
    memory = SemanticMemory()
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for i in range(20):
                memory.store(f"thread{thread} item{i} marker")
                memory.search(f"thread{thread} item{i}", top_k=3)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(memory) == 80
    assert memory.retrieve_relevant("thread3 item7", top_k=1) == ["thread3 item7 marker"]


# --- RecallFaculty ----------------------------------------------------------------------

class Scripted:
    """A client answering each act() with the next scripted action document."""

    def __init__(self, *documents: dict) -> None:
        self.documents = list(documents)
        self.requests: list[list[dict]] = []

    def complete(self, messages: list[dict], **params: object) -> Completion:
        self.requests.append(messages)
        document = self.documents.pop(0) if self.documents else {"actions": [{"type": "DONE"}]}
        return Completion(content=json.dumps(document))


def _recall(query: str) -> dict:
    return {"actions": [{"type": "RECALL", "content": query, "target": ""}, {"type": "DONE"}],
            "cognitive_state": {}}


def _thoughts(agent: TinyPerson) -> list[str]:
    return [s["content"] for e in agent.episodic_memory.retrieve_all(item_type="stimulus")
            for s in e["content"]["stimuli"] if s["type"] == "THOUGHT"]


def test_an_agent_that_recalls_gets_the_recalled_text_as_a_thought(monkeypatch) -> None:
    client = Scripted(_recall("Carla birthday"), {"actions": [{"type": "DONE"}]})
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
    recall = RecallFaculty()
    recall.semantic_memory.store_all(FACTS)
    agent = TinyPerson("Ann", mental_faculties=[recall])
    assert "RECALL" in agent.generate_agent_system_prompt()
    agent.act()
    thought = _thoughts(agent)[-1]
    assert thought.startswith("Recalling 'Carla birthday'")
    assert FACTS[0] in thought.splitlines()[1]  # the best match comes first
    agent.act()  # the next turn sees the recalled text
    assert FACTS[0] in json.dumps(client.requests[-1], ensure_ascii=False)


def test_recall_finds_what_the_agent_lived_but_not_its_own_queries(monkeypatch) -> None:
    client = Scripted(_recall("dentist appointment"), _recall("dentist appointment"))
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
    agent = TinyPerson("Ann", mental_faculties=[RecallFaculty()])
    agent.listen("Your dentist appointment moved to Friday at 9.", source="Receptionist")
    agent.listen("The weather is lovely today.")
    agent.act()
    first = _thoughts(agent)[-1]
    assert "CONVERSATION from Receptionist: Your dentist appointment moved" in first
    assert "weather" not in first  # shares no word with the query
    agent.act()
    second = _thoughts(agent)[-1]
    assert "RECALL" not in second and "Recalling" not in second.split("\n", 1)[1]
    hits = agent.mental_faculties[0].recall(agent, "dentist appointment")
    assert len(hits) == 1  # neither the RECALL actions nor the recalled thoughts


def test_recall_with_nothing_relevant_says_so(monkeypatch) -> None:
    client = Scripted(_recall("quantum"))
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
    agent = TinyPerson("Ann", mental_faculties=[RecallFaculty()])
    agent.act()
    assert _thoughts(agent)[-1] == "I try to recall 'quantum', but nothing comes to mind."


def test_recall_survives_an_embeddings_failure(monkeypatch) -> None:
    def broken(texts, *, user=None):
        raise LLMRequestError("embeddings endpoint said no")

    client = Scripted(_recall("x y"))
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
    monkeypatch.setattr("tinytroupe.clients.embeddings.embed", broken)
    agent = TinyPerson("Ann", mental_faculties=[RecallFaculty()])
    agent.listen("x y z")
    agent.act()  # the turn stands
    assert "memory fails me" in _thoughts(agent)[-1]
    assert [a["type"] for a in agent.pop_latest_actions()] == ["RECALL", "DONE"]


def test_a_shared_faculty_keeps_each_agents_episodes_apart() -> None:
    recall = RecallFaculty()
    ann, bob = TinyPerson("Ann"), TinyPerson("Bob")
    ann.listen("The secret code is swordfish.")
    bob.listen("Lunch is pizza.")
    assert [h.text for h in recall.recall(ann, "secret code")] == [
        "CONVERSATION: The secret code is swordfish."]
    assert recall.recall(bob, "secret code") == []


def test_episodes_are_indexed_incrementally_even_after_the_memory_drops_them() -> None:
    agent = TinyPerson("Ann", episodic_memory=EpisodicMemory(fixed_prefix_length=0,
                                                             max_size=2))
    recall = RecallFaculty()
    agent.listen("Alpha news arrived.")
    assert recall.recall(agent, "alpha")
    for word in ("bravo", "charlie", "delta"):
        agent.listen(f"{word} news arrived.")
        recall.recall(agent, word)
    assert agent.episodic_memory.omitted == 2
    assert [h.text for h in recall.recall(agent, "alpha")] == ["CONVERSATION: Alpha news arrived."]
    agent.episodic_memory.clear()  # forgotten: the index starts again
    assert recall.recall(agent, "alpha") == []


def test_faculties_survive_encode_and_decode_complete_state(monkeypatch) -> None:
    recall = RecallFaculty(top_k=3)
    recall.semantic_memory.store("The spare key is under the blue flowerpot.")
    custom = CustomMentalFaculty("Juggling", actions_configs={"JUGGLE": {"description": "x"}})
    agent = TinyPerson("Ann", mental_faculties=[recall, custom])
    agent.listen("The meeting is cancelled.", source="Bob")
    state = json.loads(json.dumps(agent.encode_complete_state()))
    TinyPerson.clear_agents()
    restored = TinyPerson("Ann").decode_complete_state(state)
    faculty = restored.mental_faculties[0]
    assert isinstance(faculty, RecallFaculty) and faculty is not recall and faculty.top_k == 3
    assert isinstance(restored.mental_faculties[1], CustomMentalFaculty)
    assert all(isinstance(f, TinyMentalFaculty) for f in restored.mental_faculties)
    assert [h.text for h in faculty.recall(restored, "spare key")] == [
        "The spare key is under the blue flowerpot."]
    assert [h.text for h in faculty.recall(restored, "meeting cancelled")] == [
        "CONVERSATION from Bob: The meeting is cancelled."]
    client = Scripted(_recall("spare key"))
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
    restored.act()
    assert "blue flowerpot" in _thoughts(restored)[-1]
