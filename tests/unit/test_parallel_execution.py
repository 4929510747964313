"""The parallel step contract (docs/parallel-execution.md), with scripted agents.

Scripted agents replace `act()` so that each test controls exactly when an agent
finishes, blocks or fails; waits use events and barriers, never sleep-and-hope.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.environment import ParallelStepError, TinyWorld
from tinytroupe.environment.metrics import ParallelMetrics, StepRecord
from tinytroupe.testing.scripted import ScriptedPerson, heard, ring

METRIC_KEYS = {"total_parallel_steps", "total_sequential_steps", "avg_parallel_speedup",
               "parallel_errors", "parallel_timeouts"}


# --- basics ---------------------------------------------------------------------------

def test_parallel_and_sequential_both_return_actions_for_every_agent() -> None:
    agents = ring(4)
    with TinyWorld("basic", agents) as world:
        parallel = world.step(parallelize=True)
        sequential = world.step(parallelize=False)
    for result in (parallel, sequential):
        assert set(result) == {a.name for a in agents}
        assert all(any(a["type"] == "TALK" for a in acts) for acts in result.values())


def test_run_with_real_offline_agents_in_parallel_delivers_conversation() -> None:
    agents = [TinyPerson(f"P{i}") for i in range(5)]
    with TinyWorld("offline", agents) as world:
        world.make_everyone_accessible()
        world.broadcast("What do you think of the new product?")
        results = world.run(3, parallelize=True, return_actions=True)
    assert len(results) == 3 and all(set(r) == {a.name for a in agents} for r in results)
    assert any(e["type"] == "TALK" for e in world.transcript)


def test_metrics_are_collected_and_json_serialisable() -> None:
    with TinyWorld("metrics", ring(3)) as world:
        world.run(3, parallelize=True)
        metrics = world.get_parallel_metrics()
    assert set(metrics) >= METRIC_KEYS
    assert metrics["total_parallel_steps"] == 3
    assert metrics["total_sequential_steps"] == 0
    assert metrics["step_wall_seconds"]["count"] == 3
    assert metrics["agent_turns_completed"] == 9
    json.dumps(metrics)


def test_sequential_and_parallel_steps_are_counted_separately() -> None:
    with TinyWorld("separate", ring(2)) as world:
        world.run(2, parallelize=True)
        world.run(3, parallelize=False)
        metrics = world.get_parallel_metrics()
        world.reset_parallel_metrics()
        assert world.get_parallel_metrics()["total_parallel_steps"] == 0
    assert (metrics["total_parallel_steps"], metrics["total_sequential_steps"]) == (2, 3)


@pytest.mark.parametrize("configured, expect_parallel", [(True, 1), (False, 0)])
def test_parallel_agent_actions_is_the_default_of_run(configured: bool,
                                                      expect_parallel: int) -> None:
    config_manager.set("parallel_agent_actions", configured)
    with TinyWorld("configured", ring(2)) as world:
        world.run(1)
        assert world.get_parallel_metrics()["total_parallel_steps"] == expect_parallel


def test_state_is_preserved_over_multiple_parallel_steps() -> None:
    agents = ring(3)
    with TinyWorld("multi", agents, seed=1) as world:
        world.run(4, parallelize=True)
    assert [a.turns for a in agents] == [4, 4, 4]
    # each agent heard its predecessor in every step, in order
    assert heard(agents[1]) == [f"A0 turn {t}" for t in range(1, 5)]
    assert world.steps_done == 4


def test_no_agents_returns_empty_and_counts_the_step() -> None:
    with TinyWorld("empty") as world:
        assert world.step(parallelize=True) == {}
        assert world.get_parallel_metrics()["total_parallel_steps"] == 1


def test_one_agent_works_like_many() -> None:
    solo = ScriptedPerson("Solo")
    with TinyWorld("solo", [solo]) as world:
        result = world.step(parallelize=True)
    assert list(result) == ["Solo"] and result["Solo"][-1]["type"] == "DONE"


# --- workers ----------------------------------------------------------------------------

def test_max_workers_caps_acts_in_flight_and_the_pool_is_reused() -> None:
    cap, lock, state = 3, threading.Lock(), {"now": 0, "max": 0, "threads": set()}
    barrier = threading.Barrier(cap, timeout=10)

    def behaviour(agent: TinyPerson) -> None:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            state["threads"].add(threading.current_thread().name)
        barrier.wait()  # passes only when `cap` acts are in flight together
        with lock:
            state["now"] -= 1

    config_manager.set("max_workers", cap)
    with TinyWorld("capped", ring(12, behaviour)) as world:
        world.run(3, parallelize=True)
        assert world.get_parallel_metrics()["parallel_errors"] == 0
    assert state["max"] == cap
    assert len(state["threads"]) == cap  # 36 turns, 3 threads: kept, not rebuilt
    assert all(name.startswith("capped-agent-") for name in state["threads"])


def test_max_workers_all_runs_every_agent_at_once() -> None:
    agents = 20
    barrier = threading.Barrier(agents, timeout=10)
    config_manager.set("max_workers", "ALL")
    with TinyWorld("all", ring(agents, lambda _a: barrier.wait())) as world:
        result = world.step(parallelize=True)
    assert len(result) == agents  # a smaller pool would have broken the barrier


def test_new_max_workers_applies_to_the_next_step() -> None:
    seen: set[str] = set()
    config_manager.set("max_workers", 1)
    with TinyWorld("resize", ring(4, lambda _a: seen.add(threading.current_thread().name))) as w:
        w.step(parallelize=True)
        assert len(seen) == 1
        barrier = threading.Barrier(4, timeout=10)
        for agent in w.agents:
            agent.behaviour = lambda _a: barrier.wait()
        config_manager.set("max_workers", 4)
        assert len(w.step(parallelize=True)) == 4


def test_close_releases_the_worker_threads() -> None:
    world = TinyWorld("closing", ring(4))
    world.step(parallelize=True)
    threads = world.worker_threads()
    assert threads
    world.close()
    for thread in threads:
        thread.join(timeout=5)
    assert not any(t.is_alive() for t in threads)


# --- timeout ----------------------------------------------------------------------------

def test_timeout_bounds_the_step_discards_late_actions_and_the_agent_rejoins(release) -> None:
    config_manager.set("parallel_execution_timeout", 0.5)
    agents = ring(4)
    agents[0].behaviour = lambda _a: release.wait()  # A0 hangs until released
    with TinyWorld("timeouts", agents, seed=3) as world:
        start = time.monotonic()
        first = world.step(parallelize=True)
        elapsed = time.monotonic() - start
        assert elapsed < 0.5 + 3.0  # bounded although A0 never returns
        assert "A0" not in first and len(first) == 3
        metrics = world.get_parallel_metrics()
        assert metrics["parallel_timeouts"] == 1
        assert world.get_agent_failures()[-1]["error_type"] == "StepTimeout"

        second = world.step(parallelize=True)  # A0 still busy: skipped, not stacked
        assert "A0" not in second
        assert world.get_parallel_metrics()["agents_skipped_busy"] == 1
        assert agents[0].turns == 1

        release.set()  # A0's late TALK must never reach A1
        assert agents[0].finished.wait(5)
        third = world.step(parallelize=True)
        assert "A0" in third  # rejoined once its thread ended
        assert "A0 turn 1" not in heard(agents[1])
        assert heard(agents[1]) == ["A0 turn 2"]


def test_timeout_setting_applies_to_the_next_step(release) -> None:
    agents = ring(2)
    agents[1].behaviour = lambda _a: release.wait()
    config_manager.set("parallel_execution_timeout", 0.2)
    with TinyWorld("short", agents) as world:
        start = time.monotonic()
        world.step(parallelize=True)
        assert time.monotonic() - start < 0.2 + 3.0
        assert world.get_parallel_metrics()["parallel_timeouts"] == 1


# --- errors -----------------------------------------------------------------------------

def _fail_after_buffering(agent: ScriptedPerson) -> None:
    agent._commit([{"type": "TALK", "target": "A2", "content": "partial, never delivered"}], {})
    raise RuntimeError("model exploded")


def test_an_error_is_isolated_counted_recorded_and_partial_actions_dropped() -> None:
    agents = ring(4)
    agents[1].behaviour = _fail_after_buffering
    with TinyWorld("errors", agents) as world:
        result = world.step(parallelize=True)
        failures = world.get_agent_failures()
        metrics = world.get_parallel_metrics()
    assert set(result) == {"A0", "A2", "A3"}
    assert heard(agents[1]) == ["A0 turn 1"]  # others' actions were delivered
    assert "partial, never delivered" not in heard(agents[2])
    assert metrics["parallel_errors"] == 1
    assert failures == [{"step": 1, "agent": "A1", "error_type": "RuntimeError",
                         "message": "model exploded"}]


def test_raise_policy_delivers_the_others_then_raises_every_failure() -> None:
    config_manager.set("on_agent_error", "raise")
    agents = ring(4)
    for agent in agents[:2]:
        agent.behaviour = _fail_after_buffering
    with TinyWorld("raising", agents) as world:
        with pytest.raises(ParallelStepError) as caught:
            world.step(parallelize=True)
        assert world.steps_done == 1
    assert sorted(f.agent for f in caught.value.failures) == ["A0", "A1"]
    assert heard(agents[3]) == ["A2 turn 1"]
    assert "A0" in str(caught.value) and "model exploded" in str(caught.value)


# --- metrics ----------------------------------------------------------------------------

def test_speedup_is_measured_not_estimated() -> None:
    config_manager.set("max_workers", 2)
    with TinyWorld("speedup", ring(10, lambda _a: time.sleep(0.2))) as world:
        world.step(parallelize=True)
        speedup = world.get_parallel_metrics()["avg_parallel_speedup"]
    assert 1.2 < speedup <= 2.05  # two workers cannot do better than 2; the naive formula says 10


def test_collect_parallel_metrics_false_skips_timing_but_counts_errors(release) -> None:
    config_manager.set("collect_parallel_metrics", False)
    config_manager.set("parallel_execution_timeout", 0.3)
    agents = ring(3)
    agents[0].behaviour = _fail_after_buffering
    agents[1].behaviour = lambda _a: release.wait()
    with TinyWorld("untimed", agents) as world:
        world.step(parallelize=True)
        metrics = world.get_parallel_metrics()
    assert metrics["parallel_errors"] == 1 and metrics["parallel_timeouts"] == 1
    assert metrics["step_wall_seconds"]["count"] == 0
    assert metrics["avg_parallel_speedup"] == 0.0


def test_metrics_readers_never_see_a_torn_update() -> None:
    metrics = ParallelMetrics()
    record = StepRecord(wall_seconds=0.1, agent_seconds=0.4, agents_completed=4, errors=1,
                        timeouts=2, skipped_busy=0)
    torn: list[dict] = []

    def writer() -> None:
        for _ in range(500):
            metrics.record_parallel_step(record)

    def reader() -> None:
        for _ in range(500):
            snap = metrics.snapshot()
            steps = snap["total_parallel_steps"]
            if (snap["agent_turns_completed"], snap["parallel_errors"],
                    snap["parallel_timeouts"]) != (4 * steps, steps, 2 * steps):
                torn.append(snap)

    threads = [threading.Thread(target=f) for f in (writer, reader) * 8]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not torn
    final = metrics.snapshot()
    assert final["total_parallel_steps"] == 8 * 500
    assert final["avg_parallel_speedup"] == pytest.approx(4.0)


# --- determinism ------------------------------------------------------------------------

def test_same_answers_with_random_delays_give_identical_transcripts() -> None:
    def jitter(_agent: TinyPerson) -> None:
        time.sleep(random.uniform(0, 0.01))  # shuffles completion order; not a wait

    transcripts = []
    for run in range(5):
        with TinyWorld(f"det{run}", ring(8, jitter, prefix=f"R{run}-"), seed=7) as world:
            world.run(3, parallelize=True)
        transcripts.append([(e["step"], e["source"].split("-")[1], e["target"].split("-")[1],
                             e["content"].split("-")[1]) for e in world.transcript])
        from tinytroupe import control
        control.reset()
    assert all(t == transcripts[0] for t in transcripts[1:])
    assert len(transcripts[0]) == 8 * 3


# --- process-level behaviour (subprocesses) ---------------------------------------------

_HUNG_SCRIPT = textwrap.dedent("""
    import threading, time, json, os, signal, sys
    from tinytroupe import config_manager
    from tinytroupe.agent import TinyPerson
    from tinytroupe.environment import TinyWorld
    config_manager.set("api_type", "offline")
    TinyPerson.communication_display = TinyWorld.communication_display = False
    started = threading.Event()

    class Hung(TinyPerson):
        def act(self, **kwargs):
            started.set()
            threading.Event().wait()  # never returns

    agents = [Hung(f"H{i}") for i in range(3)] + [TinyPerson("Free")]
    world = TinyWorld("w", agents)
    MODE = sys.argv[1]
    if MODE == "timeout":
        config_manager.set("parallel_execution_timeout", 0.5)
        world.run(2, parallelize=True)
        print(json.dumps(world.get_parallel_metrics()))
    else:
        def interrupt():
            started.wait()
            global sent
            sent = time.monotonic()
            os.kill(os.getpid(), signal.SIGINT)
        threading.Thread(target=interrupt, daemon=True).start()
        try:
            world.run(1, parallelize=True)
        except KeyboardInterrupt:
            latency = time.monotonic() - sent
            agents[-1]._acting.acquire(timeout=10)  # the abandoned turn of Free has ended
            print(json.dumps({"latency": latency, "steps": world.steps_done,
                              "transcript": len(world.transcript),
                              "free_buffer": len(agents[-1]._actions_buffer)}))
