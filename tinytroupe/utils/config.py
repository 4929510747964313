"""TinyTroupe's configuration and logging helpers, over `tinytroupe.config_manager`.

`read_config_file` gives the effective configuration (package defaults, ./config.ini,
``TINYTROUPE_*`` environment variables and `config_manager.set` values, in that order
of precedence) as the `configparser.ConfigParser` TinyTroupe code expects.
"""

from __future__ import annotations

import configparser
import importlib.metadata
import logging
import sys
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tinytroupe.config import DEFAULTS_PATH, config_manager
from tinytroupe.config_keys import SECTION_PREFIXES
from tinytroupe.redaction import RedactingFilter
from tinytroupe.sanitize import for_terminal

__all__ = ["pretty_print_config", "pretty_print_datetime", "pretty_print_tinytroupe_version",
           "read_config_file", "set_loglevel", "start_logger"]

LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"

_lock = threading.Lock()
_cached: tuple[dict[str, Any], configparser.ConfigParser] | None = None
_handler: logging.Handler | None = None


def _as_ini_value(value: Any) -> str:
    return str(value)


def _build_parser(values: Mapping[str, Any]) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    for key, value in values.items():
        section = config_manager.section_of(key)
        if section is None:  # an unknown key given to config_manager.set(): no section
            continue
        prefix = SECTION_PREFIXES.get(section.replace("_", "").upper(), "")
        option = key[len(prefix):] if prefix and key.startswith(prefix) else key
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, option, _as_ini_value(value))  # lower-cased by optionxform
    return parser


def read_config_file(use_cache: bool = True, verbose: bool = True) -> configparser.ConfigParser:
    """The effective configuration as a `configparser.ConfigParser`.

    Sections as in ``config.ini`` (``OpenAI``, ``Simulation``, ``Cognition``,
    ``ActionGenerator``, ``Logging``), keys lower-case (``[ActionGenerator]`` keys
    without their ``ACTION_GENERATOR_`` prefix), values as strings. With `use_cache`
    the same object is returned while the configuration is unchanged; a
    `config_manager.set` or `reset` is always reflected. `verbose` prints where the
    configuration comes from when it is (re)built.
    """
    global _cached
    values = config_manager.as_dict()
    with _lock:
        if use_cache and _cached is not None and _cached[0] == values:
            return _cached[1]
        parser = _build_parser(values)
        _cached = (values, parser)
    if verbose:
        custom = Path.cwd() / "config.ini"
        print(f"TinyTroupe default configuration: {DEFAULTS_PATH}")
        if custom.is_file():
            print(f"Custom configuration (overrides the defaults): {custom}")
        else:
            print(f"No custom configuration at {custom}; using the defaults, "
                  "TINYTROUPE_* environment variables and config_manager.set() values.")
    return parser


def _sections(config: Any) -> list[tuple[str, list[tuple[str, Any]]]]:
    if isinstance(config, configparser.RawConfigParser):
        return [(s, config.items(s, raw=True)) for s in config.sections()]
    if isinstance(config, Mapping):
        if all(isinstance(v, Mapping) for v in config.values()):
            return [(str(s), list(v.items())) for s, v in config.items()]
        by_section: dict[str, list[tuple[str, Any]]] = {}
        for key, value in config.items():
            section = config_manager.section_of(str(key)) or "Other"
            by_section.setdefault(section, []).append((str(key).lower(), value))
        return list(by_section.items())
    raise TypeError(f"Cannot print a configuration of type {type(config).__name__}")


def pretty_print_config(config: Any) -> None:
    """Print `config` as ``[Section]`` and ``key = value`` lines.

    `config` is a ConfigParser such as `read_config_file` returns, a mapping of sections,
    or a flat mapping of keys.
    """
    print()
    print("=================================")
    print("Current TinyTroupe configuration ")
    print("=================================")
    for section, items in _sections(config):
        print(f"[{for_terminal(section)}]")
        for key, value in items:
            print(f"{for_terminal(str(key))} = {for_terminal(str(value))}")
        print()


def _level_name(level: Any) -> Any:
    if isinstance(level, int) and not isinstance(level, bool):
        return logging.getLevelName(level)  # 10 -> "DEBUG"
    return level


def start_logger(config: configparser.ConfigParser | None = None) -> logging.Logger:
    """Give the ``tinytroupe`` logger a level and a console handler (stderr, upstream's format).

    The level is that of ``[Logging] loglevel`` in `config` (default: `read_config_file`).
    Calling it again replaces the handler it added before; other handlers, other
    loggers and propagation are left alone. The level goes through
    ``config_manager.set("loglevel", ...)`` (an invalid one raises `ConfigError`).
    """
    global _handler
    if config is None:
        config = read_config_file(verbose=False)
    level = None
    if config.has_section("Logging"):
        level = config.get("Logging", "loglevel", fallback=None)
    if level is None or level.strip().lower() in ("", "none"):
        level = "WARNING"
    config_manager.set("loglevel", level.strip().upper())
    logger = logging.getLogger("tinytroupe")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RedactingFilter())  # records of child loggers pass here too
    with _lock:
        old, _handler = _handler, handler
    if old is not None:
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    return logger


def set_loglevel(log_level: str | int) -> None:
    """Set the level of the ``tinytroupe`` logger.

    `level` is a name such as ``"DEBUG"`` or a standard `logging` number; it is set through
    ``config_manager.set("loglevel", ...)``.
    """
    level = _level_name(log_level)
    config_manager.set("loglevel", level.strip().upper() if isinstance(level, str) else level)


def pretty_print_tinytroupe_version() -> None:
    """Print the installed tinytroupe version."""
    try:
        version = importlib.metadata.version("tinytroupe")
    except importlib.metadata.PackageNotFoundError:
        from tinytroupe import __version__ as version
    print(f"TinyTroupe version: {version}")


def pretty_print_datetime() -> None:
    """Print the current local and UTC date and time."""
    now = datetime.now().astimezone()
    print(f"Current date and time (local): {now.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"Current date and time (UTC):   "
          f"{now.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M:%S')}")
