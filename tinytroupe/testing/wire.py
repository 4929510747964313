"""The OpenAI chat-completions wire format as the fake server writes it."""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any

from aiohttp import web


def tokens(chars: int) -> int:
    """The tokens the fake server counts for `chars` characters (one per 4, rounded up)."""
    return math.ceil(chars / 4)


def error_response(status: int, message: str, kind: str, headers: dict[str, str] | None = None
           ) -> web.Response:
    """An OpenAI-style error response with `status` and `headers`.

    Its body is ``{"error": {message, type, code}}``, with `kind` as both type and code.
    """
    body = {"error": {"message": message, "type": kind, "code": kind}}
    return web.json_response(body, status=status, headers=headers)


def truncate_json(content: str) -> str:
    """`content` cut in half, so that it is no longer valid JSON."""
    cut = content[: len(content) // 2]
    try:
        json.loads(cut)
    except ValueError:
        return cut
    return '{"actions": ['


def completion(request: dict[str, Any], messages: list[dict[str, Any]], content: str
                ) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` object answering `request` with `content`."""
    prompt = tokens(sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict)))
    completion = tokens(len(content))
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake-llm"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    }
