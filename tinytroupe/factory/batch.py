"""One batch of people to generate, as plain data that can run in any process.

A `TinyPersonFactory` plans a batch on the driver (the sampling plan or the names and
sketches, the people already made); what is left is one model call per person, which
needs nothing of the factory. `PersonaBatch` carries those requests, and
`PersonaBatch.specification(key)` makes one person's persona specification wherever it
runs: in the factory's own `ParallelRunner`, or on the Ray actor that will hold the
person (`RayBackend.generate`), so that a Ray world's people are born on its actors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from tinytroupe.agent import PersonaSpecError
from tinytroupe.clients.structured import InvalidAnswer, ask_structured, parse_json
from tinytroupe.factory.answers import PersonaAnswer, check_persona

_SYSTEM = ("You create realistic, diverse personas for a social simulation. Answer with "
           "one JSON object only, in the format the request asks for.")
_PERSONA_INSTRUCTION = (
    "Describe this person as a TinyTroupe persona specification "
    '{"type": "TinyPerson", "persona": {"name", "age", "nationality", "occupation", '
    '"personality", "preferences", ...}}, with every given characteristic.')


def ask(source: str, instruction: str, tag: str, request: dict[str, Any],
        schema: type[BaseModel], key: str, check: Callable[[Any], Any] | None = None,
        **sampling_args: Any) -> Any:
    """One answer of `schema` that passes `check` (asked again while it does not).

    `source` (the factory's name) and `key` name the call in errors and in usage.
    """
    prompt = f"{instruction}\n<{tag}>{json.dumps(request, ensure_ascii=False)}</{tag}>"
    messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}]

    def parse(text: str) -> Any:
        try:
            answer = schema.model_validate(parse_json(text))
            return check(answer) if check is not None else answer
        except (ValueError, KeyError, TypeError, PersonaSpecError) as exc:
            raise InvalidAnswer(f"{source} ({key}): {exc}") from None

    return ask_structured(messages, schema, name=tag.removesuffix("_request"), user=key,
                          parse=parse, **sampling_args)


@dataclass
class PersonaBatch:
    """The persona requests of one `generate_people` batch (module doc).

    `requests` maps each person's key (``batch3/person-0``, in request order) to what
    the model is told about them.
    """

    factory: str
    number: int
    requests: dict[str, dict[str, Any]]
    sampling_args: dict[str, Any] = field(default_factory=dict)

    def specification(self, key: str) -> dict[str, Any]:
        """The persona specification of person `key` (one validated model answer)."""
        return ask(self.factory, _PERSONA_INSTRUCTION, "persona_request", self.requests[key],
                   PersonaAnswer, key=key.rpartition("/")[2],
                   check=lambda a: check_persona(a.model_dump()), **self.sampling_args)

    def part(self, keys: list[str]) -> PersonaBatch:
        """The same batch, with only the people of `keys` (one actor's share)."""
        return PersonaBatch(self.factory, self.number, {k: self.requests[k] for k in keys},
                            self.sampling_args)
