"""Grounding connectors: documents an agent can list, consult by name and search by meaning.

Upstream's classes and methods (microsoft/TinyTroupe ``tinytroupe/agent/grounding.py``)
without llama-index:

- `BaseSemanticGroundingConnector`: named `Document` pages, indexed passage by passage
  in a `SemanticMemory`; `list_sources()`, `retrieve_by_name(name)` (the pages of a
  document, each cut to `MAX_PAGE_CHARS`), `retrieve_relevant(relevance_target,
  top_k=20)` (the best passages, each a text of three lines: ``SOURCE:``,
  ``SIMILARITY SCORE:`` and ``RELEVANT CONTENT:``), `search` (the same as `MemoryHit`s).
- `LocalFilesGroundingConnector(folders_paths=...)`: the files of folders (not their
  subfolders; hidden files skipped), by file name: text and Markdown (any UTF-8 text
  file), PDF (one document page per PDF page, with pypdf) and Word .docx (python-docx);
  pypdf and python-docx come with the ``grounding`` extra. A folder that does not exist,
  or a file that cannot be read, is logged and skipped when folders are given to the
  constructor (as upstream); `add_file_path` raises `GroundingError`.
- `WebPagesGroundingConnector(web_urls=...)`: web pages by URL, fetched only when they
  are needed (a search, or consulting that page) or explicitly added (`add_web_url`),
  over urllib3, with a bounded size and time. A page that cannot be fetched (no network,
  unknown host, HTTP error) raises `GroundingError` naming the URL when it was asked
  for by name or added; a search skips it (logged once) instead. Only configured URLs
  are ever fetched: nothing an agent says makes the connector fetch another address.

Everything read is untrusted text: it is sanitised, and bounded (`MAX_FILE_BYTES`,
`MAX_PAGE_BYTES`) while it is read. All connectors are thread-safe.
"""

from __future__ import annotations

import codecs
import html.parser
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3

from tinytroupe.agent.semantic_memory import MemoryHit, SemanticMemory
from tinytroupe.sanitize import clean_text

logger = logging.getLogger("tinytroupe")

__all__ = [
    "BaseSemanticGroundingConnector", "Document", "GroundingConnector", "GroundingError",
    "LocalFilesGroundingConnector", "WebPagesGroundingConnector", "fetch_web_page",
    "html_to_text", "read_file",
]

#: Characters of one page returned by `retrieve_by_name`.
MAX_PAGE_CHARS = 10_000
#: Largest local file read.
MAX_FILE_BYTES = 50 * 1024 * 1024
#: Largest web page read.
MAX_PAGE_BYTES = 5 * 1024 * 1024
#: Seconds a web page may take to arrive.
WEB_TIMEOUT = 30.0

_PDF, _DOCX = ".pdf", ".docx"
_NOT_TEXT = frozenset({".doc", ".xls", ".xlsx", ".ppt", ".pptx", ".zip", ".gz", ".png", ".jpg",
                       ".jpeg", ".gif", ".bmp", ".mp3", ".mp4", ".exe", ".so", ".dll", ".bin"})


class GroundingError(Exception):
    """A document source cannot be read or fetched; the message names it and says why."""


@dataclass
class Document:
    """One page of a source: its text, the source's name, the page number (from 0)."""

    text: str
    name: str
    page: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


# --- connectors -------------------------------------------------------------------------

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


class LocalFilesGroundingConnector(BaseSemanticGroundingConnector):
    """The files of local folders (module doc)."""

    def __init__(self, name: str = "Local Files", folders_paths: list[str] | None = None) -> None:
        super().__init__(name)
        self.folders_paths: list[str] = []
        self.loaded_folders_paths: list[str] = []
        self.file_paths: list[str] = []  # files added one by one
        self._load_lock = threading.Lock()  # one folder loaded at a time
        self.add_folders(folders_paths or [])

    def add_folders(self, folders_paths: list[str]) -> None:
        """Add each folder's files; a folder that cannot be read is logged and skipped."""
        if isinstance(folders_paths, (str, os.PathLike)):
            folders_paths = [folders_paths]
        for folder in folders_paths or []:
            try:
                self.add_folder(folder)
            except GroundingError as exc:
                logger.warning("grounding: %s (working folder: %s)", exc, os.getcwd())

    def add_folder(self, folder_path: str) -> None:
        """Add the files of `folder_path` (not of its subfolders); each folder once.

        Raises `GroundingError` if it is not a readable folder; a file in it that cannot
        be read is logged and skipped.
        """
        folder = os.fspath(folder_path)
        with self._lock:
            if folder not in self.folders_paths:
                self.folders_paths.append(folder)
        with self._load_lock:
            if folder not in self.loaded_folders_paths:
                self._load_folder(folder)

    def _load_folder(self, folder: str) -> None:
        if not os.path.isdir(folder):
            raise GroundingError(f"folder {folder!r} does not exist or is not a folder")
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise GroundingError(f"folder {folder!r} cannot be read: {exc.strerror}") from None
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            try:
                self.add_documents(read_file(entry.path))
            except GroundingError as exc:
                logger.warning("grounding: skipped %s", exc)
        with self._lock:
            self.loaded_folders_paths.append(folder)

    def add_file_path(self, file_path: str) -> None:
        """Add one file (raises `GroundingError` if it cannot be read)."""
        path = os.fspath(file_path)
        self.add_documents(read_file(path))
        with self._lock:
            if path not in self.file_paths:
                self.file_paths.append(path)


