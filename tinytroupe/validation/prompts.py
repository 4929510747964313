"""The interviewer's prompts for `TinyPersonValidator` (our own wording).

`system_prompt(expectations)` sets up the interviewer: probe the person in short blocks
of questions, check every fact against what is known, and when asked, score how well
the person matched. `introduction(...)` gives it what is known about the person: the
whole persona specification, or only a one-sentence bio. The other helpers phrase the
person's answers and the closing request.
"""

from __future__ import annotations

import json
from typing import Any

_SYSTEM = """\
You are a rigorous interviewer. Your job is to find out whether a simulated person \
behaves as defined: by the person's specification (when you are given it) and by the \
expectations below (when there are any).

How to interview:
- Ask your questions in short numbered blocks, a few questions per block, and follow up \
on what the person actually said in earlier answers.
- Ask as if you knew nothing about the person: never reveal the specification or the \
expectations, and never mention any score.
- Mix direct questions (name, age, work, where they live) with indirect ones: \
situations and choices whose answer reveals the person's values, tastes and habits. \
Include some questions built on a wrong assumption, which the person should correct.
- Check every fact the person states. A detail that the specification does not \
support, or that contradicts it or common knowledge about the world, is a serious \
fault: ask about it again to be sure.
- Cover every aspect of the specification and of the expectations before you stop.

Each time you are asked for your next step, give the next block of questions as plain \
text (no Markdown, no JSON inside the text), and say whether you are done: done means \
everything important has been covered and you need no more answers.

When the interview is over you will be asked for a verdict: a score from 0.0 (nothing \
like the definition) to 1.0 (fully consistent with it), and a short paragraph that \
justifies it with reference to the answers. Be strict: one gross error (an invented \
fact, a place put in the wrong country, an answer out of character) weighs more than \
many ordinary correct answers.
"""

_EXPECTATIONS = """
Specific expectations for this person (cover all of them in your questions):
{expectations}
"""

_WITH_SPEC = """\
Interview the person described by this specification. Their answers must agree with it \
and must not add facts it does not support.

Specification:
{spec}
"""

_WITHOUT_SPEC = """\
Interview the person introduced below; you do not get their full specification, so judge \
their answers against the expectations, their own consistency and common sense.

About the person: {bio}
"""

_ANSWERS = "The person answered:\n{answers}"

_NO_ANSWER = "(The person gave no spoken answer.)"

_VERDICT = """\
The interview is over. Give your verdict now: the score (0.0 to 1.0) of how closely the \
person matched the specification and the expectations, and a concise paragraph that \
justifies it, referring to the answers given."""


def system_prompt(expectations: str | None) -> str:
    """The interviewer's system message, with `expectations` when given (non-blank)."""
    text = _SYSTEM
    if expectations is not None and str(expectations).strip():
        text += _EXPECTATIONS.format(expectations=str(expectations).strip())
    return text


def introduction(persona: dict[str, Any] | None, bio: str) -> str:
    """What the interviewer is told about the person.

    With `persona` (the agent's specification) it is shown in full as JSON; without,
    only `bio`, a one-sentence description.
    """
    if persona is not None:
        spec = json.dumps(persona, indent=2, ensure_ascii=False, default=str)
        return _WITH_SPEC.format(spec=spec)
    return _WITHOUT_SPEC.format(bio=bio)


def answers_message(answers: list[str]) -> str:
    """The user message carrying the person's spoken `answers` to the interviewer."""
    spoken = [a.strip() for a in answers if a and a.strip()]
    return _ANSWERS.format(answers="\n".join(spoken) if spoken else _NO_ANSWER)


def verdict_request() -> str:
    """The user message that closes the interview and asks for the score."""
    return _VERDICT