""")


def _run_script(tmp_path, mode: str) -> tuple[dict, float]:
    script = tmp_path / "hung.py"
    script.write_text(_HUNG_SCRIPT)
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(script), mode], cwd=tmp_path,
                          capture_output=True, text=True, timeout=45)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), time.monotonic() - start


def test_a_script_with_a_forever_hung_agent_exits_promptly(tmp_path) -> None:
    metrics, _elapsed = _run_script(tmp_path, "timeout")
    # the subprocess timeout (45 s) is the bound: a joined hung thread would never exit
    assert metrics["parallel_timeouts"] == 3
    assert metrics["agents_skipped_busy"] == 3
    assert metrics["total_parallel_steps"] == 2


def test_ctrl_c_during_a_step_returns_promptly_and_delivers_nothing(tmp_path) -> None:
    result, _elapsed = _run_script(tmp_path, "interrupt")
    assert result["latency"] < 3.0  # contract: about a second
    assert (result["steps"], result["transcript"], result["free_buffer"]) == (0, 0, 0), result


def test_an_unused_world_releases_its_threads_on_garbage_collection() -> None:
    import gc
    import weakref

    world = TinyWorld("forgotten", ring(3))
    world.step(parallelize=True)
    threads = world.worker_threads()
    TinyWorld.all_environments.pop("forgotten")
    TinyPerson.clear_agents()  # agents refer to their world: forget them too
    alive = weakref.ref(world)
    del world
    deadline = time.monotonic() + 10  # workers drop their last call's references
    while alive() is not None and time.monotonic() < deadline:  # as soon as they idle
        gc.collect()
        time.sleep(0.01)
    assert alive() is None
    for thread in threads:
        thread.join(timeout=5)
    assert threads and not any(t.is_alive() for t in threads)


def test_progress_bar_is_shown_for_multi_step_runs_only_when_display_is_on(capsys) -> None:
    with TinyWorld("shown", ring(2)) as world:
        world.run(2, parallelize=True)
        assert "shown steps" not in capsys.readouterr().out
        TinyWorld.communication_display = True
        world.run(2, parallelize=True)
    out = capsys.readouterr().out
    assert "shown steps" in out and "errors 0" in out


def test_turns_still_queued_at_the_deadline_are_cancelled_not_run_later(release) -> None:
    config_manager.set("max_workers", 1)
    config_manager.set("parallel_execution_timeout", 0.3)
    agents = ring(3)
    agents[0].behaviour = lambda _a: release.wait()
    with TinyWorld("queued", agents, seed=1) as world:
        assert world.step(parallelize=True, randomize_agents_order=False) == {}
        assert world.get_parallel_metrics()["parallel_timeouts"] == 3
        release.set()
        assert agents[0].finished.wait(5)
        result = world.step(parallelize=True, randomize_agents_order=False)
    assert [a.turns for a in agents] == [2, 1, 1]  # A1 and A2 never ran in step 1
    assert set(result) == {"A0", "A1", "A2"}


def test_a_timed_out_agent_keeps_nothing_of_its_late_turn(release, monkeypatch) -> None:
    from tinytroupe.clients import OfflineClient

    class SlowForSlow(OfflineClient):
        def complete(self, messages, **params):
            if params.get("user") == "Slow":
                release.wait(10)
            return super().complete(messages, **params)

    client = SlowForSlow()
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
    config_manager.set("parallel_execution_timeout", 0.3)
    slow, fast = TinyPerson("Slow"), TinyPerson("Fast")
    with TinyWorld("late", [slow, fast]) as world:
        world.make_everyone_accessible()
        world.step(parallelize=True)
        release.set()
        assert slow._acting.acquire(timeout=10)  # its abandoned act() has ended
        slow._acting.release()
    kinds = {e["role"] for e in slow.episodic_memory.retrieve_all()}
    assert "assistant" not in kinds  # its late actions were never applied
    assert slow.pop_latest_actions() == []


def test_sequential_steps_skip_an_agent_still_busy_from_a_parallel_timeout(release) -> None:
    config_manager.set("parallel_execution_timeout", 0.3)
    agents = ring(2)
    agents[0].behaviour = lambda _a: release.wait()
    with TinyWorld("mixed", agents) as world:
        world.step(parallelize=True)
        result = world.step(parallelize=False)  # would block on A0's lock if it waited
        assert set(result) == {"A1"}


def test_a_turn_is_either_committed_or_abandoned_never_both() -> None:
    from tinytroupe.environment.parallel import AgentTurn

    action = [{"type": "THINK", "content": "x", "target": ""}]
    late, early = TinyPerson("Late"), TinyPerson("Early")
    abandoned = AgentTurn(late)
    with late.guarded_turn(abandoned.guard):
        assert abandoned.abandon() is True
        assert late._commit(action, {}) is False  # refused: nothing applied
    assert late.episodic_memory.count() == 0 and late.pop_latest_actions() == []
    committed = AgentTurn(early)
    with early.guarded_turn(committed.guard):
        assert early._commit(action, {}) is True
        assert committed.abandon() is False  # too late: the step must use its result
    assert early.pop_latest_actions() == action


def test_interrupting_a_runner_from_another_thread_ends_its_batch_now(release) -> None:
    from tinytroupe.environment.parallel import ParallelRunner, Task

    config_manager.set("parallel_execution_timeout", 60)
    started = threading.Barrier(3, timeout=10)
    runner = ParallelRunner("interruptible")

    def blocked() -> str:
        started.wait()
        release.wait(30)
        return "late"

    runner.interrupt("another batch")  # not this one: no effect
    threading.Thread(target=lambda: (started.wait(), runner.interrupt("this batch")),
                     daemon=True).start()
    begin = time.monotonic()
    outcome = runner.run({"a": Task(blocked), "b": Task(blocked)}, step=1, token="this batch")
    assert time.monotonic() - begin < 10  # not the 60 s timeout
    assert outcome.timed_out == ["a", "b"] and outcome.results == {}
    assert not runner.may_run("a") and not runner.may_run("b")  # still busy
    release.set()
    runner.close()
