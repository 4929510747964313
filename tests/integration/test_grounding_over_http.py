"""Embeddings and web grounding over real loopback HTTP.

A small local server (127.0.0.1) plays an OpenAI-compatible embeddings endpoint
(answering with the offline model's vectors) and a web site; nothing leaves the machine.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import FilesAndWebGroundingFaculty, SemanticMemory, TinyPerson
from tinytroupe.agent.grounding import GroundingError, WebPagesGroundingConnector
from tinytroupe.clients import Completion, LLMRequestError, usage
from tinytroupe.clients.embeddings import clear_embedding_clients, embed, offline_embedding

pytestmark = pytest.mark.integration

SECRET = "sk-test-EMBEDDINGS-0123456789abcdef"

PAGE = """<html><head><title>Harbour Café</title><script>var x = 1;</script></head>
<body><h1>Harbour Café</h1><p>We are open every day from 8 am to 6 pm.</p>
<p>Our speciality is the cinnamon bun, baked each morning.</p></body></html>"""


class Site:
    """What the local server answers, and what it was asked."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []  # statuses to answer before answering normally
        self.lock = threading.Lock()


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            with site.lock:
                site.requests.append({"method": "GET", "path": self.path})
            if self.path == "/cafe.html":
                self._send(200, PAGE.encode(), "text/html; charset=utf-8")
            elif self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/cafe.html")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/logo.png":
                self._send(200, b"\x89PNG....", "image/png")
            else:
                self._send(404, b"not here", "text/plain")

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with site.lock:
                site.requests.append({"method": "POST", "path": self.path, "body": body,
                                      "headers": dict(self.headers)})
                status = site.fail_next.pop(0) if site.fail_next else 200
            if status != 200:
                self._send(status, json.dumps({"error": {"message": f"key {SECRET} no"}})
                           .encode(), "application/json")
                return
            data = [{"object": "embedding", "index": i, "embedding": offline_embedding(text)}
                    for i, text in reversed(list(enumerate(body["input"])))]  # any order
            answer = {"object": "list", "data": data, "model": body["model"],
                      "usage": {"prompt_tokens": 7 * len(data), "total_tokens": 7 * len(data)}}
            self._send(200, json.dumps(answer).encode(), "application/json")

    return Handler


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    """The local server: its record, and its base address ``http://127.0.0.1:PORT``."""
    record = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(record))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield record, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    clear_embedding_clients()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _point_at(base: str, monkeypatch: pytest.MonkeyPatch, api_type: str = "openai") -> None:
    monkeypatch.setenv("AZURE_OPENAI_KEY" if api_type == "azure" else "OPENAI_API_KEY", SECRET)
    for name, value in [("api_type", api_type), ("base_url", base), ("timeout", 5),
                        ("max_attempts", 3), ("retry_base_delay", 0.01),
                        ("retry_max_delay", 0.05)]:
        config_manager.set(name, value)


# --- embeddings -------------------------------------------------------------------------

