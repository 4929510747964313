"""Proposition: a claim about agents or worlds, judged by the model (upstream's API).

A `Proposition` is a textual claim ("Oscar talks about travel.") about one or more
targets: `TinyPerson`s, worlds, or a list of them. `check()` asks the model whether it
holds (a bool); `score()` asks how far it holds, an int from `Proposition.MIN_SCORE` (0,
completely false) to `Proposition.MAX_SCORE` (9, completely true). The model reads the
targets' simulation trajectories (each agent's `pretty_current_interactions(first_n=,
last_n=)`; a world's is its agents'), and, with `include_personas`, their persona
specifications. Every answer is one structured call (`ask_structured`) whose answer is
``{"value", "justification", "confidence"}``; `value`, `justification` and `confidence`
are kept on the proposition, and ``return_full_response=True`` returns that dict.

Upstream's rules kept here:

* A target given to the constructor makes the proposition immutable: `check`/`score`
  then take no target (ValueError); without one, each call must give one.
* `precondition_function(target=, additional_context=, claim_variables=)` turns the
  proposition into "precondition implies claim": when it returns False, `check()` is
  True and `score()` is `MAX_SCORE`, with no model call.
* ``{{name}}`` in the claim is replaced by ``claim_variables["name"]`` (mustache
  variables; dotted names look into nested dicts; a missing one renders empty).
  Unlike upstream's renderer, values are not HTML-escaped: the claim goes to a model.
* `double_check=True` asks the model to review its answer once; a changed value is
  logged and adopted.

Differences: `use_reasoning_model` is accepted and kept, but the calls use the one
configured client and model (``REASONING_MODEL`` is not used yet). `check_for_each` and
`score_for_each` judge a claim about each of many targets separately and concurrently on
a `ParallelRunner` (upstream judges a list of targets together, which `check`/`score`
still do). `check`/`score` are thread-safe: the result is returned from the call itself;
the attributes show the latest evaluation to finish.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from tinytroupe.agent import TinyPerson
from tinytroupe.clients.structured import ask_structured
from tinytroupe.environment.base_world import BaseWorld
from tinytroupe.environment.parallel import ParallelRunner, Task

logger = logging.getLogger("tinytroupe")

__all__ = ["NO_ADDITIONAL_CONTEXT", "Proposition", "check_proposition", "compute_score",
           "render_claim", "run_concurrently"]

T = TypeVar("T")

#: The `additional_context` used when none is given (upstream's wording).
NO_ADDITIONAL_CONTEXT = "No additional context available."

_TRIVIAL = "The proposition is trivially true due to the precondition being false."

_COMMON = """\
The context comes from a simulation of people (agents) who may share an environment. \
It can hold the agents' persona specifications (what they ARE: never evidence of what \
they DID), their simulation trajectories (what they perceived, thought, said and did, \
in order) and the state of their environment. In a trajectory, a line such as \
"Agent acts: [TALK] ..." is an action of that agent; a line such as "--> Agent: \
[CONVERSATION] ..." is a stimulus the agent received. Judge from the evidence in the \
context only; quote or name the specific actions and stimuli that decided your answer \
in the justification. Give your confidence in the answer as a number from 0.0 (a guess) \
to 1.0 (certain)."""

_CHECK_SYSTEM = f"""\
You decide whether a claim (a proposition) about a simulation is true or false.
{_COMMON}
Answer with JSON: "justification" (the concrete evidence, first), "value" (true when the \
claim holds in the context, false otherwise) and "confidence"."""

_SCORE_SYSTEM = f"""\
You rate how far a claim (a proposition) about a simulation holds, as an integer from \
{{low}} to {{high}}.
{_COMMON}
Scale: {{low}} = certainly and entirely false; 1-3 = little support, mostly false; \
4-5 = mixed evidence, as true as false; 6-8 = well supported, mostly true; {{high}} = \
certainly and entirely true, every relevant part of the trajectory supports it. When the \
context holds no evidence either way, give {{high}} (the claim stands until contradicted). \
Be strict: when in doubt, or when any part of the context contradicts the claim, score \
lower; when you relate behaviour to a persona specification, every observed behaviour \
must be explained by the specification.
Answer with JSON: "justification" (the concrete evidence, first), "value" (the integer \
score) and "confidence"."""

_REVIEW = ("Review your evaluation once more against the context: is it as correct as it "
           "can be? Answer again with the same JSON fields (you may keep or change the "
           "value).")


class _TruthAnswer(BaseModel):
    """The answer to `check`: whether the claim is true."""

    justification: str = Field(description="The concrete evidence for the value.")
    value: bool = Field(description="True when the claim holds, else false.")
    confidence: float = Field(ge=0.0, le=1.0, description="0.0 (a guess) to 1.0 (certain).")


