"""Checking message delivery: what agents said against what their targets heard."""

from __future__ import annotations

from collections import Counter
from typing import Any


def talks_sent(results: list[dict[str, list[dict[str, str]]]], names: set[str]) -> Counter:
    """(source, recipient, content) of every delivery the TALKs in `results` call for.

    `results` is what `run(return_actions=True)` returned. By the routing contract: a TALK
    to one of `names` reaches that agent (never its own source); a TALK to no known target
    is broadcast to every agent of `names` but its source.
    """
    sent: Counter = Counter()
    for step in results:
        for source, actions in step.items():
            for item in actions:
                action = item.get("action", item)  # upstream's shape, or a bare action
                if action["type"] != "TALK":
                    continue
                target = action["target"]
                recipients = [target] if target in names else sorted(names - {source})
                sent.update((source, r, action["content"]) for r in recipients if r != source)
    return sent


def talks_heard(agents: list[Any]) -> Counter:
    """(source, recipient, content) of every CONVERSATION the agents remember from an agent."""
    return Counter((stimulus["source"], agent.name, stimulus["content"]) for agent in agents
                   for episode in agent.episodic_memory.retrieve_all() if episode["role"] == "user"
                   for stimulus in episode["content"]["stimuli"]
                   if stimulus["type"] == "CONVERSATION" and stimulus["source"])


def contents_heard(agent: Any) -> list[str]:
    """The content of every stimulus `agent` remembers perceiving, oldest first."""
    return [stimulus["content"] for episode in agent.episodic_memory.retrieve_all()
            if episode["role"] == "user" for stimulus in episode["content"]["stimuli"]]
