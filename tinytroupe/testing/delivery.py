"""Checking message delivery: what agents said against what their targets heard."""

from __future__ import annotations

from collections import Counter
from typing import Any


def talks_sent(results: list[dict[str, list[dict[str, str]]]], names: set[str]) -> Counter:
    """(source, target, content) of every TALK that `run(return_actions=True)` returned,
    addressed to one of `names` other than its source."""
    return Counter((source, action["target"], action["content"]) for step in results
                   for source, actions in step.items() for action in actions
                   if action["type"] == "TALK" and action["target"] in names
                   and action["target"] != source)


def talks_heard(agents: list[Any]) -> Counter:
    """(source, recipient, content) of every CONVERSATION the agents remember from an agent."""
    return Counter((stimulus["source"], agent.name, stimulus["content"]) for agent in agents
                   for episode in agent.episodic_memory.retrieve_all() if episode["role"] == "user"
                   for stimulus in episode["content"]["stimuli"]
                   if stimulus["type"] == "CONVERSATION" and stimulus["source"])
