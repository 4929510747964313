"""Typed, validated configuration for tinytroupe.

The files are read on first use (not at import), so a bad file is reported as a
`ConfigError` where the configuration is first needed.

Precedence, lowest to highest: the package defaults (``tinytroupe/config.ini``) <
``config.ini`` in the current working directory (overrides only the keys it names) <
environment variables ``TINYTROUPE_<KEY>`` < :meth:`ConfigManager.set`.

Keys are case-insensitive and share one flat namespace; sections only document them.
Every known key has a validator; a bad value raises :class:`ConfigError` naming the
source, section, key, value and what was expected. Unknown keys in the user file are
kept (typed by the generic rule) with a warning on the ``tinytroupe`` logger.
"""

from __future__ import annotations

import configparser
import difflib
import functools
import inspect
import logging
import math
import os
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger("tinytroupe")

DEFAULTS_PATH = Path(__file__).with_name("config.ini")
ENV_PREFIX = "TINYTROUPE_"
SET_SOURCE = "config_manager.set()"


class ConfigError(ValueError):
    """An invalid configuration value, or an unreadable configuration file."""

    def __init__(self, message: str, *, key: str | None = None, value: Any = None,
                 source: str | None = None, section: str | None = None) -> None:
        super().__init__(message)
        self.key, self.value, self.source, self.section = key, value, source, section


# --- validators: each takes a raw value (str from a file/env, or a Python value) and
# returns the typed value, or raises ValueError/TypeError.

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
_MAX_SECONDS = threading.TIMEOUT_MAX
#: Longest backoff delay between two attempts (a provider asking for more is capped).
_MAX_DELAY = 3600.0
_SECONDS = (_float(0.0, _MAX_SECONDS, lo_open=True),
            f"a number of seconds > 0 and <= {_MAX_SECONDS:.0f}")

VALIDATORS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "API_TYPE": (_choice("openai", "azure", "offline"), "one of openai, azure, offline"),
    "MODEL": (_str, "a non-empty string"),
    "BASE_URL": (_optional(_url), "None or a URL starting with http:// or https://"),
    "AZURE_API_VERSION": (_str, "a non-empty string"),
    "AZURE_DEPLOYMENT": (_optional(_str), "None or a non-empty string"),
    "MAX_TOKENS": (_int(1), "an integer > 0"),
    "TEMPERATURE": (_float(0.0, 2.0), "a number from 0 to 2"),
    "TIMEOUT": _SECONDS,
    "MAX_ATTEMPTS": (_int(1), "an integer >= 1"),
    "RETRY_BASE_DELAY": (_float(0.0, _MAX_DELAY), f"a number from 0 to {_MAX_DELAY:.0f}"),
    "RETRY_MAX_DELAY": (_float(0.0, _MAX_DELAY), f"a number from 0 to {_MAX_DELAY:.0f}"),
    "MAX_CONCURRENT_MODEL_CALLS": (_optional(_int(0)), "None or an integer >= 0"),
    "MAX_OUTPUT_REPAIR_ATTEMPTS": (_int(0), "an integer >= 0"),
    "CACHE_API_CALLS": (_bool, "True or False"),
    "CACHE_FILE_NAME": (_file_path, "a file path (not a folder)"),
    "MAX_RESPONSE_BYTES": (_int(1024), "an integer >= 1024"),
    "MAX_REQUESTS_PER_MINUTE": (_optional(_int(1)), "None or an integer >= 1"),
    "MAX_TOKENS_PER_MINUTE": (_optional(_int(1)), "None or an integer >= 1"),
    "RATE_LIMIT_WINDOW_SECONDS": _SECONDS,
    "PRICE_PER_MILLION_INPUT_TOKENS": (_optional(_float(0.0)), "None or a number >= 0"),
    "PRICE_PER_MILLION_OUTPUT_TOKENS": (_optional(_float(0.0)), "None or a number >= 0"),
    "PARALLEL_AGENT_GENERATION": (_bool, "True or False"),
    "PARALLEL_AGENT_ACTIONS": (_bool, "True or False"),
    "MAX_WORKERS": (_optional(_workers), "None, ALL or an integer >= 1"),
    "PARALLEL_EXECUTION_TIMEOUT": _SECONDS,
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
    "LOGLEVEL": (_choice("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", upper=True),
                 "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
}


def _validate(key: str, raw: Any, source: str, section: str | None) -> Any:
    """Return the typed value of ``key``; raise ConfigError naming ``source`` if invalid."""
    if key not in VALIDATORS:
        return generic_value(raw)
    parse, expected = VALIDATORS[key]
    try:
        return parse(raw)
    except (ValueError, TypeError, AttributeError):
        where = f" in [{section}]" if section else ""
        raise ConfigError(
            f"Invalid value for {key}{where} {source}: {raw!r} (expected {expected})",
            key=key, value=raw, source=source, section=section) from None


def _read_ini(path: Path) -> list[tuple[str, str, str]]:
    """Return (section, KEY, raw value) triples of an ini file, in file order."""
    parser = configparser.ConfigParser(
        interpolation=None, inline_comment_prefixes=("#", ";"),
        default_section="\0no default section")  # [DEFAULT] is an ordinary section here
    parser.optionxform = str.upper  # type: ignore[assignment,method-assign]
    try:
        with open(path, encoding="utf-8-sig") as f:  # a BOM from Windows editors is fine
            parser.read_file(f)
    except (configparser.Error, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc}", source=str(path)) from exc
    return [(s, k, v) for s in parser.sections() for k, v in parser.items(s, raw=True)]