class _ScoreAnswer(BaseModel):
    """The answer to `score`: how far the claim holds."""

    justification: str = Field(description="The concrete evidence for the score.")
    value: int = Field(ge=0, le=9, description="0 (entirely false) to 9 (entirely true).")
    confidence: float = Field(ge=0.0, le=1.0, description="0.0 (a guess) to 1.0 (certain).")


def _is_world(target: Any) -> bool:
    return isinstance(target, BaseWorld)


def _is_agent(target: Any) -> bool:
    return isinstance(target, TinyPerson) or (
        not _is_world(target) and callable(getattr(target, "pretty_current_interactions", None))
        and isinstance(getattr(target, "name", None), str))


_TAG = re.compile(r"\{\{\{\s*([^{}]*?)\s*\}\}\}|\{\{&?\s*([^{}!#^/>=]*?)\s*\}\}")


def render_claim(claim: str, variables: dict[str, Any] | None = None) -> str:
    """`claim` with mustache variable tags (``{{name}}``) replaced from `variables`.

    ``{{{name}}}`` and ``{{& name}}`` are the same here (no HTML escaping); dotted names
    look into nested dicts; a missing variable renders as the empty string. Other
    mustache tags (sections, comments, partials) are left as they are.
    """
    values = variables or {}

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1) if match.group(1) is not None else match.group(2)
        value: Any = values
        for part in name.split("."):
            if not isinstance(value, dict) or part not in value:
                return ""
            value = value[part]
        return "" if value is None else str(value)

    return _TAG.sub(lookup, claim)


def run_concurrently(calls: Sequence[Callable[[], T]], name: str = "propositions") -> list[T]:
    """Run independent model-calling `calls`; their results, in the calls' order.

    One call runs in the calling thread; more run concurrently on a fresh `ParallelRunner`
    (MAX_WORKERS, PARALLEL_EXECUTION_TIMEOUT), closed afterwards. When calls fail, the
    first failing call's own exception is raised (in the calls' order) once all have
    ended, and the others are logged; a call still running at the step timeout raises
    TimeoutError naming how many did not finish.
    """
    if len(calls) <= 1:
        return [call() for call in calls]

    def guarded(call: Callable[[], T]) -> Callable[[], tuple[bool, Any]]:
        def run() -> tuple[bool, Any]:
            try:
                return True, call()
            except Exception as exc:  # handed to the calling thread, raised there
                return False, exc
        return run

    keys = [str(i) for i in range(len(calls))]
    runner = ParallelRunner(name)
    try:
        outcome = runner.run({key: Task(guarded(call))
                              for key, call in zip(keys, calls, strict=True)}, step=1)
    finally:
        runner.close()
    unfinished = [key for key in keys if key not in outcome.results]
    if unfinished:
        raise TimeoutError(f"{name}: {len(unfinished)} of {len(calls)} judgments did not "
                           f"finish within the step timeout ({outcome.timeout} s)")
    results: list[T] = []
    errors: list[BaseException] = []
    for key in keys:
        ok, value = outcome.results[key]
        if ok:
            results.append(value)
        else:
            errors.append(value)
    if errors:
        for extra in errors[1:]:
            logger.error("%s: another judgment failed too: %s: %s", name,
                         type(extra).__name__, extra)
        raise errors[0]
    return results