def test_embeddings_come_from_the_endpoint_batched_counted_and_cached(site, monkeypatch) -> None:
    record, base = site
    _point_at(f"{base}/v1", monkeypatch)
    config_manager.set("embedding_model", "embed-small-test")
    texts = [f"http fact number {i}" for i in range(70)]
    vectors = embed(texts, user="Ann")
    assert vectors[3] == pytest.approx(offline_embedding(texts[3]), abs=1e-6)  # by index
    posts = [r for r in record.requests if r["method"] == "POST"]
    assert [p["path"] for p in posts] == ["/v1/embeddings"] * 2  # 64 + 6
    assert [len(p["body"]["input"]) for p in posts] == [64, 6]
    assert posts[0]["body"]["model"] == "embed-small-test" and posts[0]["body"]["user"] == "Ann"
    assert posts[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    used = usage.snapshot("Ann")
    assert used.requests == 2 and used.prompt_tokens == 7 * 70
    embed(texts[:10], user="Ann")  # cached
    assert usage.snapshot("Ann").requests == 2


def test_semantic_memory_searches_with_the_endpoints_vectors(site, monkeypatch) -> None:
    record, base = site
    _point_at(f"{base}/v1", monkeypatch)
    memory = SemanticMemory(["The server room code is 4711.", "Plants need water on Fridays."])
    assert memory.retrieve_relevant("server room code", top_k=1) == [
        "The server room code is 4711."]
    assert sum(r["method"] == "POST" for r in record.requests) == 2  # memories, then query


def test_transient_failures_are_retried_and_final_ones_carry_no_key(site, monkeypatch) -> None:
    record, base = site
    _point_at(f"{base}/v1", monkeypatch)
    record.fail_next = [500]
    assert len(embed(["retried text"], user="Bob")) == 1
    assert usage.snapshot("Bob").retries == 1
    record.fail_next = [401]
    with pytest.raises(LLMRequestError) as failure:
        embed(["refused text"], user="Bob")
    assert "401" in str(failure.value) and SECRET not in str(failure.value)
    assert usage.snapshot("Bob").failures == 1
    embed(["refused text"])  # nothing was cached from the failure: asked again
    assert sum(r["method"] == "POST" for r in record.requests) == 4


def test_azure_embeddings_use_the_embedding_deployment(site, monkeypatch) -> None:
    record, base = site
    _point_at(base, monkeypatch, api_type="azure")
    config_manager.set("embedding_model", "my-embeddings")
    embed(["azure text"])
    post = record.requests[-1]
    assert post["path"] == "/openai/deployments/my-embeddings/embeddings?api-version=2023-05-15"
    assert post["headers"]["api-key"] == SECRET


# --- web pages --------------------------------------------------------------------------

def _last_thought(agent: TinyPerson) -> str:
    return agent.episodic_memory.retrieve_all(item_type="stimulus")[-1][
        "content"]["stimuli"][0]["content"]


class Scripted:
    def __init__(self, *documents: dict) -> None:
        self.documents = list(documents)

    def complete(self, messages: list[dict], **params: object) -> Completion:
        document = self.documents.pop(0) if self.documents else {"actions": [{"type": "DONE"}]}
        return Completion(content=json.dumps(document))


def _act(kind: str, content: str = "") -> dict:
    return {"actions": [{"type": kind, "content": content, "target": ""}, {"type": "DONE"}],
            "cognitive_state": {}}


def test_web_pages_are_fetched_only_when_consulted(site, monkeypatch) -> None:
    record, base = site
    url = f"{base}/cafe.html"
    client = Scripted(_act("LIST_DOCUMENTS"), _act("CONSULT", url),
                      _act("CONSULT", "cinnamon bun"))
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
    agent = TinyPerson("Ann", mental_faculties=[FilesAndWebGroundingFaculty(web_urls=[url])])
    agent.act()
    assert url in _last_thought(agent) and record.requests == []  # listing fetches nothing
    agent.act()
    thought = _last_thought(agent)
    assert "open every day from 8 am to 6 pm" in thought and "var x" not in thought
    agent.act()
    assert "cinnamon bun, baked each morning" in _last_thought(agent)
    assert [r["path"] for r in record.requests] == ["/cafe.html"]  # fetched once


def test_web_fetch_errors_are_clear(site) -> None:
    _, base = site
    connector = WebPagesGroundingConnector(web_urls=[f"{base}/moved"])
    connector.add_web_url(f"{base}/moved")  # a redirect is followed
    assert "cinnamon" in connector.retrieve_by_name(f"{base}/moved")[0]
    with pytest.raises(GroundingError, match=r"/missing answered HTTP 404"):
        connector.add_web_url(f"{base}/missing")
    with pytest.raises(GroundingError, match="image/png, not text"):
        connector.add_web_url(f"{base}/logo.png")
    with pytest.raises(GroundingError, match="host cannot be reached"):
        connector.add_web_url(f"http://user:pw@127.0.0.1:{_closed_port()}/x?token=abc")
    message = str(connector.failed_web_urls[next(iter(connector.failed_web_urls))])
    assert all("pw@" not in m and "token" not in m for m in connector.failed_web_urls.values())
    assert message


def test_an_unreachable_page_is_reported_to_the_agent(monkeypatch, caplog) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/news"
    client = Scripted(_act("CONSULT", url), _act("CONSULT", "news today"))
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
    agent = TinyPerson("Ann", mental_faculties=[FilesAndWebGroundingFaculty(web_urls=[url])])
    agent.act()  # the turn stands
    thought = _last_thought(agent)
    assert thought.startswith(f"I tried to consult '{url}', but could not open it")
    assert "host cannot be reached" in thought
    agent.act()  # a search skips the page that failed (no second attempt, no error)
    assert "nor anything about it" in _last_thought(agent)


def test_recall_over_the_fake_server(llm_over_http) -> None:
    from tinytroupe.agent.semantic_memory import SemanticMemory

    memory = SemanticMemory()
    memory.store_all(["The ferry leaves at seven.", "Cats sleep a lot.", "Rent went up."])
    assert memory.retrieve_relevant("when does the ferry leave", top_k=1) == [
        "The ferry leaves at seven."]
    assert llm_over_http.stats()["outcomes"].get("ok", 0) >= 1  # embedded by the server