class ConfigManager:
    """Effective configuration: an immutable snapshot dict, swapped on set()/reset().

    ``get()`` is a lock-free dict lookup; ``set()`` and ``reset()`` are serialised by a
    lock and publish a new snapshot, so readers never see a half-applied update.
    """

    def __init__(self, defaults_path: Path = DEFAULTS_PATH, user_path: Path | None = None,
                 environ: Mapping[str, str] | None = None, *, lazy: bool = False) -> None:
        """Read the sources now, or with `lazy` on first use (the process-wide manager:
        importing tinytroupe never fails on a bad file)."""
        self._defaults_path = Path(defaults_path)
        self._user_path = user_path
        self._environ = environ
        self._lock = threading.Lock()
        self._overrides: dict[str, Any] = {}
        self._sections: dict[str, str] = {}
        self._values: dict[str, Any] | None = None  # loaded on first use
        if not lazy:
            self.reset()

    def _load(self) -> tuple[dict[str, Any], dict[str, str]]:
        values: dict[str, Any] = {}
        sections: dict[str, str] = {}
        for section, key, raw in _read_ini(self._defaults_path):
            sections[key] = section
            values[key] = _validate(key, raw, f"of {self._defaults_path}", section)
        user_path = Path.cwd() / "config.ini" if self._user_path is None else self._user_path
        if Path(user_path).is_file():
            known_sections = set(sections.values())
            for section, key, raw in _read_ini(Path(user_path)):
                if section not in known_sections:
                    logger.warning("Unknown section [%s] in %s (key %s kept)",
                                   section, user_path, key)
                elif key not in sections:
                    logger.warning("Unknown key %s in [%s] of %s (kept)", key, section, user_path)
                sections.setdefault(key, section)
                values[key] = _validate(key, raw, f"of {user_path}", sections[key])
        environ = os.environ if self._environ is None else self._environ
        for key in values:
            raw = environ.get(ENV_PREFIX + key)
            if raw is not None:
                source = f"from environment variable {ENV_PREFIX}{key}"
                values[key] = _validate(key, raw, source, sections.get(key))
        for name in environ:
            key = name[len(ENV_PREFIX):].upper()
            if name.startswith(ENV_PREFIX) and key not in values:
                close = difflib.get_close_matches(key, values, n=1)
                hint = f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else ""
                logger.warning("Unknown configuration key in environment variable %s; "
                               "ignored%s", name, hint)
        return values, sections

    def get(self, name: str, default: Any = None) -> Any:
        """Return the effective value of ``name`` (case-insensitive), or ``default``."""
        values = self._values
        if values is None:  # first use: read the files now, not at import
            self.reset()
            values = self._values
        return values.get(name.upper(), default)

    def set(self, name: str, value: Any) -> None:
        """Override ``name`` with ``value`` (a Python value or a string to parse).

        Validated like file values; raises ConfigError naming ``config_manager.set()``.
        Unknown keys are accepted (generic typing) with a warning.
        """
        key = name.upper()
        if self._values is None:
            self.reset()
        with self._lock:
            if key not in self._values:
                logger.warning("Unknown key %s set via %s (kept)", key, SET_SOURCE)
            typed = _validate(key, value, f"via {SET_SOURCE}", self._sections.get(key))
            self._overrides[key] = typed
            self._values = {**self._values, key: typed}
        self._apply(key)

    update = set  # TinyTroupe's name for set()

    def reset(self) -> None:
        """Drop all set() overrides and re-read the files and the environment."""
        with self._lock:
            values, sections = self._load()
            self._overrides = {}
            self._sections = sections
            self._values = values
        self._apply("LOGLEVEL")

    def _apply(self, key: str) -> None:
        """Make a setting that lives outside this object take effect now."""
        if key == "LOGLEVEL":
            logger.setLevel(self.get("loglevel") or "WARNING")

    def use_sources(self, user_path: Path | None = None,
                    environ: Mapping[str, str] | None = None) -> None:
        """Read from these sources from now on (None = the defaults), then `reset()`.

        Test suites use it to make the process-wide manager hermetic.
        """
        self._user_path, self._environ = user_path, environ
        self.reset()

    def section_of(self, name: str) -> str | None:
        """Return the ini section of ``name`` (case-insensitive), or None if unknown."""
        self.get(name)
        return self._sections.get(name.upper())

    def as_dict(self) -> dict[str, Any]:
        """Return a copy of the effective typed values (no secrets live in config)."""
        self.get("loglevel")
        return dict(self._values or {})


def config_defaults(**param_to_key: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Fill parameters that are missing or None from the config at call time.

    ``@config_defaults(timeout="TIMEOUT")`` makes ``f()`` and ``f(timeout=None)`` use
    ``config_manager.get("TIMEOUT")``; explicit non-None values are kept.
    """
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func)
        missing = [p for p in param_to_key if p not in signature.parameters]
        if missing:
            raise TypeError(f"{func.__qualname__} has no parameter(s) {', '.join(missing)}")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind_partial(*args, **kwargs)
            for param, key in param_to_key.items():
                if bound.arguments.get(param) is None:
                    bound.arguments[param] = config_manager.get(key)
            return func(*bound.args, **bound.kwargs)
        return wrapper
    return decorate


config_manager = ConfigManager(lazy=True)
