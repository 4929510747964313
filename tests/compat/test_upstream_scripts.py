"""Scripts in the style of upstream TinyTroupe's examples run here unchanged.

Each script in `scripts/` is run as a user runs it: as ``__main__``, from a folder whose
``config.ini`` chooses the model, once on the offline model and once over real HTTP
against the fake OpenAI-compatible server (API_TYPE=openai, OPENAI_API_KEY set).
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.config import ConfigManager
from tinytroupe.environment import TinyWorld
from tinytroupe.testing import FakeLLMServer

SCRIPTS = Path(__file__).with_name("scripts")
FIXTURES = Path(__file__).with_name("fixtures")
KEY = "sk-compat-test-key"


def write_config(folder: Path, server: FakeLLMServer | None) -> Path:
    if server is None:
        text = "[OpenAI]\nAPI_TYPE=offline\n"
    else:
        text = (f"[OpenAI]\nAPI_TYPE=openai\nBASE_URL={server.base_url}\nTIMEOUT=10\n"
                "MAX_ATTEMPTS=2\n")
    path = folder / "config.ini"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=["offline", "http"])
def user_folder(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, FakeLLMServer | None]]:
    """A working folder with the user's config.ini (offline, or the fake server)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    TinyPerson.communication_display = TinyWorld.communication_display = True
    if request.param == "offline":
        config_manager.use_sources(user_path=write_config(tmp_path, None), environ={})
        yield tmp_path, None
        return
    with FakeLLMServer() as server:
        config_manager.use_sources(user_path=write_config(tmp_path, server), environ={})
        yield tmp_path, server


def run_script(name: str) -> dict:
    return runpy.run_path(str(SCRIPTS / name), run_name="__main__")["RESULT"]


def requests_made(server: FakeLLMServer | None) -> int:
    return server.stats()["total_requests"] if server is not None else -1


def test_chat_room(user_folder, capsys: pytest.CaptureFixture) -> None:
    _, server = user_folder
    result = run_script("chat_room.py")
    assert result["talks"] >= 4  # they did talk to each other
    assert result["lisa_said"], "Lisa answered Oscar"
    assert set(result["agents"]) >= {"Lisa Carter", "Oscar"}
    out = capsys.readouterr().out
    assert "Lisa Carter acts: [TALK]" in out and "--> Oscar: [CONVERSATION]" in out
    assert requests_made(server) != 0


def test_interview_answers_the_interviewer(user_folder) -> None:
    _, server = user_folder
    result = run_script("interview.py")
    assert len(result["talks"]) >= 2  # one spoken answer per question, at least
    assert all(result["talks"])
    assert requests_made(server) != 0


def test_social_network_follows_relations(user_folder) -> None:
    result = run_script("social_network.py")
    contacts = result["contacts"]
    assert contacts["Lisa Carter"] == ["Oscar"]
    assert contacts["Oscar"] == ["Lisa Carter", "Marcos Almeida"]
    assert contacts["Lila"] == []
    allowed = {("Lisa Carter", "Oscar"), ("Oscar", "Lisa Carter"), ("Oscar", "Marcos Almeida"),
               ("Marcos Almeida", "Oscar")}
    assert set(map(tuple, result["talk_targets"])) <= allowed
    assert result["related"] and not result["not_related"]
    assert result["state"] == {"friends": [["Lisa Carter", "Oscar"]],
                               "colleagues": [["Oscar", "Marcos Almeida"]]}


def test_fragments_customise_an_agent(user_folder) -> None:
    result = run_script("political_compass.py")
    assert isinstance(result["beliefs"], list) and len(result["beliefs"]) > 1
    assert result["talks"] > 0


def test_cost_statistics_are_printed(user_folder, capsys: pytest.CaptureFixture) -> None:
    _, server = user_folder
    result = run_script("cost_report.py")
    out = capsys.readouterr().out
    assert "LLM API cost statistics" in out and "all worlds" in out and "all agents" in out
    assert result["client"]["model_calls"] >= 4 == result["world"]["num_agents"] * 2
    if server is not None:
        assert result["client"]["total_tokens"] > 0
        assert result["client"]["model_calls"] == requests_made(server)


