"""Text embeddings: the configured endpoint's embeddings API, or offline hashed vectors.

`embed(texts)` returns one vector per text, in order. With ``API_TYPE=offline`` the
vectors are computed in-process (`offline_embedding`: a signed, hashed bag of words
in `OFFLINE_DIMENSIONS` dimensions, scaled to unit length), so texts that share words
are similar, the same text always gets the same vector, and no network or key is
needed. Otherwise the texts go, `BATCH_SIZE` at a time, to the OpenAI-compatible
``POST {base}/embeddings`` (Azure: the ``EMBEDDING_MODEL`` deployment, with
``AZURE_EMBEDDING_MODEL_API_VERSION``) of the endpoint the chat client uses, with its
key, timeout, retries and provider gate; each request is counted in
`tinytroupe.clients.usage` for `user`, and errors carry no key.

Vectors are cached in-process by (embedding space, text), where the embedding space
is the endpoint and ``EMBEDDING_MODEL`` (`embedding_space()`), so a text is embedded
once per process; the cache is bounded (`CACHE_ENTRIES`, least recently used first out).
This module needs no numpy.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import re
import threading
import urllib.parse
from collections import OrderedDict
from typing import Any

from tinytroupe import clients as _clients
from tinytroupe.clients.limits import shared_gate
from tinytroupe.clients.openai_client import (
    OpenAICompatibleClient,
    _token_count,
    answer_json,
    not_a,
)
from tinytroupe.clients.usage import usage
from tinytroupe.config import config_manager
from tinytroupe.sanitize import clean_text, utf8

__all__ = [
    "BATCH_SIZE", "CACHE_ENTRIES", "MAX_TEXT_CHARS", "OFFLINE_DIMENSIONS",
    "clear_embedding_clients", "embed", "embedding_space", "offline_embedding",
]

#: Most texts sent in one embeddings request (a call with more makes several requests).
BATCH_SIZE = 64
#: Characters of one text that are embedded; the rest is ignored (models cap their input).
MAX_TEXT_CHARS = 8_000
#: Dimensions of the offline embeddings.
OFFLINE_DIMENSIONS = 1024
#: Vectors kept in the in-process cache.
CACHE_ENTRIES = 10_000
#: Most dimensions accepted from an endpoint (a larger vector is a broken answer).
MAX_DIMENSIONS = 16_384

_OFFLINE = "offline"
_WORD = re.compile(r"\w+", re.UNICODE)
#: Words too common to say what a text is about (the offline model ignores them).
_STOPWORD_TEXT = """
a an and are as at be been but by do does did for from had has have he her hers him his
i if in into is it its me my of on or our ours she so than that the their them they this
to was we were what when where which who whom why will with you your yours not no yes
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


# --- offline ----------------------------------------------------------------------------

