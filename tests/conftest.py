"""Shared fixtures: a hermetic configuration, a clean simulation, the fake server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tinytroupe import config_manager, control
from tinytroupe.agent import TinyPerson
from tinytroupe.clients import clear_clients, usage
from tinytroupe.environment import TinyWorld
from tinytroupe.environment import parallel as parallel_module
from tinytroupe.environment.worker_pool import WorkerPool
from tinytroupe.testing import FakeLLMServer

#: Persona files in TinyTroupe's `.agent.json` format, written for these tests.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "personas"
#: Names a folder of TinyTroupe's own persona files to run the persona tests on too.
UPSTREAM_PERSONAS_ENV = "UPSTREAM_TINYTROUPE_PERSONAS"


def _persona_folders() -> list:
    """Our fixture folder, plus upstream's when `UPSTREAM_PERSONAS_ENV` is set."""
    folders = [pytest.param(FIXTURES, id="personas")]
    upstream = os.environ.get(UPSTREAM_PERSONAS_ENV, "").strip()
    if upstream:
        folders.append(pytest.param(Path(upstream).expanduser(), id="upstream-personas"))
    return folders


@pytest.fixture(autouse=True)
def clean_simulation() -> Iterator[None]:
    """Every test starts from package defaults, offline model, no agents, no display."""
    config_manager.use_sources(user_path=Path(os.devnull), environ={})
    config_manager.set("api_type", "offline")
    TinyPerson.communication_display = False
    TinyWorld.communication_display = False
    usage.reset()
    yield
    control.reset()
    clear_clients()
    config_manager.reset()
    _wait_for_worker_threads()


def _wait_for_worker_threads(timeout: float = 10.0) -> None:
    """Let turns a test gave up on finish before the next test starts.

    With the worlds closed and the fake server stopped, such a turn ends within moments
    (its request is released or refused); left running, it would add its usage to the
    next test's process-wide counters. Idle workers have exited with their pools.
    """
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if "-agent-" in thread.name and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))


@pytest.fixture(params=_persona_folders())
def upstream_personas(request: pytest.FixtureRequest) -> Path:
    """A folder of persona files in TinyTroupe's format: Lisa, Oscar and Marcos.

    Always tests/fixtures/personas; also, as a second parameter, the folder named by
    UPSTREAM_TINYTROUPE_PERSONAS (TinyTroupe's own files) when that variable is set.
    """
    folder: Path = request.param
    assert folder.is_dir(), f"missing test data: {folder} is not a folder"
    return folder


@pytest.fixture
def fake_llm() -> Iterator[FakeLLMServer]:
    """A fake OpenAI-compatible server on 127.0.0.1 (no latency, no faults)."""
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def use_server(monkeypatch: pytest.MonkeyPatch):
    """A function pointing the real HTTP client at a fake server (API_TYPE=openai)."""

    def point(server: FakeLLMServer, key: str = "sk-test-not-a-real-key") -> None:
        monkeypatch.setenv("OPENAI_API_KEY", key)
        for name, value in [("api_type", "openai"), ("base_url", server.base_url),
                            ("timeout", 5), ("max_attempts", 3), ("retry_base_delay", 0.01),
                            ("retry_max_delay", 0.05)]:
            config_manager.set(name, value)

    return point


@pytest.fixture
def llm_over_http(fake_llm: FakeLLMServer, use_server) -> FakeLLMServer:
    """The fake server, with the real HTTP client pointed at it."""
    use_server(fake_llm)
    return fake_llm


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event that blocked agents wait on; always set at teardown (no stray hangs)."""
    gate = threading.Event()
    yield gate
    gate.set()


@pytest.fixture
def submissions(monkeypatch: pytest.MonkeyPatch) -> threading.Semaphore:
    """Released once per turn handed to a world's executor (which turns are queued)."""
    submitted = threading.Semaphore(0)

    class CountingPool(WorkerPool):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            future = super().submit(*args, **kwargs)
            submitted.release()
            return future

    monkeypatch.setattr(parallel_module, "WorkerPool", CountingPool)
    return submitted
