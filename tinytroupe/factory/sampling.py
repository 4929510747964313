"""Sampling plans: from a population description to the characteristics of each person.

Upstream TinyTroupe's scheme, in three parts:

1. *sampling dimensions*: the model turns a description of the population into named
   dimensions, each with options (a list, or a dict of option -> proportion) or a
   numeric range (`SamplingDimensions`);
2. a *sampling plan*: the model splits the population size N into directives, each a
   sub-population with chosen values and a quantity; the quantities add up to N
   (`SamplingPlan`, checked by `check_plan`; an answer that does not add up is asked
   again);
3. `flatten(plan, rng)`: one characteristics dict per person, each dimension drawn from
   its directive's value, options or range, without repeating a combination while
   another is possible.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tinytroupe import sanitize


class Dimension(BaseModel):
    """One sampling dimension: options (list or option -> proportion) or a range."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    values: list[str] | dict[str, float] | None = None
    range: list[float] | None = Field(default=None, min_length=2, max_length=2)


class SamplingDimensions(BaseModel):
    """The dimensions that describe a population (the first model answer)."""

    sampling_space_description: str = ""
    dimensions: list[Dimension] = Field(min_length=1)


class Directive(BaseModel):
    """A sub-population of the plan: chosen values and how many people."""

    model_config = ConfigDict(extra="allow")

    id: int = 0
    subpopulation_description: str = ""
    sampled_values: dict[str, Any]
    quantity: int = Field(ge=1)


class SamplingPlan(BaseModel):
    """The sampling plan (the second model answer)."""

    directives: list[Directive] = Field(min_length=1)


def check_plan(plan: SamplingPlan, population_size: int) -> SamplingPlan:
    """`plan` if its quantities add up to `population_size`; ValueError otherwise."""
    total = sum(d.quantity for d in plan.directives)
    if total != population_size:
        raise ValueError(f"the quantities of the sampling plan add up to {total}, not to the "
                         f"population size {population_size}; adjust them")
    return plan


def flatten(plan: SamplingPlan, rng: random.Random) -> list[dict[str, Any]]:
    """One characteristics dict per person of `plan`, in the plan's order.

    A dimension's value is kept as it is when it is a single value, drawn from a list
    of options, or drawn as a whole number from a numeric ``[min, max]`` range; each
    person also carries its sub-population's description.
    """
    people: list[dict[str, Any]] = []
    for directive in plan.directives:
        seen: set[str] = set()
        for _ in range(directive.quantity):
            for _attempt in range(10):  # prefer combinations not drawn yet
                person = {name: _draw(value, rng)
                          for name, value in directive.sampled_values.items()}
                key = json.dumps(person, sort_keys=True, default=str)
                if key not in seen:
                    break
            seen.add(key)
            if directive.subpopulation_description:
                person["subpopulation"] = directive.subpopulation_description
            people.append(person)
    return people


def _draw(value: Any, rng: random.Random) -> Any:
    if isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        low, high = sorted(value)
        return rng.randint(int(low), int(high))
    if isinstance(value, list) and value:
        return rng.choice(value)
    if isinstance(value, dict) and value:  # options with proportions
        options, weights = zip(*value.items(), strict=True)
        numeric = [w if isinstance(w, (int, float)) and w > 0 else 0 for w in weights]
        return rng.choices(options, weights=numeric if any(numeric) else None)[0]
    return value


def demography_description(demography: str | Path | dict[str, Any],
                           additional_specification: str | None = None) -> str:
    """The sampling-space description of a demography (a JSON file or a dict).

    Raises ValueError naming the file if it is not a JSON object.
    """
    if isinstance(demography, dict):
        data = sanitize.clean_data(demography)
        where = "<dict>"
    else:
        where = str(demography)
        try:
            data = sanitize.loads(Path(demography).read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"cannot read the demography file {where}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"demography {where}: expected a JSON object")
    return ("The population described by the demographic data below, sampled so that each "
            "characteristic appears in its stated proportion, covering every segment, from "
            "the most common to the rare and extreme, positive and negative alike.\n"
            f"Additional specification: {additional_specification or '(none)'}\n"
            f"Demographic data: {json.dumps(data, ensure_ascii=False)}")
