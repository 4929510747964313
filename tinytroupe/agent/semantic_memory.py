"""Semantic memory: facts and document passages, found by meaning (TinyTroupe's API).

`SemanticMemory(memories=None)` keeps "engrams", upstream's memory records
(``{"role", "content", "type", "simulation_timestamp"}``, plus ``"source"`` for
document passages). `store(value)` takes a dict with ``content`` (and optionally
``type``, default ``"information"``, and ``simulation_timestamp``), an episode of
`EpisodicMemory`, or any other value (stored as its text). `add_document(text,
source)` cuts a document into passages (`chunk_text`) and stores each.
`retrieve_relevant(relevance_target, top_k=20)` returns the texts of the `top_k`
engrams most similar to the target, most similar first; `search` returns the same
with scores and sources; `retrieve_all(item_type=None)` returns the engrams in the
order they were stored.

Similarity is the cosine of embedding vectors (`tinytroupe.clients.embeddings`):
engrams are embedded lazily and incrementally, in batches, the first time a search
needs them, so storing costs no model call and storing many costs few. numpy is
needed for searching (the ``grounding`` extra). All methods are thread-safe; a model
call is never made while the memory's lock is held.

Unlike upstream, `retrieve_relevant` returns the engrams' texts (not llama-index
node renderings), and no llama-index is involved.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tinytroupe.clients import embeddings
from tinytroupe.sanitize import clean_data, clean_text

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MemoryHit", "SemanticMemory", "chunk_text", "episode_text", "relevant_episodes"]

#: Characters in one passage of a document (`chunk_text`).
DEFAULT_CHUNK_CHARS = 1_000

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy comes with the grounding extra
        raise ImportError("semantic memory search needs numpy: "
                          "pip install 'tinytroupe[grounding]'") from None
    return numpy


@dataclass(frozen=True)
class MemoryHit:
    """One result of `SemanticMemory.search`: the engram, its text and its similarity."""

    text: str
    score: float
    engram: dict[str, Any]

    @property
    def source(self) -> str | None:
        """The document the passage comes from (None for other memories)."""
        return self.engram.get("source")


# --- texts of memories ------------------------------------------------------------------

def episode_text(episode: dict[str, Any]) -> str:
    """The text of one `EpisodicMemory` episode (or engram), as it is embedded and shown.

    A stimulus reads ``"CONVERSATION from Bob: ..."``, an action ``"TALK to Bob: ..."``;
    other content is its text (JSON for structured content).
    """
    content = episode.get("content")
    if isinstance(content, dict) and isinstance(content.get("stimuli"), list):
        return "\n".join(_stimulus_text(s) for s in content["stimuli"] if isinstance(s, dict))
    if isinstance(content, dict) and isinstance(content.get("action"), dict):
        action = content["action"]
        target = str(action.get("target") or "")
        head = f"{action.get('type', '')} to {target}" if target else str(action.get("type", ""))
        return f"{head}: {_as_text(action.get('content'))}"
    return _as_text(content)


def _stimulus_text(stimulus: dict[str, Any]) -> str:
    source = str(stimulus.get("source") or "")
    head = f"{stimulus.get('type', '')} from {source}" if source else str(stimulus.get("type", ""))
    return f"{head}: {_as_text(stimulus.get('content'))}"


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def chunk_text(text: str, max_chars: int = DEFAULT_CHUNK_CHARS) -> list[str]:
    """`text` cut into passages of at most `max_chars` characters.

    Cuts fall between paragraphs where possible, then between sentences, then between
    words; short paragraphs are joined. Blank text gives no passage.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars!r}")
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            while len(sentence) > max_chars:
                cut = sentence.rfind(" ", 0, max_chars + 1)
                cut = cut if cut > 0 else max_chars
                pieces.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if sentence:
                pieces.append(sentence)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 2 + len(piece) <= max_chars:
            chunks[-1] = f"{chunks[-1]}\n\n{piece}"
        else:
            chunks.append(piece)
    return chunks


# --- the memory -------------------------------------------------------------------------

