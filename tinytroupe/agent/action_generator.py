"""ActionGenerator: how an agent's next actions are produced, with optional quality checks.

By default (as upstream) an agent's actions are whatever the model answers (validated
against the action schema). With ``enable_quality_checks`` the answer is then judged:
one structured call scores it from 0 to 9 on each enabled check (persona adherence,
self-consistency, fluency, suitability, similarity to recent actions) and the lowest
score decides. Below ``quality_threshold`` the model is asked again with the judge's
feedback (``enable_regeneration``), up to ``max_attempts`` generations; if none passes,
the last one is kept (``continue_on_failure``) or `ActionQualityError` is raised.

The checks of one agent run in that agent's turn, right after its action, so in a
parallel step every agent's checks run concurrently with the others'. Their calls go
through the same client, gate, response cache and usage counters as any other.
Settings default to the ``[ActionGenerator]`` keys of the configuration
(``ACTION_GENERATOR_*``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic import BaseModel, Field, create_model

from tinytroupe.clients.structured import ask_structured
from tinytroupe.config import config_manager

#: The checks, by their upstream names, and what each asks of the action.
CHECKS = {
    "persona_adherence": "Does the action fit the persona (character, knowledge, style)?",
    "selfconsistency": "Is the action consistent with what the agent did and said before?",
    "fluency": "Is the action's text fluent and natural, without repetition or artefacts?",
    "suitability": "Is the action suitable for the situation and what was just perceived?",
    "similarity": "Is the action different enough from the agent's recent actions?",
}

_JUDGE = ("You judge the next actions of a simulated person. Score each criterion from 0 "
          "(fails it completely) to 9 (meets it perfectly), with a short justification.")


class ActionQualityError(RuntimeError):
    """No generated action reached the quality threshold (continue_on_failure off)."""


class _Score(BaseModel):
    score: int = Field(ge=0, le=9)
    justification: str = ""


@functools.lru_cache(maxsize=32)
def _verdict_model(checks: tuple[str, ...]) -> type[BaseModel]:
    """The judge's answer schema for these checks (one class per set of checks)."""
    return create_model(  # type: ignore[call-overload,no-any-return]
        "ActionQuality", **{name: (_Score, Field(description=CHECKS[name])) for name in checks})


class ActionGenerator:
    """Produces an agent's next actions, optionally quality-checked (module doc)."""

    def __init__(self, max_attempts: int | None = None, enable_quality_checks: bool | None = None,
                 enable_regeneration: bool | None = None,
                 enable_direct_correction: bool | None = None,
                 enable_quality_check_for_persona_adherence: bool | None = None,
                 enable_quality_check_for_selfconsistency: bool | None = None,
                 enable_quality_check_for_fluency: bool | None = None,
                 enable_quality_check_for_suitability: bool | None = None,
                 enable_quality_check_for_similarity: bool | None = None,
                 continue_on_failure: bool | None = None, quality_threshold: float | None = None,
                 enable_reasoning_step: bool | None = None) -> None:
        given = dict(locals())
        given.pop("self")
        for name, value in given.items():  # None: the [ActionGenerator] configuration
            setattr(self, name, config_manager.get(f"action_generator_{name}")
                    if value is None else value)

    def enabled_checks(self) -> tuple[str, ...]:
        """The names of the checks switched on."""
        return tuple(name for name in CHECKS
                     if getattr(self, f"enable_quality_check_for_{name}", False))

    def generate_next_actions(self, agent: Any, messages: list[dict[str, Any]]
                              ) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """The next actions and cognitive state for `agent` given its request `messages`."""
        from tinytroupe.agent.actions import ActionDocument, parse_actions

        def generate(request: list[dict[str, Any]]) -> tuple[list[dict[str, str]], dict]:
            return ask_structured(request, ActionDocument, name="agent_actions",
                                  user=agent.name, parse=parse_actions)

        actions, state = generate(messages)
        checks = self.enabled_checks()
        if not self.enable_quality_checks or not checks:
            return actions, state
        for attempt in range(1, max(1, int(self.max_attempts)) + 1):
            score, feedback = self._judge(agent, messages, actions, checks)
            if score >= float(self.quality_threshold):
                return actions, state
            if attempt >= int(self.max_attempts) or not self.enable_regeneration:
                break
            messages = [*messages, {"role": "assistant", "content": json.dumps(
                {"actions": actions, "cognitive_state": state}, ensure_ascii=False)},
                {"role": "user", "content": "A reviewer found these actions lacking: "
                                            f"{feedback}. Answer again with better actions."}]
            actions, state = generate(messages)
        if self.continue_on_failure:
            return actions, state
        raise ActionQualityError(f"{agent.name}: no action reached the quality threshold "
                                 f"{self.quality_threshold} in {self.max_attempts} attempts")

    @staticmethod
    def _judge(agent: Any, messages: list[dict[str, Any]], actions: list[dict[str, str]],
               checks: tuple[str, ...]) -> tuple[float, str]:
        """The lowest score of the enabled checks, and the judge's justifications."""
        context = [m for m in messages if m.get("role") != "system"][-6:]
        request = {"persona": agent.get("occupation"), "agent": agent.name,
                   "recent_context": context, "proposed_actions": actions,
                   "criteria": {name: CHECKS[name] for name in checks}}
        verdict = ask_structured(
            [{"role": "system", "content": _JUDGE},
             {"role": "user", "content": json.dumps(request, ensure_ascii=False, default=str)}],
            _verdict_model(checks), name="action_quality", user=agent.name)
        scores = {name: getattr(verdict, name) for name in checks}
        lowest = min(s.score for s in scores.values())
        feedback = "; ".join(f"{name}: {s.score}/9, {s.justification}"
                             for name, s in scores.items())
        return float(lowest), feedback
