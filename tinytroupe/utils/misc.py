"""Ids, hashes, names, retries."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from tinytroupe.sanitize import utf8

__all__ = ["custom_hash", "first_non_none", "fresh_id", "name_or_empty", "repeat_on_error",
           "reset_fresh_id"]

logger = logging.getLogger("tinytroupe")

F = TypeVar("F", bound=Callable[..., Any])

_id_lock = threading.Lock()
_id_counters: dict[Any, int] = {}


def name_or_empty(named_entity: Any) -> str:
    """The ``name`` of an agent or environment, or ``""`` for None."""
    return "" if named_entity is None else named_entity.name


def custom_hash(obj: Any) -> str:
    """A deterministic hash of `obj` (unlike `hash`): sha256 hex digest of ``str(obj)``.

    A string with lone surrogates hashes as if each were U+FFFD instead of raising.
    """
    return hashlib.sha256(utf8(str(obj))).hexdigest()


def fresh_id(scope: Any = "default") -> int:
    """The next id of `scope`: 1, 2, 3... Each scope counts on its own; thread-safe."""
    with _id_lock:
        value = _id_counters.get(scope, 0) + 1
        _id_counters[scope] = value
        return value


def reset_fresh_id(scope: Any = None) -> None:
    """Restart the ids of `scope` at 1, or of every scope when `scope` is None."""
    with _id_lock:
        if scope is None:
            _id_counters.clear()
        else:
            _id_counters.pop(scope, None)


def first_non_none(*args: Any) -> Any:
    """The first argument that is not None, or None when all are."""
    return next((arg for arg in args if arg is not None), None)


def repeat_on_error(retries: int,
                    exceptions: type[BaseException] | Iterable[type[BaseException]]
                    ) -> Callable[[F], F]:
    """Decorator: call the function up to `retries` times while it raises one of `exceptions`.

    It is called at least once; the last such exception propagates. Other exceptions
    propagate at once.
    """
    if isinstance(exceptions, type):
        catch: tuple[type[BaseException], ...] = (exceptions,)
    else:
        catch = tuple(exceptions)
    attempts = max(1, int(retries))

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(1, attempts + 1):
                try:
                    return func(*args, **kwargs)
                except catch as exc:
                    if attempt == attempts:
                        raise
                    logger.debug("%s failed (%s: %s); attempt %d of %d follows",
                                 getattr(func, "__qualname__", func), type(exc).__name__,
                                 exc, attempt + 1, attempts)
            raise AssertionError("unreachable")  # pragma: no cover
        return wrapper  # type: ignore[return-value]
    return decorate
