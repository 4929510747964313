"""Normalizer: group many textual elements into a few concepts, then map onto them.

Upstream's API: ``Normalizer(elements, n, verbose=False)`` asks the model once, at
construction, for `n` concepts that together subsume `elements` (kept in
`normalized_elements`, a list; with no more than `n` distinct elements, the elements
themselves are the concepts and the model is not asked). ``normalize(element_or_elements)``
then maps each element to one of those concepts: a string gives a string, a list a
list in the same order. Every element's concept is cached (`normalizing_map`), so an
element is mapped once per normaliser. `max_length` (upstream's newer keyword) bounds
each concept's length: the model is told, and a longer answer is shortened locally.
`normalized_mapping()` gives concept -> the elements mapped to it.

Model calls go through the one structured-output helper: the concepts are a JSON array
of exactly `n` distinct strings; the mapping answers are arrays of concepts whose
items are constrained to the concepts (a JSON Schema enum), one per element, in order,
so an answer naming anything else is invalid and asked again with the error shown.

How the mapping runs: as upstream, one model call maps a whole list of elements, but
the elements not yet cached are cut into batches of at most `batch_size` (25), and the
batches, independent of each other, run concurrently on a `ParallelRunner`
(MAX_WORKERS, PARALLEL_EXECUTION_TIMEOUT, error isolation). Results are applied in
input order. If some batch fails or times out, the others' mappings are still cached
and a `NormalizationError` names what failed.

Offline (no key) the answers are deterministic and schema-valid, drawn from the
request's own text: repeatable, but not meaningful groupings.
"""

from __future__ import annotations

import itertools
import logging
import textwrap
import threading
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationError, create_model

from tinytroupe.clients.structured import InvalidAnswer, ask_structured, describe, parse_json
from tinytroupe.environment.parallel import ParallelRunner, Task

__all__ = ["NormalizationError", "Normalizer"]

logger = logging.getLogger("tinytroupe")

_GROUPING_SYSTEM = (
    "You normalise text. You are given a number N and textual elements (concepts, "
    "phrases or passages), one per line between <elements> tags. Group similar elements "
    "together so that every element belongs to exactly one group, with exactly N groups, "
    "and give each group one normalised element that subsumes all of its members: a "
    "concept for short elements, a short passage for long ones. The N normalised elements "
    "must be distinct. Answer with JSON only: {\"concepts\": [...]} with exactly N strings.")
_MAPPING_SYSTEM = (
    "You normalise text. You are given a list of standard categories and a numbered "
    "list of input elements. Replace each input element by the one category most "
    "similar to it, copying the category's text exactly; different elements may get the "
    "same category. Answer with JSON only: {\"normalized\": [...]}, one category per "
    "input element, in the input order.")

_ids = itertools.count(1)


