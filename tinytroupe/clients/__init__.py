"""LLM access: one OpenAI-compatible HTTP client, and the offline model.

`get_client()` returns the client the configuration asks for (``API_TYPE``):
``openai`` and ``azure`` speak chat completions over HTTP; ``offline`` answers
in-process with `OfflineModel`. Clients are cached per configuration and shared
by every thread.
"""

from __future__ import annotations

import functools
import os
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Protocol

from tinytroupe.clients.cache import CachedClient, ResponseCache
from tinytroupe.clients.cost import CostStats
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
from tinytroupe.config import config_manager, validated
from tinytroupe.redaction import read_key

__all__ = [
    "ChatClient", "Completion", "LLMConfigurationError", "LLMError", "LLMOutputError",
    "LLMRequestError", "LLMTimeoutError", "OfflineClient", "OpenAICompatibleClient",
    "client", "get_client", "usage",
]

_DEFAULT_BASE_URL = "https://api.openai.com/v1"
_OLLAMA_BASE_URL = "http://localhost:11434/v1"


class ChatClient(Protocol):
    """What the library needs of an LLM client: `complete`."""

    def complete(self, messages: list[dict[str, Any]], **params: Any) -> Completion:
        """The model's answer to chat `messages`; `params` are request settings (`user`...)."""
        ...


class OfflineClient(CostStats):
    """The offline model behind the `ChatClient` interface (no network, no key)."""

    def __init__(self) -> None:
        self._model = OfflineModel()

    def complete(self, messages: list[dict[str, Any]], *, user: str | None = None,
                 response_format: dict[str, Any] | None = None, **params: Any) -> Completion:
        """The offline model's answer to `messages` (an instance of `response_format` if given).

        Counts one request for `user`; sampling `params` are ignored.
        """
        usage.add(user, requests=1)
        return Completion(content=self._model.complete(messages, response_format))


@dataclass(frozen=True)
class EndpointSettings:
    """Everything a client is built from; equal settings share one client."""

    api_type: str
    url: str
    api_key: str = field(repr=False)
    model: str
    timeout: float
    max_attempts: int
    retry_base_delay: float
    retry_max_delay: float
    backoff_factor: float
    max_concurrent_calls: int | None
    requests_per_window: int | None
    tokens_per_window: int | None
    window_seconds: float
    max_response_bytes: int
    hedge_after: float | str | None = None
    hedge_max_fraction: float = 0.1
    transport: str = "auto"


_OFFLINE = "offline"
_cache_lock = threading.Lock()
_cache: dict[tuple[str | None, str, EndpointSettings | str], ChatClient] = {}


def client() -> ChatClient:
    """Upstream's name for the process-wide client (`get_client`)."""
    return get_client()


def get_client() -> ChatClient:
    """The client for the current configuration (built once per distinct setting).

    Called on every model call: while neither the configuration nor the environment
    variables it reads (nor the working folder, which a relative cache path depends
    on) changed, the last client is returned without rebuilding its settings.
    """
    global _last
    key = (config_manager.generation, os.getcwd(), *map(os.environ.get, _ENVIRONMENT))
    last = _last
    if last is not None and last[0] == key:
        return last[1]
    settings = _settings()
    with _cache_lock:
        client = _cache.get(settings)
        if client is None:
            client = _cache[settings] = _build(*settings)
        _last = (key, client)
    return client


#: The environment variables the settings depend on besides the configuration.
_ENVIRONMENT = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_KEY", "AZURE_OPENAI_API_KEY",
                "AZURE_OPENAI_ENDPOINT", "OLLAMA_API_KEY")
_last: tuple[tuple, ChatClient] | None = None


def _settings() -> tuple[str | None, str, EndpointSettings | str]:
    cache = (os.path.abspath(config_manager.get("cache_file_name"))
             if config_manager.get("cache_api_calls") else None)
    return (cache, config_manager.get("model"), _endpoint_settings())