def test_focus_group_results_are_extracted_reduced_and_told(user_folder) -> None:
    _, server = user_folder
    result = run_script("focus_group_results.py")
    assert len(result["opinions"]) == 3
    assert all(o is not None and {"opinion", "would_try", "concerns"} <= set(o)
               for o in result["opinions"])
    assert result["rows"] and all(set(r) == {"author", "content"} for r in result["rows"])
    assert {r["author"] for r in result["rows"]} <= set(result["agents"])
    assert result["continuation"]
    assert requests_made(server) != 0


def test_market_research_from_a_demography(user_folder) -> None:
    folder, server = user_folder
    lines = ["respondent,likelihood"] + [f"r{i},{1 + i % 5}" for i in range(40)]
    (folder / "survey.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_script("market_research.py")
    assert result["people"] == 30 and result["profiled"] == 30
    assert result["answers"] == 30
    assert result["score"] is not None and 0.0 <= result["score"] <= 1.0
    assert requests_made(server) != 0


def test_word_processor_writes_a_document(user_folder) -> None:
    folder, server = user_folder
    result = run_script("word_processor.py")
    name = "Document/Resume.Lisa Carter"
    assert {f"{name}.md", f"{name}.json", f"{name}.docx"} <= set(result["files"])
    assert result["markdown"].startswith("# Lisa Carter")
    [document] = result["json"]
    assert document["title"] == "Resume" and document["author"] == "Lisa Carter"
    assert document["content"] == result["markdown"]
    assert result["actions"][-1] == "DONE"
    assert (folder / "extractions" / "wordprocessor" / f"{name}.md").exists()
    assert server is None or requests_made(server) >= 2  # the agent's turn + the enrichment


def test_behavior_correction_checks_every_action(user_folder) -> None:
    _, server = user_folder
    result = run_script("behavior_correction.py")
    assert result["talks"] > 0 and result["failures"] == []
    if server is not None:  # every turn is one action call plus one judge call
        assert requests_made(server) % 2 == 0 and requests_made(server) >= 4


def test_control_replays_a_run_without_model_calls(user_folder) -> None:
    folder, server = user_folder
    cache = folder / "replay.cache"

    def run(output: str) -> dict:
        env = {**os.environ, "OPENAI_API_KEY": KEY}
        done = subprocess.run([sys.executable, str(SCRIPTS / "replay.py"), str(cache), output],
                              cwd=folder, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads((folder / output).read_text(encoding="utf-8"))

    first = run("first.json")
    before = requests_made(server)
    second = run("second.json")
    assert first["misses"] > 0 and first["hits"] == 0
    assert second["misses"] == 0 and second["hits"] == first["misses"]
    assert second["transcript"] == first["transcript"]
    assert requests_made(server) == before  # the re-run made no model call at all


def test_an_upstream_pickle_cache_is_refused(tmp_path: Path) -> None:
    import tinytroupe.control as control

    cache = tmp_path / "openai_api_cache.pickle"
    cache.write_bytes(b"\x80\x04\x95 not for us")
    with pytest.raises(ValueError, match="pickle is never loaded"):
        control.begin(cache)
    assert control.current_simulation() is None


@pytest.mark.parametrize("name", ["upstream_package_config.ini", "upstream_examples_config.ini"])
def test_upstream_config_files_load_without_warnings(name: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tinytroupe"):
        cm = ConfigManager(user_path=FIXTURES / name, environ={})
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert cm.get("max_attempts") == 5  # HTTP attempts, not [ActionGenerator]'s
    assert cm.get("timeout") == 480 and cm.get("exponential_backoff_factor") == 5
    assert cm.get("max_tokens") == cm.get("max_completion_tokens") == 32000
    if name.startswith("upstream_package"):
        assert cm.get("action_generator_max_attempts") == 2
        assert cm.get("action_generator_quality_threshold") == 5
        assert cm.get("reasoning_effort") == "high" and cm.get("max_concurrent_model_calls") == 4
        assert cm.get("embedding_model") == "text-embedding-3-small"
    else:
        assert cm.get("frequency_penalty") == cm.get("presence_penalty") == 0.1
        assert cm.get("temperature") == 1.5 and cm.get("retry_base_delay") == 0
        assert cm.get("api_type") == "azure" and cm.get("loglevel") == "INFO"
