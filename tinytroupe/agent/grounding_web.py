"""Web pages as grounding documents, fetched only from configured URLs.

`fetch_web_page` fetches one page over urllib3, with a bounded size (`MAX_PAGE_BYTES`)
and time (`WEB_TIMEOUT`); `html_to_text` reduces HTML to its visible text.
`WebPagesGroundingConnector(web_urls=...)` serves web pages by URL, fetched only when
they are needed (a search, or consulting that page) or explicitly added
(`add_web_url`). A page that cannot be fetched (no network, unknown host, HTTP error)
raises `GroundingError` naming the URL when it was asked for by name or added; a
search skips it (logged once) instead. Only configured URLs are ever fetched: nothing
an agent says makes the connector fetch another address.
"""

from __future__ import annotations

import codecs
import html.parser
import logging
import re
import threading
from typing import Any

import urllib3

from tinytroupe.agent.grounding_base import (
    BaseSemanticGroundingConnector,
    Document,
    GroundingError,
)
from tinytroupe.agent.semantic_memory import MemoryHit
from tinytroupe.sanitize import clean_text

logger = logging.getLogger("tinytroupe")

__all__ = ["WebPagesGroundingConnector", "fetch_web_page", "html_to_text"]

#: Largest web page read.
MAX_PAGE_BYTES = 5 * 1024 * 1024
#: Seconds a web page may take to arrive.
WEB_TIMEOUT = 30.0


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
