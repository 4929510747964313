"""FilesAndWebGroundingFaculty: the agent can LIST_DOCUMENTS and CONSULT local files and pages.

`FilesAndWebGroundingFaculty(folders_paths=None, web_urls=None)` reads the files of
the folders at once (`LocalFilesGroundingConnector`) and keeps the web pages' URLs to
fetch when first needed (`WebPagesGroundingConnector`). Its actions, each answered
with a THOUGHT stimulus that the agent's next turn sees:

- LIST_DOCUMENTS: the names of the documents (file names, and URLs); fetches nothing.
- CONSULT with a document's name in ``content`` (exact, any case, or the file name
  without extension): that document's pages. A ``content`` that names no document is
  taken as a query: the passages of all documents most similar to it (with their
  document's name), so an agent can look something up without knowing where it is.

A page that cannot be fetched (offline, unreachable) is reported to the agent as such
and logged; the agent's committed actions stand. Saved with the agent: the folders,
files and URLs (documents are read again when the agent is restored).
"""

from __future__ import annotations

import logging
from typing import Any

from tinytroupe.agent.grounding import (
    GroundingError,
    LocalFilesGroundingConnector,
    WebPagesGroundingConnector,
)
from tinytroupe.agent.mental_faculty import TinyMentalFaculty
from tinytroupe.agent.semantic_memory import MemoryHit
from tinytroupe.clients.errors import LLMError

logger = logging.getLogger("tinytroupe")

__all__ = ["FilesAndWebGroundingFaculty"]

#: Characters of documents given to the agent by one CONSULT.
MAX_CONSULT_CHARS = 20_000
#: Passages given to the agent when CONSULT names no document.
PASSAGES_PER_QUERY = 5

_DEFINITIONS = """\
LIST_DOCUMENTS: see the names of the documents you can read (files, web pages, notes). \
The names come to you as a THOUGHT.
CONSULT: read one document: put its exact name in `content`. Its text comes to you as a \
THOUGHT. If no document has that name, `content` is taken as a search and you get the \
passages of your documents most related to it."""

_CONSTRAINTS = """\
- You have documents that may hold information you lack, even on topics you know.
- When some document might help but you do not know which, LIST_DOCUMENTS first.
- CONSULT only documents that matter for your current goals, judging by their names; \
consult few documents before DONE.
- To read a specific document, CONSULT it; RECALL only brings back scattered pieces."""


class FilesAndWebGroundingFaculty(TinyMentalFaculty):
    """LIST_DOCUMENTS and CONSULT over local files and web pages (module doc)."""

    def __init__(self, folders_paths: list[str] | None = None,
                 web_urls: list[str] | None = None) -> None:
        super().__init__("Local Files and Web Grounding")
        self.local_files_grounding_connector = LocalFilesGroundingConnector(
            folders_paths=folders_paths)
        self.web_grounding_connector = WebPagesGroundingConnector(web_urls=web_urls)

    @property
    def connectors(self) -> list[Any]:
        """The local files connector, then the web pages connector."""
        return [self.local_files_grounding_connector, self.web_grounding_connector]

    # --- the actions ------------------------------------------------------------------

    def process_action(self, agent: Any, action: dict[str, Any]) -> bool:
        """Answer CONSULT or LIST_DOCUMENTS with a THOUGHT; True if `action` was one."""
        kind = str(action.get("type", "")).upper()
        if kind == "LIST_DOCUMENTS":
            names = self.list_documents()
            agent.think("The documents I can consult are: " + "; ".join(names) if names
                        else "I have no documents to consult.")
            return True
        if kind != "CONSULT":
            return False
        target = str(action.get("content") or "").strip()
        if not target:
            agent.think("I wanted to CONSULT a document, but did not say which one.")
            return True
        agent.think(self._consult(target, getattr(agent, "name", None)))
        return True

    def list_documents(self) -> list[str]:
        """The names of every document: files, then web pages."""
        return [name for connector in self.connectors for name in connector.list_sources()]

    def consult(self, name: str) -> list[str]:
        """The pages of the document `name` (see `find_name`); [] if no document has it.

        Raises `GroundingError` if it is a web page that cannot be fetched.
        """
        for connector in self.connectors:
            found = connector.find_name(name)
            if found is not None:
                return connector.retrieve_by_name(found)
        return []

    def retrieve_relevant(self, relevance_target: str, top_k: int = 20,
                          user: str | None = None) -> list[MemoryHit]:
        """The passages of all documents most similar to `relevance_target`, best first."""
        hits = [hit for connector in self.connectors
                for hit in connector.search(relevance_target, top_k, user=user)]
        hits.sort(key=lambda hit: -hit.score)
        return hits[:top_k]

    def _consult(self, target: str, user: str | None) -> str:
        try:
            pages = self.consult(target)
        except GroundingError as exc:
            logger.warning("CONSULT %r: %s", target, exc)
            return f"I tried to consult '{target}', but could not open it: {exc}"
        if pages:
            return _bounded(f"I consulted '{target}' and read:\n\n" + "\n\n".join(pages))
        try:
            hits = self.retrieve_relevant(target, PASSAGES_PER_QUERY, user=user)
        except (LLMError, ImportError, ValueError) as exc:
            logger.warning("CONSULT %r: searching the documents failed: %s", target, exc)
            return f"No document is named '{target}', and I could not search my documents."
        if not hits:
            return f"I can't find any document named '{target}', nor anything about it."
        passages = "\n\n".join(f"From {hit.source}:\n{hit.text}" for hit in hits)
        return _bounded(f"No document is named '{target}', but these passages of my "
                        f"documents are about it:\n\n{passages}")

    # --- prompts ----------------------------------------------------------------------

    def actions_definitions_prompt(self) -> str:
        """The LIST_DOCUMENTS and CONSULT actions."""
        return _DEFINITIONS

    def actions_constraints_prompt(self) -> str:
        """When to list and consult documents."""
        return _CONSTRAINTS

    # --- state ------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Name, folders, single files and web URLs (not the documents' text)."""
        local, web = self.local_files_grounding_connector, self.web_grounding_connector
        return {**super().to_state(), "folders_paths": list(local.folders_paths),
                "file_paths": list(local.file_paths), "web_urls": list(web.web_urls)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FilesAndWebGroundingFaculty:
        """The faculty of `state`: folders and files read again, pages fetched when needed.

        A saved file that can no longer be read is logged and skipped.
        """
        faculty = cls(folders_paths=list(state.get("folders_paths") or []),
                      web_urls=list(state.get("web_urls") or []))
        faculty.name = state.get("name", faculty.name)
        for path in state.get("file_paths") or []:
            try:
                faculty.local_files_grounding_connector.add_file_path(path)
            except GroundingError as exc:
                logger.warning("grounding: skipped %s", exc)
        return faculty


def _bounded(text: str) -> str:
    if len(text) <= MAX_CONSULT_CHARS:
        return text
    return text[: MAX_CONSULT_CHARS - 40] + "\n[... the rest is too long to read now]"
