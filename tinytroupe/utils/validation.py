"""Sanitising untrusted strings and dicts; field checks."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from tinytroupe.sanitize import MAX_DEPTH, UntrustedDataError, clean_text

__all__ = ["check_valid_fields", "sanitize_dict", "sanitize_raw_string"]


def check_valid_fields(obj: dict, valid_fields: Iterable[str]) -> None:
    """Raise ValueError if `obj` has a key not in `valid_fields`."""
    valid = list(valid_fields)
    for key in obj:
        if key not in valid:
            raise ValueError(f"Invalid key {key!r}; valid keys are {valid}")


def sanitize_raw_string(value: str) -> str:
    """`value` safe to store and encode.

    Lone surrogates become U+FFFD and the text is NFC-normalised. (Python strings have no
    practical length limit to enforce.)
    """
    return unicodedata.normalize("NFC", clean_text(value))


def _sanitized(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return sanitize_raw_string(value)
    if isinstance(value, (dict, list, tuple)) and depth >= MAX_DEPTH:
        raise UntrustedDataError(f"data nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {sanitize_raw_string(k) if isinstance(k, str) else k: _sanitized(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitized(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_sanitized(v, depth + 1) for v in value)
    return value


def sanitize_dict(value: dict) -> dict:
    """Sanitise `value` in place and return it.

    Every string in it, keys and nested values included, goes through `sanitize_raw_string`
    (nested containers are replaced by sanitised copies). Raises
    `tinytroupe.sanitize.UntrustedDataError`, leaving `value` untouched, if it nests deeper
    than `MAX_DEPTH`.
    """
    cleaned = _sanitized(value, 0)
    value.clear()
    value.update(cleaned)
    return value
