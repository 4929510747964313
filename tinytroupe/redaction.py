"""API keys: read, checked, and kept out of every message, log line and saved file.

`read_key(variable)` takes a key from the environment, strips the whitespace a key
file or a CRLF ``.env`` leaves around it, refuses one with inner control characters
(an HTTP header cannot carry it) without echoing it, and registers it. `redact(text)`
replaces every registered key in `text`. Redaction is applied where text leaves the
library's hands: error messages of the client, failure records, and a filter on the
``tinytroupe`` logger that redacts each record, traceback included. So a key cannot
leak whatever raised, not only on the paths we foresaw.
"""

from __future__ import annotations

import logging
import os
import threading

REDACTED = "[redacted]"

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # longest first, so a key containing another goes whole


def register(secret: str) -> None:
    """Redact `secret` (and its whitespace-stripped form) from now on."""
    global _secrets
    forms = {s for s in (secret, secret.strip()) if len(s) >= 4}
    if forms.issubset(_secrets):  # the usual case: called on every get_client()
        return
    with _lock:
        _secrets = tuple(sorted(set(_secrets) | forms, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every registered secret replaced by ``[redacted]``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def read_key(*variables: str) -> tuple[str | None, str]:
    """The first set environment variable of `variables` as ``(key, variable name)``.

    The key is stripped of surrounding whitespace and registered for redaction. A key
    with control characters or spaces inside raises `LLMConfigurationError` naming the
    variable, never the key.
    """
    for name in variables:
        raw = os.environ.get(name)
        if raw is None:
            continue
        register(raw)
        key = raw.strip()
        if not key:
            continue
        if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
            from tinytroupe.clients.errors import LLMConfigurationError

            raise LLMConfigurationError(
                f"The API key in {name} contains spaces, control or non-ASCII characters "
                "(for example a line break inside it); an HTTP header cannot carry it. "
                "Check how the variable is set.")
        return key, name
    return None, variables[0]


class RedactingFilter(logging.Filter):
    """Redacts registered secrets from a record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact registered secrets from `record`'s message and traceback; always `True`.

        The traceback is formatted now (into ``exc_text``) so that it can be redacted.
        """
        if not _secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), None
        record.exc_info = None if record.exc_text else record.exc_info
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_filter(logger: logging.Logger) -> None:
    """Add the redacting filter to `logger` once."""
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
