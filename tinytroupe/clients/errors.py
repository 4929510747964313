"""Errors raised by LLM access. Messages never contain API keys."""

from __future__ import annotations


class LLMError(RuntimeError):
    """Base class: a call to the language model failed."""


class LLMConfigurationError(LLMError):
    """LLM access is not configured well enough to make a call (e.g. no API key)."""


class LLMRequestError(LLMError):
    """The endpoint did not give a usable answer, after every allowed attempt."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class LLMTimeoutError(LLMRequestError):
    """The endpoint did not answer within the request TIMEOUT."""


class LLMOutputError(LLMError):
    """The model's answer stayed malformed after every repair attempt."""
