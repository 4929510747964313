"""A file-backed cache of LLM answers, so that a replayed run makes no network calls.

Keys are a SHA-256 of the request's canonical JSON (model, messages, parameters), so
the same prompt gets the same answer back; values are the answer text and its token
usage. The store is SQLite in WAL mode: safe for many threads (one connection per
thread), and a process killed mid-write loses at most the answer being written, never
the file. Nothing is pickled: loading a cache can never run code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from tinytroupe.clients.cost import CostStats
from tinytroupe.clients.errors import LLMConfigurationError
from tinytroupe.clients.openai_client import Completion
from tinytroupe.clients.usage import usage
from tinytroupe.sanitize import clean_text, utf8

logger = logging.getLogger("tinytroupe")

_SCHEMA = """CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, content TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL)"""


def request_key(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """A stable hash of everything that determines the answer (not the agent's name)."""
    relevant = {k: v for k, v in params.items() if k != "user" and v is not None}
    canonical = json.dumps({"model": model, "messages": messages, "params": relevant},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(utf8(canonical)).hexdigest()


class ResponseCache:
    """SQLite-backed map from request key to `Completion`. Thread-safe.

    A path that cannot be opened raises `LLMConfigurationError` naming CACHE_FILE_NAME.
    A file that is there but unreadable as a cache (not SQLite, a foreign row) is
    warned about once and answers misses: the run goes on, uncached.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._broken = False
        self._warned = False
        try:
            self._connection().execute(_SCHEMA)
        except sqlite3.OperationalError as exc:
            raise LLMConfigurationError(
                f"cannot open the response cache CACHE_FILE_NAME={str(self.path)!r}: {exc}") \
                from None
        except sqlite3.DatabaseError as exc:
            self._broken = True
            self._warn_once(f"{exc}; running without it")

    def _warn_once(self, problem: str) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("response cache %s: %s", self.path, problem)

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def get(self, key: str) -> Completion | None:
        """The cached answer, or None (also when the store cannot be read: a miss)."""
        if self._broken:
            return None
        try:
            row = self._connection().execute(
                "SELECT content, prompt_tokens, completion_tokens FROM answers WHERE key = ?",
                (key,)).fetchone()
        except sqlite3.Error as exc:
            logger.warning("response cache %s unreadable (%s); asking the model", self.path, exc)
            return None
        if row is None:
            return None
        content, prompt, completion = row
        if not (isinstance(content, str) and isinstance(prompt, int)
                and isinstance(completion, int)):
            self._warn_once(f"entry {key[:12]}... is not an answer (treated as a miss)")
            return None
        return Completion(clean_text(content), max(0, prompt), max(0, completion))

    def put(self, key: str, completion: Completion) -> None:
        """Store an answer; a store that cannot be written loses the entry, not the answer."""
        if self._broken:
            return
        try:
            self._connection().execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                (key, completion.content, completion.prompt_tokens, completion.completion_tokens))
        except sqlite3.Error as exc:
            logger.warning("response cache %s not written (%s)", self.path, exc)

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM answers").fetchone()[0]


class CachedClient(CostStats):
    """A `ChatClient` that answers from `cache` when it can and asks `inner` otherwise."""

    def __init__(self, inner: Any, cache: ResponseCache, model: str) -> None:
        self.inner, self.cache, self.model = inner, cache, model

    def complete(self, messages: list[dict[str, Any]], **params: Any) -> Completion:
        """The stored answer to this request, else `inner`'s answer, which is then stored.

        The request is `model`, `messages` and `params`; a cache hit or miss is counted for
        ``params["user"]``.
        """
        key = request_key(self.model, messages, params)
        cached = self.cache.get(key)
        if cached is not None:
            usage.add(params.get("user"), cache_hits=1)
            return cached
        usage.add(params.get("user"), cache_misses=1)
        completion = self.inner.complete(messages, **params)
        self.cache.put(key, completion)
        return completion

    def close(self) -> None:
        """Close `inner` if it can be closed (the cache itself is left open)."""
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
