"""TinyPersonFactory: generate personas with the LLM, one at a time or in parallel.

`generate_people(n, parallelize=True)` first asks the model for a plan of `n`
distinct people (a name and a one-line sketch each, with everyone the factory already
made described so the population stays diverse), then asks for each full persona at
once on the same `ParallelRunner` a world step uses: MAX_WORKERS, the step timeout,
per-person error isolation and metrics. People come back in request order, so the
same answers give the same population. Sequentially, each request describes everyone
made so far instead of a plan.

Every answer must be a TinyTroupe persona specification; an invalid one is asked
again (MAX_OUTPUT_REPAIR_ATTEMPTS, the validation error shown to the model) and then
reported as that person's failure. Names are unique in the factory and in the
process: a name already taken gets a numeric suffix ("Ana Rossi 2").
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from tinytroupe.agent import PersonaSpecError, TinyPerson
from tinytroupe.agent.persona import read_specification
from tinytroupe.clients.structured import InvalidAnswer, ask_structured, parse_json
from tinytroupe.config import config_defaults
from tinytroupe.environment.metrics import Accounting
from tinytroupe.environment.outcome import AgentFailure
from tinytroupe.environment.parallel import ParallelRunner, Task
from tinytroupe.unsupported import warn_unsupported

logger = logging.getLogger("tinytroupe")

_SYSTEM = ("You create realistic, diverse personas for a social simulation. Answer with "
           "one JSON object only, in the format the request asks for.")


class PersonGenerationError(RuntimeError):
    """No persona could be generated (the model failed or kept answering badly)."""


class TinyPersonFactory:
    """Generates `TinyPerson`s for a `context` (TinyTroupe's public API)."""

    all_factories: ClassVar[dict[str, TinyPersonFactory]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, context: str, simulation_id: str | None = None,
                 **unsupported: Any) -> None:
        warn_unsupported("TinyPersonFactory", unsupported)
        self.context = context
        self.generated: list[TinyPerson] = []
        with TinyPersonFactory._registry_lock:
            self.name = simulation_id or _fresh_factory_name()
            # a factory made again under the same id (a notebook cell run twice)
            # replaces the old one, whose workers are released
            replaced = TinyPersonFactory.all_factories.get(self.name)
            TinyPersonFactory.all_factories[self.name] = self
        if replaced is not None:
            replaced.close()
        self._runner = ParallelRunner(self.name)
        self._accounting = Accounting(self.name)
        self._batches = 0

    @classmethod
    def clear_factories(cls) -> None:
        """Close every factory's workers and forget all factories."""
        with cls._registry_lock:
            factories = list(cls.all_factories.values())
            cls.all_factories.clear()
        for factory in factories:
            factory.close()

    def close(self) -> None:
        """Release this factory's worker threads (a later batch starts new ones)."""
        self._runner.close()

    # --- public API -----------------------------------------------------------------

    def generate_person(self, agent_particularities: str | None = None) -> TinyPerson:
        """One new person; raises `PersonGenerationError` if the model cannot make one."""
        try:
            spec = self._persona_spec(agent_particularities, sketch=None, key="person")
        except Exception as exc:
            raise PersonGenerationError(f"{self.name}: could not generate a person: {exc}") \
                from exc
        return self._admit(spec)

    @config_defaults(parallelize="parallel_agent_generation")
    def generate_people(self, number_of_people: int, agent_particularities: str | None = None,
                        parallelize: bool | None = None, **unsupported: Any) -> list[TinyPerson]:
        """`number_of_people` new people, in request order.

        Failures are left out and recorded (`get_failures()`), so fewer may come back.
        """
        warn_unsupported("TinyPersonFactory.generate_people", unsupported)
        if number_of_people < 0:
            raise ValueError(f"number_of_people must be >= 0, got {number_of_people}")
        if not parallelize:
            people = []
            for _ in range(number_of_people):
                try:
                    people.append(self.generate_person(agent_particularities))
                except PersonGenerationError as exc:
                    self._accounting.record_failure(AgentFailure.of(
                        self._batches, "person", type(exc.__cause__).__name__, str(exc)))
            return people
        self._batches += 1
        batch = self._batches
        try:
            sketches = self._plan(number_of_people, agent_particularities)
        except Exception as exc:
            self._accounting.record_failure(AgentFailure.of(batch, "plan", exc))
            raise PersonGenerationError(f"{self.name}: could not plan {number_of_people} "
                                        f"people: {exc}") from exc
        # keys unique per batch: a person still busy from an earlier, timed-out batch
        # must not make this batch skip its namesake
        tasks = {f"batch{batch}/person-{i}": Task(lambda s=sketch, i=i: self._persona_spec(
                     agent_particularities, s, key=f"person-{i}"))
                 for i, sketch in enumerate(sketches)}
        outcome = self._runner.run(tasks, step=batch)
        self._accounting.account(outcome, batch)
        return [self._admit(spec) for spec in outcome.results.values()]

    def get_parallel_metrics(self) -> dict[str, Any]:
        """The parallel-execution metrics of this factory's batches (as a world's)."""
        return self._accounting.metrics.snapshot()

    def get_failures(self) -> list[dict[str, Any]]:
        """Recent failed or timed-out person generations (step = batch number)."""
        return self._accounting.failure_records()

    # --- model calls ----------------------------------------------------------------

    def _plan(self, number: int, particularities: str | None) -> list[dict[str, str]]:
        """Names and one-line sketches of `number` distinct new people (one LLM call)."""
        request = {"context": self.context, "number": number,
                   "particularities": particularities, "existing": self._existing(),
                   "already_generated": [p.minibio(extended=False) for p in self.generated]}
        prompt = (f"Plan {number} distinct people. Answer {{\"people\": [{{\"name\": ..., "
                  f"\"sketch\": ...}}]}} with exactly {number} entries, names unlike the "
                  f"existing ones.\n<population_plan_request>{json.dumps(request)}"
                  "</population_plan_request>")
        answer = self._ask(prompt, _PlanAnswer, key="plan",
                           check=lambda data: _check_plan(data, number))
        return answer["people"]

    def _persona_spec(self, particularities: str | None, sketch: dict[str, str] | None,
                      key: str) -> dict[str, Any]:
        request = {"context": self.context, "particularities": particularities,
                   "sketch": sketch, "existing": self._existing(),
                   "already_generated": [] if sketch else [p.minibio(extended=False)
                                                           for p in self.generated]}
        prompt = ("Describe this person as a TinyTroupe persona specification: "
                  "{\"type\": \"TinyPerson\", \"persona\": {\"name\", \"age\", \"nationality\", "
                  "\"occupation\", \"personality\", \"preferences\", ...}}.\n"
                  f"<persona_request>{json.dumps(request)}</persona_request>")
        return self._ask(prompt, _PersonaAnswer, key=key, check=_check_persona)

    def _ask(self, prompt: str, schema: type[BaseModel], key: str,
             check: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """One model answer that passes `check`.

        (The structured-output helper asks again while it does not.)
        """
        messages = [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}]

        def parse(text: str) -> dict[str, Any]:
            try:
                return check(parse_json(text))
            except (ValueError, KeyError, TypeError, PersonaSpecError) as exc:
                raise InvalidAnswer(f"{self.name} ({key}): {exc}") from None

        return ask_structured(messages, schema, name=schema.__name__.strip("_"), user=key,
                              parse=parse)

    # --- people ---------------------------------------------------------------------

    def _existing(self) -> list[str]:
        """Names not to use: this factory's people first, then the process's others."""
        mine = [p.name for p in self.generated]
        return mine + [name for name in TinyPerson.all_agents if name not in set(mine)]

    def _admit(self, spec: dict[str, Any]) -> TinyPerson:
        """Create the person (in the caller's thread), renaming on a name clash."""
        name = spec["persona"]["name"]
        unique, k = name, 1
        while unique in TinyPerson.all_agents:
            k += 1
            unique = f"{name} {k}"
        if unique != name:
            logger.info("%s: %r is taken; the new person is %r", self.name, name, unique)
        person = TinyPerson.load_specification(spec, new_agent_name=unique)
        self.generated.append(person)
        return person


_factory_numbers = itertools.count(1)


def _fresh_factory_name() -> str:  # called with the registry lock held
    while (name := f"factory-{next(_factory_numbers)}") in TinyPersonFactory.all_factories:
        pass
    return name


class _PlannedPerson(BaseModel):
    name: str
    sketch: str


class _PlanAnswer(BaseModel):
    """The schema of a population plan answer."""

    people: list[_PlannedPerson]


class _PersonaFields(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    age: int | None = None
    nationality: str | None = None
    occupation: dict[str, Any] | str | None = None
    personality: dict[str, Any] | None = None
    preferences: dict[str, Any] | None = None


class _PersonaAnswer(BaseModel):
    """The schema of a persona answer: a TinyTroupe persona specification."""

    type: str = "TinyPerson"
    persona: _PersonaFields


def _check_plan(data: Any, number: int) -> dict[str, Any]:
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list) or len(people) != number:
        raise ValueError(f'expected {{"people": [...]}} with {number} entries')
    for entry in people:
        if not isinstance(entry, dict) or not str(entry.get("name", "")).strip():
            raise ValueError("every planned person needs a non-empty name")
    return data


def _check_persona(data: Any) -> dict[str, Any]:
    if isinstance(data, dict) and "persona" not in data and "name" in data:
        data = {"type": "TinyPerson", "persona": data}  # a bare persona is fine too
    spec = read_specification(data)
    age = spec["persona"].get("age")
    if age is not None and not (isinstance(age, int) and 0 <= age <= 130):
        raise ValueError(f"persona.age must be a whole number of years, got {age!r}")
    return spec