def offline_embedding(text: str, dimensions: int = OFFLINE_DIMENSIONS) -> list[float]:
    """The offline model's vector for `text`: deterministic, unit length (zero if no words).

    Each word (lower-cased, a plural ``s`` dropped; single letters and common words skipped) adds a
    weight of +1 or -1 at a position both drawn from a hash of the word, so texts
    sharing words have a positive cosine similarity and texts sharing none have about 0.
    """
    vector = [0.0] * dimensions
    for word in _words(text):
        digest = hashlib.blake2b(word.encode("utf-8", "replace"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        vector[value % dimensions] += 1.0 if (value >> 63) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


def _words(text: str) -> list[str]:
    words = []
    for word in _WORD.findall(text.lower()):
        if len(word) < 2 or word in _STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.append(word)
    return words


# --- the cache --------------------------------------------------------------------------

class _VectorCache:
    """A bounded, thread-safe LRU map of (space, text) to a float32 vector."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], array.array] = OrderedDict()

    def get(self, key: tuple[str, str]) -> array.array | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is not None:
                self._items.move_to_end(key)
            return vector

    def put(self, key: tuple[str, str], vector: array.array) -> None:
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _VectorCache(CACHE_ENTRIES)


# --- the endpoint -----------------------------------------------------------------------

class _EmbeddingsEndpoint(OpenAICompatibleClient):
    """The embeddings API of an OpenAI-compatible endpoint.

    The chat client's HTTP machinery (one pool, bounded reads, retries honouring
    Retry-After, the provider gate, key redaction) with an embeddings request and answer.
    """

    def embeddings(self, texts: list[str], user: str | None = None) -> list[list[float]]:
        """One vector per text, in order; raises an `LLMError` carrying no key."""
        body: dict[str, Any] = {"model": self.model, "input": texts}
        if user:
            body["user"] = user
        payload = utf8(json.dumps(body, ensure_ascii=False))
        return self._send(self._embed_attempt, payload, len(payload) // 4, user, len(texts),
                          user=user, what="embeddings request")

    def _embed_attempt(self, payload: bytes, estimate: int, user: str | None,
                       count: int) -> list[list[float]]:
        counts: dict[str, float] = {"requests": 1}
        try:
            with self.gate.slot(estimate) as slot:
                counts["throttled_seconds"] = slot.waited
                status, retry_after, body = self._exchange(payload, slot, counts)
                vectors, tokens = _vectors_from(status, retry_after, body, self.url, count)
                tokens = estimate if tokens is None else tokens
                slot.used_tokens(tokens)
            counts["prompt_tokens"] = tokens
        finally:
            usage.add(user, **counts)
        return vectors


def _vectors_from(status: int, retry_after: str | None, body: bytes, url: str,
                  count: int) -> tuple[list[list[float]], int | None]:
    """The vectors of an embeddings answer and its reported prompt tokens (None: not given)."""
    data = answer_json(status, retry_after, body, url, "an embeddings list")
    try:
        items = data["data"]
        if not isinstance(items, list) or len(items) != count:
            raise ValueError(f"expected {count} embeddings")
        if all(isinstance(i, dict) and isinstance(i.get("index"), int) for i in items):
            items = sorted(items, key=lambda i: i["index"])
        vectors = [_checked_vector(item["embedding"]) for item in items]
        if len({len(v) for v in vectors}) > 1:
            raise ValueError("embeddings of different lengths")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError) as exc:
        raise not_a(url, "an embeddings list", status, exc) from None
    used = data.get("usage")
    tokens = _token_count(used.get("prompt_tokens")) if isinstance(used, dict) else None
    return vectors, tokens


def _checked_vector(value: Any) -> list[float]:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_DIMENSIONS:
        raise ValueError("an embedding is not a list of 1 to MAX_DIMENSIONS numbers")
    vector = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ValueError("an embedding holds something other than finite numbers")
        vector.append(float(x))
    return vector


_endpoints_lock = threading.Lock()
_endpoints: dict[tuple[Any, str, str], _EmbeddingsEndpoint] = {}


def _endpoint(settings: Any, model: str) -> _EmbeddingsEndpoint:
    """The (cached) embeddings client for the chat endpoint `settings` and `model`."""
    url = _embeddings_url(settings, model)
    key = (settings, url, model)
    with _endpoints_lock:
        endpoint = _endpoints.get(key)
        if endpoint is None:
            endpoint = _endpoints[key] = _EmbeddingsEndpoint(
                url=url, api_key=settings.api_key, model=model,
                azure=settings.api_type == "azure", timeout=settings.timeout,
                max_attempts=settings.max_attempts, retry_base_delay=settings.retry_base_delay,
                retry_max_delay=settings.retry_max_delay,
                backoff_factor=settings.backoff_factor,
                gate=shared_gate(settings.max_concurrent_calls, settings.requests_per_window,
                                 settings.tokens_per_window, settings.window_seconds),
                max_response_bytes=settings.max_response_bytes, pool_size=64)
        return endpoint


def _embeddings_url(settings: Any, model: str) -> str:
    """The embeddings URL beside the chat-completions URL of `settings`."""
    parts = urllib.parse.urlsplit(settings.url)
    path = parts.path
    if settings.api_type == "azure":
        base_path = path.split("/openai/deployments/", 1)[0]
        base = urllib.parse.urlunsplit(parts._replace(path=base_path))
        version = config_manager.get("azure_embedding_model_api_version")
        return _clients.with_path(base, f"openai/deployments/{model}/embeddings",
                                  (("api-version", version),))
    suffix = "/chat/completions"
    base_path = path[: -len(suffix)] if path.endswith(suffix) else path
    return _clients.with_path(urllib.parse.urlunsplit(parts._replace(path=base_path)),
                              "embeddings")


def clear_embedding_clients() -> None:
    """Close and forget the embeddings clients, and empty the vector cache."""
    with _endpoints_lock:
        for endpoint in _endpoints.values():
            endpoint.close()
        _endpoints.clear()
    _cache.clear()


# --- the entry point --------------------------------------------------------------------

def embedding_space() -> str:
    """What the current configuration's vectors are comparable within.

    ``"offline"``, or the embeddings URL (no credentials, no query) and the model.
    Vectors from different spaces must not be compared.
    """
    settings = _clients._endpoint_settings()
    if settings == _OFFLINE:
        return _OFFLINE
    model = config_manager.get("embedding_model")
    return f"{_endpoint(settings, model).url}|{model}"


def embed(texts: list[str], *, user: str | None = None) -> list[list[float]]:
    """One embedding vector per text of `texts`, in order (module doc).

    Texts are cut to `MAX_TEXT_CHARS`; vectors already cached are not asked again;
    the rest go `BATCH_SIZE` to a request. Raises `LLMConfigurationError` when no
    endpoint is configured, an `LLMError` when the endpoint fails; nothing is cached
    from a failed request.
    """
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of texts, not one string")
    texts = [clean_text(str(text))[:MAX_TEXT_CHARS] for text in texts]
    if not texts:
        return []
    settings = _clients._endpoint_settings()
    if settings == _OFFLINE:
        space, endpoint = _OFFLINE, None
    else:
        model = config_manager.get("embedding_model")
        endpoint = _endpoint(settings, model)
        space = f"{endpoint.url}|{model}"
    found: dict[str, array.array] = {}
    missing: list[str] = []
    for text in dict.fromkeys(texts):  # each distinct text once, in order
        vector = _cache.get((space, text))
        if vector is None:
            missing.append(text)
        else:
            found[text] = vector
    for start in range(0, len(missing), BATCH_SIZE):
        batch = missing[start:start + BATCH_SIZE]
        if endpoint is None:
            usage.add(user, requests=1)
            vectors = [offline_embedding(text) for text in batch]
        else:
            vectors = endpoint.embeddings(batch, user)
        for text, vector in zip(batch, vectors, strict=True):
            found[text] = packed = array.array("f", vector)
            _cache.put((space, text), packed)
    return [found[text].tolist() for text in texts]
