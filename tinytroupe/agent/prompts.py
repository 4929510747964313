"""Prompt building: how an agent's persona and memory become chat-completions messages.

The format is a contract shared with the offline model (`tinytroupe.clients.offline`),
which reads it back without a language model:

* the system message carries the persona as JSON between ``<persona>`` tags and the
  agents it may talk to between ``<accessible_agents>`` tags;
* each remembered stimulus is a ``user`` message whose content is
  ``{"stimuli": [{"type", "content", "source"}]}``;
* each remembered action is an ``assistant`` message ``{"action": {...}}``;
* the last message is the instruction to act, `ACT_INSTRUCTION`.
"""

from __future__ import annotations

import json
from typing import Any

ACT_INSTRUCTION = (
    "Now decide your next actions. Answer with one JSON object only: "
    '{"actions": [{"type": "THINK|TALK|REACH_OUT|DONE", "content": "...", "target": "..."}], '
    '"cognitive_state": {"goals": "...", "attention": "...", "emotions": "..."}}. '
    "Any action listed under \"You can also do these actions\" may be used too. "
    "End the list with a DONE action when you have nothing more to do now."
)

_SYSTEM_TEMPLATE = """\
You are a simulated person in a multi-agent simulation. Stay in character: think, \
speak and decide as the person described below would, never as an AI assistant.

<persona>{persona}</persona>

You can talk to these people (TALK with "target" set to their name):
<accessible_agents>{accessible}</accessible_agents>

Your current mental state: {mental_state}

Rules: THINK is private thought; TALK says "content" to "target"; REACH_OUT asks \
"target" to become accessible to you; DONE ends your turn. Answer in JSON only."""


def system_message(
    persona: dict[str, Any], accessible: list[dict[str, str]], mental_state: dict[str, Any]
) -> dict[str, str]:
    """The system message for an agent with this persona, contacts and state."""
    return system_message_from_json(to_json(persona), to_json(accessible), mental_state)


def system_message_from_json(
    persona_json: str, accessible_json: str, mental_state: dict[str, Any],
    extra_actions: str = "",
) -> dict[str, str]:
    """`system_message` with persona and contacts already serialised (agents cache them).

    `extra_actions` (the agent's mental faculties' actions and rules) is appended.
    """
    content = _SYSTEM_TEMPLATE.format(persona=persona_json, accessible=accessible_json,
                                      mental_state=to_json(mental_state))
    if extra_actions:
        content += f"\n\nYou can also do these actions:\n{extra_actions}"
    return {"role": "system", "content": content}


def to_json(value: Any) -> str:
    """`value` as JSON text, non-ASCII characters kept as they are (not escaped)."""
    return json.dumps(value, ensure_ascii=False)


#: JSON of one contact, by name (no relation) or (name, relation): shared by every agent
#: that has that contact.
_contact_json: dict[Any, str] = {}


def contacts_json(names: list[str], relations: dict[str, str]) -> str:
    """``to_json([{"name": n, "relation": relations.get(n, "")}, ...])``, the same text.

    Built from per-contact pieces kept process-wide: in a world of N agents who all know
    each other, each agent's first prompt would otherwise encode N contacts from
    scratch, N x N work in the first step.
    """
    pieces = []
    for name in names:
        relation = relations.get(name, "") if relations else ""
        key: Any = (name, relation) if relation else name
        piece = _contact_json.get(key)
        if piece is None:
            if len(_contact_json) > 200_000:  # bounded: a cache, not a registry
                _contact_json.clear()
            piece = _contact_json[key] = to_json({"name": name, "relation": relation})
        pieces.append(piece)
    return f"[{', '.join(pieces)}]"


def episode_message(episode: dict[str, Any]) -> dict[str, str]:
    """One remembered episode (as stored in `EpisodicMemory`) as a chat message."""
    content = episode["content"]
    if not isinstance(content, str):
        content = to_json(content)
    return {"role": episode["role"], "content": content}


def act_messages(
    system: dict[str, str], episodes: list[dict[str, Any]] | None = None,
    episode_messages: list[dict[str, str]] | None = None,
) -> list[dict[str, str]]:
    """The full request: system message, remembered episodes, then the instruction to act.

    Pass `episode_messages` when the episodes' messages are already built.
    """
    if episode_messages is None:
        episode_messages = [episode_message(e) for e in episodes or []]
    return [system, *episode_messages, {"role": "user", "content": ACT_INSTRUCTION}]