class WebPagesGroundingConnector(BaseSemanticGroundingConnector):
    """Web pages, fetched when first needed (module doc)."""

    def __init__(self, name: str = "Web Pages", web_urls: list[str] | None = None,
                 timeout: float = WEB_TIMEOUT) -> None:
        super().__init__(name)
        self.timeout = timeout
        self.web_urls: list[str] = []
        self.loaded_web_urls: list[str] = []
        self.failed_web_urls: dict[str, str] = {}  # URL -> why it could not be fetched
        self._fetch_lock = threading.Lock()
        for url in web_urls or []:
            self._remember(url)

    def _remember(self, url: str) -> str:
        url = _checked_url(url)
        with self._lock:
            if url not in self.web_urls:
                self.web_urls.append(url)
        return url

    def add_web_urls(self, web_urls: list[str]) -> None:
        """Fetch and add these pages now; raises `GroundingError` for the first that fails.

        The pages fetched before it stay added.
        """
        for url in web_urls:
            self.add_web_url(url)

    def add_web_url(self, web_url: str) -> None:
        """Fetch and add this page now (raises `GroundingError` if it cannot be fetched)."""
        self._load(self._remember(web_url), retry=True)

    def list_sources(self) -> list[str]:
        """Every configured URL (pages not fetched yet included: listing fetches nothing)."""
        with self._lock:
            return list(self.web_urls)

    def retrieve_by_name(self, name: str) -> list[str]:
        """The page at URL `name`, fetched first if needed ([] for an unknown URL).

        Raises `GroundingError` if it cannot be fetched.
        """
        with self._lock:
            known = name in self.web_urls
        if not known:
            return []
        self._load(name, retry=True)
        return super().retrieve_by_name(name)

    def search(self, query: str, top_k: int = 20, user: str | None = None) -> list[MemoryHit]:
        """Fetch the pages not tried yet (failures logged and skipped), then search them."""
        self.load_pending()
        return super().search(query, top_k, user)

    def load_pending(self) -> None:
        """Fetch every configured page not fetched or tried yet; failures are logged."""
        with self._lock:
            pending = [u for u in self.web_urls
                       if u not in self.loaded_web_urls and u not in self.failed_web_urls]
        for url in pending:
            try:
                self._load(url, retry=False)
            except GroundingError as exc:
                logger.warning("grounding: %s", exc)

    def _load(self, url: str, retry: bool) -> None:
        with self._fetch_lock:
            with self._lock:
                if url in self.loaded_web_urls or (not retry and url in self.failed_web_urls):
                    return
            try:
                document = fetch_web_page(url, self.timeout)
            except GroundingError as exc:
                with self._lock:
                    self.failed_web_urls[url] = str(exc)
                raise
            self.add_documents([document])
            with self._lock:
                self.loaded_web_urls.append(url)
                self.failed_web_urls.pop(url, None)


# --- reading ----------------------------------------------------------------------------

