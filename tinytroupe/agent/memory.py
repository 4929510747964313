"""Episodic memory: what an agent perceived and did, in order.

`EpisodicMemory(max_size=None)` keeps every episode. With `max_size`, it never holds
more than `max_size` episodes: the first `fixed_prefix_length` episodes (how the
agent's story began: its briefing, first goals) are kept forever, and beyond them the
oldest episodes are dropped as new ones arrive; `omitted` counts what was dropped.
All methods are safe to call from several threads.

Each episode's chat-message form is built once, when it is stored: a prompt holds
dozens of episodes and is rebuilt at every turn, so serialising them per request
would be the largest CPU cost of an agent turn.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Any

from tinytroupe.agent.prompts import episode_message
from tinytroupe.config import config_manager

_Entry = tuple[dict[str, Any], dict[str, str]]  # (episode, its chat message)


class EpisodicMemory:
    """An append-only, optionally bounded log of episodes (plain JSON-able dicts)."""

    def __init__(
        self,
        max_size: int | None = None,
        fixed_prefix_length: int | None = None,
        lookback_length: int | None = None,
    ) -> None:
        if max_size is not None and max_size < 1:
            raise ValueError(f"EpisodicMemory max_size must be None or >= 1, got {max_size!r}")
        prefix = (config_manager.get("episodic_memory_fixed_prefix_length")
                  if fixed_prefix_length is None else fixed_prefix_length)
        if max_size is not None:
            prefix = min(prefix, max_size // 2)  # leave room for recent episodes
        self.max_size = max_size
        self.fixed_prefix_length = prefix
        self.lookback_length = (config_manager.get("episodic_memory_lookback_length")
                                if lookback_length is None else lookback_length)
        self.omitted = 0
        self._lock = threading.Lock()
        self._prefix: list[_Entry] = []
        self._tail: deque[_Entry] = deque(
            maxlen=None if max_size is None else max_size - prefix)

    def store(self, episode: dict[str, Any]) -> None:
        """Append one episode, dropping the oldest non-prefix one when full."""
        entry = (episode, episode_message(episode))
        with self._lock:
            if len(self._prefix) < self.fixed_prefix_length:
                self._prefix.append(entry)
                return
            if self._tail.maxlen is not None and len(self._tail) == self._tail.maxlen:
                self.omitted += 1
            self._tail.append(entry)

    def retrieve_all(self) -> list[dict[str, Any]]:
        """Every episode held, oldest first."""
        with self._lock:
            return [episode for episode, _ in (*self._prefix, *self._tail)]

    def _recent(self) -> list[_Entry]:
        with self._lock:
            skip = max(0, len(self._tail) - self.lookback_length)
            return [*self._prefix, *itertools.islice(self._tail, skip, None)]

    def retrieve_recent(self) -> list[dict[str, Any]]:
        """What goes into a prompt: the fixed prefix, then the last `lookback_length`."""
        return [episode for episode, _ in self._recent()]

    def recent_messages(self) -> list[dict[str, str]]:
        """`retrieve_recent()` as chat messages (built when each episode was stored)."""
        return [message for _, message in self._recent()]

    def retrieve_first(self, n: int) -> list[dict[str, Any]]:
        return self.retrieve_all()[:n]

    def retrieve_last(self, n: int) -> list[dict[str, Any]]:
        return self.retrieve_all()[-n:] if n > 0 else []

    def count(self) -> int:
        with self._lock:
            return len(self._prefix) + len(self._tail)

    __len__ = count

    def clear(self) -> None:
        with self._lock:
            self._prefix.clear()
            self._tail.clear()
            self.omitted = 0

    def encode(self) -> dict[str, Any]:
        """A JSON-serialisable copy of this memory, for `decode`."""
        with self._lock:
            return {"max_size": self.max_size, "fixed_prefix_length": self.fixed_prefix_length,
                    "lookback_length": self.lookback_length, "omitted": self.omitted,
                    "episodes": [episode for episode, _ in (*self._prefix, *self._tail)]}

    @classmethod
    def decode(cls, state: dict[str, Any]) -> EpisodicMemory:
        memory = cls(state.get("max_size"), state.get("fixed_prefix_length"),
                     state.get("lookback_length"))
        for episode in state.get("episodes", []):
            memory.store(episode)
        memory.omitted = state.get("omitted", 0)
        return memory
