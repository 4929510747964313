"""`TinyEnricher`: expand content (a draft, an outline) as requirements say (upstream's API).

``TinyEnricher(use_past_results_in_context=False).enrich_content(requirements, content,
content_type=None, context_info="", context_cache=None, verbose=False)`` returns the
enriched text (a string). One structured model call (`tinytroupe.enrichment.rewriter`):
it works on the offline model (which answers with text taken from the request: not a
language model) and over any OpenAI-compatible endpoint. Upstream's sampling settings
are kept: temperature 1.0, no frequency or presence penalty.
"""

from __future__ import annotations

from typing import Any

from tinytroupe.enrichment.rewriter import Rewriter

__all__ = ["TinyEnricher"]

_SYSTEM = """\
You are a skilled writer and editor. The user gives you a piece of content, between \
<content> tags; below are the requirements for enriching it. Develop the content as \
the requirements ask: add detail, depth, structure and concrete examples, while keeping \
everything the original says (its facts, names, figures and intent) and its format \
(Markdown stays Markdown). Write the enriched content itself: no comments about what \
you changed, no mention of these instructions.

Answer with one JSON object whose only field, "content", holds the enriched content."""


class TinyEnricher(Rewriter):
    """Enriches content with a model call (module doc).

    With `use_past_results_in_context`, earlier results of this enricher are shown to
    the model with each request (the last `MAX_CONTEXT_CACHE`).
    """

    def __init__(self, use_past_results_in_context: bool = False) -> None:
        super().__init__(use_past_results_in_context)

    def enrich_content(self, requirements: str, content: str, content_type: str | None = None,
                       context_info: str | None = "", context_cache: list | None = None,
                       verbose: bool = False) -> str:
        """`content` enriched as `requirements` ask; returns the new text.

        `content_type` (e.g. "Document") and `context_info` help the model; `context_cache`
        (earlier results, any JSON-like items) replaces this enricher's own past results.
        `verbose` prints the result. Raises `tinytroupe.clients.LLMError` if the model
        cannot be reached or its answer stays invalid after the repair attempts.
        """
        system = self._instructions(_SYSTEM, f"Requirements:\n{requirements}", content_type,
                                    context_info, context_cache, _describe)
        result = self._rewrite(system, f"<content>\n{content}\n</content>", "enriched_content",
                               verbose, temperature=1.0, frequency_penalty=0.0,
                               presence_penalty=0.0)
        self._remember({"requirements": requirements, "original": content,
                        "enriched": result})
        return result


def _describe(entry: Any) -> str:
    if isinstance(entry, dict) and "enriched" in entry:
        return str(entry["enriched"])
    return str(entry)
