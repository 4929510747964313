"""Action quality checks (upstream's ActionGenerator settings) over the fake server.

A scripted judge scores the first proposal low and the second high: the agent must ask
again once, with the judge's feedback, and keep the second.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tinytroupe import config_manager
from tinytroupe.agent import TinyPerson
from tinytroupe.agent.action_generator import ActionGenerator, ActionQualityError
from tinytroupe.clients.offline import OfflineModel
from tinytroupe.environment import TinyWorld
from tinytroupe.testing import FakeLLMServer


class ScriptedJudge:
    """Answers action requests with the offline model and judge requests with `scores`."""

    def __init__(self, scores: list[int]) -> None:
        self.scores = scores
        self.judged = 0
        self.action_requests: list[list[dict[str, Any]]] = []
        self.model = OfflineModel()

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        if str(messages[0].get("content", "")).startswith("You judge the next actions"):
            score = self.scores[min(self.judged, len(self.scores) - 1)]
            self.judged += 1
            return json.dumps({"persona_adherence": {"score": score, "justification":
                                                     f"scored {score}"}})
        self.action_requests.append(messages)
        return self.model.complete(messages)


@pytest.fixture
def judged(use_server):
    """Starts a fake server answering with a `ScriptedJudge(scores)`; stops it after."""
    servers: list[FakeLLMServer] = []

    def start(scores: list[int]) -> tuple[FakeLLMServer, ScriptedJudge]:
        judge = ScriptedJudge(scores)
        servers.append(FakeLLMServer(responder=judge).start())
        use_server(servers[-1])
        return servers[-1], judge

    yield start
    for server in servers:
        server.stop()


def test_a_low_score_regenerates_and_a_high_one_is_kept(judged) -> None:
    config_manager.set("action_generator_enable_quality_checks", True)
    _server, judge = judged([2, 8])
    agent = TinyPerson("Ana")
    agent.listen("Do you like the new park?")
    actions = [c["action"] for c in agent.act(return_actions=True)]
    assert judge.judged == 2 and len(judge.action_requests) == 2
    retry = judge.action_requests[1]
    assert "scored 2" in retry[-1]["content"]  # the judge's feedback reached the model
    assert actions and actions[-1]["type"] == "DONE"


def test_checks_are_off_by_default(judged) -> None:
    _server, judge = judged([0])
    TinyPerson("Ana").listen_and_act("Hello?")
    assert judge.judged == 0 and len(judge.action_requests) == 1


def test_without_continue_on_failure_a_failing_action_is_an_error(judged) -> None:
    _server, judge = judged([1])
    generator = ActionGenerator(enable_quality_checks=True, max_attempts=2,
                                continue_on_failure=False)
    agent = TinyPerson("Ana", action_generator=generator)
    with pytest.raises(ActionQualityError, match="quality threshold"):
        agent.listen_and_act("Hello?")
    assert judge.judged == 2 and agent.episodic_memory.count() == 1  # nothing committed


def test_in_a_parallel_step_a_failing_agent_is_isolated(judged) -> None:
    judged([9])
    agents = [TinyPerson(f"P{i}") for i in range(4)]
    agents[1].action_generator = ActionGenerator(enable_quality_checks=True,
                                                 continue_on_failure=False,
                                                 quality_threshold=10)
    with TinyWorld("checked", agents) as world:
        world.make_everyone_accessible()
        result = world.run(1, parallelize=True, return_actions=True)[0]
        failures = world.get_agent_failures()
    assert set(result) == {"P0", "P2", "P3"}
    assert [(f["agent"], f["error_type"]) for f in failures] == [("P1", "ActionQualityError")]
