"""`TinyWordProcessor`: agents write documents (upstream's API).

The agent's ``WRITE_DOCUMENT`` action carries a JSON object with ``title`` and
``content`` (Markdown; both mandatory) and ``author`` (optional), as a JSON string in
the action's content, or as an object. `write_document(title, content, author=None)`
then, as upstream:

1. has the `enricher` (if any) expand the content into a long, detailed document;
2. has the `exporter` (if any) write it under ``<folder>/Document/`` as
   ``<title>.<author>`` (``<title>`` without an author) three times: ``.md``, ``.docx``
   (from the Markdown) and ``.json`` (``{"title", "content", "author"}``).

Differences from upstream, for robustness: a failed enrichment (model unreachable,
answer invalid, or a text shorter than the draft, which the requirements forbid) is
logged and the agent's own text is written instead; without python-docx the ``.docx``
file is skipped with a warning (the others are written); fields other than
title/content/author are ignored with a warning instead of dropping the document; an
empty author counts as none. As upstream, a malformed action is logged and not done
(returns False).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tinytroupe.tools.tiny_tool import (
    TinyTool,
    enricher_from_state,
    exporter_from_state,
    owner_from_state,
)
from tinytroupe.utils import dedent, extract_json

__all__ = ["TinyWordProcessor"]

logger = logging.getLogger("tinytroupe")

_FIELDS = ("title", "content", "author")

_ENRICHMENT_REQUIREMENTS = """\
Develop this draft or outline into a complete, long document with a great deal of \
detail: expand every point, and add sections, lists and tables wherever they help. \
The result must be several times longer than the draft (at least five times as many \
characters)."""


class TinyWordProcessor(TinyTool):
    """A word processor: the WRITE_DOCUMENT action writes a document (module doc)."""

    action_namespace = "TINYWORDPROCESSOR"

    def __init__(self, owner: Any = None, exporter: Any = None, enricher: Any = None) -> None:
        super().__init__("wordprocessor",
                         "A word processor with which agents write documents.",
                         owner=owner, real_world_side_effects=False, exporter=exporter,
                         enricher=enricher)

    def write_document(self, title: str, content: str, author: str | None = None) -> list[str]:
        """Enrich (if an enricher is set) and export (if an exporter is set) a document.

        Returns the paths of the files written (empty without an exporter). Raises
        ValueError for an empty title or one the exporter refuses (leaving its folder),
        OSError if a file cannot be written.
        """
        title = str(title).strip()
        if not title:
            raise ValueError("A document needs a non-empty title.")
        content = content if isinstance(content, str) else json.dumps(content,
                                                                      ensure_ascii=False)
        logger.debug("Writing document %r (%d characters).", title, len(content))
        if self.enricher is not None:
            content = self._enriched(content)
        if self.exporter is None:
            return []
        name = f"{title}.{author}" if author else title
        paths = [self.exporter.export(artifact_name=name, artifact_data=content,
                                      content_type="Document", content_format="md",
                                      target_format="md")]
        try:
            paths.append(self.exporter.export(artifact_name=name, artifact_data=content,
                                              content_type="Document", content_format="md",
                                              target_format="docx"))
        except ImportError as exc:
            logger.warning("Document %r: no Word version written: %s", name, exc)
        document = {"title": title, "content": content, "author": author}
        paths.append(self.exporter.export(artifact_name=name, artifact_data=document,
                                          content_type="Document", content_format="md",
                                          target_format="json"))
        return [str(p) for p in paths if p]

    def _enriched(self, content: str) -> str:
        try:
            enriched = self.enricher.enrich_content(requirements=_ENRICHMENT_REQUIREMENTS,
                                                    content=content, content_type="Document",
                                                    context_info=None, context_cache=None,
                                                    verbose=False)
        except Exception as exc:  # the agent's own text is still worth writing
            logger.warning("Enrichment failed (%s: %s); the document is written as drafted.",
                           type(exc).__name__, exc)
            return content
        if not isinstance(enriched, str) or len(enriched.strip()) < len(content.strip()):
            logger.warning("Enrichment gave a shorter text than the draft; the document is "
                           "written as drafted.")
            return content
        return enriched

    def _process_action(self, agent: Any, action: dict[str, Any]) -> bool:
        if self._action_verb(action) != "WRITE_DOCUMENT" or action.get("content") is None:
            return False
        who = getattr(agent, "name", agent)
        spec = extract_json(action["content"])
        if not isinstance(spec, dict) or not spec:
            logger.error("%s: WRITE_DOCUMENT needs a JSON object with title and content; got "
                         "%.200r", who, action["content"])
            return False
        unknown = [key for key in spec if key not in _FIELDS]
        if unknown:
            logger.warning("%s: WRITE_DOCUMENT fields %s ignored (valid: %s).", who, unknown,
                           list(_FIELDS))
        if not spec.get("title") or spec.get("content") is None:
            logger.error("%s: WRITE_DOCUMENT needs a title and content; got fields %s.", who,
                         list(spec))
            return False
        author = spec.get("author")
        try:
            self.write_document(title=spec["title"], content=spec["content"],
                                author=str(author) if author else None)
        except Exception as exc:
            logger.error("%s: the document %r could not be written: %s: %s", who,
                         spec.get("title"), type(exc).__name__, exc)
            return False
        return True

    def actions_definitions_prompt(self) -> str:
        """The WRITE_DOCUMENT action and its JSON fields."""
        return dedent("""
            - WRITE_DOCUMENT: write a new document. Its "content" is a JSON object with
              these fields:
                * title: the document's title. Mandatory.
                * content: the whole text of the document, formatted in Markdown. Mandatory.
                * author: who wrote it: your own name. Optional.
            """)

    def actions_constraints_prompt(self) -> str:
        """Rules for WRITE_DOCUMENT."""
        return dedent("""
            - When you WRITE_DOCUMENT, you write the whole document in that one action, and
              make it long and detailed unless there is a good reason to keep it short.
            - The content of WRITE_DOCUMENT is always a valid JSON object (escape quotes and
              line breaks inside its strings).
            - In a document, give milestones and timelines concrete owners or partner teams
              whenever you reasonably can.
            """)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TinyWordProcessor:
        """The word processor `to_state` described (owner, exporter, enricher)."""
        return cls(owner=owner_from_state(state.get("owner")),
                   exporter=exporter_from_state(state.get("exporter")),
                   enricher=enricher_from_state(state.get("enricher")))
