"""Reproducible and resumable simulations over the fake server (real loopback HTTP)."""

from __future__ import annotations

import filecmp
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tinytroupe import config_manager, control
from tinytroupe.agent import TinyPerson
from tinytroupe.clients import usage
from tinytroupe.environment import TinyWorld
from tinytroupe.environment.checkpoint import CheckpointError, read_checkpoint
from tinytroupe.testing import FakeLLMServer


def simulate(path: Path, seed: int, parallel: bool = True, agents: int = 8,
             steps: int = 3) -> TinyWorld:
    """A small focus group run to completion; its transcript exported to `path`."""
    people = [TinyPerson(f"Agent{i}") for i in range(agents)]
    with TinyWorld("repro", people, seed=seed) as world:
        world.make_everyone_accessible()
        world.broadcast("What should the town build next?")
        world.run(steps, parallelize=parallel)
        world.export_transcript(path)
    control.reset()
    return world


@pytest.mark.parametrize("parallel", [True, False])
def test_same_seed_gives_byte_identical_transcripts(llm_over_http: FakeLLMServer, tmp_path,
                                                    parallel: bool) -> None:
    llm_over_http.configure(latency=(0.0, 0.03))  # random per-request delays
    simulate(tmp_path / "a.jsonl", seed=4, parallel=parallel)
    simulate(tmp_path / "b.jsonl", seed=4, parallel=parallel)
    assert filecmp.cmp(tmp_path / "a.jsonl", tmp_path / "b.jsonl", shallow=False)
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert len(lines) > 8
    assert '"simulated_time"' in lines[0] and '"source"' in lines[0]


def test_a_different_seed_gives_a_different_order(llm_over_http: FakeLLMServer,
                                                  tmp_path) -> None:
    simulate(tmp_path / "a.jsonl", seed=1)
    simulate(tmp_path / "b.jsonl", seed=2)
    assert not filecmp.cmp(tmp_path / "a.jsonl", tmp_path / "b.jsonl", shallow=False)


def test_replay_from_the_cache_makes_no_request(llm_over_http: FakeLLMServer, tmp_path,
                                                monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config_manager.set("cache_api_calls", True)
    simulate(tmp_path / "live.jsonl", seed=3)
    requests = llm_over_http.stats()["total_requests"]
    assert requests == 8 * 3
    llm_over_http.stop()  # any request now would fail
    usage.reset()
    world = simulate(tmp_path / "replay.jsonl", seed=3)
    metrics = world.get_parallel_metrics()
    assert metrics["parallel_errors"] == 0
    assert (metrics["cache_hits"], metrics["cache_misses"], metrics["llm_calls"]) == (24, 0, 0)
    assert (usage.snapshot().cache_hits, usage.snapshot().requests) == (8 * 3, 0)
    assert filecmp.cmp(tmp_path / "live.jsonl", tmp_path / "replay.jsonl", shallow=False)


_RUN_SCRIPT = textwrap.dedent("""
    import os, sys
    from tinytroupe import config_manager
    from tinytroupe.agent import TinyPerson
    from tinytroupe.environment import TinyWorld
    mode, base_url, checkpoint, transcript = sys.argv[1:5]
    os.environ["OPENAI_API_KEY"] = "sk-test"
    for key, value in [("api_type", "openai"), ("base_url", base_url),
                       ("cache_api_calls", True), ("max_workers", "ALL")]:
        config_manager.set(key, value)
    TinyPerson.communication_display = TinyWorld.communication_display = False
    STEPS = 8
    if mode == "resume":
        world = TinyWorld.resume(checkpoint)
    else:
        world = TinyWorld("town", [TinyPerson(f"Agent{i}") for i in range(12)], seed=21)
        world.make_everyone_accessible()
        world.broadcast("The bridge is closed for a month. What now?")
    world.run(STEPS - world.steps_done, parallelize=True, checkpoint_every=1,
              checkpoint_path=checkpoint)
    world.export_transcript(transcript)
    from tinytroupe.clients import usage
    print(usage.snapshot().requests)
""")


def _start(tmp_path: Path, mode: str, base_url: str, folder: str) -> subprocess.Popen:
    work = tmp_path / folder
    work.mkdir(exist_ok=True)
    script = tmp_path / "run.py"
    script.write_text(_RUN_SCRIPT)
    return subprocess.Popen([sys.executable, str(script), mode, base_url,
                             str(work / "town.ckpt"), str(work / "transcript.jsonl")],
                            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.timeout(120)
def test_a_run_killed_with_sigkill_resumes_to_the_same_transcript(tmp_path) -> None:
    with FakeLLMServer(latency=(0.01, 0.05)) as server:
        reference = _start(tmp_path, "fresh", server.base_url, "reference")
        assert reference.wait(timeout=60) == 0, reference.stderr.read()

        kill_after = random.Random().randint(1, 6)
        victim = _start(tmp_path, "fresh", server.base_url, "killed")
        checkpoint = tmp_path / "killed" / "town.ckpt"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if checkpoint.exists() and read_checkpoint(checkpoint)["steps_done"] >= kill_after:
                break
            time.sleep(0.005)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        survived = read_checkpoint(checkpoint)["steps_done"]
        assert 1 <= survived <= 8

        resumed = _start(tmp_path, "resume", server.base_url, "killed")
        output, errors = resumed.communicate(timeout=60)
        assert resumed.returncode == 0, errors
        # only steps after the checkpoint are redone, and what the killed run had
        # already asked for in them is answered from its cache
        assert int(output.split()[-1]) <= 12 * (8 - survived)
    assert filecmp.cmp(tmp_path / "reference" / "transcript.jsonl",
                       tmp_path / "killed" / "transcript.jsonl", shallow=False)


def test_resume_from_a_corrupted_checkpoint_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "w.ckpt"
    with TinyWorld("w", [TinyPerson("A"), TinyPerson("B")], seed=1) as world:
        world.run(2, parallelize=True, checkpoint_every=1, checkpoint_path=path)
    control.reset()
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated"):
        TinyWorld.resume(path)
    world = TinyWorld.resume(f"{path}.prev")
    assert world.steps_done == 1
    world.close()
