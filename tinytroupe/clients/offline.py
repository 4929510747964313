"""The offline model: a deterministic, in-process stand-in for an LLM.

It is **not a language model**. It reads the prompt format of `tinytroupe.agent.prompts`
(the persona, the agents it may talk to, what it last perceived) and answers with a
valid action document built from templates: a THINK about what it heard, a TALK back
to whoever spoke last (another agent by name; a question from the user or the world,
who have no name, is answered to one of the agent's contacts, or untargeted when it
has none, as in an interview), or to a contact to start a conversation, then DONE.
Any other schema-constrained request (a ``response_format`` with a JSON Schema) gets
a schema-valid instance filled from the conversation (`offline_schema`). Choices
depend only on the messages (a stable hash), so the same prompt always gets the same
answer. It lets the demo and the tests run with no network and no key, and the fake
server (`tinytroupe.testing`) serves the same answers over HTTP.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from tinytroupe.clients import offline_personas
from tinytroupe.clients.offline_schema import instance

#: The schema name of an agent's action request (see `TinyPerson`).
ACTIONS_SCHEMA = "agent_actions"

_OPENERS = (
    "As {a_occupation}, I keep coming back to one question: {topic}",
    "Honestly, from where I stand as {a_occupation}, {topic}",
    "I'd look at it the way I look at my work as {a_occupation}: {topic}",
    "Speaking for myself, and I care a lot about {interest}, {topic}",
)
_REPLIES = (
    "{speaker}, you said \"{heard}\". I partly agree, but what matters to me is {interest}.",
    "Interesting point, {speaker}. It makes me think about {interest}.",
    "{speaker}, I'm not convinced yet. Would it really help someone like me, {a_occupation}?",
    "Good point, {speaker}! I would add that {interest} should not be forgotten.",
)
_ANSWERS = (
    "Speaking for myself, as {a_occupation}: {heard_lower} My first thought is {interest}.",
    "Good question. As {a_occupation}, I would answer from experience, and for me "
    "{interest} matters most.",
    "Honestly? It depends. As {a_occupation}, I care about {interest}, so that is how I see it.",
)
_THOUGHTS = (
    "{speaker} said \"{heard}\". How does that fit with {interest}?",
    "I should answer {speaker} honestly, as {a_occupation} would.",
    "Let me think about \"{heard}\" before I reply.",
)
_QUIET_THOUGHTS = (
    "Nothing new has happened. I wonder what others think about {interest}.",
    "A quiet moment. As {a_occupation}, I could use it to think about {interest}.",
)


def between_tags(text: str, tag: str) -> str | None:
    """The text between ``<tag>`` and ``</tag>`` in `text`, or None."""
    start = text.find(f"<{tag}>")
    end = text.find(f"</{tag}>", start + 1)
    if start < 0 or end < 0:
        return None
    return text[start + len(tag) + 2 : end]


def agent_name(messages: list[dict[str, Any]]) -> str | None:
    """The name of the agent a request is for, read from its system message."""
    persona = _persona(messages)
    name = persona.get("name")
    return name if isinstance(name, str) else None


def _persona(messages: list[dict[str, Any]]) -> dict[str, Any]:
    for message in messages:
        if message.get("role") == "system":
            raw = between_tags(str(message.get("content", "")), "persona")
            if raw:
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError:
                    return {}
                return value if isinstance(value, dict) else {}
    return {}


def _contacts(messages: list[dict[str, Any]]) -> list[str]:
    for message in messages:
        if message.get("role") == "system":
            raw = between_tags(str(message.get("content", "")), "accessible_agents")
            try:
                entries = json.loads(raw) if raw else []
            except json.JSONDecodeError:
                return []
            return [e["name"] for e in entries if isinstance(e, dict) and "name" in e]
    return []


def _new_stimuli(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stimuli perceived since the agent last acted (oldest first)."""
    stimuli: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") == "assistant":
            break
        if message.get("role") != "user":
            continue
        try:
            content = json.loads(message.get("content", ""))
        except (json.JSONDecodeError, TypeError):
            continue
        if isinstance(content, dict) and isinstance(content.get("stimuli"), list):
            stimuli[:0] = [s for s in content["stimuli"] if isinstance(s, dict)]
    return stimuli


