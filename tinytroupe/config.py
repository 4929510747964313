"""Typed, validated configuration for tinytroupe.

The files are read on first use (not at import), so a bad file is reported as a
`ConfigError` where the configuration is first needed.

Precedence, lowest to highest: the package defaults (``tinytroupe/config.ini``) <
``config.ini`` in the current working directory (overrides only the keys it names) <
environment variables ``TINYTROUPE_<KEY>`` < :meth:`ConfigManager.set`.

Keys are case-insensitive and share one flat namespace (see `config_keys`: keys of
``[ActionGenerator]`` are ``ACTION_GENERATOR_<KEY>``, upstream's old spellings are
aliases). Every known key has a validator; a bad value raises :class:`ConfigError` naming the
source, section, key, value and what was expected. Unknown keys in the user file are
kept (typed by the generic rule) with a warning on the ``tinytroupe`` logger.
"""

from __future__ import annotations

import configparser
import difflib
import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tinytroupe.config_keys import ALIASES, VALIDATORS, generic_value, qualified

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


def validated(key: str, raw: Any, source: str) -> Any:
    """`raw` as the typed value of `key`, checked like a file value.

    Raises `ConfigError` naming `source` (for settings read elsewhere, such as
    OPENAI_BASE_URL).
    """
    return _validate(key.upper(), raw, source, None)


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
    return [(s, qualified(s, k), v) for s in parser.sections()
            for k, v in parser.items(s, raw=True)]


class ConfigManager:
    """Effective configuration: an immutable snapshot dict, swapped on set()/reset().

    ``get()`` is a lock-free dict lookup; ``set()`` and ``reset()`` are serialised by a
    lock and publish a new snapshot, so readers never see a half-applied update.
    """

    def __init__(self, defaults_path: Path = DEFAULTS_PATH, user_path: Path | None = None,
                 environ: Mapping[str, str] | None = None, *, lazy: bool = False) -> None:
        """Read the sources now, or with `lazy` on first use.

        `lazy` is for the process-wide manager: importing tinytroupe never fails on a bad file.
        """
        self._defaults_path = Path(defaults_path)
        self._user_path = user_path
        self._environ = environ
        self._lock = threading.Lock()
        self._overrides: dict[str, Any] = {}
        self._sections: dict[str, str] = {}
        self._values: dict[str, Any] | None = None  # loaded on first use
        #: Bumped by every set() and reset(): equal generations, equal values.
        self.generation = 0
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
        for name, raw in sorted(environ.items()):
            if not name.startswith(ENV_PREFIX):
                continue
            key = qualified(None, name[len(ENV_PREFIX):].upper())
            if key in values:
                source = f"from environment variable {name}"
                values[key] = _validate(key, raw, source, sections.get(key))
                continue
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
        key = name.upper()
        return values.get(ALIASES.get(key, key), default)

    def set(self, name: str, value: Any) -> None:
        """Override ``name`` with ``value`` (a Python value or a string to parse).

        Validated like file values; raises ConfigError naming ``config_manager.set()``.
        Unknown keys are accepted (generic typing) with a warning.
        """
        key = qualified(None, name.upper())
        if self._values is None:
            self.reset()
        with self._lock:
            if key not in self._values:
                logger.warning("Unknown key %s set via %s (kept)", key, SET_SOURCE)
            typed = _validate(key, value, f"via {SET_SOURCE}", self._sections.get(key))
            self._overrides[key] = typed
            self._values = {**self._values, key: typed}
            self.generation += 1
        self._apply(key)

    update = set  # TinyTroupe's name for set()

    def reset(self) -> None:
        """Drop all set() overrides and re-read the files and the environment."""
        with self._lock:
            values, sections = self._load()
            self._overrides = {}
            self._sections = sections
            self._values = values
            self.generation += 1
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
        return self._sections.get(qualified(None, name.upper()))

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
