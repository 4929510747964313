"""Keyword arguments of upstream's API that this package accepts but does not use.

A script written for TinyTroupe may pass them; silently swallowing one would hide that
it has no effect here, so each is warned about once per place and name.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

logger = logging.getLogger("tinytroupe")

_warned: set[tuple[str, str]] = set()
_lock = threading.Lock()


def warn_unsupported(where: str, kwargs: dict[str, Any]) -> None:
    """Warn once per (`where`, name) for each keyword argument in `kwargs`."""
    for name in kwargs:
        with _lock:
            if (where, name) in _warned:
                continue
            _warned.add((where, name))
        logger.warning("%s: keyword argument %r is not supported by tinytroupe and has no "
                       "effect (see docs/compatibility.md)", where, name)