def _endpoint_settings() -> EndpointSettings | str:
    get = config_manager.get
    api_type = get("api_type")
    if api_type == _OFFLINE:
        return _OFFLINE
    if api_type == "azure":
        endpoint = get("base_url") or _url_from_environment("AZURE_OPENAI_ENDPOINT")
        key, env_name = read_key("AZURE_OPENAI_KEY", "AZURE_OPENAI_API_KEY")
        deployment = get("azure_deployment") or get("model")
        if not endpoint:
            raise LLMConfigurationError(
                "API_TYPE=azure needs an endpoint: set AZURE_OPENAI_ENDPOINT or BASE_URL "
                "in [OpenAI] of config.ini (or use API_TYPE=offline)")
        url = with_path(endpoint, f"openai/deployments/{deployment}/chat/completions",
                        (("api-version", get("azure_api_version")),))
    elif api_type == "ollama":  # OpenAI-compatible; a local server needs no key
        url = with_path(get("base_url") or _OLLAMA_BASE_URL, "chat/completions")
        key, env_name = read_key("OLLAMA_API_KEY")
        key = key or "ollama"
    else:
        base = get("base_url") or _url_from_environment("OPENAI_BASE_URL") or _DEFAULT_BASE_URL
        url = with_path(base, "chat/completions")
        key, env_name = read_key("OPENAI_API_KEY")
    if not key:
        raise LLMConfigurationError(
            f"No API key for API_TYPE={api_type}: set the {env_name} environment variable, "
            "or set API_TYPE=offline in [OpenAI] of config.ini (or "
            "config_manager.set('api_type', 'offline')) to use the offline model.")
    return EndpointSettings(
        api_type=api_type, url=url, api_key=key, model=get("model"), timeout=get("timeout"),
        max_attempts=get("max_attempts"), retry_base_delay=get("retry_base_delay"),
        retry_max_delay=get("retry_max_delay"),
        backoff_factor=get("exponential_backoff_factor"),
        max_concurrent_calls=get("max_concurrent_model_calls"),
        requests_per_window=get("max_requests_per_minute"),
        tokens_per_window=get("max_tokens_per_minute"),
        window_seconds=get("rate_limit_window_seconds"),
        max_response_bytes=get("max_response_bytes"), hedge_after=get("hedge_after"),
        hedge_max_fraction=get("hedge_max_fraction"), transport=get("http_transport"))


def _url_from_environment(variable: str) -> str | None:
    raw = os.environ.get(variable)
    return validated("BASE_URL", raw, f"from environment variable {variable}") if raw else None


@functools.lru_cache(maxsize=64)  # built on every call to get_client()
def with_path(base_url: str, path: str, query: tuple[tuple[str, str], ...] = ()) -> str:
    """`base_url` with `path` appended to its path.

    Its own query string (a proxy's or Azure's parameters) is kept after the path, merged
    with `query`.
    """
    parts = urllib.parse.urlsplit(base_url.strip())
    params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    params.update(query)
    return urllib.parse.urlunsplit(parts._replace(
        path=f"{parts.path.rstrip('/')}/{path}", query=urllib.parse.urlencode(params)))


def _build(cache: str | None, model: str, settings: EndpointSettings | str) -> ChatClient:
    client = _build_endpoint(settings)
    return CachedClient(client, ResponseCache(cache), model) if cache else client


def _build_endpoint(settings: EndpointSettings | str) -> ChatClient:
    if settings == _OFFLINE:
        return OfflineClient()
    assert isinstance(settings, EndpointSettings)
    return OpenAICompatibleClient(
        url=settings.url, api_key=settings.api_key, model=settings.model,
        azure=settings.api_type == "azure", timeout=settings.timeout,
        max_attempts=settings.max_attempts, retry_base_delay=settings.retry_base_delay,
        retry_max_delay=settings.retry_max_delay, backoff_factor=settings.backoff_factor,
        gate=shared_gate(settings.max_concurrent_calls, settings.requests_per_window,
                         settings.tokens_per_window, settings.window_seconds),
        max_response_bytes=settings.max_response_bytes,
        hedge_after=settings.hedge_after, hedge_max_fraction=settings.hedge_max_fraction,
        transport=settings.transport,
    )


def clear_clients() -> None:
    """Forget cached clients (their pools close); the next call builds anew."""
    global _last
    with _cache_lock:
        _last = None
        for client in _cache.values():
            close = getattr(client, "close", None)
            if close:
                close()
        _cache.clear()
    clear_gates()
    from tinytroupe.clients.embeddings import clear_embedding_clients  # imports this module

    clear_embedding_clients()
