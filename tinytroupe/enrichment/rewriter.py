"""What `TinyEnricher` and `TinyStyler` share: one structured call that rewrites text.

The model is asked for ``{"content": "..."}`` (a pydantic model with one text field)
through `tinytroupe.clients.structured.ask_structured`, so the call goes through the
process's client (gate, retries, cache, usage) and works on the offline model. A
Markdown code fence around the whole answer is removed. With
``use_past_results_in_context``, the last `MAX_CONTEXT_CACHE` results are remembered
(under a lock: one rewriter may serve many agents' threads) and shown to the model with
the next request, for consistency between results.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from tinytroupe.clients.structured import ask_structured
from tinytroupe.utils import JsonSerializableRegistry

__all__ = ["MAX_CONTEXT_CACHE", "Rewriter", "RewrittenContent", "rewriter_from_state"]

logger = logging.getLogger("tinytroupe")

#: Most past results a rewriter remembers (and shows the model) for consistency.
MAX_CONTEXT_CACHE = 10
#: Most characters of one past result shown to the model.
_MAX_PAST_CHARS = 2_000


class RewrittenContent(BaseModel):
    """The model's answer: the rewritten text, and nothing else."""

    model_config = ConfigDict(extra="forbid")

    content: str


class Rewriter(JsonSerializableRegistry):
    """Base of `TinyEnricher` and `TinyStyler` (module doc)."""

    #: Rewriter classes by name, for restoring saved tools.
    registry: ClassVar[dict[str, type[Rewriter]]] = {}
    #: What `to_json` writes (the lock is not JSON).
    serializable_attributes: ClassVar[list[str]] = ["use_past_results_in_context",
                                                    "context_cache"]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Rewriter.registry[cls.__name__] = cls

    def __init__(self, use_past_results_in_context: bool = False) -> None:
        self.use_past_results_in_context = use_past_results_in_context
        self.context_cache: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _post_deserialization_init(self, **kwargs: Any) -> None:
        if not isinstance(getattr(self, "context_cache", None), list):
            self.context_cache = []
        self._lock = threading.Lock()
        super()._post_deserialization_init(**kwargs)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(use_past_results_in_context="
                f"{self.use_past_results_in_context!r})")

    def to_state(self) -> dict[str, Any]:
        """Type and settings, JSON-serialisable (the context cache is not saved)."""
        return {"type": type(self).__name__,
                "use_past_results_in_context": bool(self.use_past_results_in_context)}

    # --- for subclasses -----------------------------------------------------------------

    def _past_results(self, context_cache: list | None) -> list[Any]:
        """`context_cache` if given, else (when enabled) this rewriter's own results."""
        if context_cache is not None:
            return list(context_cache)
        if not self.use_past_results_in_context:
            return []
        with self._lock:
            return list(self.context_cache)

    def _instructions(self, role: str, lead: str, content_type: str | None,
                      context_info: str | None, context_cache: list | None,
                      describe: Any) -> str:
        """The system prompt: `role`, `lead`, the content type, context and past results.

        `lead` says what to do; `describe` renders one earlier result.
        """
        past = self._past_results(context_cache)
        sections = [role, lead, f"Type of content: {content_type or 'not specified'}"]
        if context_info:
            sections.append(f"Context:\n{context_info}")
        if past:
            sections.append("Earlier results, to stay consistent with:\n"
                            + format_past_results(past, describe))
        return "\n\n".join(sections)

    def _remember(self, entry: dict[str, Any]) -> None:
        if not self.use_past_results_in_context:
            return
        with self._lock:
            self.context_cache.append(entry)
            del self.context_cache[:-MAX_CONTEXT_CACHE]

    @staticmethod
    def _rewrite(system: str, user: str, schema_name: str, verbose: bool,
                 **sampling: Any) -> str:
        """Ask the model for the rewritten text; returns it without an enclosing fence.

        Raises `tinytroupe.clients.LLMError` (subclasses) if the model cannot be reached
        or its answer stays invalid.
        """
        answer = ask_structured([{"role": "system", "content": system},
                                 {"role": "user", "content": user}],
                                RewrittenContent, name=schema_name, **sampling)
        text = strip_enclosing_fence(answer.content)
        logger.debug("%s result: %s", schema_name, text)
        if verbose:
            print(f"{schema_name} result: {text}")
        return text


def strip_enclosing_fence(text: str) -> str:
    """`text` without a Markdown code fence that encloses all of it (else unchanged)."""
    stripped = text.strip()
    if not (stripped.startswith("```") and stripped.endswith("```") and len(stripped) > 6):
        return text
    first_line_end = stripped.find("\n")
    if first_line_end < 0:
        return text
    return stripped[first_line_end + 1:-3].strip("\n")


def format_past_results(past: list[Any], describe: Any) -> str:
    """Past results as prompt text: each through `describe(entry)`, cut to a size."""
    parts = []
    for i, entry in enumerate(past, 1):
        text = str(describe(entry))
        if len(text) > _MAX_PAST_CHARS:
            text = text[:_MAX_PAST_CHARS] + " [...]"
        parts.append(f"Earlier result {i}:\n{text}")
    return "\n\n".join(parts)


def rewriter_from_state(state: Any) -> Rewriter:
    """The enricher or styler that `Rewriter.to_state()` described (ValueError if unknown)."""
    kind = Rewriter.registry.get(str(state.get("type"))) if isinstance(state, dict) else None
    if kind is None:
        raise ValueError(f"unknown enricher {state!r}")
    return kind(use_past_results_in_context=bool(state.get("use_past_results_in_context")))
