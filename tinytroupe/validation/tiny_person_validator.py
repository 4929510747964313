"""TinyPersonValidator: a model-driven interview that scores how well a person fits.

`validate_person(person, expectations=None, include_agent_spec=True,
max_content_length=1024)` (TinyTroupe's API) has an interviewer, played by the model,
question the person in blocks:

1. the interviewer is given its instructions and the `expectations`, and what is known
   about the person: with `include_agent_spec`, the whole persona specification; without,
   only a one-sentence bio (`minibio(extended=False)`: no model call, no persona details);
2. each turn, one structured call (`InterviewTurn`) gives the next block of questions and
   whether the interviewer is done; the person hears the questions and acts
   (`listen_and_act(..., return_actions=True)`), and the contents of its TALK actions are
   its answers; the interview ends when the interviewer says it is done (never before the
   first block) or after `TinyPersonValidator.max_interview_turns` turns;
3. a last structured call (`ValidationVerdict`) gives the score, a number in [0, 1]
   (the schema says so and the answer is validated and repaired against it), and a
   justification.

It returns ``(score, justification)``, or ``(None, None)`` when a model call fails
(`LLMError`, logged), as upstream returns None when its model call fails.

`validate_people(people, ...)` (our addition) validates many people concurrently on a
`ParallelRunner` (MAX_WORKERS, PARALLEL_EXECUTION_TIMEOUT, error isolation): the results
come in the people's order, and a person whose interview failed or timed out gets
``(None, "<reason>")`` in its slot.

Every model call goes through `ask_structured` (schema, validation, repair, cache,
usage). One person is interviewed by one thread at a time: the same person given twice,
or validated from two threads, is interviewed once after the other.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field

from tinytroupe.clients.errors import LLMError
from tinytroupe.clients.structured import ask_structured
from tinytroupe.environment.parallel import ParallelRunner, Task
from tinytroupe.validation import prompts

logger = logging.getLogger("tinytroupe")

#: Upstream's module-level default of `max_content_length` (characters shown per message).
default_max_content_display_length = 1024

#: Who the interviewer's calls are counted for (usage per agent, the fake server's stats).
INTERVIEWER = "interviewer"


class InterviewTurn(BaseModel):
    """The interviewer's next step: a block of questions, and whether it is done."""

    done: bool = Field(description="True when every aspect of the specification and the "
                                   "expectations has been covered and no more answers "
                                   "are needed.")
    questions: str = Field(min_length=1, description="The next block of numbered "
                                                     "questions, as plain text.")


class ValidationVerdict(BaseModel):
    """The interviewer's verdict: a score in [0, 1] and its justification."""

    score: float = Field(ge=0.0, le=1.0, description="How closely the person matched the "
                                                     "specification and the expectations: "
                                                     "0.0 not at all, 1.0 fully.")
    justification: str = Field(min_length=1, description="A concise paragraph explaining "
                                                         "the score with reference to the "
                                                         "answers.")


# One lock per person being interviewed (weakly held: a dropped person takes its lock).
_interview_locks: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


@contextlib.contextmanager
def _interviewing(person: Any) -> Iterator[None]:
    """Hold `person`'s interview lock (people that cannot be weakly referenced: none)."""
    try:
        with _locks_guard:
            lock = _interview_locks.setdefault(person, threading.Lock())
    except TypeError:
        yield
        return
    with lock:
        yield


