"""Shared fixtures: a hermetic configuration, a clean simulation, the fake server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinytroupe import config_manager, control
from tinytroupe.agent import TinyPerson
from tinytroupe.clients import clear_clients, usage
from tinytroupe.environment import TinyWorld
from tinytroupe.testing import FakeLLMServer

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "upstream-personas"
if not FIXTURES.is_dir():  # CI clones main beside a copy of shared/
    FIXTURES = Path(os.environ.get("TINYTROUPE_FIXTURES", FIXTURES))


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


@pytest.fixture
def upstream_personas() -> Path:
    """The folder of TinyTroupe's persona files (shared/fixtures/upstream-personas)."""
    assert FIXTURES.is_dir(), f"missing test data: {FIXTURES}"
    return FIXTURES


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
