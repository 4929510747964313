"""Populations from sampling plans and demographies, over the fake server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinytroupe.factory import PersonGenerationError, TinyPersonFactory
from tinytroupe.testing import FakeLLMServer

DEMOGRAPHY = Path(__file__).resolve().parents[1] / "fixtures" / "demography" / "small_town.json"


def follows_plan(person, characteristics: dict) -> bool:
    """Whether `person`'s persona carries the characteristics the plan gave it."""
    for dimension, value in characteristics.items():
        if dimension == "subpopulation":
            continue
        field = {"occupation": "occupation.title", "country": "nationality"}.get(dimension,
                                                                               dimension)
        if person.get(field) != value:
            return False
    return True


def test_a_description_becomes_a_plan_of_the_population_size(
        llm_over_http: FakeLLMServer) -> None:
    factory = TinyPersonFactory("Commuters of a large city, of every age and job.",
                                total_population_size=12)
    factory.initialize_sampling_plan()
    assert {d["name"] for d in factory.sampling_dimensions["dimensions"]} >= {"age"}
    assert sum(d["quantity"] for d in factory.sampling_plan) == 12
    planned = list(factory.remaining_characteristics_sample)
    assert len(planned) == 12
    for directive in factory.sampling_plan:  # every person drawn within its directive
        low, high = directive["sampled_values"]["age"]
        ages = [c["age"] for c in planned if c["subpopulation"] ==
                directive["subpopulation_description"]]
        assert len(ages) == directive["quantity"] and all(low <= a <= high for a in ages)
    processed: list[str] = []
    people = factory.generate_people(post_processing_func=lambda p: processed.append(p.name))
    assert len(people) == 12 and processed == [p.name for p in people]
    assert all(follows_plan(p, c) for p, c in zip(people, planned, strict=True))
    assert len({p.name for p in people}) == 12
    assert factory.generated_minibios and len(factory.generated_names) == 12
    with pytest.raises(PersonGenerationError, match="total_population_size 12"):
        factory.generate_person()


def test_a_demography_file_in_upstreams_format_makes_a_factory(
        llm_over_http: FakeLLMServer) -> None:
    factory = TinyPersonFactory.create_factory_from_demography(
        str(DEMOGRAPHY), population_size=6, additional_demographic_specification="Adults only.")
    assert "fishing and seafood processing" in factory.sampling_space_description
    people = factory.generate_people(6, temperature=1.1, parallelize=True)
    assert len(people) == 6
    assert factory.get_parallel_metrics()["parallel_errors"] == 0
    requests = llm_over_http.stats()["total_requests"]
    assert requests == 2 + 6  # the dimensions, the plan, then one call per person


def test_a_demography_that_is_not_an_object_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json"):
        TinyPersonFactory.create_factory_from_demography(str(bad), population_size=3)


def test_one_off_people_honour_every_argument(llm_over_http: FakeLLMServer) -> None:
    factory = TinyPersonFactory(context="A bank's customers.")
    seen: list[str] = []
    person = factory.generate_person("Works night shifts.", temperature=0.7,
                                     frequency_penalty=0.1, presence_penalty=0.2, attempts=2,
                                     post_processing_func=lambda p: seen.append(p.name))
    assert seen == [person.name]
    people = factory.generate_people(3, parallelize=False, verbose=True)
    assert len(people) == 3 and len({p.name for p in [person, *people]}) == 4
