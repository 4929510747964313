"""HTTP transports: one POST to one endpoint, bounded as a whole, nothing else.

The client (`tinytroupe.clients.openai_client`) keeps retries, the provider gate,
usage and key redaction; a transport only moves bytes. Two implementations, one
contract (`post`), one test suite run against each:

* `CurlTransport` (libcurl through pycurl; the default when pycurl imports): the whole
  exchange, header parsing included, runs in C with the GIL released, so a request
  costs about a third of the CPU of the urllib3 path (docs/benchmarks.md), which is
  what bounds a thousand-agent step on one process;
* `Urllib3Transport`: pure Python, and the one whose exchanges an `Abort` can cut short
  mid-flight, so hedged requests (``HEDGE_AFTER``) use it.

``HTTP_TRANSPORT`` (`auto`, `curl`, `urllib3`) chooses. Contract of ``post(payload,
abort=None)``: returns ``(status, Retry-After header or None, body)``; the exchange
(connect, send, wait, read) takes at most `timeout` seconds in all, even for a body
that trickles in; a body over `max_response_bytes` is dropped while it is read;
failures raise `TransportError` (``timed_out`` says which kind), or `HedgeLost` when
`abort` cut the exchange short.
"""

from __future__ import annotations

import queue
import ssl
import threading
import time
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from tinytroupe.clients.hedging import (
    Abort,
    HedgeLost,
    abortable_pool,
    exchange_abort,
    schedule_at,
)

Answer = tuple[int, "str | None", bytes]


class TransportError(Exception):
    """One exchange failed: connection, protocol, timeout, or an over-long body."""

    def __init__(self, message: str, timed_out: bool = False, retryable: bool = True) -> None:
        super().__init__(message)
        self.timed_out, self.retryable = timed_out, retryable


class _Base:
    def __init__(self, url: str, shown_url: str, headers: dict[str, str], timeout: float,
                 max_response_bytes: int) -> None:
        self.url, self.shown_url, self.headers = url, shown_url, headers
        self.timeout, self.max_response_bytes = timeout, max_response_bytes

    def _timed_out(self) -> TransportError:
        return TransportError(f"request to {self.shown_url} timed out after {self.timeout} s",
                              timed_out=True)

    def _too_large(self) -> TransportError:
        return TransportError(f"{self.shown_url} answered more than MAX_RESPONSE_BYTES "
                              f"({self.max_response_bytes} bytes); the answer was dropped",
                              retryable=False)

    def _refused(self) -> TransportError:
        return TransportError(f"cannot connect to {self.shown_url}: connection refused or "
                              "unreachable")


class Urllib3Transport(_Base):
    """POSTs over one shared urllib3 pool; exchanges can be cut short (module doc)."""

    name = "urllib3"

    def __init__(self, url: str, shown_url: str, headers: dict[str, str], timeout: float,
                 max_response_bytes: int, pool_size: int = 1024) -> None:
        super().__init__(url, shown_url, headers, timeout, max_response_bytes)
        # One pool for the one host: skips PoolManager's per-request URL parsing and lookup.
        self._pool = abortable_pool(url, pool_size)
        self._path = urllib3.util.parse_url(url).request_uri
        self._timeout = urllib3.Timeout(connect=min(timeout, 10.0), read=timeout)

    def post(self, payload: bytes, abort: Abort | None = None) -> Answer:
        """One exchange (module doc).

        Every exchange has an `Abort`: the caller's (a hedged copy), or its own. At the
        deadline a timer cuts it short, so headers trickling in slowly are bounded too,
        not only the body.
        """
        hedged = abort is not None
        cut = abort if abort is not None else Abort()
        timer = schedule_at(self.timeout, cut.expire)
        try:
            with exchange_abort(cut):
                return self._post(payload, cut)
        except TransportError:
            if cut.expired:
                raise self._timed_out() from None
            if hedged and cut.aborted:
                raise HedgeLost() from None
            raise
        finally:
            timer.cancel()

    def _post(self, payload: bytes, cut: Abort) -> Answer:
        deadline = time.monotonic() + self.timeout
        try:
            response = self._pool.urlopen(
                "POST", self._path, body=payload, headers=self.headers, timeout=self._timeout,
                retries=False, redirect=False, preload_content=False)
            chunks, received = [], 0
            # read1 returns whatever has arrived, so a body trickling in byte by byte is
            # checked against the deadline at every byte, not every 64 KiB
            while chunk := response.read1(65536):
                chunks.append(chunk)
                received += len(chunk)
                if time.monotonic() > deadline:
                    response.close()  # drop the socket: it may still be receiving
                    raise self._timed_out()
                if received > self.max_response_bytes:
                    response.close()
                    raise self._too_large()
            # Detached before the connection goes back to the pool: from here on, a late
            # abort cannot shut down a socket another request may already be using.
            if not cut.detach():
                response.close()
                raise TransportError("cut short")
            response.release_conn()
        except NewConnectionError as exc:  # urllib3 files it under timeouts; it is not one
            raise self._refused() from exc
        except Urllib3Timeout as exc:
            raise self._timed_out() from exc
        except (Urllib3Error, ValueError, OSError) as exc:  # ValueError: TLS shut under a read
            raise TransportError(f"request to {self.shown_url} failed: "
                                 f"{type(exc).__name__}") from exc
        return response.status, response.headers.get("Retry-After"), b"".join(chunks)

    def close(self) -> None:
        """Close the pool's connections."""
        self._pool.close()


