"""The offline model's answer to any schema-constrained request.

`instance(schema, messages)` returns a JSON value valid against `schema` (the JSON
Schema a structured call sends as ``response_format``), filled deterministically from
the conversation: strings are phrases taken from the request's text, chosen by a
stable hash of the field's path, so the same request always gets the same answer and
different fields get different phrases. It understands the schemas pydantic writes:
objects (required and optional properties), arrays (min/max items), strings (enum,
const, min/max length), integers and numbers (bounds), booleans, null, ``$ref`` into
``$defs``, ``anyOf``/``oneOf``/``allOf`` and ``additionalProperties``.
Templates and hashing, not a language model.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

_MAX_DEPTH = 12
_WORDS = re.compile(r"[^.!?\n]{12,200}[.!?]?")
_MARKUP = re.compile(r'[{}\[\]"]|-->|acts:')  # JSON and transcript notation: no prose


def instance(schema: dict[str, Any], messages: list[dict[str, Any]]) -> Any:
    """A value valid against `schema`, filled from `messages` (module doc)."""
    return _Filler(schema, messages).value(schema, "$", 0)


class _Filler:
    def __init__(self, root: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        self.root = root
        self.phrases = _phrases(messages)
        # the same field of two different requests gets different phrases
        self.salt = str(zlib.crc32(str(messages[-1].get("content", "")).encode())
                        if messages else 0)

    def value(self, schema: Any, path: str, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None
        schema = self._resolved(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            options = schema["enum"]
            return options[_pick(self.salt + path, len(options))]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                options = [o for o in schema[key] if self._resolved(o).get("type") != "null"]
                return self.value((options or schema[key])[0], path, depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolved(part))
            return self.value(merged, path, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        return getattr(self, f"_{kind}", self._string)(schema, path, depth)

    def _resolved(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if isinstance(node, dict) else {}

    def _object(self, schema: dict[str, Any], path: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        result = {name: self.value(sub, f"{path}.{name}", depth + 1)
                  for name, sub in properties.items()}
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, dict):
            result["item"] = self.value(extra, f"{path}.item", depth + 1)
        return result

    def _array(self, schema: dict[str, Any], path: str, depth: int) -> list[Any]:
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, 3)))
        count = max(low, min(high, 2 + _pick(self.salt + path, 2)))
        return [self.value(schema.get("items", {}), f"{path}[{i}]", depth + 1)
                for i in range(count)]

    def _string(self, schema: dict[str, Any], path: str, depth: int) -> str:
        name = path.rsplit(".", 1)[-1].lower()
        if "name" in name and "names" not in name:
            text = _NAMES[_pick(self.salt + path, len(_NAMES))]
        else:
            text = self.phrases[_pick(self.salt + path, len(self.phrases))]
        low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text.ljust(low, ".")
        return text[: int(high)] if high is not None else text

    def _integer(self, schema: dict[str, Any], path: str, depth: int) -> int:
        low, high = _bounds(schema, 0, 10)
        return int(low) + _pick(self.salt + path, int(high) - int(low) + 1)

    def _number(self, schema: dict[str, Any], path: str, depth: int) -> float:
        low, high = _bounds(schema, 0.0, 1.0)
        return round(low + (high - low) * _pick(self.salt + path, 101) / 100, 2)

    def _boolean(self, schema: dict[str, Any], path: str, depth: int) -> bool:
        return _pick(self.salt + path, 2) == 1

    def _null(self, schema: dict[str, Any], path: str, depth: int) -> None:
        return None


_NAMES = ("Alex Morgan", "Sam Rivera", "Jordan Lee", "Robin Okoye", "Kim Novak")


def _bounds(schema: dict[str, Any], low: float, high: float) -> tuple[float, float]:
    low = schema.get("minimum", schema.get("exclusiveMinimum", low))
    high = schema.get("maximum", schema.get("exclusiveMaximum", max(high, low)))
    if "exclusiveMinimum" in schema:
        low += 1 if isinstance(low, int) else 1e-6
    if "exclusiveMaximum" in schema:
        high -= 1 if isinstance(high, int) else 1e-6
    return low, max(low, high)


def _pick(path: str, options: int) -> int:
    return zlib.crc32(path.encode()) % max(1, options)


def _phrases(messages: list[dict[str, Any]]) -> list[str]:
    """Sentences of the request's user messages, the latest first; a fallback if none."""
    found: list[str] = []
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            found += [m.strip() for m in _WORDS.findall(message["content"])
                      if not _MARKUP.search(m)][:20]
    return found or ["No particular details were given."]
