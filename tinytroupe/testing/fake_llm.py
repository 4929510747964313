"""A fake OpenAI-compatible chat-completions server, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` (also ``/chat/completions`` and Azure's
``/openai/deployments/{deployment}/chat/completions``), and ``/v1/embeddings`` with the
offline model's deterministic embeddings, on 127.0.0.1 over real HTTP, with
content from a pluggable responder (by default the offline model), after a configurable
latency, with faults injected per `FaultPlan`. It is an asyncio (aiohttp) server: a
thousand concurrent requests cost a thousand sleeping coroutines, not threads.

Control endpoints: ``GET /stats`` (``?timestamps=1`` adds arrival times,
``?latencies=1`` the latency drawn for each request), ``POST /stats/reset``,
``POST /config`` with ``{"latency": s | [min, max] | {distribution},
"latency_range": [min, max], "faults": {FaultPlan fields}, "storm": {"kind", "seconds"}}``
(latency distributions, heavy-tailed ones included: `tinytroupe.testing.latency`).

Use in process with ``with FakeLLMServer(latency=0.1) as server: ... server.base_url``
(a daemon thread runs the event loop), or out of process with `FakeLLMServer.spawn`
(a `tinytroupe.testing.process.FakeLLMProcess`, which keeps the server's CPU out of the
client's GIL), or from the command line::

    python -m tinytroupe.testing.fake_llm --port 0 --latency 0.2 --p-429 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tinytroupe.clients.offline import OfflineModel, agent_name
from tinytroupe.testing.faults import KINDS, FaultPlan, FaultPolicy
from tinytroupe.testing.latency import Latency, LatencySpec
from tinytroupe.testing.process import ServerAddress
from tinytroupe.testing.stats import OUTCOMES, RequestStats
from tinytroupe.testing.wire import completion, error_response, truncate_json

if TYPE_CHECKING:  # process.py is imported on first use (see FakeLLMServer.spawn)
    from tinytroupe.testing.process import FakeLLMProcess

__all__ = ["OUTCOMES", "FakeLLMApp", "FakeLLMServer", "RequestStats", "Responder", "main"]

Responder = Callable[[list[dict[str, Any]]], str]
#: Rewrites a completion document before it is sent (tests of hostile endpoints):
#: returns the document to send, or raw bytes to send as the body.
Rewriter = Callable[[dict[str, Any]], "dict[str, Any] | bytes"]
EMBEDDING_PATHS = (
    "/v1/embeddings",
    "/embeddings",
    "/openai/deployments/{deployment}/embeddings",
)
COMPLETION_PATHS = (
    "/v1/chat/completions",
    "/chat/completions",
    "/openai/deployments/{deployment}/chat/completions",
)


def _not_a_client_disconnect(record: logging.LogRecord) -> bool:
    """Drop aiohttp's error record for a client that closed its connection mid-request.

    Clients do that on purpose (a hedged request's losing copy, a timed-out call).
    """
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, ConnectionResetError)


logging.getLogger("aiohttp.server").addFilter(_not_a_client_disconnect)


class FakeLLMApp:
    """The server's state and handlers; runs in one event loop (`serve`)."""

    def __init__(self, latency: LatencySpec = 0.0, faults: FaultPlan | None = None,
                 responder: Responder | None = None, seed: int = 0,
                 rewrite: Rewriter | None = None) -> None:
        # A custom responder sees the messages; the default (the offline model) also
        # sees the request's response_format, so it answers any JSON Schema.
        self.responder: Responder = responder or OfflineModel().complete
        self._sees_schema = responder is None
        self.rewrite = rewrite
        self.policy = FaultPolicy(faults)
        self.latency = Latency(latency, seed)
        self.seed = seed
        self.stats = RequestStats()
        self._stopping: asyncio.Event | None = None

    def configure(self, latency: LatencySpec | None = None,
                  faults: FaultPlan | None = None) -> None:
        """Change latency and/or the fault plan (None leaves it as is). Thread-safe."""
        if latency is not None:
            self.latency = Latency(latency, self.seed)
        if faults is not None:
            self.policy.set_plan(faults)

    def fail_all_until(self, seconds: float | None = None, kind: str = "429",
                       deadline: float | None = None) -> float:
        """Every request gets `kind` for `seconds` (or until monotonic `deadline`); the deadline."""
        if deadline is None:
            deadline = time.monotonic() + (seconds or 0.0)
        self.policy.fail_all_until(deadline, kind)
        return deadline

    def make_app(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for path in COMPLETION_PATHS:
            app.router.add_post(path, self._completions)
        for path in EMBEDDING_PATHS:
            app.router.add_post(path, self._embeddings)
        app.router.add_get("/stats", self._get_stats)
        app.router.add_post("/stats/reset", self._reset_stats)
        app.router.add_post("/config", self._config)
        return app

    async def serve(self, host: str, port: int, on_ready: Callable[[int], None],
                    stop: asyncio.Event) -> None:
        """Listen on host:port, call ``on_ready(port)`` once accepting, serve until `stop`.

        On stop, hung requests are released (answered 503) before the runner shuts down.
        """
        self._stopping = stop
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, backlog=2048, reuse_address=True)
            await site.start()
            on_ready(runner.addresses[0][1])
            await stop.wait()
            await asyncio.sleep(0)  # let released handlers answer first
        finally:
            await runner.cleanup()

    # --- handlers -----------------------------------------------------------------------

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        self.stats.enter()
        try:
            return await self._answer(request)
        finally:
            self.stats.leave()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
            messages = body["messages"]
            if not isinstance(messages, list):
                raise TypeError("messages is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            self.stats.count("bad_request")
            return error_response(400, f"invalid chat-completions request: {exc!r}",
                                  "invalid_request")
        user = body.get("user") if isinstance(body.get("user"), str) else None
        names = [n for n in (agent_name(messages), user) if n]
        agent = names[0] if names else None
        wait = self.policy.over_quota()
        if wait is not None:
            self.stats.count("limited", agent)
            return error_response(429, "rate limit reached (fake provider quota)",
                                  "rate_limit_exceeded",
                                  {"Retry-After": f"{max(wait, 0.001):.3f}"})
        kind = self.policy.choose(names)
        if kind == "hang":
            self.stats.count("hang", agent)
            return await self._hang()
        wait = self.latency.draw()
        self.stats.record_latency(wait)
        await asyncio.sleep(wait)
        if kind in ("429", "500"):
            self.stats.count(kind, agent)
            return self._http_fault(kind)
        try:
            content = (self.responder(messages, body.get("response_format"))  # type: ignore[call-arg]
                       if self._sees_schema else self.responder(messages))
        except Exception as exc:  # a broken responder is the test's bug: say so
            self.stats.count("error", agent)
            return error_response(500, f"responder failed: {exc!r}", "responder_error")
        self.stats.count(kind or "ok", agent)
        if kind == "malformed":
            content = truncate_json(content)
        document: dict[str, Any] | bytes = completion(body, messages, content)
        if self.rewrite is not None:
            document = self.rewrite(document)
        payload = document if isinstance(document, bytes) else json.dumps(document).encode()
        if kind == "bad_body":
            return web.Response(body=payload[: len(payload) // 2], content_type="application/json")
        if kind == "slow_drip":
            return await self._drip(request, payload, self.policy.plan.drip_seconds)
        return web.Response(body=payload, content_type="application/json")

    async def _embeddings(self, request: web.Request) -> web.Response:
        """The offline model's embeddings of ``input`` (a string or a list of strings)."""
        from tinytroupe.clients.embeddings import offline_embedding

        try:
            body = json.loads(await request.read())
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            if not all(isinstance(t, str) for t in texts):
                raise TypeError("input must be strings")
        except (ValueError, KeyError, TypeError) as exc:
            self.stats.count("bad_request")
            return error_response(400, f"invalid embeddings request: {exc!r}",
                                  "invalid_request")
        await asyncio.sleep(self.latency.draw())
        self.stats.count("ok")
        tokens = sum(len(t) // 4 + 1 for t in texts)
        return web.json_response({
            "object": "list", "model": body.get("model", "fake-embeddings"),
            "data": [{"object": "embedding", "index": i, "embedding": offline_embedding(t)}
                     for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def _http_fault(self, kind: str) -> web.Response:
        if kind == "500":
            return error_response(500, "injected internal server error", "server_error")
        seconds = round(self.policy.retry_after(), 3)
        text = str(int(seconds)) if seconds == int(seconds) else str(seconds)
        return error_response(429, "injected rate limit", "rate_limit_exceeded",
                              {"Retry-After": text})

    async def _hang(self) -> web.Response:
        assert self._stopping is not None
        await self._stopping.wait()
        return error_response(503, "server stopped while the request hung", "server_stopping")

    async def _drip(self, request: web.Request, payload: bytes, seconds: float
                    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(payload)
        await response.prepare(request)
        size = max(1, math.ceil(len(payload) / 20))
        chunks = [payload[start : start + size] for start in range(0, len(payload), size)]
        try:
            for chunk in chunks:
                await self._pause(seconds / len(chunks))
                await response.write(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client gave up
        return response

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the server is stopping."""
        assert self._stopping is not None
        if not self._stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _get_stats(self, request: web.Request) -> web.Response:
        def wanted(flag: str) -> bool:
            return request.query.get(flag, "") not in ("", "0", "false")

        return web.json_response(self.stats.snapshot(timestamps=wanted("timestamps"),
                                                     latencies=wanted("latencies")))

    async def _reset_stats(self, request: web.Request) -> web.Response:
        self.stats.reset()
        return web.json_response(self.stats.snapshot())

    async def _config(self, request: web.Request) -> web.Response:
        try:
            self.apply_config(json.loads(await request.read() or b"{}"))
        except (ValueError, TypeError, KeyError) as exc:
            return error_response(400, f"bad /config: {exc}", "invalid_request")
        return web.json_response(self.config())

    def apply_config(self, data: dict[str, Any]) -> None:
        """Apply a /config document (see the module docstring); raises ValueError if bad."""
        latency = data.get("latency_range", data.get("latency"))
        faults = data.get("faults")
        self.configure(latency=latency,
                       faults=FaultPlan.from_dict(faults) if faults is not None else None)
        if data.get("storm"):
            self.fail_all_until(float(data["storm"]["seconds"]), data["storm"].get("kind", "429"))

    def config(self) -> dict[str, Any]:
        """The configuration in force, as JSON."""
        return {"latency": self.latency.to_json(), "faults": self.policy.plan.to_dict()}


class FakeLLMServer(ServerAddress):
    """The fake server, in process: a daemon thread runs its event loop.

    ``with FakeLLMServer(latency=0.1, faults=FaultPlan(...)) as server:`` starts it on a
    free port (unless `port` is given) and `base_url` is ``http://127.0.0.1:PORT/v1``.
    `start` returns once the server accepts connections; `stop` (idempotent) releases
    hung requests and joins the thread. `stats`, `reset_stats`, `configure` and
    `fail_all_until` may be called from any thread. A server is started once.
    """

    def __init__(self, latency: LatencySpec = 0.0, faults: FaultPlan | None = None,
                 responder: Responder | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, seed: int = 0, rewrite: Rewriter | None = None) -> None:
        self.host = host
        self.port = port
        self.app = FakeLLMApp(latency, faults, responder, seed, rewrite)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def start(self, timeout: float = 10.0) -> FakeLLMServer:
        """Start serving; return once connections are accepted. Raises RuntimeError if not."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="fake-llm-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"fake LLM server did not start within {timeout} s")
        if self._failure is not None:
            raise RuntimeError(f"fake LLM server failed to start: {self._failure!r}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); a daemon thread must not raise
            self._failure = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        await self.app.serve(self.host, self.port, self._on_ready, self._stop_event)

    def _on_ready(self, port: int) -> None:
        self.port = port
        self._ready.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving (hung requests are answered 503) and join the thread (≤ `timeout`)."""
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None or not thread.is_alive():
            return
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(event.set)
        thread.join(timeout)

    def stats(self, timestamps: bool = False, latencies: bool = False) -> dict[str, Any]:
        """The same document as ``GET /stats`` (``?timestamps=1``, ``?latencies=1`` if asked)."""
        return self.app.stats.snapshot(timestamps, latencies)

    def reset_stats(self) -> None:
        """Zero the counters, like ``POST /stats/reset``."""
        self.app.stats.reset()

    def configure(self, latency: LatencySpec | None = None,
                  faults: FaultPlan | None = None) -> None:
        """Change latency and/or the fault plan at run time (None leaves it unchanged)."""
        self.app.configure(latency, faults)

    def fail_all_until(self, seconds: float | None = None, kind: str = "429",
                       deadline: float | None = None) -> float:
        """All requests get `kind` for `seconds` (or until monotonic `deadline`).

        Returns the ``time.monotonic()`` deadline.
        """
        return self.app.fail_all_until(seconds, kind, deadline)

    @staticmethod
    def spawn(latency: LatencySpec = 0.0, faults: FaultPlan | None = None, *,
              host: str = "127.0.0.1", port: int = 0, seed: int = 0,
              startup_timeout: float = 20.0) -> FakeLLMProcess:
        """Run the server in a child Python process and return it once it accepts requests."""
        from tinytroupe.testing.process import FakeLLMProcess

        return FakeLLMProcess(latency, faults, host=host, port=port, seed=seed,
                              startup_timeout=startup_timeout).start()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tinytroupe.testing.fake_llm",
                                     description="Fake OpenAI-compatible chat-completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds (or the minimum)")
    parser.add_argument("--latency-max", type=float, help="uniform latency up to this")
    parser.add_argument("--latency-json", help="a latency specification as JSON (overrides "
                        "--latency), e.g. {\"distribution\": \"lognormal\", \"median\": 1, "
                        "\"sigma\": 0.5}")
    for kind in KINDS:
        parser.add_argument(f"--p-{kind.replace('_', '-')}", type=float, default=0.0,
                            dest=f"p_{kind}", help=f"probability of a {kind} fault")
    parser.add_argument("--retry-after", default="1", help="429 Retry-After seconds: A or A,B")
    parser.add_argument("--drip-seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faults", help="a whole FaultPlan as JSON (overrides --p-*)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """CLI: print ``{"port": N}`` on stdout, then serve until SIGTERM or SIGINT."""
    args = _parse_args(argv)
    if args.faults:
        plan = FaultPlan.from_dict(json.loads(args.faults))
    else:
        retry = [float(x) for x in args.retry_after.split(",")]
        plan = FaultPlan(probabilities={k: getattr(args, f"p_{k}") for k in KINDS
                                        if getattr(args, f"p_{k}") > 0},
                         retry_after=retry[0] if len(retry) == 1 else (retry[0], retry[1]),
                         drip_seconds=args.drip_seconds, seed=args.seed)
    latency: LatencySpec = (json.loads(args.latency_json) if args.latency_json else
                            (args.latency, args.latency_max if args.latency_max is not None
                             else args.latency))
    app = FakeLLMApp(latency, plan, seed=args.seed)
    asyncio.run(_serve_until_signal(app, args.host, args.port))
    return 0


async def _serve_until_signal(app: FakeLLMApp, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))

    def ready(port: int) -> None:
        print(json.dumps({"port": port}), flush=True)

    await app.serve(host, port, ready, stop)


if __name__ == "__main__":
    sys.exit(main())