class CurlTransport(_Base):
    """POSTs through libcurl easy handles kept in a pool (module doc)."""

    name = "curl"

    def __init__(self, url: str, shown_url: str, headers: dict[str, str], timeout: float,
                 max_response_bytes: int, pool_size: int = 1024) -> None:
        import pycurl

        super().__init__(url, shown_url, headers, timeout, max_response_bytes)
        self._curl = pycurl
        # "Expect:" off: libcurl would otherwise wait for a 100 Continue on large bodies
        self._header_lines = [f"{k}: {v}" for k, v in headers.items()] + ["Expect:"]
        self._handles: queue.SimpleQueue[Any] = queue.SimpleQueue()  # idle handles
        self._pool_size = pool_size  # idle handles kept at most
        self._lock = threading.Lock()  # closing vs handing a handle back
        self._closed = False
        # Certificates from where Python's ssl (and so the urllib3 path) finds them, not
        # from a path compiled into the wheel's libcurl that may not exist here.
        self._ca = ssl.get_default_verify_paths()

    def _new_handle(self) -> Any:
        curl = self._curl
        handle = curl.Curl()
        handle.setopt(curl.URL, self.url)
        handle.setopt(curl.HTTPHEADER, self._header_lines)
        handle.setopt(curl.TIMEOUT_MS, max(1, int(self.timeout * 1000)))  # the whole exchange
        handle.setopt(curl.CONNECTTIMEOUT_MS, max(1, int(min(self.timeout, 10.0) * 1000)))
        handle.setopt(curl.NOSIGNAL, 1)  # threads: no SIGALRM for DNS timeouts
        handle.setopt(curl.PROXY, "")  # like the urllib3 path: no proxy from the environment
        handle.setopt(curl.HTTP_VERSION, curl.CURL_HTTP_VERSION_1_1)
        handle.setopt(curl.FOLLOWLOCATION, 0)
        if self._ca.cafile:
            handle.setopt(curl.CAINFO, self._ca.cafile)
        if self._ca.capath:
            handle.setopt(curl.CAPATH, self._ca.capath)
        return handle

    def post(self, payload: bytes, abort: Abort | None = None) -> Answer:
        """One exchange (module doc); an `abort` is not supported here (use urllib3)."""
        if abort is not None:
            raise ValueError("CurlTransport cannot cut an exchange short; hedged requests "
                             "use Urllib3Transport")
        try:
            handle = self._handles.get_nowait()
        except queue.Empty:
            handle = self._new_handle()
        try:
            return self._post(handle, payload)
        finally:
            self._give_back(handle)

    def _give_back(self, handle: Any) -> None:
        with self._lock:
            if not self._closed and self._handles.qsize() < self._pool_size:
                self._handles.put(handle)
                return
        handle.close()

    def _post(self, handle: Any, payload: bytes) -> Answer:
        curl, limit = self._curl, self.max_response_bytes
        chunks: list[bytes] = []
        received = [0]
        retry_after: list[str] = []

        def write(chunk: bytes) -> int | None:
            received[0] += len(chunk)
            if received[0] > limit:
                return 0  # libcurl stops the transfer (E_WRITE_ERROR)
            chunks.append(chunk)
            return None

        def header(line: bytes) -> None:
            if line[:12].lower() == b"retry-after:":
                retry_after.append(line[12:].decode("latin-1").strip())

        handle.setopt(curl.POSTFIELDS, payload)
        handle.setopt(curl.WRITEFUNCTION, write)
        handle.setopt(curl.HEADERFUNCTION, header)
        try:
            handle.perform()
        except curl.error as exc:
            code = exc.args[0] if exc.args else None
            if code == curl.E_OPERATION_TIMEDOUT:
                raise self._timed_out() from None
            if code == curl.E_WRITE_ERROR and received[0] > limit:
                raise self._too_large() from None
            if code in (curl.E_COULDNT_CONNECT, curl.E_COULDNT_RESOLVE_HOST):
                raise self._refused() from None
            detail = exc.args[1] if len(exc.args) > 1 else ""
            raise TransportError(f"request to {self.shown_url} failed: libcurl error "
                                 f"{code}: {detail}") from None
        finally:  # an idle handle keeps nothing of this exchange (libcurl copied the body)
            handle.setopt(curl.WRITEFUNCTION, _discard)
            handle.setopt(curl.HEADERFUNCTION, _discard)
            handle.setopt(curl.POSTFIELDS, b"")
        return (handle.getinfo(curl.RESPONSE_CODE), retry_after[-1] if retry_after else None,
                b"".join(chunks))

    def close(self) -> None:
        """Close the idle handles (and their connections); busy ones close when done."""
        with self._lock:
            self._closed = True
        while True:
            try:
                self._handles.get_nowait().close()
            except queue.Empty:
                return


def _discard(data: bytes) -> None:
    return None


def curl_available() -> bool:
    """Whether pycurl (libcurl) can be imported here."""
    try:
        import pycurl  # noqa: F401
    except ImportError:
        return False
    return True


def make_transport(kind: str, url: str, shown_url: str, headers: dict[str, str],
                   timeout: float, max_response_bytes: int, pool_size: int = 1024,
                   abortable: bool = False) -> CurlTransport | Urllib3Transport:
    """The transport for ``HTTP_TRANSPORT`` = `kind` (module doc).

    `auto` is curl when pycurl imports, unless exchanges must be `abortable`; `curl`
    without pycurl raises ImportError naming the package.
    """
    if kind == "curl" and not curl_available():
        raise ImportError("HTTP_TRANSPORT=curl needs pycurl: pip install 'pycurl>=7.45.3'")
    use_curl = kind == "curl" or (kind == "auto" and not abortable and curl_available())
    cls = CurlTransport if use_curl and not abortable else Urllib3Transport
    return cls(url, shown_url, headers, timeout, max_response_bytes, pool_size)
