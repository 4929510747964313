"""Scripted agents for tests of worlds: turns without a model, with hooks.

`ScriptedPerson` acts without any model call: its turn runs `behaviour(agent)` (block
on an event, raise, count, ...), then THINKs and TALKs to `target`. `ring(n)` makes n
of them, each talking to the next. `heard(agent)` lists what an agent heard;
`in_thread(fn)` runs a call (a `run()`, a `close()`) in another thread;
`pool_threads(world)` lists a world's live worker threads and `join_all` joins them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from tinytroupe.agent import TinyPerson


class ScriptedPerson(TinyPerson):
    """An agent whose turn runs `behaviour(agent)` then TALKs to `target` (if any).

    `turns` counts its turns; `finished` is set whenever a turn ends.
    """

    def __init__(self, name: str, target: str = "",
                 behaviour: Callable[[Any], Any] | None = None) -> None:
        super().__init__(name)
        self.target = target
        self.behaviour = behaviour
        self.turns = 0
        self.finished = threading.Event()

    def act(self, until_done: bool = True, n: int | None = None, return_actions: bool = False,
            **_: object) -> list[dict] | None:
        """One scripted turn (no model call), committed like a real one."""
        with self._acting:
            self.finished.clear()
            try:
                self.turns += 1
                if self.behaviour is not None:
                    self.behaviour(self)
                actions = [{"type": "THINK", "content": f"{self.name} thinks", "target": ""}]
                if self.target:
                    actions.append({"type": "TALK", "target": self.target,
                                    "content": f"{self.name} turn {self.turns}"})
                actions.append({"type": "DONE", "content": "", "target": ""})
                self._commit(actions, {})
                return actions if return_actions else None
            finally:
                self.finished.set()


def ring(n: int, behaviour: Callable[[Any], Any] | None = None,
         prefix: str = "A") -> list[ScriptedPerson]:
    """`n` scripted agents, each talking to the next one around a ring."""
    return [ScriptedPerson(f"{prefix}{i}", f"{prefix}{(i + 1) % n}", behaviour)
            for i in range(n)]


def heard(agent: Any) -> list[str]:
    """What `agent` heard (CONVERSATION contents), in order."""
    return [s["content"] for e in agent.episodic_memory.retrieve_all() if e["role"] == "user"
            for s in e["content"]["stimuli"] if s["type"] == "CONVERSATION"]


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start `fn` in a daemon thread; the dict gets its "result" or "error"."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the test through the box
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def pool_threads(world_name: str) -> list[threading.Thread]:
    """The live worker threads of `world_name`'s executor (named ``<world>-agent-<n>``)."""
    return [t for t in threading.enumerate() if t.name.startswith(f"{world_name}-agent-")]


def join_all(threads: list[threading.Thread], timeout: float = 10.0) -> list[threading.Thread]:
    """Join `threads` (a shared deadline); return those still alive."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in threads if t.is_alive()]
