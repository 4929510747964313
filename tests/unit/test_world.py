"""BaseWorld/TinyWorld routing, time and state (sequential semantics)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tinytroupe import control
from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinyWorld


def conversation(agent: TinyPerson) -> list[tuple[str, str]]:
    return [(s["source"], s["content"]) for e in agent.episodic_memory.retrieve_all()
            if e["role"] == "user" for s in e["content"]["stimuli"]
            if s["type"] == "CONVERSATION"]


@pytest.fixture
def trio() -> tuple[TinyWorld, TinyPerson, TinyPerson, TinyPerson]:
    a, b, c = TinyPerson("A"), TinyPerson("B"), TinyPerson("C")
    world = TinyWorld("room", [a, b, c])
    return world, a, b, c


def test_talk_is_delivered_exactly_once_to_its_target(trio) -> None:
    world, a, b, c = trio
    world._handle_actions(a, [{"type": "TALK", "content": "hi B", "target": "B"}])
    assert conversation(b) == [("A", "hi B")]
    assert conversation(a) == conversation(c) == []
    assert list(world.transcript)[-1] | {"simulated_time": None} == {
        "step": 1, "simulated_time": None, "type": "TALK", "source": "A", "target": "B",
        "content": "hi B"}


def test_unknown_target_is_broadcast_to_everyone_else(trio) -> None:
    world, a, b, c = trio
    world._handle_actions(a, [{"type": "TALK", "content": "anyone?", "target": "Zed"}])
    assert conversation(b) == conversation(c) == [("A", "anyone?")]
    assert conversation(a) == []


def test_unknown_target_is_dropped_without_broadcast_if_no_target(trio) -> None:
    world, a, b, c = trio
    world.broadcast_if_no_target = False
    world._handle_actions(a, [{"type": "TALK", "content": "anyone?", "target": "Zed"}])
    assert conversation(b) == conversation(c) == []


def test_an_agent_never_receives_its_own_message(trio) -> None:
    world, a, _, _ = trio
    world._handle_actions(a, [{"type": "TALK", "content": "me", "target": "A"}])
    world.broadcast("all", source=a)
    assert conversation(a) == []


def test_reach_out_makes_both_accessible(trio) -> None:
    world, a, b, _ = trio
    world._handle_actions(a, [{"type": "REACH_OUT", "content": "", "target": "B"}])
    assert b in a.accessible_agents and a in b.accessible_agents


def test_broadcast_variants(trio) -> None:
    world, a, b, c = trio
    world.broadcast("news")
    world.broadcast_thought("idea")
    world.broadcast_internal_goal("win")
    world.broadcast_context_change(["a meeting"])
    for agent in (a, b, c):
        kinds = [e["content"]["stimuli"][0]["type"] for e in agent.episodic_memory.retrieve_all()]
        assert kinds == ["CONVERSATION", "THOUGHT", "INTERNAL_GOAL_FORMULATION"]
        assert agent._mental_state["context"] == ["a meeting"]


def test_agents_registry(trio) -> None:
    world, a, b, c = trio
    with pytest.raises(ValueError, match="unique"):
        world.add_agent(a)
    assert world.get_agent_by_name("B") is b
    world.remove_agent(b)
    assert world.get_agent_by_name("B") is None and world.agents == [a, c]
    world.remove_all_agents()
    assert world.agents == []
    with pytest.raises(ValueError, match="already in use"):
        TinyWorld("room")
    assert TinyWorld.all_environments["room"] is world


def test_make_everyone_accessible(trio) -> None:
    world, a, b, c = trio
    world.make_everyone_accessible()
    assert a.accessible_agents == [b, c] and c.accessible_agents == [a, b]


def test_time_advances_by_timedelta_per_step_and_skips() -> None:
    start = datetime(2025, 1, 1, 9, 0)
    world = TinyWorld("clock", [TinyPerson("A")], initial_datetime=start)
    world.run(2, timedelta_per_step=timedelta(minutes=30), parallelize=False)
    assert world.current_datetime == start + timedelta(hours=1)
    world.run_hours(2, parallelize=False)
    world.skip_days(1)
    assert world.current_datetime == start + timedelta(days=1, hours=3)
    assert world.agents[0]._mental_state["datetime"] == str(world.current_datetime)


def test_sequential_step_is_turn_based() -> None:
    a, b = TinyPerson("A"), TinyPerson("B")
    world = TinyWorld("turns", [a, b])
    world.make_everyone_accessible()
    a.listen("Hello A", source=b)
    results = world.step(parallelize=False, randomize_agents_order=False)
    # A answered B first; B, acting second, already heard A's answer in the same step
    assert [act["target"] for act in results["A"] if act["type"] == "TALK"] == ["B"]
    assert [act["target"] for act in results["B"] if act["type"] == "TALK"] == ["A"]
    assert conversation(b)[0][0] == "A"


def test_interventions_apply_before_agents_act() -> None:
    applied = []

    class Nudge:
        def check_precondition(self) -> bool:
            return True

        def apply_effect(self) -> None:
            applied.append(len(world.transcript))
            world.broadcast("Please discuss prices.")

    world = TinyWorld("nudged", [TinyPerson("A"), TinyPerson("B")], interventions=[Nudge()])
    world.run(2, parallelize=True)
    assert len(applied) == 2


def test_world_state_round_trips_through_json(trio) -> None:
    world, _a, _b, _ = trio
    world.make_everyone_accessible()
    world.broadcast("start")
    world.run(2, parallelize=True, timedelta_per_step=timedelta(hours=1))
    state = json.loads(json.dumps(world.encode_complete_state()))
    control.reset()
    restored = TinyWorld("room").decode_complete_state(state)
    assert restored.encode_complete_state() == state
    assert restored.steps_done == 2


def test_control_reset_forgets_agents_and_worlds(trio) -> None:
    control.reset()
    assert TinyPerson.all_agents == {} and TinyWorld.all_environments == {}


def test_choosing_ray_without_ray_installed_is_a_clear_error(monkeypatch) -> None:
    import sys

    from tinytroupe import ConfigError

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'tinytroupe\[ray\]'"):
        TinyWorld("needs-ray", backend="ray")
    TinyWorld("needs-ray").close()  # the failed world did not keep its name


def test_an_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="threads' or 'ray'"):
        TinyWorld("odd", backend="spark")


def test_the_core_never_imports_ray_unless_chosen(tmp_path) -> None:
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import sys
        from tinytroupe import config_manager
        from tinytroupe.agent import TinyPerson
        from tinytroupe.environment import TinyWorld
        config_manager.set("api_type", "offline")
        TinyPerson.communication_display = TinyWorld.communication_display = False
        TinyWorld("w", [TinyPerson("A"), TinyPerson("B")]).run(1)
        print("ray" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
