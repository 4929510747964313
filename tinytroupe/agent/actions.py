"""The action schema: what an LLM may answer when an agent acts, and its parser.

The model answers with JSON in one of TinyTroupe's two shapes::

    {"action": {"type": "TALK", "content": "...", "target": "Bob"}, "cognitive_state": {...}}
    {"actions": [{"type": "THINK", ...}, {"type": "DONE"}], "cognitive_state": {...}}

`parse_actions` validates either shape and returns a list of plain dicts, or raises
`ActionParseError` whose message says what was wrong, for feeding back to the model.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tinytroupe.clients.structured import InvalidAnswer, parse_json

#: Action types the world understands. Other upper-case types are kept as they are
#: (TinyTroupe tools add their own), but are not routed.
KNOWN_ACTION_TYPES = ("TALK", "THINK", "DONE", "REACH_OUT")

#: Most characters one action's content or target may carry into memory (and from there
#: into every later prompt); the rest is cut off and marked.
MAX_ACTION_CHARS = 100_000  # room for a tool's document (its JSON must stay whole)
_CUT_MARK = " [...]"


class ActionParseError(InvalidAnswer):
    """The LLM's answer is not a valid action document."""


class Action(BaseModel):
    """One action of an agent: an upper-case `type` word, `content` and `target`.

    Unknown fields are ignored; content and target longer than `MAX_ACTION_CHARS` are
    cut and marked; a TALK needs non-empty content.
    """

    model_config = ConfigDict(extra="ignore")

    type: str = Field(min_length=1, max_length=40)
    content: str = ""
    target: str = ""

    @field_validator("type")
    @classmethod
    def _upper(cls, value: str) -> str:
        value = value.strip().upper()
        if not value.replace("_", "").isalnum():
            raise ValueError(f"action type must be a word like TALK or THINK, got {value!r}")
        return value

    @field_validator("content", "target", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        if value is None:
            return ""
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) \
            else str(value)
        if len(text) > MAX_ACTION_CHARS:
            text = text[: MAX_ACTION_CHARS - len(_CUT_MARK)] + _CUT_MARK
        return text

    @model_validator(mode="after")
    def _talk_needs_content(self) -> Action:
        if self.type == "TALK" and not self.content.strip():
            raise ValueError("a TALK action needs non-empty content")
        return self


class ActionDocument(BaseModel):
    """A model's answer when an agent acts: one `action` or a non-empty `actions` list."""

    model_config = ConfigDict(extra="ignore")

    action: Action | None = None
    actions: list[Action] | None = None
    cognitive_state: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_shape(self) -> ActionDocument:
        if self.action is None and not self.actions:
            raise ValueError('expected an "action" object or a non-empty "actions" list')
        return self

    def all_actions(self) -> list[Action]:
        """The document's actions in order: the `actions` list if non-empty, else `action`."""
        return list(self.actions) if self.actions else [self.action]  # type: ignore[list-item]


def parse_actions(text: str) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Parse an LLM answer into ``(actions, cognitive_state)``.

    Tolerates a Markdown code fence around the JSON. Raises `ActionParseError` with a
    message fit to show the model (what is wrong, not the whole answer back).
    """
    try:
        data = parse_json(text)
    except InvalidAnswer as exc:
        raise ActionParseError(str(exc)) from None
    if not isinstance(data, dict):
        raise ActionParseError(f"answer must be a JSON object, got {type(data).__name__}")
    try:
        document = ActionDocument.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'document'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ActionParseError(f"answer does not match the action schema: {problems}") from None
    actions = [a.model_dump() for a in document.all_actions()]
    return actions, document.cognitive_state
