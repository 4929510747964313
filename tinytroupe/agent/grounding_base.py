"""Grounding documents and connectors: named pages indexed for search by meaning.

`GroundingConnector` is the interface an agent's grounding faculty reads through.
`BaseSemanticGroundingConnector` keeps named `Document` pages, indexed passage by
passage in a `SemanticMemory`: `list_sources()`, `retrieve_by_name(name)` (the pages of
a document, each cut to `MAX_PAGE_CHARS`), `retrieve_relevant(relevance_target,
top_k=20)` (the best passages, each a text of three lines: ``SOURCE:``,
``SIMILARITY SCORE:`` and ``RELEVANT CONTENT:``), `search` (the same as `MemoryHit`s).
The local-files and web-pages connectors build on it; the overview is in
`tinytroupe.agent.grounding`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinytroupe.agent.semantic_memory import MemoryHit, SemanticMemory
from tinytroupe.sanitize import clean_text

__all__ = ["BaseSemanticGroundingConnector", "Document", "GroundingConnector",
           "GroundingError"]

#: Characters of one page returned by `retrieve_by_name`.
MAX_PAGE_CHARS = 10_000


class GroundingError(Exception):
    """A document source cannot be read or fetched; the message names it and says why."""


@dataclass
class Document:
    """One page of a source: its text, the source's name, the page number (from 0)."""

    text: str
    name: str
    page: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


class GroundingConnector:
    """A source of documents for an agent (abstract: subclasses implement the three reads)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def retrieve_relevant(self, relevance_target: str, top_k: int = 20) -> list[str]:
        """The passages most relevant to `relevance_target`, as texts, best first."""
        raise NotImplementedError

    def retrieve_by_name(self, name: str) -> list[str]:
        """The pages of the source named `name`, as texts ([] if there is none)."""
        raise NotImplementedError

    def list_sources(self) -> list[str]:
        """The names of the sources available."""
        raise NotImplementedError


class BaseSemanticGroundingConnector(GroundingConnector):
    """Named documents, indexed passage by passage for search by meaning (module doc)."""

    def __init__(self, name: str = "Semantic Grounding") -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        self._documents: list[Document] = []
        self._by_name: dict[str, list[Document]] = {}
        self.semantic_memory = SemanticMemory()

    @property
    def documents(self) -> list[Document]:
        """Every document page added, in order (a copy of the list)."""
        with self._lock:
            return list(self._documents)

    @property
    def name_to_document(self) -> dict[str, list[Document]]:
        """The pages of each source, by name (a copy)."""
        with self._lock:
            return {name: list(pages) for name, pages in self._by_name.items()}

    def add_document(self, document: Document | str,
                     doc_to_name_func: Callable[[Any], str] | None = None) -> None:
        """Add and index one document page (a `Document`, or a text)."""
        self.add_documents([document], doc_to_name_func)

    def add_documents(self, new_documents: list[Document | str],
                      doc_to_name_func: Callable[[Any], str] | None = None) -> None:
        """Add and index document pages; `doc_to_name_func` names each (default: its name)."""
        pages = []
        for document in new_documents:
            if not isinstance(document, Document):
                document = Document(text=str(document), name="(unnamed)")
            name = doc_to_name_func(document) if doc_to_name_func else document.name
            pages.append(Document(clean_text(document.text), clean_text(str(name)),
                                  document.page, dict(document.metadata)))
        with self._lock:
            for page in pages:
                self._documents.append(page)
                self._by_name.setdefault(page.name, []).append(page)
        for page in pages:
            self.semantic_memory.add_document(page.text, source=page.name)

    def list_sources(self) -> list[str]:
        """The names of the documents, in the order they were added."""
        with self._lock:
            return list(self._by_name)

    def find_name(self, name: str) -> str | None:
        """The source `name` refers to: exactly, ignoring case, or by file name or stem."""
        wanted = name.strip().strip("'\"`").strip()
        sources = self.list_sources()
        if wanted in sources:
            return wanted
        folded = wanted.casefold()
        for match in (lambda s: s.casefold() == folded,
                      lambda s: os.path.basename(s).casefold() == os.path.basename(folded),
                      lambda s: Path(s).stem.casefold() == folded):
            for source in sources:
                if match(source):
                    return source
        return None

    def retrieve_by_name(self, name: str) -> list[str]:
        """The pages of the document `name`, each cut to `MAX_PAGE_CHARS` ([] if none)."""
        with self._lock:
            pages = list(self._by_name.get(name, []))
        return [f"SOURCE: {name}\nPAGE: {page.page}\nCONTENT:\n{_cut(page.text, MAX_PAGE_CHARS)}"
                for page in pages]

    def search(self, query: str, top_k: int = 20, user: str | None = None) -> list[MemoryHit]:
        """The passages most similar to `query`, best first (those with no similarity left out)."""
        return self.semantic_memory.search(query, top_k, min_score=0.0, user=user)

    def retrieve_relevant(self, relevance_target: str, top_k: int = 20) -> list[str]:
        """The `top_k` passages most similar to `relevance_target`, with source and score."""
        return [f"SOURCE: {hit.source}\nSIMILARITY SCORE: {hit.score:.4f}\n"
                f"RELEVANT CONTENT: {hit.text}" for hit in self.search(relevance_target, top_k)]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 6] + " [...]"
