"""Scenario ``transport``: client CPU per request of each way to do the HTTP, side by side.

The same chat-completions POST (a 6 KB prompt, the offline model's answer parsed as
JSON) is sent through each candidate, from 1 thread (sequentially) and from 100 and
1,000 threads at once, to the fake server in its own process (latency 0; its CPU is not
counted). CPU per request = this process's CPU time / requests. Candidates:

* ``curl``: `CurlTransport` (libcurl handles kept in a pool), the default;
* ``urllib3``: `Urllib3Transport` (one shared urllib3 pool), the fallback, and the
  transport of hedged requests;
* ``aiohttp loop``: one asyncio event loop thread doing all HTTP with aiohttp, the agent
  threads handing requests to it (`asyncio.run_coroutine_threadsafe`), measured
  here as the alternative the issue asked about; not shipped (it lost).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from tinytroupe.bench.harness import fake_server
from tinytroupe.bench.scenarios import Result
from tinytroupe.clients.transport import CurlTransport, Urllib3Transport

_HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench-not-a-key"}


def _payload() -> bytes:
    return json.dumps({"model": "bench", "messages": [
        {"role": "system", "content": "You are a persona in a simulation. " * 170},
        {"role": "user", "content": "What do you think of the new bike lanes?"}]}).encode()


def _cpu_per_request(call: Callable[[], None], threads: int, per_thread: int) -> float:
    """This process's CPU ms per request while `threads` threads each make `per_thread` calls."""
    start = threading.Barrier(threads + 1)
    end = threading.Barrier(threads + 1)

    def worker() -> None:
        start.wait()
        for _ in range(per_thread):
            call()
        end.wait()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    start.wait()
    cpu = time.process_time()
    end.wait()
    cpu = time.process_time() - cpu
    for thread in workers:
        thread.join()
    return 1000 * cpu / (threads * per_thread)


class _LoopTransport:
    """All HTTP on one asyncio loop (aiohttp); callers block on a future (module doc)."""

    def __init__(self, url: str) -> None:
        import aiohttp

        self.url = url
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

        async def session() -> Any:
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

        self.session = asyncio.run_coroutine_threadsafe(session(), self.loop).result()

    def post(self, payload: bytes) -> tuple[int, None, bytes]:
        async def exchange() -> tuple[int, None, bytes]:
            async with self.session.post(self.url, data=payload, headers=_HEADERS) as reply:
                return reply.status, None, await reply.read()

        return asyncio.run_coroutine_threadsafe(exchange(), self.loop).result()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.session.close(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)


def transport(quick: bool) -> Result:
    """Client CPU per request: curl, urllib3, one aiohttp loop (module doc)."""
    result = Result("transport")
    shapes = [(1, 60), (100, 1)] if quick else [(1, 300), (100, 3), (1000, 1)]
    payload = _payload()
    with fake_server(0.0) as server:  # the client's own CPU (see docs/benchmarks.md)
        url = f"{server.base_url}/chat/completions"
        candidates: dict[str, Any] = {
            "curl": CurlTransport(url, url, _HEADERS, 60.0, 8 << 20),
            "urllib3": Urllib3Transport(url, url, _HEADERS, 60.0, 8 << 20, pool_size=2048),
            "aiohttp loop": _LoopTransport(url),
        }
        try:
            for threads, per_thread in shapes:
                row: dict[str, Any] = {"threads": threads, "requests_per_thread": per_thread}
                for name, candidate in candidates.items():
                    def call(candidate: Any = candidate) -> None:
                        status, _, body = candidate.post(payload)
                        assert status == 200
                        json.loads(body)

                    _cpu_per_request(call, threads, 1)  # warm: connections, handles
                    runs = [_cpu_per_request(call, threads, per_thread) for _ in range(3)]
                    row[f"{name}_cpu_ms"] = sorted(runs)[1]
                result.rows.append(row)
        finally:
            for candidate in candidates.values():
                candidate.close()
    goals = {1: 0.15, 1000: 0.4}
    for row in result.rows:
        goal = goals.get(row["threads"])
        if goal is not None:
            measured = row["curl_cpu_ms"]
            result.target(f"client CPU per request, {row['threads']} thread(s) (curl)",
                          measured, f"<= {goal} ms", measured <= goal)
    return result
