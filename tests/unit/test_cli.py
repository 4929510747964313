"""Tests for tinytroupe.cli: the demo subcommand and the subcommand registry."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinytroupe import cli, config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinyWorld


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich sizes its output from COLUMNS when not on a terminal: keep table rows whole."""
    monkeypatch.setenv("COLUMNS", "120")


def summary_value(output: str, row: str) -> str:
    """The value cell of `row` in the printed summary table."""
    match = re.search(rf"{re.escape(row)}\s*│\s*(.+?)\s*│", output)
    assert match, f"no {row!r} row in:\n{output}"
    return match.group(1)


def test_demo_quiet_runs_offline_and_prints_the_summary(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["demo", "--steps", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Focus group summary" in out
    assert summary_value(out, "Model") == "offline"
    assert summary_value(out, "Agents") == "6"
    assert summary_value(out, "Steps") == "2 (parallel)"
    assert int(summary_value(out, "Messages delivered")) > 0
    assert int(summary_value(out, "Agent actions taken")) > 0
    assert int(summary_value(out, "LLM calls")) >= 12  # 6 agents x 2 steps
    assert summary_value(out, "Errors / timeouts") == "0 / 0"
    assert summary_value(out, "Avg parallel speedup").endswith("x")
    assert "not a language model" in out
    assert "acts: [TALK]" not in out, "--quiet hides the conversation"
    assert config_manager.get("api_type") == "offline"


@pytest.fixture
def demo_world(monkeypatch: pytest.MonkeyPatch) -> list[TinyWorld]:
    """Holds the worlds the demo closes (a closed world leaves the registry)."""
    closed: list[TinyWorld] = []
    close = TinyWorld.close

    def recording_close(self: TinyWorld) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(TinyWorld, "close", recording_close)
    return closed


def test_demo_messages_flow_between_agents(capsys: pytest.CaptureFixture,
                                           demo_world: list[TinyWorld]) -> None:
    assert cli.main(["demo", "--steps", "2", "--quiet", "--agents", "3"]) == 0
    [world] = demo_world
    assert TinyWorld.get_environment_by_name("Focus group") is None  # closed: name freed
    talks = [e for e in world.transcript if e["type"] == "TALK"]
    assert talks, "agents talked to each other"
    assert {e["source"] for e in talks} <= {a.name for a in world.agents}
    assert all(e["source"] != e["target"] for e in talks)
    assert int(summary_value(capsys.readouterr().out, "Messages delivered")) == len(
        [e for e in world.transcript if e["source"] is not None])


def test_demo_sequential_with_two_agents(capsys: pytest.CaptureFixture,
                                        demo_world: list[TinyWorld]) -> None:
    assert cli.main(["demo", "--steps", "1", "--agents", "2", "--sequential", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert summary_value(out, "Agents") == "2"
    assert summary_value(out, "Steps") == "1 (sequential)"
    assert summary_value(out, "Avg parallel speedup") == "n/a (sequential)"
    [world] = demo_world
    assert world.get_parallel_metrics()["total_sequential_steps"] == 1


def test_demo_shows_the_conversation_unless_quiet_and_restores_display(
        capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["demo", "--steps", "1", "--agents", "2"]) == 0
    out = capsys.readouterr().out
    assert "acts: [TALK]" in out or "[CONVERSATION]" in out
    assert TinyPerson.communication_display is False  # as the fixture left it
    assert TinyWorld.communication_display is False


def test_demo_closes_the_world(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []
    original = TinyWorld.close

    def spy(self: TinyWorld) -> None:
        closed.append(self.name)
        original(self)

    monkeypatch.setattr(TinyWorld, "close", spy)
    assert cli.main(["demo", "--steps", "1", "--quiet"]) == 0
    assert "Focus group" in closed


def test_openai_without_key_exits_2_with_a_clear_message(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert cli.main(["demo", "--api-type", "openai", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "OPENAI_API_KEY" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert TinyPerson.all_agents == {}, "fails before any agent is created"


def test_model_option_selects_openai_and_sets_the_model(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert cli.main(["demo", "--model", "my-model", "--quiet"]) == 2
    assert config_manager.get("api_type") == "openai"
    assert config_manager.get("model") == "my-model"
    assert "OPENAI_API_KEY" in capsys.readouterr().err


@pytest.mark.integration
def test_demo_over_http_with_a_key(llm_over_http: object,
                                   capsys: pytest.CaptureFixture) -> None:
    """Fixture sets API_TYPE=openai, BASE_URL and a key; --api-type keeps those settings."""
    assert cli.main(["demo", "--api-type", "openai", "--steps", "1", "--agents", "2",
                     "--quiet"]) == 0
    out = capsys.readouterr().out
    assert summary_value(out, "Model").startswith("openai")
    assert int(summary_value(out, "LLM calls")) >= 2
    assert "not a language model" not in out


@pytest.mark.parametrize("argv", [
    ["demo", "--agents", "1"], ["demo", "--agents", "7"], ["demo", "--steps", "0"],
    ["demo", "--steps", "x"], ["demo", "--api-type", "bogus"], [], ["nope"],
])
def test_bad_usage_exits_2(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert cli.main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_every_subcommand_is_dispatched_to_its_module(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinytroupe.bench import runner

    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(runner, "run", lambda args: seen.append(args) or 7)
    assert cli.main(["bench", "--quick", "--only", "timeout"]) == 7
    assert seen[0].quick and seen[0].only == ["timeout"]


def test_python_dash_m_runs_the_demo(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TINYTROUPE_", "OPENAI_", "AZURE_OPENAI_"))}
    env["COLUMNS"] = "120"
    result = subprocess.run(
        [sys.executable, "-m", "tinytroupe", "demo", "--steps", "1", "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Focus group summary" in result.stdout
    assert int(summary_value(result.stdout, "Messages delivered")) > 0