class Proposition:
    """A claim about agents or worlds, checked (bool) or scored (0-9) by the model."""

    MIN_SCORE = 0
    MAX_SCORE = 9

    def __init__(self, claim: str, target: Any = None, include_personas: bool = False,
                 first_n: int | None = None, last_n: int | None = None,
                 double_check: bool = False, use_reasoning_model: bool = False,
                 precondition_function: Callable[..., bool] | None = None) -> None:
        """A proposition stating `claim` about `target` (module doc).

        `target` is a TinyPerson, a world, a list of them, or None (given to each
        `check`/`score` instead). `first_n`/`last_n` bound the interactions read per
        agent. Raises ValueError for a claim that is not a non-empty string or a target
        of another kind.
        """
        if not isinstance(claim, str) or not claim.strip():
            raise ValueError(f"Proposition: the claim must be a non-empty string, got {claim!r}")
        self.claim = claim
        self.targets = self._target_as_list(target)
        self.include_personas = include_personas
        self.first_n = first_n
        self.last_n = last_n
        self.double_check = double_check
        self.use_reasoning_model = use_reasoning_model
        self.precondition_function = precondition_function
        #: The latest evaluation to finish: its value, justification and confidence.
        self.value: bool | int | None = None
        self.justification: str | None = None
        self.confidence: float | None = None
        self.reasoning: str | None = None
        self.recommendations: str | None = None
        self.full_evaluation_response: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Proposition(claim={self.claim!r}, value={self.value!r})"

    def __copy__(self) -> Proposition:
        """A proposition with the same settings and no evaluation state."""
        return Proposition(claim=self.claim, target=self.targets,
                           include_personas=self.include_personas, first_n=self.first_n,
                           last_n=self.last_n, double_check=self.double_check,
                           use_reasoning_model=self.use_reasoning_model,
                           precondition_function=self.precondition_function)

    def copy(self) -> Proposition:
        """A proposition with the same settings and no evaluation state."""
        return copy.copy(self)

    def __call__(self, target: Any = None, additional_context: str | None = None,
                 claim_variables: dict[str, Any] | None = None,
                 return_full_response: bool = False) -> bool | dict[str, Any]:
        """Same as `check`."""
        return self.check(target=target, additional_context=additional_context,
                          claim_variables=claim_variables,
                          return_full_response=return_full_response)

    # --- evaluation -------------------------------------------------------------------

    def check(self, target: Any = None, additional_context: str | None = NO_ADDITIONAL_CONTEXT,
              claim_variables: dict[str, Any] | None = None,
              return_full_response: bool = False) -> bool | dict[str, Any]:
        """Whether the claim holds for the targets: a bool, or the full answer dict.

        `target` only when the constructor had none (else ValueError). The full answer
        is ``{"value": bool, "justification": str, "confidence": float}``. Raises the
        model call's error (`LLMError`) if it fails.
        """
        response = self._evaluate(self._determine_target(target), additional_context,
                                  claim_variables, scored=False)
        return response if return_full_response else response["value"]

    def score(self, target: Any = None, additional_context: str | None = NO_ADDITIONAL_CONTEXT,
              claim_variables: dict[str, Any] | None = None,
              return_full_response: bool = False) -> int | dict[str, Any]:
        """How far the claim holds: an int from MIN_SCORE to MAX_SCORE, or the full answer.

        Same arguments, full answer and errors as `check`, with an int ``value``.
        """
        response = self._evaluate(self._determine_target(target), additional_context,
                                  claim_variables, scored=True)
        return response if return_full_response else response["value"]

    def check_for_each(self, targets: Any = None,
                       additional_context: str | None = NO_ADDITIONAL_CONTEXT,
                       claim_variables: dict[str, Any] | None = None,
                       return_full_response: bool = False) -> list[Any]:
        """`check` for each target on its own, concurrently; results in the targets' order.

        `targets` (a target or a list) only when the constructor had none, as for
        `check`. Errors as `run_concurrently`. The attributes end up describing the last
        target's evaluation.
        """
        return self._for_each(targets, additional_context, claim_variables,
                              return_full_response, scored=False)

    def score_for_each(self, targets: Any = None,
                       additional_context: str | None = NO_ADDITIONAL_CONTEXT,
                       claim_variables: dict[str, Any] | None = None,
                       return_full_response: bool = False) -> list[Any]:
        """`score` for each target on its own, concurrently (see `check_for_each`)."""
        return self._for_each(targets, additional_context, claim_variables,
                              return_full_response, scored=True)

    def recommendations_for_improvement(self) -> str:
        """Advice on improving the score (upstream gives none yet; neither does this)."""
        return "No additional recommendations at this time."

    # --- internals --------------------------------------------------------------------

    def _for_each(self, targets: Any, additional_context: str | None,
                  claim_variables: dict[str, Any] | None, full: bool, scored: bool
                  ) -> list[Any]:
        chosen = self._determine_target(targets)
        responses = run_concurrently(
            [lambda t=t: self._evaluate([t], additional_context, claim_variables, scored,
                                        record=False) for t in chosen])
        if responses:
            self._record(responses[-1])
        return responses if full else [r["value"] for r in responses]

    def _evaluate(self, targets: list[Any], additional_context: str | None,
                  claim_variables: dict[str, Any] | None, scored: bool, record: bool = True
                  ) -> dict[str, Any]:
        variables = dict(claim_variables or {})
        context_note = NO_ADDITIONAL_CONTEXT if additional_context is None \
            else str(additional_context)
        if self.precondition_function is not None and not self.precondition_function(
                target=targets, additional_context=context_note, claim_variables=variables):
            response: dict[str, Any] = {
                "value": self.MAX_SCORE if scored else True,
                "justification": _TRIVIAL, "confidence": 1.0}
        else:
            response = self._ask(targets, context_note, render_claim(self.claim, variables),
                                 scored)
        if record:
            self._record(response)
        return response

    def _ask(self, targets: list[Any], additional_context: str, claim: str, scored: bool
             ) -> dict[str, Any]:
        schema: type[_TruthAnswer | _ScoreAnswer] = _ScoreAnswer if scored else _TruthAnswer
        system = _SCORE_SYSTEM.format(low=self.MIN_SCORE, high=self.MAX_SCORE) if scored \
            else _CHECK_SYSTEM
        request = (f"# Proposition\n\n{claim}\n\n"
                   f"# Context\n\n{self._build_context(targets)}\n\n"
                   f"# Additional context\n\n{additional_context}\n\n"
                   + ("Rate the proposition against the context." if scored else
                      "Is the proposition true or false in the context?"))
        messages: list[dict[str, Any]] = [{"role": "system", "content": system},
                                          {"role": "user", "content": request}]
        who = targets[0].name if len(targets) == 1 else "proposition"
        name = "proposition_score" if scored else "proposition_check"
        answer = ask_structured(messages, schema, name=name, user=who)
        if self.double_check:
            messages = [*messages, {"role": "assistant", "content": answer.model_dump_json()},
                        {"role": "user", "content": _REVIEW}]
            revised = ask_structured(messages, schema, name=name, user=who)
            if revised.value != answer.value:
                logger.warning("Proposition %r: the model revised its evaluation from %r "
                               "to %r", self.claim, answer.value, revised.value)
            answer = revised
        return {"value": answer.value, "justification": answer.justification,
                "confidence": answer.confidence}

    def _record(self, response: dict[str, Any]) -> None:
        with self._lock:
            self.value = response["value"]
            self.justification = response["justification"]
            self.confidence = response["confidence"]
            self.full_evaluation_response = dict(response)

    def _build_context(self, targets: list[Any]) -> str:
        parts: list[str] = []
        for target in targets:
            if _is_world(target):
                if self.include_personas:
                    parts.append(f"## Environment '{target.name}': persona specifications "
                                 "(what the agents are, not what they did)")
                    parts.extend(f"### Agent '{agent.name}'\n\n{_persona_json(agent)}"
                                 for agent in target.agents)
                parts.append(f"## Environment '{target.name}': simulation trajectory")
                parts.append(self._world_trajectory(target))
            else:
                if self.include_personas:
                    parts.append(f"## Agent '{target.name}': persona specification "
                                 f"(what the agent is, not what it did)\n\n"
                                 f"{_persona_json(target)}")
                parts.append(f"## Agent '{target.name}': simulation trajectory")
                parts.append(self._trajectory(target) or "(no interactions yet)")
        return "\n\n".join(parts)

    def _trajectory(self, agent: Any) -> str:
        return str(agent.pretty_current_interactions(max_content_length=None,
                                                     first_n=self.first_n, last_n=self.last_n))

    def _world_trajectory(self, world: Any) -> str:
        own = getattr(world, "pretty_current_interactions", None)
        if callable(own):
            return str(own(max_content_length=None, first_n=self.first_n, last_n=self.last_n))
        if not world.agents:
            return "(no agents)"
        return "\n\n".join(f"### Agent '{agent.name}'\n\n"
                           f"{self._trajectory(agent) or '(no interactions yet)'}"
                           for agent in world.agents)

    def _determine_target(self, target: Any) -> list[Any]:
        if self.targets is None:
            if target is None:
                raise ValueError("Proposition: no target specified; give one to the "
                                 "constructor or to this call")
            return self._target_as_list(target)  # type: ignore[return-value]
        if target is not None:
            raise ValueError("Proposition: the target was given to the constructor; do not "
                             "give one to this call")
        return self.targets

    @staticmethod
    def _target_as_list(target: Any) -> list[Any] | None:
        if target is None:
            return None
        if _is_world(target) or _is_agent(target):
            return [target]
        if isinstance(target, list | tuple) and all(_is_world(t) or _is_agent(t)
                                                    for t in target):
            return list(target)
        raise ValueError("Proposition: the target must be a TinyPerson, a world, or a list "
                         f"of them, got {type(target).__name__}")


def _persona_json(agent: Any) -> str:
    persona = getattr(agent, "_persona", None)
    return "persona=" + json.dumps(persona if persona is not None else {"name": agent.name},
                                   ensure_ascii=False, indent=2, default=str)


def check_proposition(target: Any, claim: str,
                      additional_context: str | None = NO_ADDITIONAL_CONTEXT,
                      first_n: int | None = None, last_n: int | None = None,
                      return_full_response: bool = False) -> bool | dict[str, Any]:
    """Whether `claim` holds for `target`: `Proposition(claim, target, ...).check(...)`."""
    return Proposition(claim, target, first_n=first_n, last_n=last_n).check(
        additional_context=additional_context, return_full_response=return_full_response)


def compute_score(target: Any, claim: str,
                  additional_context: str | None = NO_ADDITIONAL_CONTEXT,
                  first_n: int | None = None, last_n: int | None = None,
                  return_full_response: bool = False) -> int | dict[str, Any]:
    """How far `claim` holds for `target`: `Proposition(claim, target, ...).score(...)`."""
    return Proposition(claim, target, first_n=first_n, last_n=last_n).score(
        additional_context=additional_context, return_full_response=return_full_response)