class TinyPersonValidator:
    """Validates simulated people by interviewing them (module doc)."""

    #: Most blocks of questions in one interview (the verdict call comes after them).
    max_interview_turns: int = 4

    @staticmethod
    def validate_person(person: Any, expectations: str | None = None,
                        include_agent_spec: bool = True,
                        max_content_length: int | None = default_max_content_display_length,
                        ) -> tuple[float | None, str | None]:
        """Interview `person` and score it: ``(score in [0, 1], justification)``.

        `expectations` (text) are what the person should be like, besides (with
        `include_agent_spec`) its own specification; `max_content_length` bounds what is
        displayed of each question and answer (None: all). Returns ``(None, None)`` if a
        model call fails (the error is logged); other errors propagate.
        """
        try:
            return TinyPersonValidator._interview(person, expectations, include_agent_spec,
                                                  max_content_length)
        except LLMError as exc:
            logger.error("Validation of %s failed: %s: %s", getattr(person, "name", person),
                         type(exc).__name__, exc)
            return None, None

    @staticmethod
    def validate_people(people: list[Any], expectations: str | None = None,
                        include_agent_spec: bool = True,
                        max_content_length: int | None = default_max_content_display_length,
                        ) -> list[tuple[float | None, str | None]]:
        """Validate `people` concurrently; one ``(score, justification)`` each, in order.

        The interviews run at once on a `ParallelRunner` (MAX_WORKERS threads, bounded by
        PARALLEL_EXECUTION_TIMEOUT); a person whose interview raised or did not finish in
        time gets ``(None, "<reason>")`` and the others are unaffected.
        """
        people = list(people)
        if not people:
            return []
        tasks = {f"{i}:{getattr(person, 'name', i)}": Task(
            lambda p=person: TinyPersonValidator._interview(
                p, expectations, include_agent_spec, max_content_length))
            for i, person in enumerate(people)}
        runner = ParallelRunner("validation")
        try:
            outcome = runner.run(tasks, step=1)
        finally:
            runner.close()
        reasons = {f.agent: f"{f.error_type}: {f.message}" for f in outcome.failures}
        reasons.update(dict.fromkeys(outcome.timed_out, "timed out: the interview did not "
                                     f"finish within {outcome.timeout} s"))
        reasons.update(dict.fromkeys(outcome.cancelled, "cancelled: the validation was "
                                     "stopped before the interview finished"))
        results: list[tuple[float | None, str | None]] = []
        for key in tasks:
            if key in outcome.results:
                results.append(outcome.results[key])
                continue
            reason = reasons.get(key, "the interview gave no result")
            logger.error("Validation of %s failed: %s", key,
                         outcome.tracebacks.get(key) or reason)
            results.append((None, reason))
        return results

    @staticmethod
    def _interview(person: Any, expectations: str | None, include_agent_spec: bool,
                   max_content_length: int | None) -> tuple[float, str]:
        """Run one interview and return its verdict; model errors propagate."""
        name = getattr(person, "name", str(person))
        with _interviewing(person):
            logger.info("Starting validation of the person: %s", name)
            persona = person.encode_complete_state()["persona"] if include_agent_spec else None
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": prompts.system_prompt(expectations)},
                {"role": "user", "content": prompts.introduction(
                    persona, person.minibio(extended=False))},
            ]
            for turn in range(max(1, TinyPersonValidator.max_interview_turns)):
                step = ask_structured(messages, InterviewTurn, name="validation_interview",
                                      user=INTERVIEWER)
                if step.done and turn > 0:
                    break
                questions = step.questions.strip()
                logger.info("Validation questions for %s:\n%s", name, questions)
                actions = person.listen_and_act(questions, return_actions=True,
                                                max_content_length=max_content_length)
                person.pop_latest_actions()  # answered here: not left for a world to deliver
                answers = _spoken(actions)
                logger.info("%s replied:\n%s", name, "\n".join(answers))
                messages += [{"role": "assistant", "content": questions},
                             {"role": "user", "content": prompts.answers_message(answers)}]
            messages.append({"role": "user", "content": prompts.verdict_request()})
            verdict = ask_structured(messages, ValidationVerdict, name="validation_verdict",
                                     user=INTERVIEWER)
        justification = verdict.justification.strip()
        logger.info("Validation score of %s: %.2f; justification: %s", name, verdict.score,
                    justification)
        return float(verdict.score), justification


def _spoken(actions: list[dict[str, Any]] | None) -> list[str]:
    """The contents of the TALK actions among `actions` (upstream's return shape)."""
    spoken = []
    for entry in actions or []:
        action = entry.get("action", entry) if isinstance(entry, dict) else {}
        if isinstance(action, dict) and action.get("type") == "TALK":
            spoken.append(str(action.get("content", "")))
    return spoken
