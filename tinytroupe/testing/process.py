"""The fake LLM server in a child process (`FakeLLMProcess`).

`FakeLLMServer.spawn` returns one; it runs ``python -m tinytroupe.testing.fake_llm``
and talks to it over HTTP. This module does not import `tinytroupe.testing.fake_llm`,
so that the command-line server never imports its own module a second time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from typing import IO, Any

from tinytroupe.testing.faults import FaultPlan
from tinytroupe.testing.latency import Latency, LatencySpec


class ServerAddress:
    """The URLs of a fake server listening on `host`:`port`."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The server's root URL (``http://127.0.0.1:PORT``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``http://127.0.0.1:PORT/v1``)."""
        return f"{self.url}/v1"


class FakeLLMProcess(ServerAddress):
    """The fake server in a child process (``python -m tinytroupe.testing.fake_llm``).

    Its CPU stays out of the parent's GIL, which matters for client benchmarks. `start`
    reads the port from the child's first stdout line; `stats`, `reset_stats`,
    `configure` and `fail_all_until` go over HTTP; `stop` terminates the child (SIGTERM,
    then kill after `timeout`) and waits for it.
    """

    def __init__(self, latency: LatencySpec = 0.0, faults: FaultPlan | None = None, *,
                 host: str = "127.0.0.1", port: int = 0, seed: int = 0,
                 startup_timeout: float = 20.0) -> None:
        self.host, self.port = host, port
        self.args = [sys.executable, "-m", "tinytroupe.testing.fake_llm", "--host", host,
                     "--port", str(port), "--latency-json",
                     json.dumps(Latency(latency).to_json()), "--seed", str(seed)]
        if faults is not None:
            self.args += ["--faults", json.dumps(faults.to_dict())]
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> FakeLLMProcess:
        """Start the child; return once it serves. Raises RuntimeError if it does not."""
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, text=True, env=env)
        line = _read_line(self.process.stdout, self.startup_timeout)
        try:
            self.port = int(json.loads(line)["port"])
        except (ValueError, KeyError, TypeError):
            self.stop()
            raise RuntimeError(f"fake LLM server process did not report its port within "
                               f"{self.startup_timeout} s (exit code "
                               f"{self.process.returncode}, first line {line!r})") from None
        return self

    def _call(self, method: str, path: str, data: dict[str, Any] | None = None
              ) -> dict[str, Any]:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=body, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stats(self, timestamps: bool = False, latencies: bool = False) -> dict[str, Any]:
        """``GET /stats`` (with ``?timestamps=1``, ``?latencies=1`` if asked)."""
        return self._call("GET", f"/stats?timestamps={int(timestamps)}&latencies={int(latencies)}")

    def reset_stats(self) -> None:
        """``POST /stats/reset``."""
        self._call("POST", "/stats/reset", {})

    def configure(self, latency: LatencySpec | None = None,
                  faults: FaultPlan | None = None) -> dict[str, Any]:
        """``POST /config``; returns the configuration now in force."""
        data: dict[str, Any] = {}
        if latency is not None:
            data["latency"] = Latency(latency).to_json()
        if faults is not None:
            data["faults"] = faults.to_dict()
        return self._call("POST", "/config", data)

    def fail_all_until(self, seconds: float, kind: str = "429") -> None:
        """All requests get `kind` for the next `seconds`."""
        self._call("POST", "/config", {"storm": {"kind": kind, "seconds": seconds}})

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the child and wait for it (kill if it outlives `timeout`). Idempotent."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> FakeLLMProcess:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _read_line(stream: IO[str] | None, timeout: float) -> str:
    """The first line of `stream`, or "" if none comes within `timeout` seconds."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline() if stream else ""),
                              daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""
