"""Text for display: cutting, wrapping, dedenting, dates, code blocks."""

from __future__ import annotations

import copy
import json
import textwrap
from collections.abc import Iterable
from datetime import datetime
from typing import Any

__all__ = ["break_text_at_length", "dedent", "extract_code_block",
           "inject_html_css_style_prefix", "pretty_datetime", "truncate_actions_or_stimuli",
           "wrap_text"]

_FENCE = "```"
#: The marker appended where `break_text_at_length` cuts.
ELLIPSIS = " (...)"


def break_text_at_length(text: Any, max_length: int | None = None) -> str:
    """`text` cut after `max_length` characters, with ``" (...)"`` where it was cut.

    None gives ``""``; a dict (or list) is first rendered as JSON indented by 4;
    `max_length` None means no cut.
    """
    if text is None:
        return ""
    if isinstance(text, (dict, list)):
        text = json.dumps(text, indent=4, default=str)
    elif not isinstance(text, str):
        text = str(text)
    if max_length is None or len(text) <= max_length:
        return text
    return text[:max(0, max_length)] + ELLIPSIS


def pretty_datetime(dt: datetime) -> str:
    """`dt` as ``YYYY-MM-DD HH:MM``."""
    return dt.strftime("%Y-%m-%d %H:%M")


def dedent(text: str) -> str:
    """`text` without its common indentation and surrounding blank space."""
    return textwrap.dedent(text).strip()


def wrap_text(text: str, width: int = 100) -> str:
    """`text` filled into lines of at most `width` characters."""
    return textwrap.fill(text, width=width)


def inject_html_css_style_prefix(html: str, style_prefix_attributes: str) -> str:
    """`html` with `style_prefix_attributes` put first in every ``style="..."``."""
    return html.replace('style="', f'style="{style_prefix_attributes};')


def extract_code_block(text: str) -> str:
    """The part of `text` from the first triple backtick to the last one, fences included.

    (As TinyTroupe returns it.) Text without a fence comes back whole; an unterminated
    fence runs to the end of the text; a non-string gives ``""``.
    """
    if not isinstance(text, str):
        return ""
    start = text.find(_FENCE)
    if start < 0:
        return text
    end = text.rfind(_FENCE)
    if end == start:
        return text[start:]
    return text[start:end + len(_FENCE)]


def _cut_content(holder: Any, max_content_length: int | None) -> None:
    if isinstance(holder, dict) and "content" in holder:
        holder["content"] = break_text_at_length(holder["content"], max_content_length)


def truncate_actions_or_stimuli(list_of_actions_or_stimuli: Iterable[dict],
                                max_content_length: int | None) -> list[dict]:
    """A deep copy of the messages with long action/stimulus contents cut.

    Only non-system messages (``{"role": ..., "content": {...}}``) whose content holds
    an ``action``, a ``stimulus`` or a list of ``stimuli`` are touched: their
    ``content`` goes through `break_text_at_length`. Everything else is copied as is.
    """
    messages = copy.deepcopy(list(list_of_actions_or_stimuli))
    for message in messages:
        if not isinstance(message, dict) or message.get("role", "system") == "system":
            continue
        body = message.get("content")
        if not isinstance(body, dict):
            continue
        if "action" in body:
            _cut_content(body["action"], max_content_length)
        elif "stimulus" in body:
            _cut_content(body["stimulus"], max_content_length)
        elif "stimuli" in body and isinstance(body["stimuli"], list):
            for stimulus in body["stimuli"]:
                _cut_content(stimulus, max_content_length)
    return messages
