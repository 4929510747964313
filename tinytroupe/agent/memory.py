"""Episodic memory: what an agent perceived and did, in order (TinyTroupe's API).

`EpisodicMemory(fixed_prefix_length=None, lookback_length=None, max_size=None)` keeps
every episode unless `max_size` is set: then it never holds more than `max_size`
episodes; the first `fixed_prefix_length` (how the agent's story began: its briefing,
first goals) are kept forever and the oldest after them are dropped as new ones
arrive; `omitted` counts what was dropped. All methods are thread-safe.

Retrieval follows upstream: `retrieve(first_n, last_n)`, `retrieve_first`,
`retrieve_last`, `retrieve_recent` (the prefix plus the last `lookback_length`, what
goes into a prompt), `retrieve_all`, each optionally filtered by episode ``type``.
With `include_omission_info` a marker episode stands where episodes were left out;
unlike upstream, only where something really was left out. Episodes are stored at
once (a prompt always sees them); `commit_episode()` closes the current episode and
`get_current_episode()` returns what was stored since.

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

#: The episode that marks where episodes were left out of a retrieval.
OMISSION_MARKER: dict[str, Any] = {
    "role": "assistant", "type": "omission", "simulation_timestamp": None,
    "content": "(Memory note: some earlier episodes are left out here for brevity.)",
}


class EpisodicMemory:
    """An append-only, optionally bounded log of episodes (plain JSON-able dicts)."""

    def __init__(
        self,
        fixed_prefix_length: int | None = None,
        lookback_length: int | None = None,
        max_size: int | None = None,
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
        self._stored = 0  # episodes ever stored
        self._episode_start = 0  # `_stored` when the current episode began

    # --- storing ----------------------------------------------------------------------

    def store(self, episode: dict[str, Any]) -> None:
        """Append one episode, dropping the oldest non-prefix one when full."""
        entry = (episode, episode_message(episode))
        with self._lock:
            self._append(entry)

    def _append(self, entry: _Entry) -> None:  # called with self._lock held
        self._stored += 1
        if len(self._prefix) < self.fixed_prefix_length:
            self._prefix.append(entry)
            return
        if self._tail.maxlen is not None and len(self._tail) == self._tail.maxlen:
            self.omitted += 1
        self._tail.append(entry)

    def store_all(self, episodes: list[dict[str, Any]]) -> None:
        """Store each of `episodes` in order, as `store` does."""
        for episode in episodes:
            self.store(episode)

    def commit_episode(self) -> None:
        """Close the current episode: the next `store` begins a new one."""
        with self._lock:
            self._episode_start = self._stored

    def get_current_episode(self, item_types: list[str] | None = None) -> list[dict[str, Any]]:
        """The episodes stored since the last `commit_episode` (those still held)."""
        with self._lock:
            held = [episode for episode, _ in (*self._prefix, *self._tail)]
            recent = held[len(held) - min(len(held), self._stored - self._episode_start):]
        return _of_types(recent, item_types)

    def clear(self, max_prefix_to_clear: int | None = None,
              max_suffix_to_clear: int | None = None) -> None:
        """Forget the first `max_prefix_to_clear` and/or the last `max_suffix_to_clear` episodes.

        With neither, forget everything.
        """
        with self._lock:
            entries = [*self._prefix, *self._tail]
            if max_prefix_to_clear is None and max_suffix_to_clear is None:
                entries = []
            else:
                entries = entries[max_prefix_to_clear or 0:]
                if max_suffix_to_clear:
                    entries = entries[:-max_suffix_to_clear]
            self._prefix.clear()
            self._tail.clear()
            self.omitted = 0
            self._stored = 0
            for entry in entries:  # under the lock: a concurrent store cannot slip in
                self._append(entry)
            self._episode_start = self._stored

    # --- retrieval --------------------------------------------------------------------

    def retrieve(self, first_n: int | None, last_n: int | None,
                 include_omission_info: bool = True, item_type: str | None = None
                 ) -> list[dict[str, Any]]:
        """The first `first_n` and the last `last_n` episodes (either may be None)."""
        items = self._items(item_type)
        if first_n is None and last_n is None:
            return items
        head = items[:first_n] if first_n is not None else []
        tail_n = max(0, min(last_n or 0, len(items) - len(head))) if last_n is not None else 0
        tail = items[len(items) - tail_n:] if tail_n else []
        left_out = len(items) > len(head) + len(tail)
        marker = [dict(OMISSION_MARKER)] if include_omission_info and left_out else []
        if first_n is None:
            return marker + tail
        return head + marker + tail

    def retrieve_first(self, n: int, include_omission_info: bool = True,
                       item_type: str | None = None) -> list[dict[str, Any]]:
        """The first `n` episodes, with the omission marker after them when more are held."""
        return self.retrieve(n, None, include_omission_info, item_type)

    def retrieve_last(self, n: int | None = None, include_omission_info: bool = True,
                      item_type: str | None = None) -> list[dict[str, Any]]:
        """The last `n` episodes, with the omission marker before them when more are held.

        With `n` None, every episode held (`retrieve_all`, no marker).
        """
        if n is None:
            return self.retrieve_all(item_type)
        return self.retrieve(None, n, include_omission_info, item_type)

    def retrieve_recent(self, include_omission_info: bool = True,
                        item_type: str | None = None) -> list[dict[str, Any]]:
        """What goes into a prompt: the fixed prefix, then the last `lookback_length`."""
        entries = self._recent()
        episodes = _of_types([episode for episode, _ in entries], item_type)
        if include_omission_info and (self.omitted or len(entries) < self.count()):
            episodes.insert(min(len(self._prefix), len(episodes)), dict(OMISSION_MARKER))
        return episodes

    def retrieve_relevant(self, relevance_target: str, top_k: int = 20
                          ) -> list[dict[str, Any]]:
        """The `top_k` held episodes most similar to `relevance_target`, best first.

        Similarity is that of embeddings from the configured endpoint (deterministic
        on the offline model).
        """
        from tinytroupe.agent.semantic_memory import relevant_episodes

        return relevant_episodes(self.retrieve_all(), relevance_target, top_k)

    def retrieve_all(self, item_type: str | None = None) -> list[dict[str, Any]]:
        """Every episode held, oldest first."""
        return self._items(item_type)

    def recent_messages(self) -> list[dict[str, str]]:
        """`retrieve_recent()` as chat messages (built when each episode was stored)."""
        return [message for _, message in self._recent()]

    def count(self) -> int:
        """How many episodes are held now (dropped episodes are counted in `omitted`)."""
        with self._lock:
            return len(self._prefix) + len(self._tail)

    __len__ = count

    def _items(self, item_type: str | None) -> list[dict[str, Any]]:
        with self._lock:
            episodes = [episode for episode, _ in (*self._prefix, *self._tail)]
        return _of_types(episodes, [item_type] if item_type else None)

    def _recent(self) -> list[_Entry]:
        with self._lock:
            skip = max(0, len(self._tail) - self.lookback_length)
            return [*self._prefix, *itertools.islice(self._tail, skip, None)]

    # --- state ------------------------------------------------------------------------

    def encode(self) -> dict[str, Any]:
        """A JSON-serialisable copy of this memory, for `decode`."""
        with self._lock:
            return {"max_size": self.max_size, "fixed_prefix_length": self.fixed_prefix_length,
                    "lookback_length": self.lookback_length, "omitted": self.omitted,
                    "episodes": [episode for episode, _ in (*self._prefix, *self._tail)]}

    @classmethod
    def decode(cls, state: dict[str, Any]) -> EpisodicMemory:
        """A memory rebuilt from what `encode` returned; its current episode is empty."""
        memory = cls(state.get("fixed_prefix_length"), state.get("lookback_length"),
                     max_size=state.get("max_size"))
        memory.store_all(state.get("episodes", []))
        memory.commit_episode()
        memory.omitted = state.get("omitted", 0)
        return memory


def _of_types(episodes: list[dict[str, Any]], types: list[str] | str | None
              ) -> list[dict[str, Any]]:
    if not types:
        return episodes
    wanted = {types} if isinstance(types, str) else set(types)
    return [e for e in episodes if e.get("type") in wanted]