class SemanticMemory:
    """Memories found by meaning (module doc). Thread-safe."""

    def __init__(self, memories: list[Any] | None = None) -> None:
        self._lock = threading.Lock()  # the engrams and the index
        self._index_lock = threading.Lock()  # one indexing at a time (it calls the model)
        self._engrams: list[dict[str, Any]] = []
        self._texts: list[str] = []
        self._vectors: np.ndarray | None = None  # rows for the first `_indexed` engrams, then room
        self._indexed = 0
        self._space: str | None = None  # the embedding space of `_vectors`
        self._generation = 0  # bumped by `clear`: an indexing under way is dropped
        #: Whom the embedding calls are counted for in `tinytroupe.clients.usage`.
        self.user: str | None = None
        if memories:
            self.store_all(memories)

    def __repr__(self) -> str:
        return f"SemanticMemory({len(self)} memories)"

    # --- storing ----------------------------------------------------------------------

    def store(self, value: Any) -> None:
        """Remember `value` (module doc); indexed when a search next needs it."""
        self._add([_engram(value)])

    def store_all(self, values: list[Any]) -> None:
        """Remember each of `values`, in order."""
        self._add([_engram(value) for value in values])

    def add_document(self, document: str, source: str | None = None,
                     max_chars: int = DEFAULT_CHUNK_CHARS,
                     simulation_timestamp: Any = None) -> int:
        """Remember the passages of `document` (text), each with its `source` name.

        Returns how many passages were stored.
        """
        passages = chunk_text(clean_text(str(document)), max_chars)
        self._add([{"role": "assistant", "content": passage, "type": "document",
                    "simulation_timestamp": simulation_timestamp, "source": source}
                   for passage in passages])
        return len(passages)

    def add_documents(self, documents: list[Any], max_chars: int = DEFAULT_CHUNK_CHARS) -> int:
        """Remember several documents: texts, or ``(text, source)`` pairs.

        Returns how many passages were stored.
        """
        stored = 0
        for document in documents:
            text, source = document if isinstance(document, tuple) else (document, None)
            stored += self.add_document(text, source, max_chars)
        return stored

    def _add(self, engrams: list[dict[str, Any]]) -> None:
        texts = [episode_text(engram) for engram in engrams]
        kept = [(e, t) for e, t in zip(engrams, texts, strict=True) if t.strip()]
        with self._lock:
            for engram, text in kept:
                self._engrams.append(engram)
                self._texts.append(text)

    def clear(self) -> None:
        """Forget every memory."""
        with self._lock:
            self._engrams, self._texts = [], []
            self._vectors, self._indexed, self._space = None, 0, None
            self._generation += 1

    # --- retrieval --------------------------------------------------------------------

    def retrieve_relevant(self, relevance_target: str, top_k: int = 20) -> list[str]:
        """The texts of the `top_k` memories most similar to `relevance_target`, best first."""
        return [hit.text for hit in self.search(relevance_target, top_k)]

    def search(self, query: str, top_k: int = 20, min_score: float | None = None,
               user: str | None = None) -> list[MemoryHit]:
        """The `top_k` memories most similar to `query`, best first, with their scores.

        With `min_score`, only memories scoring above it. Ties keep the storing order.
        Embedding calls are counted for `user` (default: `self.user`). Raises what
        `embeddings.embed` raises when the model cannot be reached.
        """
        if top_k is None or top_k < 1 or not str(query).strip():
            return []
        user = user or self.user
        self.index(user=user)
        np = _numpy()
        query_vector = np.asarray(embeddings.embed([str(query)], user=user)[0],
                                  dtype=np.float32)
        with self._lock:
            vectors, count = self._vectors, self._indexed
            engrams, texts = self._engrams[:count], self._texts[:count]
        if vectors is None or count == 0 or vectors.shape[1] != query_vector.shape[0]:
            return []
        norm = float(np.linalg.norm(query_vector))
        scores = vectors[:count] @ (query_vector / norm if norm else query_vector)
        order = np.argsort(-scores, kind="stable")
        hits = []
        for i in order:
            score = float(scores[i])
            if min_score is not None and score <= min_score:
                break
            hits.append(MemoryHit(texts[i], score, engrams[i]))
            if len(hits) == top_k:
                break
        return hits

    def index(self, user: str | None = None) -> None:
        """Embed the memories stored since the last indexing (in batches).

        Searching does this itself; call it to pay the cost up front. When the
        configured embedding space changed (another endpoint or model), every memory
        is embedded again. Embedding calls are counted for `user` (default: `self.user`).
        """
        np = _numpy()
        with self._index_lock:
            space = embeddings.embedding_space()
            with self._lock:
                if space != self._space:
                    self._vectors, self._indexed, self._space = None, 0, space
                start, generation = self._indexed, self._generation
                texts = self._texts[start:]
            if not texts:
                return
            new = np.asarray(embeddings.embed(texts, user=user or self.user), dtype=np.float32)
            norms = np.linalg.norm(new, axis=1, keepdims=True)
            new = new / np.where(norms == 0, 1.0, norms)
            with self._lock:
                if generation != self._generation:
                    return  # cleared meanwhile
                buffer, end = self._vectors, start + len(texts)
                if buffer is not None and buffer.shape[1] != new.shape[1]:
                    raise ValueError(f"the embedding model answered {new.shape[1]} "
                                     f"dimensions after {buffer.shape[1]}")
                if buffer is None or buffer.shape[0] < end:  # grow by doubling
                    grown = np.zeros((max(end, 2 * (0 if buffer is None else buffer.shape[0]),
                                          64), new.shape[1]), dtype=np.float32)
                    if buffer is not None:
                        grown[:start] = buffer[:start]
                    buffer = grown
                # rows below `start` are never written again: searches reading them
                # without the lock see a stable snapshot
                buffer[start:end] = new
                self._vectors, self._indexed = buffer, end

    def retrieve_all(self, item_type: str | None = None) -> list[dict[str, Any]]:
        """Every memory (engram copies), in storing order; only those of `item_type` if given."""
        with self._lock:
            engrams = list(self._engrams)
        return [dict(e) for e in engrams if item_type is None or e.get("type") == item_type]

    @property
    def memories(self) -> list[dict[str, Any]]:
        """Upstream's attribute: every memory (`retrieve_all()`)."""
        return self.retrieve_all()

    def count(self) -> int:
        """How many memories are held."""
        with self._lock:
            return len(self._engrams)

    __len__ = count

    # --- state ------------------------------------------------------------------------

    def encode(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the memories, for `decode` (vectors are not saved)."""
        with self._lock:
            return {"memories": [dict(e) for e in self._engrams]}

    @classmethod
    def decode(cls, state: dict[str, Any]) -> SemanticMemory:
        """A memory holding what `encode` saved (embedded again when first searched)."""
        memory = cls()
        engrams = clean_data(state.get("memories") or [])
        if not isinstance(engrams, list) or not all(isinstance(e, dict) for e in engrams):
            raise ValueError("a saved SemanticMemory's 'memories' must be a list of objects")
        memory._add(engrams)
        return memory


def _engram(value: Any) -> dict[str, Any]:
    """The engram stored for `value` (module doc)."""
    if isinstance(value, dict) and "content" in value:
        engram = {"role": "assistant", "content": clean_data(value["content"]),
                  "type": value.get("type") or "information",
                  "simulation_timestamp": value.get("simulation_timestamp")}
        if value.get("source") is not None:
            engram["source"] = clean_text(str(value["source"]))
        return engram
    return {"role": "assistant", "content": clean_text(_as_text(value)),
            "type": "information", "simulation_timestamp": None}


def relevant_episodes(episodes: list[dict[str, Any]], relevance_target: str, top_k: int = 20,
                      user: str | None = None) -> list[dict[str, Any]]:
    """The `top_k` of `episodes` most similar to `relevance_target`, best first.

    For `EpisodicMemory.retrieve_relevant`: episodes are embedded through the
    in-process cache, so each is embedded once per process.
    """
    if top_k < 1 or not episodes or not str(relevance_target).strip():
        return []
    np = _numpy()
    texts = [episode_text(e) for e in episodes]
    kept = [i for i, text in enumerate(texts) if text.strip()]
    if not kept:
        return []
    vectors = np.asarray(embeddings.embed([texts[i] for i in kept] + [str(relevance_target)],
                                          user=user), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    vectors = vectors / np.where(norms == 0, 1.0, norms)[:, None]
    scores = vectors[:-1] @ vectors[-1]
    order = np.argsort(-scores, kind="stable")[:top_k]
    return [episodes[kept[i]] for i in order]
