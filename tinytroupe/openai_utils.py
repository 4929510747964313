"""Upstream's older module name for LLM access, kept so that old scripts import.

`client()` is the process-wide client; `force_api_type("azure")` makes every later
call use that API type (it sets ``API_TYPE``); `force_api_cache(True, "file")` turns
the response cache on or off.
"""

from __future__ import annotations

from tinytroupe.clients import (
    LLMConfigurationError,
    LLMError,
    LLMRequestError,
    OpenAICompatibleClient,
    client,
)
from tinytroupe.config import config_manager

__all__ = ["LLMConfigurationError", "LLMError", "LLMRequestError", "OpenAICompatibleClient",
           "client", "force_api_cache", "force_api_type"]


def force_api_type(api_type: str | None) -> None:
    """Use `api_type` (openai, azure, ollama, offline) from now on (None: no change)."""
    if api_type is not None:
        config_manager.set("api_type", api_type)


def force_api_cache(cache_api_calls: bool, cache_file_name: str | None = None) -> None:
    """Turn the response cache on or off (and choose its file)."""
    config_manager.set("cache_api_calls", cache_api_calls)
    if cache_file_name is not None:
        config_manager.set("cache_file_name", cache_file_name)