def _first(value: Any, fallback: str) -> str:
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("title") or next(iter(value.values()), fallback)
    text = str(value).strip().rstrip(".") if value else fallback
    return text[:1].lower() + text[1:] if text else fallback


def _shorten(text: str, words: int = 12) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("..." if len(parts) > words else "")


class OfflineModel:
    """Deterministic responder for the chat-completions message format of this package."""

    def complete(self, messages: list[dict[str, Any]],
                 response_format: dict[str, Any] | None = None) -> str:
        """Answer a chat-completions request (as JSON text).

        The answer is a population plan or persona for a factory's request, an instance of the
        requested schema, or an action document for an agent's turn (module doc).
        """
        generated = offline_personas.answer(messages)
        if generated is not None:
            return generated
        spec = (response_format or {}).get("json_schema") or {}
        if isinstance(spec.get("schema"), dict) and spec.get("name") != ACTIONS_SCHEMA:
            return json.dumps(instance(spec["schema"], messages), ensure_ascii=False)
        return self._actions(messages)

    def _actions(self, messages: list[dict[str, Any]]) -> str:
        persona = _persona(messages)
        name = persona.get("name") or "someone"
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        pick = zlib.crc32(f"{name}|{turn}|{len(messages)}".encode())
        occupation = _first(persona.get("occupation"), "person")
        slots = {
            "occupation": occupation,
            "a_occupation": ("an " if occupation[:1] in "aeiou" else "a ") + occupation,
            "interest": _first((persona.get("preferences") or {}).get("interests")
                               if isinstance(persona.get("preferences"), dict) else None,
                               "doing things well"),
        }
        heard = [s for s in _new_stimuli(messages)
                 if s.get("type") == "CONVERSATION" and s.get("source") != name]
        actions: list[dict[str, str]] = []
        if heard:
            last = heard[-1]
            speaker = str(last.get("source") or "")  # "": the user or the world asked
            text = _shorten(str(last.get("content", "")))
            slots.update(speaker=speaker or "you", heard=text,
                         heard_lower=text[:1].lower() + text[1:] if text else "")
            actions.append(_action("THINK", _THOUGHTS, pick, slots))
            if not speaker:  # answer the question to one contact (all of them would make
                contacts = [c for c in _contacts(messages) if c != name]  # n^2 messages)
                speaker = contacts[pick % len(contacts)] if contacts else ""
                templates = _ANSWERS
            else:
                templates = _REPLIES
            actions.append(_action("TALK", templates, pick, slots, target=speaker))
        else:
            contacts = [c for c in _contacts(messages) if c != name]
            actions.append(_action("THINK", _QUIET_THOUGHTS, pick, slots))
            if contacts and turn % 2 == 0:
                topic = _shorten(next((str(s.get("content")) for s in _new_stimuli(messages)
                                       if s.get("content")), "what do you all think?"))
                slots["topic"] = topic
                target = contacts[pick % len(contacts)]
                actions.append(_action("TALK", _OPENERS, pick, slots, target=target))
        actions.append({"type": "DONE", "content": "", "target": ""})
        state = {"goals": "take part in the conversation", "attention": slots.get("speaker", ""),
                 "emotions": "engaged" if heard else "calm"}
        return json.dumps({"actions": actions, "cognitive_state": state}, ensure_ascii=False)


def _action(kind: str, templates: tuple[str, ...], pick: int, slots: dict[str, str],
            target: str = "") -> dict[str, str]:
    template = templates[pick % len(templates)]
    return {"type": kind, "content": template.format(**slots), "target": target}
