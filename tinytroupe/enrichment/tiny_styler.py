"""`TinyStyler`: rewrite content in a given style, keeping its information (upstream's API).

``TinyStyler(use_past_results_in_context=False).apply_style(content, style,
content_type=None, context_info="", context_cache=None, verbose=False, temperature=0.7)``
returns the styled text (a string). One structured model call
(`tinytroupe.enrichment.rewriter`), so it works offline too (the offline model answers
with text taken from the request: not a language model). With
`use_past_results_in_context`, each result is remembered as ``{"original", "style",
"styled"}``, as upstream.
"""

from __future__ import annotations

from typing import Any

from tinytroupe.enrichment.rewriter import Rewriter

__all__ = ["TinyStyler"]

_SYSTEM = """\
You rewrite content in a requested style of writing or speaking: the user gives you \
the content, between <content> tags; the style and context are below. Every piece of \
information in the original must still be there after the rewrite: change the voice, \
tone, vocabulary, rhythm and structure as the style calls for, never the facts. Write \
the styled content itself: no comments about the rewrite, no mention of these \
instructions.

Answer with one JSON object whose only field, "content", holds the styled content."""


class TinyStyler(Rewriter):
    """Applies a writing or speaking style to content with a model call (module doc)."""

    def __init__(self, use_past_results_in_context: bool = False) -> None:
        super().__init__(use_past_results_in_context)

    def apply_style(self, content: str, style: str, content_type: str | None = None,
                    context_info: str | None = "", context_cache: list | None = None,
                    verbose: bool = False, temperature: float = 0.7) -> str:
        """`content` rewritten in `style` (e.g. "professional", "casual"); returns the text.

        `content_type` (e.g. "email") and `context_info` help the model; `context_cache`
        (earlier results) replaces this styler's own past results; `temperature` is the
        sampling temperature; `verbose` prints the result. If the model answers with
        nothing, the original content is returned (as upstream). Raises
        `tinytroupe.clients.LLMError` if the model cannot be reached or its answer stays
        invalid after the repair attempts.
        """
        system = self._instructions(_SYSTEM, f"Style to apply: {style}", content_type,
                                    context_info, context_cache, _describe)
        result = self._rewrite(system, f"<content>\n{content}\n</content>", "styled_content",
                               verbose, temperature=temperature)
        if not result.strip():
            return content
        self._remember({"original": content, "style": style, "styled": result})
        return result


def _describe(entry: Any) -> str:
    if isinstance(entry, dict) and "styled" in entry:
        return f"(style: {entry.get('style')})\n{entry['styled']}"
    return str(entry)
