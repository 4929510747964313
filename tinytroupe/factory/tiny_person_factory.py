"""TinyPersonFactory: generate personas with the model, one at a time or in parallel.

With a `sampling_space_description` and a `total_population_size` (or from a
demography, `create_factory_from_demography`), the factory first builds a sampling
plan (`tinytroupe.factory.sampling`): the model turns the description into
`sampling_dimensions`, then a `sampling_plan` whose quantities add up to the
population size, flattened into one characteristics dict per person
(`remaining_characteristics_sample`). Each person is then generated with their
characteristics; past the population size, generation is a clear error.

Without a plan, `generate_people(n)` first asks for `n` distinct names and one-line
sketches (the people already made are shown, so the population stays diverse).

Either way the people of a batch are generated at once on the same `ParallelRunner`
a world step uses (MAX_WORKERS, the step timeout, per-person error isolation and
metrics) and come back in request order; a failed person is left out and recorded
(`get_failures()`). Names are unique in the factory and in the process: a name already
taken gets a numeric suffix ("Ana Rossi 2"). Every model call goes through the
structured-output helper; an invalid answer is asked again, up to `attempts` calls.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import zlib
from collections.abc import Callable, Container, Iterable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from tinytroupe.agent import TinyPerson
from tinytroupe.config import config_defaults, config_manager
from tinytroupe.environment.metrics import Accounting
from tinytroupe.environment.outcome import AgentFailure, BatchOutcome
from tinytroupe.environment.parallel import ParallelRunner, Task
from tinytroupe.factory import sampling
from tinytroupe.factory.answers import PlanAnswer, check_people
from tinytroupe.factory.batch import PersonaBatch, ask
from tinytroupe.unsupported import warn_unsupported

logger = logging.getLogger("tinytroupe")

PostProcessing = Callable[[TinyPerson], Any] | None


class PersonGenerationError(RuntimeError):
    """No persona could be generated (the model failed, or the population is complete)."""


class TinyPersonFactory:
    """Generates `TinyPerson`s (TinyTroupe's public API; module doc)."""

    all_factories: ClassVar[dict[str, TinyPersonFactory]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, sampling_space_description: str | None = None,
                 total_population_size: int | None = None,
                 enforce_usage_of_all_dimensions: bool = False, context: str | None = None,
                 simulation_id: str | None = None, **unsupported: Any) -> None:
        warn_unsupported("TinyPersonFactory", unsupported)
        if total_population_size is not None and total_population_size < 1:
            raise ValueError(f"total_population_size must be >= 1, got {total_population_size}")
        self.sampling_space_description = sampling_space_description
        self.population_size = total_population_size
        self.enforce_usage_of_all_dimensions = enforce_usage_of_all_dimensions
        self.context_text = context
        self.sampling_dimensions: dict[str, Any] | None = None
        self.sampling_plan: list[dict[str, Any]] | None = None
        self.remaining_characteristics_sample: list[dict[str, Any]] | None = None
        self.generated: list[TinyPerson] = []
        self.generated_minibios: list[str] = []
        self.generated_names: list[str] = []
        self._names_made: set[str] = set()  # generated_names, for lookups
        self._plan_lock = threading.Lock()
        seed = config_manager.get("random_seed")
        self._random = random.Random(seed if seed is not None else zlib.crc32(
            str(sampling_space_description).encode()))
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

    @property
    def context(self) -> str | None:
        """What the people are generated for (the context, else the description)."""
        return self.context_text or self.sampling_space_description

    @staticmethod
    def create_factory_from_demography(demography_description_or_file_path: str | Path | dict,
                                       population_size: int,
                                       additional_demographic_specification: str | None = None,
                                       context: str | None = None) -> TinyPersonFactory:
        """A factory sampling `population_size` people from a demography.

        The demography is a JSON file or a dict of demographic data, in upstream's
        format: any JSON object.
        """
        if population_size is None:
            raise ValueError("population_size must be specified")
        description = sampling.demography_description(demography_description_or_file_path,
                                                      additional_demographic_specification)
        return TinyPersonFactory(sampling_space_description=description,
                                 total_population_size=population_size, context=context)

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

    # --- the sampling plan ------------------------------------------------------------

    def initialize_sampling_plan(self) -> None:
        """Build the sampling dimensions, the plan and the characteristics (module doc).

        Raises ValueError without a description and a population size.
        """
        if not self.sampling_space_description or self.population_size is None:
            raise ValueError("a sampling plan needs sampling_space_description and "
                             "total_population_size")
        request = {"description": self.sampling_space_description,
                   "enforce_usage_of_all_dimensions": self.enforce_usage_of_all_dimensions}
        dimensions = self._ask("Define the dimensions of this population.",
                               "sampling_dimensions_request", request,
                               sampling.SamplingDimensions, key="plan")
        names = {d.name for d in dimensions.dimensions}
        request = {"population_size": self.population_size,
                   "dimensions": dimensions.model_dump(exclude_none=True),
                   "enforce_usage_of_all_dimensions": self.enforce_usage_of_all_dimensions}

        def check(plan: sampling.SamplingPlan) -> sampling.SamplingPlan:
            if self.enforce_usage_of_all_dimensions:
                for directive in plan.directives:
                    missing = names - set(directive.sampled_values)
                    if missing:
                        raise ValueError(f"directive {directive.id} leaves out "
                                         f"{sorted(missing)}; every dimension must be used")
            return sampling.check_plan(plan, self.population_size)  # type: ignore[arg-type]

        plan = self._ask(f"Plan a sample of {self.population_size} people: directives whose "
                         "quantities add up to exactly that.", "sampling_plan_request",
                         request, sampling.SamplingPlan, key="plan", check=check)
        self.sampling_dimensions = dimensions.model_dump(exclude_none=True)
        self.sampling_plan = [d.model_dump() for d in plan.directives]
        self.remaining_characteristics_sample = sampling.flatten(plan, self._random)

    def _take_characteristics(self, number: int) -> list[dict[str, Any]] | None:
        """The next `number` people's characteristics, or None without a population.

        Raises `PersonGenerationError` past the population size.
        """
        if self.population_size is None:
            return None
        with self._plan_lock:
            if self.remaining_characteristics_sample is None:
                self.initialize_sampling_plan()
            remaining = self.remaining_characteristics_sample or []
            if number > len(remaining):
                raise PersonGenerationError(
                    f"{self.name}: {number} more people asked, but only {len(remaining)} of the "
                    f"total_population_size {self.population_size} are left")
            taken, remaining[:number] = remaining[:number], []
        return taken

    # --- public API -------------------------------------------------------------------

    def generate_person(self, agent_particularities: str | None = None, temperature: float = 1.2,
                        frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                        attempts: int = 10, post_processing_func: PostProcessing = None
                        ) -> TinyPerson:
        """One new person (with the next characteristics of the plan, if there is one).

        Raises `PersonGenerationError` if the model cannot make one or the population
        is complete.
        """
        taken = self._take_characteristics(1)
        request = self._persona_request(agent_particularities, None,
                                        taken[0] if taken else None, self._existing())
        batch = PersonaBatch(self.name, self._batches, {"person": request}, {
            "temperature": temperature, "frequency_penalty": frequency_penalty,
            "presence_penalty": presence_penalty, "attempts": attempts})
        try:
            spec = batch.specification("person")
        except Exception as exc:
            raise PersonGenerationError(f"{self.name}: could not generate a person: {exc}") \
                from exc
        return self._admit(spec, post_processing_func)

    @config_defaults(parallelize="parallel_agent_generation")
    def generate_people(self, number_of_people: int | None = None,
                        agent_particularities: str | None = None, temperature: float = 1.5,
                        frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                        attempts: int = 10, post_processing_func: PostProcessing = None,
                        parallelize: bool | None = None, verbose: bool = False,
                        **unsupported: Any) -> list[TinyPerson]:
        """`number_of_people` new people (None: the rest of the population), in order.

        Failures are left out and recorded (`get_failures()`), so fewer may come back.
        (To generate people on a Ray world's actors, see `TinyWorld.add_agents_from_factory`.)
        """
        warn_unsupported("TinyPersonFactory.generate_people", unsupported)
        batch = self.plan_batch(number_of_people, agent_particularities, bool(parallelize),
                                temperature=temperature, frequency_penalty=frequency_penalty,
                                presence_penalty=presence_penalty, attempts=attempts)
        if parallelize:
            outcome = self._runner.run({key: Task(partial(batch.specification, key))
                                        for key in batch.requests}, step=batch.number)
            self.record_batch(outcome, batch.number)
            specs = list(outcome.results.values())
        else:
            specs = []
            for key in batch.requests:
                try:
                    specs.append(batch.specification(key))
                except Exception as exc:  # recorded, like a failed parallel person
                    person = key.rpartition("/")[2]
                    self._accounting.record_failure(AgentFailure.of(batch.number, person, exc))
        people = [self._admit(spec, post_processing_func) for spec in specs]
        if verbose:
            for person in people:
                print(f"Generated: {person.minibio(extended=False)}")
        return people

    def plan_batch(self, number_of_people: int | None = None,
                   agent_particularities: str | None = None, sketches: bool = True,
                   existing: Iterable[str] = (), **sampling_args: Any) -> PersonaBatch:
        """The persona requests of the next batch (what `generate_people` sends).

        Takes the batch's characteristics from the sampling plan (made first if needed);
        without a plan and with `sketches`, first asks the model for distinct names and
        sketches (one call). The model is told to avoid the names of this factory's
        people, of the process's agents and `existing`. Raises `PersonGenerationError`
        past the population size.
        """
        if number_of_people is None:
            if self.population_size is None:
                raise ValueError("number_of_people is needed without a total_population_size")
            with self._plan_lock:
                if self.remaining_characteristics_sample is None:
                    self.initialize_sampling_plan()
            number_of_people = len(self.remaining_characteristics_sample or [])
        if number_of_people < 0:
            raise ValueError(f"number_of_people must be >= 0, got {number_of_people}")
        existing = list(existing)
        self._batches += 1
        batch = self._batches
        characteristics = self._take_characteristics(number_of_people)
        people: list[Any] = [None] * number_of_people
        if characteristics is None and sketches:
            try:  # names and sketches first, so that people made at once differ
                people = self._plan_people(number_of_people, agent_particularities,
                                           existing, sampling_args)
            except Exception as exc:
                self._accounting.record_failure(AgentFailure.of(batch, "plan", exc))
                raise PersonGenerationError(f"{self.name}: could not plan {number_of_people} "
                                            f"people: {exc}") from exc
        names = self._existing(existing)
        requests = {f"batch{batch}/person-{i}": self._persona_request(
            agent_particularities, sketch, characteristics[i] if characteristics else None, names)
            for i, sketch in enumerate(people)}
        return PersonaBatch(self.name, batch, requests, sampling_args)

    def _persona_request(self, particularities: str | None, sketch: dict[str, str] | None,
                         characteristics: dict[str, Any] | None, existing: list[str]
                         ) -> dict[str, Any]:
        """What the model is told about one person to make (see `PersonaBatch`)."""
        return {"context": self.context, "particularities": particularities,
                "sketch": sketch, "characteristics": characteristics, "existing": existing,
                "already_generated": [] if sketch else list(self.generated_minibios)}

    def record_batch(self, outcome: BatchOutcome, batch: int) -> None:
        """Count parallel batch number `batch`'s outcome in this factory's metrics and failures."""
        self._accounting.account(outcome, batch)

    def record_person(self, person: Any, minibio: str) -> None:
        """Count `person` (an agent or its handle) as generated here, with its minibio."""
        self.generated.append(person)
        self.generated_names.append(person.name)
        self.generated_minibios.append(minibio)
        self._names_made.add(person.name)

    def discard(self, people: list[Any]) -> None:
        """Forget these people as generated here (they were not kept after all)."""
        gone = {id(person) for person in people}
        kept = [i for i, person in enumerate(self.generated) if id(person) not in gone]
        self.generated = [self.generated[i] for i in kept]
        self.generated_names = [self.generated_names[i] for i in kept]
        self.generated_minibios = [self.generated_minibios[i] for i in kept]
        self._names_made = set(self.generated_names)

    def unique_name(self, name: str, taken: Container[str] = ()) -> str:
        """`name`, or it with a numeric suffix, unused here, in the process and in `taken`."""
        return TinyPerson.free_name(
            name, also_taken=lambda n: n in self._names_made or n in taken)

    def get_parallel_metrics(self) -> dict[str, Any]:
        """The parallel-execution metrics of this factory's batches (as a world's)."""
        return self._accounting.metrics.snapshot()

    def get_failures(self) -> list[dict[str, Any]]:
        """Recent failed or timed-out person generations (step = batch number)."""
        return self._accounting.failure_records()

    # --- model calls ------------------------------------------------------------------

    def _plan_people(self, number: int, particularities: str | None, existing: Iterable[str],
                     sampling_args: dict[str, Any]) -> list[dict[str, str]]:
        """Names and one-line sketches of `number` distinct new people (one call)."""
        request = {"context": self.context, "number": number,
                   "particularities": particularities, "existing": self._existing(existing),
                   "already_generated": list(self.generated_minibios)}
        answer = self._ask(f"Plan {number} distinct people: a name and a one-line sketch "
                           "each, names unlike the existing ones.", "population_plan_request",
                           request, PlanAnswer, key="plan",
                           check=lambda a: check_people(a.model_dump(), number),
                           **sampling_args)
        return answer["people"]

    def _ask(self, instruction: str, tag: str, request: dict[str, Any],
             schema: type[BaseModel], key: str, check: Callable[[Any], Any] | None = None,
             **sampling_args: Any) -> Any:
        return ask(self.name, instruction, tag, request, schema, key, check, **sampling_args)

    # --- people -----------------------------------------------------------------------

    def _existing(self, others: Iterable[str] = ()) -> list[str]:
        """Names not to use: this factory's people first, then the process's, then `others`."""
        names = dict.fromkeys(p.name for p in self.generated)
        names.update(dict.fromkeys(TinyPerson.all_agents))
        names.update(dict.fromkeys(others))
        return list(names)

    def _admit(self, spec: dict[str, Any], post_processing_func: PostProcessing) -> TinyPerson:
        """Create the person (in the caller's thread), renaming on a name clash.

        `post_processing_func` is then applied to it.
        """
        name = spec["persona"]["name"]
        unique = self.unique_name(name)
        if unique != name:
            logger.info("%s: %r is taken; the new person is %r", self.name, name, unique)
        person = TinyPerson.load_specification(spec, new_agent_name=unique)
        self.record_person(person, person.minibio(extended=False))
        if post_processing_func is not None:
            post_processing_func(person)
        return person


_factory_numbers = itertools.count(1)


def _fresh_factory_name() -> str:  # called with the registry lock held
    while (name := f"factory-{next(_factory_numbers)}") in TinyPersonFactory.all_factories:
        pass
    return name