class NormalizationError(RuntimeError):
    """Some elements could not be normalised (the model failed or timed out).

    `failures` holds one (batch key, error description) pair per failed batch; the
    elements of the other batches were mapped and cached.
    """

    def __init__(self, message: str, failures: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.failures = failures


@lru_cache(maxsize=64)
def _concepts_schema(n: int, max_length: int | None) -> type[BaseModel]:
    """The answer to the grouping request: exactly `n` strings (of at most `max_length`)."""
    item: Any = str if max_length is None else Annotated[
        str, StringConstraints(max_length=max_length)]
    return create_model(  # type: ignore[call-overload,no-any-return]
        "NormalizedConcepts",
        concepts=(list[item], Field(min_length=n, max_length=n,
                                    description="The normalised elements, all distinct.")))


@lru_cache(maxsize=128)
def _mapping_schema(concepts: tuple[str, ...], count: int) -> type[BaseModel]:
    """The answer to a mapping request: `count` concepts, each one of `concepts`."""
    return create_model(  # type: ignore[call-overload,no-any-return]
        "NormalizedElements",
        normalized=(list[Literal[concepts]],  # type: ignore[valid-type]
                    Field(min_length=count, max_length=count,
                          description="One category per input element, in input order.")))


class Normalizer:
    """Normalises textual elements onto `n` model-chosen concepts (module doc)."""

    #: Elements per mapping call; the calls of one `normalize` run concurrently.
    batch_size: ClassVar[int] = 25

    def __init__(self, elements: list[str], n: int, verbose: bool = False,
                 max_length: int | None = None) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if max_length is not None and (isinstance(max_length, bool)
                                       or not isinstance(max_length, int) or max_length < 1):
            raise ValueError(f"max_length must be None or a positive integer, got "
                             f"{max_length!r}")
        # unique, in first-seen order (upstream's set() order varies from run to run)
        self.elements: list[str] = list(dict.fromkeys(_as_list(elements)))
        self.n = n
        self.verbose = verbose
        self.max_length = max_length
        #: The normalised concepts (at most `n`).
        self.normalized_elements: list[str] = []
        #: Each element normalised so far -> its concept (the cache).
        self.normalizing_map: dict[str, str] = {}
        self._lock = threading.Lock()
        self._batches = 0
        self._name = f"normalizer-{next(_ids)}"
        logger.info("Normalizer: computing %d normalised elements from %d originals", n,
                    len(self.elements))
        self.normalized_elements = self._group()
        self._say(f"Normalised elements: {self.normalized_elements}")

    # --- public API -------------------------------------------------------------------

    def normalize(self, element_or_elements: str | list[str]) -> str | list[str]:
        """The concept of a string, or the concepts of a list (same order and length).

        Elements already normalised come from the cache; the others are mapped by the
        model in concurrent batches (module doc). Raises ValueError for input that is
        neither a string nor a list of strings, `NormalizationError` if some batch failed
        (the rest is cached), and the model call's error (`LLMError`) otherwise.
        """
        single = isinstance(element_or_elements, str)
        if not single and not isinstance(element_or_elements, list):
            raise ValueError("The element_or_elements must be either a string or a list.")
        elements = _as_list([element_or_elements] if single else element_or_elements)
        with self._lock:
            missing = [e for e in dict.fromkeys(elements) if e not in self.normalizing_map]
        if missing:
            self._map(missing)
        with self._lock:
            normalized = [self.normalizing_map[e] for e in elements]
        return normalized[0] if single else normalized

    def normalized_mapping(self) -> dict[str, list[str]]:
        """Each concept -> the elements given at construction that map to it.

        Concepts no element maps to are left out (as upstream). Maps the elements not
        yet normalised first.
        """
        mapped = self.normalize(list(self.elements)) if self.elements else []
        mapping: dict[str, list[str]] = {c: [] for c in self.normalized_elements}
        for element, concept in zip(self.elements, mapped, strict=True):
            mapping.setdefault(concept, []).append(element)
        return {concept: members for concept, members in mapping.items() if members}

    # --- model calls ------------------------------------------------------------------

    def _group(self) -> list[str]:
        """The concepts: the elements themselves when few enough, else the model's."""
        if len(self.elements) <= self.n:
            return self._shortened(self.elements)
        schema = _concepts_schema(self.n, self.max_length)
        limit = (f" Each normalised element must be at most {self.max_length} characters."
                 if self.max_length is not None else "")
        listing = "\n".join(" ".join(element.split()) for element in self.elements)
        messages = [{"role": "system", "content": _GROUPING_SYSTEM + limit},
                    {"role": "user", "content": f"N = {self.n}\n<elements>\n{listing}\n"
                                                "</elements>"}]

        def parse(text: str) -> list[str]:
            answer = schema.model_validate(parse_json(text))
            concepts = [str(c).strip() for c in answer.concepts]  # type: ignore[attr-defined]
            if any(not c for c in concepts):
                raise InvalidAnswer("every normalised element must be non-empty")
            repeated = sorted({c for c in concepts if concepts.count(c) > 1})
            if repeated:
                raise InvalidAnswer(f"the normalised elements must be distinct; repeated: "
                                    f"{repeated}")
            return concepts

        concepts = ask_structured(messages, schema, name="normalizer_concepts",
                                  parse=_invalid_on_validation(parse))
        return self._shortened(concepts)

    def _map(self, elements: list[str]) -> None:
        """Map `elements` (none cached) in concurrent batches; cache what succeeded."""
        if not self.normalized_elements:
            raise ValueError("This Normalizer has no concepts to map onto (it was built "
                             "from no elements).")
        with self._lock:
            self._batches += 1
            batch = self._batches
        size = max(1, int(self.batch_size))
        chunks = [elements[i:i + size] for i in range(0, len(elements), size)]
        tasks = {f"normalize-{batch}/{i}": Task(lambda chunk=chunk: self._map_batch(chunk))
                 for i, chunk in enumerate(chunks)}
        runner = ParallelRunner(self._name)  # one per call: concurrent calls stay apart
        try:
            outcome = runner.run(tasks, step=batch)
        finally:
            runner.close()  # no idle threads left behind
        with self._lock:
            for key, chunk in zip(tasks, chunks, strict=True):
                if key in outcome.results:
                    self.normalizing_map.update(zip(chunk, outcome.results[key], strict=True))
        failed = [(f.agent, f"{f.error_type}: {f.message}") for f in outcome.failures]
        failed += [(key, "timed out") for key in outcome.timed_out]
        failed += [(key, "cancelled") for key in (*outcome.cancelled, *outcome.skipped_busy)]
        if failed:
            details = "; ".join(f"{key}: {why}" for key, why in failed)
            raise NormalizationError(f"{len(failed)} of {len(chunks)} normalisation "
                                     f"batch(es) failed: {details}", failed)

    def _map_batch(self, chunk: list[str]) -> list[str]:
        """One model call: the concept of each element of `chunk`, in order."""
        concepts = tuple(self.normalized_elements)
        schema = _mapping_schema(concepts, len(chunk))
        categories = "\n".join(f"- {concept}" for concept in concepts)
        listing = "\n".join(f"{i}. {element}" for i, element in enumerate(chunk, 1))
        messages = [{"role": "system", "content": _MAPPING_SYSTEM},
                    {"role": "user", "content": f"Categories:\n{categories}\n\n"
                                                f"Elements to categorise:\n{listing}"}]
        answer = ask_structured(messages, schema, name="normalizer_mapping")
        normalized = list(answer.normalized)  # type: ignore[attr-defined]
        self._say(f"Normalised {chunk} -> {normalized}")
        return normalized

    # --- helpers ----------------------------------------------------------------------

    def _shortened(self, concepts: list[str]) -> list[str]:
        """`concepts` cut to `max_length` (whole words where possible), duplicates merged."""
        if self.max_length is None:
            return list(dict.fromkeys(concepts))
        return list(dict.fromkeys(_shorten(c, self.max_length) for c in concepts))

    def _say(self, message: str) -> None:
        logger.debug("Normalizer: %s", message)
        if self.verbose:
            print(message)


def _as_list(elements: Any) -> list[str]:
    """`elements` as a list of strings; ValueError naming the first non-string."""
    if isinstance(elements, str):
        raise ValueError("elements must be a list of strings, not one string")
    items = list(elements)
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"elements must be strings, got {type(item).__name__}: {item!r}")
    return items


def _shorten(text: str, max_length: int) -> str:
    if len(text) <= max_length:
        return text
    shortened = textwrap.shorten(text, width=max_length, placeholder="…")
    return shortened if shortened and len(shortened) <= max_length else text[:max_length]


def _invalid_on_validation(parse: Any) -> Any:
    """`parse`, with pydantic's validation errors reported as `InvalidAnswer`."""
    def checked(text: str) -> Any:
        try:
            return parse(text)
        except ValidationError as exc:
            raise InvalidAnswer(describe(exc)) from None

    return checked
