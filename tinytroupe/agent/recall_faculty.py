"""RecallFaculty: the agent can RECALL what it knows and what it went through.

`RecallFaculty()` adds the RECALL action: its ``content`` is a mental query (keywords),
and the faculty answers with a THOUGHT stimulus listing the memories most similar to
the query, or saying that nothing comes to mind; the agent's next turn sees it.

It searches two semantic memories, ranked together: `semantic_memory`, the facts and
documents given to the faculty (``faculty.semantic_memory.store(...)``,
``.add_document(...)``; saved with the agent), and an index of the agent's own
episodic memory (what it perceived and did), kept inside the faculty per episodic
memory and brought up to date at each RECALL with only the episodes stored since
(so episodes that the episodic memory has since dropped can still be recalled). Not
indexed: the agent's RECALL, CONSULT, LIST_DOCUMENTS and DONE actions, and the
faculty's own answers (a query would otherwise find itself). A faculty shared by
several agents keeps their episodes apart. The agent gets no new attribute.

If the embeddings endpoint fails, the agent is told that its memory failed it and a
warning is logged; the agent's committed actions stand.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from tinytroupe.agent.mental_faculty import TinyMentalFaculty
from tinytroupe.agent.semantic_memory import MemoryHit, SemanticMemory
from tinytroupe.clients.errors import LLMError

logger = logging.getLogger("tinytroupe")

__all__ = ["RecallFaculty"]

#: Action types whose episodes are not indexed for recall (faculty plumbing, not experience).
UNINDEXED_ACTIONS = frozenset({"RECALL", "CONSULT", "LIST_DOCUMENTS", "DONE"})
#: How the faculty's answers begin (they are not indexed for recall themselves).
RECALLED_PREFIX = "Recalling "
NOTHING_PREFIX = "I try to recall "
#: Characters of one recalled memory shown to the agent.
MAX_MEMORY_CHARS = 1_500

_DEFINITIONS = """\
RECALL: bring back to mind what you know or went through about something. Put a short \
mental query in `content`: the keywords you expect in the memory (e.g. "sister birthday \
party", not "When was my sister's party?"). What you recall comes to you as a THOUGHT."""

_CONSTRAINTS = """\
- Before deciding that you do not know something, RECALL it.
- RECALL when remembering facts, people or past events would make your answer better; \
then THINK or TALK using what came back.
- If a RECALL brings nothing useful, try once more with different words (synonyms, \
related ideas) before giving up; do not repeat the same query."""


class _EpisodeIndex:
    """The searchable copy of one episodic memory, and how much of it was seen."""

    def __init__(self) -> None:
        self.memory = SemanticMemory()
        self.seen = 0  # episodes ever stored in the episodic memory that were looked at
        self.lock = threading.Lock()


class RecallFaculty(TinyMentalFaculty):
    """The RECALL action over semantic memory (module doc)."""

    def __init__(self, top_k: int = 10, semantic_memory: SemanticMemory | None = None) -> None:
        super().__init__("Memory Recall")
        if top_k < 1:
            raise ValueError(f"RecallFaculty top_k must be >= 1, got {top_k!r}")
        self.top_k = top_k
        self.semantic_memory = semantic_memory if semantic_memory is not None \
            else SemanticMemory()
        self._indexes: weakref.WeakKeyDictionary[Any, _EpisodeIndex] = \
            weakref.WeakKeyDictionary()
        self._indexes_lock = threading.Lock()

    # --- the action -------------------------------------------------------------------

    def process_action(self, agent: Any, action: dict[str, Any]) -> bool:
        """Answer a RECALL with a THOUGHT stimulus; True if `action` was a RECALL."""
        if str(action.get("type", "")).upper() != "RECALL":
            return False
        query = str(action.get("content") or "").strip()
        if not query:
            agent.think(f"{NOTHING_PREFIX}something, but I did not say what to recall.")
            return True
        try:
            hits = self.recall(agent, query)
        except (LLMError, ImportError, ValueError) as exc:
            logger.warning("%s could not RECALL %r: %s", getattr(agent, "name", agent),
                           query, exc)
            agent.think(f"{NOTHING_PREFIX}'{query}', but my memory fails me right now.")
            return True
        if not hits:
            agent.think(f"{NOTHING_PREFIX}'{query}', but nothing comes to mind.")
            return True
        lines = [f"- {_shown(hit)}" for hit in hits]
        agent.think(f"{RECALLED_PREFIX}'{query}', this comes back to me:\n" + "\n".join(lines))
        return True

    def recall(self, agent: Any, relevance_target: str, top_k: int | None = None
               ) -> list[MemoryHit]:
        """The memories most relevant to `relevance_target` for `agent`, best first.

        Searches `semantic_memory` and the agent's episodes (indexed up to now).
        Memories with no similarity at all (score <= 0) are left out.
        """
        top_k = top_k or self.top_k
        user = getattr(agent, "name", None)
        hits = self.semantic_memory.search(relevance_target, top_k, min_score=0.0, user=user)
        episodic = getattr(agent, "episodic_memory", None)
        if episodic is not None:
            index = self._index_for(episodic)
            hits += index.memory.search(relevance_target, top_k, min_score=0.0, user=user)
        hits.sort(key=lambda hit: -hit.score)  # stable: facts before episodes on ties
        seen: set[str] = set()
        unique = []
        for hit in hits:
            if hit.text not in seen:
                seen.add(hit.text)
                unique.append(hit)
        return unique[:top_k]

    def _index_for(self, episodic: Any) -> _EpisodeIndex:
        """The agent's episode index, with the episodes stored since last time added."""
        with self._indexes_lock:
            index = self._indexes.get(episodic)
            if index is None:
                index = self._indexes[episodic] = _EpisodeIndex()
        with index.lock:
            episodes, total = _snapshot(episodic)
            if total < index.seen:  # the episodic memory was cleared: start again
                index.memory.clear()
                index.seen = 0
            fresh = episodes[len(episodes) - min(len(episodes), total - index.seen):] \
                if total > index.seen else []
            index.seen = total
            index.memory.store_all([e for e in fresh if _indexable(e)])
        return index

    # --- prompts ----------------------------------------------------------------------

    def actions_definitions_prompt(self) -> str:
        """The RECALL action."""
        return _DEFINITIONS

    def actions_constraints_prompt(self) -> str:
        """When and how to RECALL."""
        return _CONSTRAINTS

    # --- state ------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Name, `top_k` and the given memories (the episode index is rebuilt when needed)."""
        return {**super().to_state(), "top_k": self.top_k,
                "semantic_memory": self.semantic_memory.encode()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RecallFaculty:
        """The faculty described by `state`."""
        memory = SemanticMemory.decode(state.get("semantic_memory") or {})
        faculty = cls(top_k=int(state.get("top_k") or 10), semantic_memory=memory)
        faculty.name = state.get("name", faculty.name)
        return faculty


def _snapshot(episodic: Any) -> tuple[list[dict[str, Any]], int]:
    """The episodes held and how many were ever stored, read consistently if possible."""
    encode = getattr(episodic, "encode", None)
    if callable(encode):
        state = encode()  # one lock: the episodes and the count of dropped ones agree
        episodes = list(state.get("episodes", []))
        return episodes, len(episodes) + int(state.get("omitted") or 0)
    episodes = list(episodic.retrieve_all())
    return episodes, len(episodes)


def _indexable(episode: dict[str, Any]) -> bool:
    content = episode.get("content")
    if not isinstance(content, dict):
        return episode.get("type") != "omission"
    action = content.get("action")
    if isinstance(action, dict):
        return str(action.get("type", "")).upper() not in UNINDEXED_ACTIONS
    stimuli = content.get("stimuli")
    if isinstance(stimuli, list):
        return not any(isinstance(s, dict) and s.get("type") == "THOUGHT"
                       and str(s.get("content", "")).startswith((RECALLED_PREFIX,
                                                                 NOTHING_PREFIX))
                       for s in stimuli)
    return True


def _shown(hit: MemoryHit) -> str:
    text = " ".join(hit.text.split())
    if len(text) > MAX_MEMORY_CHARS:
        text = text[: MAX_MEMORY_CHARS - 5] + " [...]"
    return f"(from {hit.source}) {text}" if hit.source else text