def read_file(path: str | os.PathLike[str]) -> list[Document]:
    """The pages of a local file, named by its file name (raises `GroundingError`).

    PDF: a page per PDF page (pypdf); .docx: one page (python-docx); other files: one
    page of UTF-8 text (refused if they look binary).
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise GroundingError(f"file {path!r} cannot be read: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise GroundingError(f"file {path!r} is larger than {MAX_FILE_BYTES} bytes")
    suffix = Path(path).suffix.lower()
    metadata = {"file_name": name, "file_path": path}
    if suffix == _PDF:
        texts = _pdf_pages(path)
    elif suffix == _DOCX:
        texts = [_docx_text(path)]
    elif suffix in _NOT_TEXT:
        raise GroundingError(f"file {path!r}: {suffix} files are not supported")
    else:
        texts = [_plain_text(path)]
    return [Document(clean_text(text), name, page, dict(metadata))
            for page, text in enumerate(texts)]


def _plain_text(path: str) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise GroundingError(f"file {path!r} cannot be read: {exc.strerror}") from None
    if b"\x00" in data[:8192]:
        raise GroundingError(f"file {path!r} is not text (and not PDF or .docx)")
    return data.decode("utf-8-sig", errors="replace")


def _pdf_pages(path: str) -> list[str]:
    try:
        import pypdf
    except ImportError:
        raise GroundingError(f"file {path!r}: reading PDF files needs pypdf "
                             "(pip install 'tinytroupe[grounding]')") from None
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise GroundingError(f"file {path!r} is an encrypted PDF")
        return [page.extract_text() or "" for page in reader.pages]
    except GroundingError:
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file
        raise GroundingError(f"file {path!r} is not a readable PDF: "
                             f"{type(exc).__name__}: {exc}") from None


def _docx_text(path: str) -> str:
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError:
        raise GroundingError(f"file {path!r}: reading .docx files needs python-docx "
                             "(pip install 'tinytroupe[grounding]')") from None
    try:
        document = docx.Document(path)
        blocks = []
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                blocks.append(Paragraph(child, document).text)
            elif tag == "tbl":
                for row in Table(child, document).rows:
                    blocks.append(" | ".join(cell.text.strip() for cell in row.cells))
        return "\n\n".join(block for block in blocks if block.strip())
    except Exception as exc:  # a broken zip, broken XML, ...
        raise GroundingError(f"file {path!r} is not a readable .docx file: "
                             f"{type(exc).__name__}: {exc}") from None


_http = urllib3.PoolManager(num_pools=8, maxsize=4)


def fetch_web_page(url: str, timeout: float = WEB_TIMEOUT) -> Document:
    """The text of the web page at `url` (HTML reduced to its text), named by the URL.

    Raises `GroundingError` (naming the URL, without its credentials or query) when the
    page cannot be fetched: no network, unknown host, refused, timed out, an HTTP error,
    larger than `MAX_PAGE_BYTES`, or not text.
    """
    url = _checked_url(url)
    shown = _shown(url)
    try:
        response = _http.request(
            "GET", url, headers={"User-Agent": "tinytroupe-grounding/1",
                                 "Accept": "text/html, text/plain, text/markdown, */*;q=0.5"},
            timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
            retries=urllib3.Retry(total=5, connect=0, read=0, status=0, redirect=5,
                                  raise_on_redirect=True),
            preload_content=False)
    except urllib3.exceptions.MaxRetryError as exc:
        raise GroundingError(_unreachable(shown, exc.reason)) from None
    except urllib3.exceptions.HTTPError as exc:
        raise GroundingError(_unreachable(shown, exc)) from None
    try:
        if response.status >= 400:
            raise GroundingError(f"web page {shown} answered HTTP {response.status}")
        chunks, received = [], 0
        while chunk := response.read(65536):
            received += len(chunk)
            if received > MAX_PAGE_BYTES:
                raise GroundingError(f"web page {shown} is larger than {MAX_PAGE_BYTES} bytes")
            chunks.append(chunk)
    except urllib3.exceptions.HTTPError as exc:
        raise GroundingError(_unreachable(shown, exc)) from None
    finally:
        response.close()  # a page is fetched once: no connection is kept for it
    kind = (response.headers.get("Content-Type") or "text/html").lower()
    mime = kind.split(";", 1)[0].strip()
    if not (mime.startswith("text/") or mime in {"application/xhtml+xml", "application/json"}):
        raise GroundingError(f"web page {shown} is {mime}, not text")
    text = b"".join(chunks).decode(_charset(kind), errors="replace")
    if "html" in mime:
        text = html_to_text(text)
    return Document(clean_text(text), url, 0, {"url": url, "content_type": mime})


def _charset(content_type: str) -> str:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type)
    if match:
        try:
            return codecs.lookup(match.group(1)).name
        except LookupError:
            pass
    return "utf-8"


def _unreachable(shown: str, reason: Any) -> str:
    kind = type(reason).__name__
    if isinstance(reason, (urllib3.exceptions.NewConnectionError,
                           urllib3.exceptions.NameResolutionError,
                           urllib3.exceptions.ConnectTimeoutError)):
        why = "the host cannot be reached (no network access, or a wrong address)"
    elif isinstance(reason, urllib3.exceptions.TimeoutError):
        why = "it took too long to answer"
    elif isinstance(reason, urllib3.exceptions.ResponseError):
        why = "too many redirects"
    else:
        why = "the request failed"
    return f"web page {shown} cannot be fetched: {why} ({kind})"


def _checked_url(url: str) -> str:
    url = str(url).strip()
    scheme = urllib3.util.parse_url(url).scheme if url else None
    if scheme not in {"http", "https"}:
        raise GroundingError(f"web page address {url[:200]!r} is not an http(s) URL")
    return url


def _shown(url: str) -> str:
    """`url` fit for messages: scheme, host, port and path (no credentials, no query)."""
    parts = urllib3.util.parse_url(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.host}{port}{parts.path or ''}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 6] + " [...]"


class _TextExtractor(html.parser.HTMLParser):
    """The visible text of an HTML page, a line per block."""

    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
                        "section", "article", "header", "footer", "pre", "blockquote", "table",
                        "ul", "ol", "title", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skipping += 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skipping:
            self._skipping -= 1
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title or not self._skipping:
            self.parts.append(data)


def html_to_text(page: str) -> str:
    """The visible text of an HTML page: no scripts or styles, a line per block."""
    extractor = _TextExtractor()
    extractor.feed(page)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
