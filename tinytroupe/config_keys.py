"""The configuration keys: each key's validator, section rules and aliases.

A validator takes a raw value (a string from a file or the environment, or a Python
value from `config_manager.set`) and returns the typed value, or raises ValueError
or TypeError. Keys form one flat namespace, as in TinyTroupe: a key of the
``[ActionGenerator]`` section is ``ACTION_GENERATOR_<KEY>`` (upstream's files use
``MAX_ATTEMPTS`` there for action regeneration, a different setting from the HTTP
retries of ``[OpenAI] MAX_ATTEMPTS``), and upstream's older spellings are aliases
(``FREQ_PENALTY`` is ``FREQUENCY_PENALTY``, ...).
"""

from __future__ import annotations

import math
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _is_none(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip().lower() == "none")


def _optional(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda raw: None if _is_none(raw) else inner(raw)


def _int(lo: int | None = None) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        value = int(raw.strip()) if isinstance(raw, str) else raw
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("not an integer")
        if lo is not None and value < lo:
            raise ValueError("out of range")
        return value
    return parse


def _float(lo: float, hi: float = math.inf, lo_open: bool = False) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise TypeError("not a number")
        value = float(raw)
        if not math.isfinite(value) or value < lo or value > hi or (lo_open and value == lo):
            raise ValueError("out of range")
        return value
    return parse


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError("not a boolean")


def _choice(*options: str, upper: bool = False) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()  # non-str: error
        if value not in options:
            raise ValueError("not an option")
        return value
    return parse


def _str(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("not a non-empty string")
    return raw.strip()


def _url(raw: Any) -> str:
    value = _str(raw)
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            c.isspace() or not c.isprintable() for c in value):
        raise ValueError("not a URL")
    if parts.port == 0:  # urlsplit itself rejects ports above 65535 (ValueError)
        raise ValueError("port out of range")
    return value


def _file_path(raw: Any) -> str:
    value = _str(raw)
    if Path(value).is_dir():
        raise ValueError("a folder, not a file")
    return value


def _workers(raw: Any) -> int | str:
    if isinstance(raw, str) and raw.strip().upper() == "ALL":
        return "ALL"
    return _int(1)(raw)


def _hedge_after(raw: Any) -> float | str:
    from tinytroupe.clients.hedging import parse_quantile

    if isinstance(raw, str) and raw.strip()[:1] in ("p", "P"):
        parse_quantile(raw)  # ValueError if it is not one
        return raw.strip().lower()
    return _float(0.0, _MAX_SECONDS, lo_open=True)(raw)


def generic_value(raw: Any) -> Any:
    """Type a raw value by the generic rule: None, bool, int, float, else the string."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text.lower() in ("none", "true", "false"):
        return None if text.lower() == "none" else text.lower() == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


#: Longest wait any timeout, window or delay may ask for: threading's own limit.
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_MAX_SECONDS = threading.TIMEOUT_MAX
#: Longest backoff delay between two attempts (a provider asking for more is capped).
_MAX_DELAY = 3600.0
_SECONDS = (_float(0.0, _MAX_SECONDS, lo_open=True),
            f"a number of seconds > 0 and <= {_MAX_SECONDS:.0f}")

VALIDATORS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "API_TYPE": (_choice("openai", "azure", "ollama", "offline"),
                 "one of openai, azure, ollama, offline"),
    "REASONING_MODEL": (_optional(_str), "None or a model name"),
    "EMBEDDING_MODEL": (_str, "a model name"),
    "AZURE_EMBEDDING_MODEL_API_VERSION": (_str, "a non-empty string"),
    "TOP_P": (_optional(_float(0.0, 1.0)), "None or a number from 0 to 1"),
    "FREQUENCY_PENALTY": (_optional(_float(-2.0, 2.0)), "None or a number from -2 to 2"),
    "PRESENCE_PENALTY": (_optional(_float(-2.0, 2.0)), "None or a number from -2 to 2"),
    "REASONING_EFFORT": (_optional(_choice("minimal", "low", "medium", "high")),
                         "None, minimal, low, medium or high"),
    "EXPONENTIAL_BACKOFF_FACTOR": (_float(1.0, 100.0), "a number from 1 to 100"),
    "NUM_CTX": (_optional(_int(1)), "None or an integer >= 1"),
    "STRUCTURED_OUTPUT": (_choice("json_schema", "json_object", "none"),
                          "json_schema, json_object or none"),
    "MAX_CONTENT_DISPLAY_LENGTH": (_optional(_int(1)), "None or an integer >= 1"),
    "MODEL": (_str, "a non-empty string"),
    "BASE_URL": (_optional(_url), "None or a URL starting with http:// or https://"),
    "AZURE_API_VERSION": (_str, "a non-empty string"),
    "AZURE_DEPLOYMENT": (_optional(_str), "None or a non-empty string"),
    "MAX_TOKENS": (_int(1), "an integer > 0"),
    "TEMPERATURE": (_optional(_float(0.0, 2.0)), "None or a number from 0 to 2"),
    "TIMEOUT": _SECONDS,
    "MAX_ATTEMPTS": (_int(1), "an integer >= 1"),
    "RETRY_BASE_DELAY": (_float(0.0, _MAX_DELAY), f"a number from 0 to {_MAX_DELAY:.0f}"),
    "RETRY_MAX_DELAY": (_float(0.0, _MAX_DELAY), f"a number from 0 to {_MAX_DELAY:.0f}"),
    "MAX_CONCURRENT_MODEL_CALLS": (_optional(_int(0)), "None or an integer >= 0"),
    "MAX_OUTPUT_REPAIR_ATTEMPTS": (_int(0), "an integer >= 0"),
    "CACHE_API_CALLS": (_bool, "True or False"),
    "CACHE_FILE_NAME": (_file_path, "a file path (not a folder)"),
    "MAX_RESPONSE_BYTES": (_int(1024), "an integer >= 1024"),
    "HTTP_TRANSPORT": (_choice("auto", "curl", "urllib3"), "auto, curl or urllib3"),
    "HEDGE_AFTER": (_optional(_hedge_after),
                    "None, a number of seconds > 0, or a quantile such as p90"),
    "HEDGE_MAX_FRACTION": (_float(0.0, 1.0), "a number from 0 to 1"),
    "MAX_REQUESTS_PER_MINUTE": (_optional(_int(1)), "None or an integer >= 1"),
    "MAX_TOKENS_PER_MINUTE": (_optional(_int(1)), "None or an integer >= 1"),
    "RATE_LIMIT_WINDOW_SECONDS": _SECONDS,
    "PRICE_PER_MILLION_INPUT_TOKENS": (_optional(_float(0.0)), "None or a number >= 0"),
    "PRICE_PER_MILLION_OUTPUT_TOKENS": (_optional(_float(0.0)), "None or a number >= 0"),
    "PARALLEL_AGENT_GENERATION": (_bool, "True or False"),
    "PARALLEL_AGENT_ACTIONS": (_bool, "True or False"),
    "MAX_WORKERS": (_optional(_workers), "None, ALL or an integer >= 1"),
    "PARALLEL_EXECUTION_TIMEOUT": _SECONDS,
    "STEP_SCHEDULE": (_choice("barrier", "dependency"), "barrier or dependency"),
    "COLLECT_PARALLEL_METRICS": (_bool, "True or False"),
    "ON_AGENT_ERROR": (_choice("continue", "raise"), "continue or raise"),
    "RANDOM_SEED": (_optional(_int()), "None or an integer"),
    "EXECUTION_BACKEND": (_choice("threads", "ray"), "threads or ray"),
    "RAY_ADDRESS": (_optional(_str), "None or a Ray cluster address"),
    "RAY_AGENTS_PER_ACTOR": (_int(1), "an integer >= 1"),
    "RAY_SNAPSHOT_EVERY": (_optional(_int(1)), "None or an integer >= 1"),
    "CHECKPOINT_EVERY": (_optional(_int(1)), "None or an integer >= 1"),
    "CHECKPOINT_PATH": (_optional(_str), "None or a file path"),
    "MAX_ACTIONS_BEFORE_DONE": (_int(1), "an integer >= 1"),
    "EPISODIC_MEMORY_FIXED_PREFIX_LENGTH": (_int(0), "an integer >= 0"),
    "EPISODIC_MEMORY_LOOKBACK_LENGTH": (_int(1), "an integer >= 1"),
    "EPISODIC_MEMORY_MAX_SIZE": (_optional(_int(1)), "None or an integer >= 1"),
    "LOGLEVEL": (_optional(_choice(*_LEVELS, upper=True)),
                 "None or one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    "LOGLEVEL_CONSOLE": (_optional(_choice(*_LEVELS, upper=True)), "None or a log level"),
    "LOGLEVEL_FILE": (_optional(_choice(*_LEVELS, upper=True)), "None or a log level"),
    "LOG_INCLUDE_THREAD_ID": (_bool, "True or False"),
    "RAI_HARMFUL_CONTENT_PREVENTION": (_bool, "True or False"),
    "RAI_COPYRIGHT_INFRINGEMENT_PREVENTION": (_bool, "True or False"),
    "ENABLE_MEMORY_CONSOLIDATION": (_bool, "True or False"),
    "ENABLE_CONTINUOUS_CONTEXTUAL_SEMANTIC_MEMORY_RETRIEVAL": (_bool, "True or False"),
    "MIN_EPISODE_LENGTH": (_int(1), "an integer >= 1"),
    "MAX_EPISODE_LENGTH": (_int(1), "an integer >= 1"),
    "ACTION_GENERATOR_MAX_ATTEMPTS": (_int(1), "an integer >= 1"),
    "ACTION_GENERATOR_QUALITY_THRESHOLD": (_float(0.0, 10.0), "a number from 0 to 10"),
    **{f"ACTION_GENERATOR_{name}": (_bool, "True or False") for name in (
        "ENABLE_QUALITY_CHECKS", "ENABLE_REGENERATION", "ENABLE_DIRECT_CORRECTION",
        "ENABLE_QUALITY_CHECK_FOR_PERSONA_ADHERENCE", "ENABLE_QUALITY_CHECK_FOR_SELFCONSISTENCY",
        "ENABLE_QUALITY_CHECK_FOR_FLUENCY", "ENABLE_QUALITY_CHECK_FOR_SUITABILITY",
        "ENABLE_QUALITY_CHECK_FOR_SIMILARITY", "CONTINUE_ON_FAILURE", "ENABLE_REASONING_STEP")},
}

#: Sections whose keys carry a prefix in the flat namespace (module doc).
SECTION_PREFIXES = {"ACTIONGENERATOR": "ACTION_GENERATOR_"}

#: Upstream's other spellings of a key -> the key.
ALIASES = {
    "FREQ_PENALTY": "FREQUENCY_PENALTY",
    "MAX_COMPLETION_TOKENS": "MAX_TOKENS",
    "WAITING_TIME": "RETRY_BASE_DELAY",
}


def qualified(section: str | None, key: str) -> str:
    """The flat name of `key` (upper case) as written in `section` of an ini file."""
    key = ALIASES.get(key, key)
    prefix = SECTION_PREFIXES.get((section or "").replace("_", "").upper(), "")
    return key if key.startswith(prefix) else prefix + key


