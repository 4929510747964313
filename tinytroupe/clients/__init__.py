"""LLM access: one OpenAI-compatible HTTP client, and the offline model.

`get_client()` returns the client the configuration asks for (``API_TYPE``):
``openai`` and ``azure`` speak chat completions over HTTP; ``offline`` answers
in-process with `OfflineModel`. Clients are cached per configuration and shared
by every thread.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol

from tinytroupe.clients.cache import CachedClient, ResponseCache
from tinytroupe.clients.errors import (
    LLMConfigurationError,
    LLMError,
    LLMOutputError,
    LLMRequestError,
    LLMTimeoutError,
)
from tinytroupe.clients.limits import clear_gates, shared_gate
from tinytroupe.clients.offline import OfflineModel
from tinytroupe.clients.openai_client import Completion, OpenAICompatibleClient
from tinytroupe.clients.usage import usage
from tinytroupe.config import config_manager

__all__ = [
    "ChatClient", "Completion", "LLMConfigurationError", "LLMError", "LLMOutputError",
    "LLMRequestError", "LLMTimeoutError", "OfflineClient", "OpenAICompatibleClient",
    "get_client", "usage",
]

_DEFAULT_BASE_URL = "https://api.openai.com/v1"


class ChatClient(Protocol):
    def complete(self, messages: list[dict[str, Any]], **params: Any) -> Completion: ...


class OfflineClient:
    """The offline model behind the `ChatClient` interface (no network, no key)."""

    def __init__(self) -> None:
        self._model = OfflineModel()

    def complete(self, messages: list[dict[str, Any]], *, user: str | None = None,
                 **params: Any) -> Completion:
        usage.add(user, requests=1)
        return Completion(content=self._model.complete(messages))


_cache_lock = threading.Lock()
_cache: dict[tuple, ChatClient] = {}


def get_client() -> ChatClient:
    """The client for the current configuration (built once per distinct setting)."""
    settings = _settings()
    client = _cache.get(settings)
    if client is None:
        with _cache_lock:
            client = _cache.get(settings)
            if client is None:
                client = _build(settings)
                _cache[settings] = client
    return client


def _settings() -> tuple:
    cache = (os.path.abspath(config_manager.get("cache_file_name"))
             if config_manager.get("cache_api_calls") else None)
    return (cache, config_manager.get("model"), *_endpoint_settings())


def _endpoint_settings() -> tuple:
    get = config_manager.get
    api_type = get("api_type")
    if api_type == "offline":
        return ("offline",)
    if api_type == "azure":
        endpoint = get("base_url") or os.environ.get("AZURE_OPENAI_ENDPOINT")
        key = os.environ.get("AZURE_OPENAI_KEY") or os.environ.get("AZURE_OPENAI_API_KEY")
        deployment = get("azure_deployment") or get("model")
        if not endpoint:
            raise LLMConfigurationError(
                "API_TYPE=azure needs an endpoint: set AZURE_OPENAI_ENDPOINT or BASE_URL "
                "in [OpenAI] of config.ini (or use API_TYPE=offline)")
        url = (f"{endpoint.rstrip('/')}/openai/deployments/{deployment}/chat/completions"
               f"?api-version={get('azure_api_version')}")
        env_name = "AZURE_OPENAI_KEY"
    else:
        base = get("base_url") or os.environ.get("OPENAI_BASE_URL") or _DEFAULT_BASE_URL
        url = f"{base.rstrip('/')}/chat/completions"
        key = os.environ.get("OPENAI_API_KEY")
        env_name = "OPENAI_API_KEY"
    if not key:
        raise LLMConfigurationError(
            f"No API key for API_TYPE={api_type}: set the {env_name} environment variable, "
            "or set API_TYPE=offline in [OpenAI] of config.ini (or "
            "config_manager.set('api_type', 'offline')) to use the offline model.")
    return (api_type, url, key, get("model"), get("timeout"), get("max_attempts"),
            get("retry_base_delay"), get("retry_max_delay"), get("max_concurrent_model_calls"),
            get("max_requests_per_minute"), get("max_tokens_per_minute"),
            get("rate_limit_window_seconds"))


def _build(settings: tuple) -> ChatClient:
    cache, model, *endpoint = settings
    client = _build_endpoint(tuple(endpoint))
    return CachedClient(client, ResponseCache(cache), model) if cache else client


def _build_endpoint(settings: tuple) -> ChatClient:
    if settings[0] == "offline":
        return OfflineClient()
    (api_type, url, key, model, timeout, attempts, base_delay, max_delay, cap,
     rpm, tpm, window) = settings
    return OpenAICompatibleClient(
        url=url, api_key=key, model=model, azure=api_type == "azure", timeout=timeout,
        max_attempts=attempts, retry_base_delay=base_delay, retry_max_delay=max_delay,
        gate=shared_gate(cap, rpm, tpm, window),
    )


def clear_clients() -> None:
    """Forget cached clients (their pools close); the next call builds anew."""
    with _cache_lock:
        for client in _cache.values():
            close = getattr(client, "close", None)
            if close:
                close()
        _cache.clear()
    clear_gates()
