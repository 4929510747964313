r"""Untrusted text at the boundary: model answers, persona files, user input.

Python strings may hold lone surrogates (``"\ud800"``, which JSON can spell as an
escape) that no UTF-8 encoder accepts: remembered once, such a string would make every
later request, checkpoint and transcript of that agent fail. Everything that comes in
from outside goes through `clean_text` / `clean_data` (lone surrogates become U+FFFD)
or `loads` (JSON, cleaned, with a bound on nesting); everything that goes out as UTF-8
goes through `utf8`, which never raises on such a string. `for_terminal` makes text
safe to print: no escape or other control sequences reach the console.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.markup import escape as _escape_markup

#: Nesting that untrusted JSON may have (persona files, model answers, checkpoints).
MAX_DEPTH = 64

_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 controls except tab and newline, DEL, C1 controls (ESC starts CSI/OSC sequences;
# U+009B is a one-character CSI on some terminals).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ESCAPE_SEQUENCE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|.)?")


class UntrustedDataError(ValueError):
    """Untrusted JSON nests deeper than `MAX_DEPTH`, or is not JSON at all."""


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (the same object if none)."""
    if text.isascii():
        return text
    return _SURROGATES.sub("\ufffd", text)


def clean_data(value: Any, max_depth: int = MAX_DEPTH) -> Any:
    """A copy of JSON-like `value` with all its strings, keys included, cleaned.

    JSON-like: dicts, lists, strings, scalars. Raises `UntrustedDataError` past `max_depth`.
    """
    return _clean(value, max_depth, 0)


def _clean(value: Any, max_depth: int, depth: int) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if depth >= max_depth and isinstance(value, (dict, list, tuple)):
        raise UntrustedDataError(f"data nested deeper than {max_depth} levels")
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: _clean(v, max_depth, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, max_depth, depth + 1) for v in value]
    return value


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` for untrusted text: cleaned, nesting bounded by `max_depth`.

    Raises `json.JSONDecodeError` for text that is not JSON and `UntrustedDataError`
    for JSON nested too deeply (never `RecursionError`).
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise UntrustedDataError(f"JSON nested deeper than {max_depth} levels") from None
    if isinstance(text, str) and not _may_need_cleaning(text, max_depth):
        return data  # the hot path: a model's short answer with nothing to repair
    return clean_data(data, max_depth)


def _may_need_cleaning(text: str, max_depth: int) -> bool:
    r"""False when the JSON `text` provably holds no surrogate and cannot nest `max_depth` deep.

    (No surrogate raw, no \u escape; fewer brackets than `max_depth`.) Then the walk of
    `clean_data` would change nothing and find nothing.
    """
    return ("\\u" in text or (not text.isascii() and _SURROGATES.search(text) is not None)
            or text.count("{") + text.count("[") >= max_depth)


def utf8(text: str) -> bytes:
    """`text` as UTF-8; a lone surrogate becomes U+FFFD instead of raising."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return clean_text(text).encode()


def for_terminal(text: str) -> str:
    """`text` fit for a console: escape sequences and control characters removed.

    Tab and newline are kept; lone surrogates are replaced.
    """
    text = clean_text(text)
    if text.isprintable() or not _CONTROL.search(text):
        return text
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


def for_console(text: Any) -> str:
    """`text` (any object, as str) for a rich console: `for_terminal`, then markup escaped.

    Neither the terminal nor rich interprets anything in it.
    """
    return _escape_markup(for_terminal(str(text)))
