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
def llm_over_http(fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    """Point the real HTTP client at the fake server (API_TYPE=openai, test key)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    config_manager.set("api_type", "openai")
    config_manager.set("base_url", fake_llm.base_url)
    config_manager.set("timeout", 5)
    config_manager.set("max_attempts", 3)
    config_manager.set("retry_base_delay", 0.01)
    config_manager.set("retry_max_delay", 0.05)
    return fake_llm
