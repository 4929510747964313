"""Interventions, propositions, the A/B randomizer and the in-place experiment runner.

Worlds check interventions before agents act, in both kinds of step: a functional
precondition counting the steps decides exactly when the effect fires, and scripted
agents (no model) record what they had been told when they acted. Model-judged
preconditions get their truth from a stand-in for `ask_structured` (the offline model
picks booleans by hashing); the offline model itself answers `check`/`score`.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tinytroupe.agent import TinyPerson
from tinytroupe.environment import TinyWorld
from tinytroupe.experimentation import (
    ABRandomizer,
    InPlaceExperimentRunner,
    Proposition,
    check_proposition,
    compute_score,
)
from tinytroupe.experimentation import proposition as proposition_module
from tinytroupe.experimentation.proposition import render_claim
from tinytroupe.steering import Intervention, InterventionBatch
from tinytroupe.steering.intervention import evaluate_preconditions
from tinytroupe.testing.scripted import ScriptedPerson

NUDGE = "nudge"


def thoughts(agent: TinyPerson) -> list[str]:
    """The THOUGHT stimuli an agent received, in order."""
    return [s["content"] for e in agent.episodic_memory.retrieve_all() if e["role"] == "user"
            for s in e["content"]["stimuli"] if s["type"] == "THOUGHT"]


class Judge:
    """Stands in for `ask_structured` in the proposition module: a chosen value per call.

    `value(call_index, messages)` gives the answer's value; every call is recorded
    (thread-safe). `barrier`, if set, makes each call wait for the others.
    """

    def __init__(self, value: Any, barrier: threading.Barrier | None = None) -> None:
        self.value = value
        self.barrier = barrier
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, messages: list[dict[str, Any]], model: Any, **kwargs: Any) -> Any:
        with self._lock:
            index = len(self.calls)
            self.calls.append({"messages": messages, "model": model, **kwargs})
        if self.barrier is not None:
            self.barrier.wait()
        value = self.value(index, messages) if callable(self.value) else self.value
        return model(justification=f"judged {index}", value=value, confidence=0.75)


@pytest.fixture
def judge(monkeypatch: pytest.MonkeyPatch):
    """Install a `Judge` answering `value` (a constant or a function); returns it."""

    def install(value: Any, barrier: threading.Barrier | None = None) -> Judge:
        stand_in = Judge(value, barrier)
        monkeypatch.setattr(proposition_module, "ask_structured", stand_in)
        return stand_in

    return install


# --- interventions in worlds ------------------------------------------------------------


@pytest.mark.parametrize("parallelize", [False, True], ids=["sequential", "parallel"])
def test_intervention_fires_exactly_on_the_steps_its_precondition_holds(
        parallelize: bool) -> None:
    seen_when_acting: list[tuple[str, int, int]] = []  # (agent, turn, nudges remembered)

    def record(agent: ScriptedPerson) -> None:
        seen_when_acting.append((agent.name, agent.turns, thoughts(agent).count(NUDGE)))

    people = [ScriptedPerson(f"P{i}", behaviour=record) for i in range(3)]
    world = TinyWorld(f"steered-{parallelize}", people)
    checks: list[int] = []
    effects: list[int] = []

    def every_second_step(targets: list[ScriptedPerson]) -> bool:
        checks.append(world.steps_done + 1)  # the step about to run
        return (world.steps_done + 1) % 2 == 0

    def nudge(targets: list[ScriptedPerson]) -> None:
        effects.append(world.steps_done + 1)
        for person in targets:
            person.think(NUDGE)

    world.add_intervention(Intervention(people).set_functional_precondition(every_second_step)
                           .set_effect(nudge))
    world.run(5, parallelize=parallelize)

    assert checks == [1, 2, 3, 4, 5]
    assert effects == [2, 4]
    for person in people:
        assert thoughts(person).count(NUDGE) == 2
        # the effect reached each agent before it acted in that step: at turn t it had
        # been nudged once per even step up to t
        mine = [(turn, nudges) for name, turn, nudges in seen_when_acting if name == person.name]
        assert mine == [(t, t // 2) for t in range(1, 6)]


@pytest.mark.parametrize("parallelize", [False, True], ids=["sequential", "parallel"])
@pytest.mark.parametrize("as_one", [False, True], ids=["interventions=batch", "add_batch"])
def test_batch_fires_per_target_in_worlds(parallelize: bool, as_one: bool) -> None:
    people = [ScriptedPerson(f"Q{i}") for i in range(4)]
    # P0 and P2 qualify from step 2 on, the others never
    batch = Intervention.create_for_each(people).set_functional_precondition(
        lambda person: person.turns >= 1 and person.name in ("Q0", "Q2")).set_effect(
        lambda person: person.think(NUDGE))
    if as_one:
        world = TinyWorld(f"batch-{parallelize}-{as_one}", people).add_intervention(batch)
    else:
        world = TinyWorld(f"batch-{parallelize}-{as_one}", people, interventions=batch)
    world.run(3, parallelize=parallelize)
    assert [thoughts(p).count(NUDGE) for p in people] == [2, 0, 2, 0]


def test_textual_precondition_in_a_world_is_judged_before_each_step(judge) -> None:
    truth = {1: False, 2: True, 3: False, 4: True}
    calls: list[int] = []
    world: TinyWorld

    def verdict(_index: int, messages: list[dict[str, Any]]) -> bool:
        calls.append(world.steps_done + 1)
        return truth[world.steps_done + 1]

    stand_in = judge(verdict)
    person = ScriptedPerson("Oscar")
    person.think("I will talk about my travel plans.")
    intervention = Intervention(person, last_n=5).set_textual_precondition(
        "Oscar is talking about travel.").set_effect(lambda target: target.think(NUDGE))
    world = TinyWorld("textual", [person], interventions=[intervention])
    world.run(4, parallelize=True)
    assert calls == [1, 2, 3, 4]
    assert thoughts(person).count(NUDGE) == 2
    request = stand_in.calls[0]["messages"][-1]["content"]
    assert "Oscar is talking about travel." in request and "travel plans" in request
    assert stand_in.calls[0]["user"] == "Oscar"


# --- preconditions ------------------------------------------------------------------------


def test_functional_precondition_is_checked_first_and_spares_the_model(judge) -> None:
    stand_in = judge(True)
    person = TinyPerson("Ann")
    intervention = Intervention(person).set_functional_precondition(lambda t: False)\
        .set_textual_precondition("Ann is happy.").set_effect(lambda t: t.think(NUDGE))
    assert intervention.execute() is False
    assert stand_in.calls == [] and thoughts(person) == []
    assert "Functional precondition was not met" in intervention.precondition_justification()

    intervention.set_functional_precondition(lambda t: True)
    assert intervention() is True
    assert len(stand_in.calls) == 1 and thoughts(person) == [NUDGE]
    justification = intervention.precondition_justification()
    assert "Functional precondition was met" in justification and "judged 0" in justification


@pytest.mark.parametrize(("score", "threshold", "holds"),
                         [(3, 5, True), (5, 5, False), (8, 5, False), (0, 1, True)])
def test_propositional_precondition_with_a_threshold_holds_below_it(
        judge, score: int, threshold: int, holds: bool) -> None:
    judge(score)
    person = TinyPerson("Ben")
    claim = Proposition("Ben proposes new ideas.")
    intervention = Intervention(person).set_propositional_precondition(claim, threshold)
    assert intervention.check_precondition() is holds
    assert claim.value == score
    verdict = "was met" if holds else "was not met"
    assert f"Propositional precondition {verdict}" in intervention.precondition_justification()


@pytest.mark.parametrize("truth", [True, False])
def test_propositional_precondition_without_threshold_uses_check(judge, truth: bool) -> None:
    stand_in = judge(truth)
    person = TinyPerson("Cid")
    own_target = Proposition("Cid is bored.", target=person)  # judged on its own target
    assert Intervention(TinyPerson("Dee")).set_propositional_precondition(
        own_target).check_precondition() is truth
    assert "'Cid'" in stand_in.calls[0]["messages"][-1]["content"]


def test_textual_and_propositional_parts_combine_with_and(judge) -> None:
    stand_in = judge(lambda index, _m: index == 0)  # the textual part True, the next False
    intervention = Intervention(TinyPerson("Eve")).set_textual_precondition("A")\
        .set_propositional_precondition(Proposition("B"))
    assert intervention.check_precondition() is False
    assert len(stand_in.calls) == 2
    stand_in = judge(False)  # a false textual part spares the propositional one
    assert intervention.check_precondition() is False
    assert len(stand_in.calls) == 1


def test_no_precondition_holds_and_missing_effect_is_a_clear_error() -> None:
    intervention = Intervention(TinyPerson("Fay"), name="empty")
    assert intervention.check_precondition() is True
    with pytest.raises(ValueError, match="empty: no effect"):
        intervention.execute()


def test_batch_judges_its_interventions_concurrently(judge) -> None:
    people = [TinyPerson(f"R{i}") for i in range(3)]
    # each judgment waits for the other two: judged one at a time, this would time out
    stand_in = judge(lambda _i, messages: "'R1'" not in messages[-1]["content"],
                     barrier=threading.Barrier(3, timeout=10))
    batch = Intervention.create_for_each(people).set_textual_precondition("X")\
        .set_effect(lambda p: p.think(NUDGE))
    assert batch.execute() == [True, False, True]
    assert len(stand_in.calls) == 3
    assert [len(thoughts(p)) for p in people] == [1, 0, 1]


def test_a_failed_judgment_is_raised_after_the_others(judge) -> None:
    def verdict(_index: int, messages: list[dict[str, Any]]) -> bool:
        if "'S1'" in messages[-1]["content"]:
            raise RuntimeError("judge unavailable")
        return True

    judge(verdict)
    batch = Intervention.create_for_each([TinyPerson(f"S{i}") for i in range(3)])\
        .set_textual_precondition("X")
    with pytest.raises(RuntimeError, match="judge unavailable"):
        evaluate_preconditions(batch)


def test_evaluate_preconditions_accepts_any_intervention_object() -> None:
    class Always:
        def check_precondition(self) -> bool:
            return True

    never = Intervention(TinyPerson("Gus")).set_functional_precondition(lambda t: False)
    assert evaluate_preconditions([Always(), never, Intervention(TinyPerson("Hal"))]) == [
        True, False, True]


# --- create_for_each ------------------------------------------------------------------------


def test_create_for_each_makes_one_intervention_per_target() -> None:
    people = [TinyPerson(f"T{i}") for i in range(3)]
    world = TinyWorld("for-each-world")
    batch = Intervention.create_for_each([*people, world], first_n=2, last_n=3, name="probe")
    assert isinstance(batch, InterventionBatch) and len(batch) == 4
    assert [i.targets for i in batch] == [*people, world]
    assert [i.name for i in batch] == ["probe_0", "probe_1", "probe_2", "probe_3"]
    assert all((i.first_n, i.last_n) == (2, 3) for i in batch)
    assert batch.as_list() == list(batch) == batch.interventions
    assert batch[1].targets is people[1]

    effect = lambda t: None  # noqa: E731
    claim = Proposition("P")
    assert batch.set_textual_precondition("talks").set_effect(effect)\
        .set_propositional_precondition(claim, 4) is batch
    assert all(i.text_precondition == "talks" and i.effect_func is effect
               and i.propositional_precondition is claim
               and i.propositional_precondition_threshold == 4 for i in batch)

    single = Intervention.create_for_each(people[0])
    assert [i.targets for i in single] == [people[0]]
    unnamed = Intervention.create_for_each(people[:2])
    assert unnamed[0].name != unnamed[1].name and unnamed[0].name.startswith("Intervention ")


# --- Proposition ------------------------------------------------------------------------------


def test_proposition_check_and_score_offline() -> None:
    person = TinyPerson("Oscar")
    person.think("I will talk about my travel preferences.")
    person.listen("Where would you like to go next?")
    claim = Proposition("Oscar is talking about travel.", target=person, last_n=10,
                        include_personas=True)
    value = claim.check()
    assert isinstance(value, bool) and claim.value is value
    score = claim.score()
    assert type(score) is int and Proposition.MIN_SCORE <= score <= Proposition.MAX_SCORE
    full = claim.check(return_full_response=True)
    assert set(full) == {"value", "justification", "confidence"}
    assert isinstance(full["justification"], str) and 0.0 <= full["confidence"] <= 1.0
    assert claim() == claim.check()  # deterministic offline, and __call__ is check
    world = TinyWorld("prop-world", [person, TinyPerson("Lisa")])
    assert isinstance(check_proposition(world, "People talk.", last_n=5), bool)
    assert 0 <= compute_score([person, world], "Someone talks.") <= 9


def test_proposition_context_claim_variables_and_targets(judge) -> None:
    stand_in = judge(True)
    person = TinyPerson("Oscar")
    person.listen("Tell me about Lisbon.")
    claim = Proposition("{{name}} likes {{ place.city }}{{missing}}.", include_personas=True)
    assert claim.check(target=person, claim_variables={"name": "Oscar",
                                                       "place": {"city": "Lisbon"}}) is True
    request = stand_in.calls[0]["messages"][-1]["content"]
    assert "Oscar likes Lisbon." in request and "Tell me about Lisbon." in request
    assert "persona=" in request and stand_in.calls[0]["name"] == "proposition_check"
    with pytest.raises(ValueError, match="no target"):
        claim.check()
    fixed = Proposition("x", target=person)
    with pytest.raises(ValueError, match="constructor"):
        fixed.check(target=person)
    with pytest.raises(ValueError, match="TinyPerson, a world"):
        Proposition("x", target="Oscar")
    with pytest.raises(ValueError, match="non-empty"):
        Proposition("  ")
    assert render_claim("{{{a}}} and {{&b}} {{#s}}", {"a": "<1>", "b": 2}) == "<1> and 2 {{#s}}"


def test_false_precondition_function_makes_the_proposition_trivially_true(judge) -> None:
    stand_in = judge(False)
    seen: dict[str, Any] = {}

    def applicable(target: Any, additional_context: str, claim_variables: dict) -> bool:
        seen.update(target=target, context=additional_context, variables=claim_variables)
        return False

    person = TinyPerson("Ida")
    claim = Proposition("Ida agrees.", person, precondition_function=applicable)
    assert claim.check(claim_variables={"k": 1}) is True
    assert claim.score() == Proposition.MAX_SCORE and claim.confidence == 1.0
    assert stand_in.calls == []
    assert seen == {"target": [person], "context": "No additional context available.",
                    "variables": {}}


def test_double_check_asks_again_and_adopts_the_revision(judge) -> None:
    stand_in = judge(lambda index, _m: index == 1)  # first False, revised True
    claim = Proposition("Jon is calm.", TinyPerson("Jon"), double_check=True)
    assert claim.check() is True
    assert len(stand_in.calls) == 2
    assert stand_in.calls[1]["messages"][-2]["role"] == "assistant"


def test_check_for_each_judges_targets_separately_in_order(judge) -> None:
    people = [TinyPerson(f"K{i}") for i in range(4)]
    stand_in = judge(lambda _i, messages: "'K2'" in messages[-1]["content"],
                     barrier=threading.Barrier(4, timeout=10))
    claim = Proposition("This agent is K2.")
    assert claim.check_for_each(people) == [False, False, True, False]
    assert len(stand_in.calls) == 4
    judge(7)
    scores = Proposition("x", target=people[:2]).score_for_each(return_full_response=True)
    assert [(s["value"], s["justification"][:6]) for s in scores] == [(7, "judged")] * 2
    copy = claim.copy()
    assert copy.claim == claim.claim and copy.value is None


# --- ABRandomizer -----------------------------------------------------------------------------


def test_ab_randomizer_round_trip_with_seeds() -> None:
    real = {"control data": "control", "treatment data": "treatment"}
    orders = set()
    for seed in range(20):
        randomizer = ABRandomizer(random_seed=seed, passtrough_name=["neither"])
        for item in range(3):
            shown = randomizer.randomize(item, "control data", "treatment data")
            orders.add(shown)
            assert randomizer.derandomize(item, *shown) == ("control data", "treatment data")
            assert randomizer.derandomize_name(item, "A") == real[shown[0]]
            assert randomizer.derandomize_name(item, "B") == real[shown[1]]
            assert randomizer.derandomize_name(item, "neither") == "neither"
    assert len(orders) == 2  # some seeds swap, some do not


def test_ab_randomizer_draws_as_upstream_and_rejects_unknowns() -> None:
    randomizer = ABRandomizer()  # seed 42: a fresh Random(42) draws 0.639... -> swapped
    assert [randomizer.randomize(i, 1, 2) for i in range(3)] == [(2, 1)] * 3
    assert randomizer.choices == {0: (1, 0), 1: (1, 0), 2: (1, 0)}
    again = ABRandomizer(random_seed=42)
    assert again.randomize("x", "a", "b") == ("b", "a")
    with pytest.raises(KeyError, match="No randomization found"):
        randomizer.derandomize(99, 1, 2)
    with pytest.raises(ValueError, match="not recognized"):
        randomizer.derandomize_name(0, "C")


# --- InPlaceExperimentRunner ------------------------------------------------------------------


def test_in_place_runner_walks_experiments_and_keeps_results(tmp_path) -> None:
    path = tmp_path / "study.json"
    runner = InPlaceExperimentRunner(str(path))
    assert json.loads(path.read_text())["experiments"] == {}
    with pytest.raises(ValueError, match="No experiments"):
        runner.activate_next_experiment()
    runner.add_experiment("control")
    runner.add_experiment("treatment")
    runner.add_experiment("control")  # already there: nothing changes
    with pytest.raises(ValueError, match="No active experiment"):
        runner.add_experiment_results({"x": [1]})
    runner.activate_next_experiment()
    assert runner.get_active_experiment() == "control"
    runner.add_experiment_results({"score": [1, 2]})
    runner.add_experiment_results({"score": [2, 3], "extra": {"n": [1]}})
    assert runner.get_experiment_results("control") == {"score": [1, 2, 2, 3],
                                                         "extra": {"n": [1]}}
    with pytest.raises(ValueError, match="Conflicting"):
        runner.add_experiment_results({"label": "a"}, "treatment")
        runner.add_experiment_results({"label": "b"}, "treatment")
    runner.add_experiment_results({"label": "c"}, "treatment", merge=False)

    reloaded = InPlaceExperimentRunner(path)  # a rerun of the notebook
    assert reloaded.get_active_experiment() == "control"
    assert reloaded.get_unfinished_experiments() == ["control", "treatment"]
    reloaded.activate_next_experiment()
    assert reloaded.get_active_experiment() == "treatment"
    assert reloaded.get_unfinished_experiments() == ["treatment"]
    assert reloaded.finish_active_experiment() is True
    assert reloaded.has_finished_all_experiments() and reloaded.get_active_experiment() is None
    assert reloaded.finish_active_experiment() is False
    reloaded.activate_next_experiment()  # nothing left: a no-op
    assert reloaded.get_experiment_results() == {
        "control": {"score": [1, 2, 2, 3], "extra": {"n": [1]}},
        "treatment": {"label": "c"}}
    reloaded.fix_active_experiment("control")
    assert not reloaded.has_finished_all_experiments()
    with pytest.raises(ValueError, match="does not exist"):
        reloaded.fix_active_experiment("nope")
    assert json.loads(path.read_text())["active_experiment"] == "control"


def test_in_place_runner_statistics_and_bad_files(tmp_path) -> None:
    pytest.importorskip("scipy")
    runner = InPlaceExperimentRunner(tmp_path / "stats.json")
    for name, values in {"control": [1.0, 2.0, 1.5, 2.5, 1.8],
                         "treatment": [4.0, 5.0, 4.5, 5.5, 4.8]}.items():
        runner.add_experiment(name)
        runner.add_experiment_results({"score": values}, name)
    results = runner.run_statistical_tests("control")
    assert results["treatment"]["score"]["significant"] is True
    stored = json.loads((tmp_path / "stats.json").read_text())
    assert "statistical_test_results_vs_others" in stored["experiments"]["control"]

    bad = tmp_path / "bad.json"
    bad.write_text('{"experiments": []}')
    with pytest.raises(ValueError, match=r"bad\.json"):
        InPlaceExperimentRunner(bad)
    bad.write_text("not json")
    with pytest.raises(ValueError, match=r"bad\.json"):
        InPlaceExperimentRunner(bad)
