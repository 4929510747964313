"""Market research in the style of upstream's examples.

A demography factory, a population generated in parallel and profiled, a question
broadcast, answers extracted and compared with survey data (survey.csv in the folder).
"""

from pathlib import Path

from tinytroupe.environment import TinyWorld
from tinytroupe.extraction import ResultsExtractor
from tinytroupe.factory import TinyPersonFactory
from tinytroupe.profiling import Profiler
from tinytroupe.validation import (
    SimulationExperimentDataset,
    SimulationExperimentEmpiricalValidator,
    validate_simulation_experiment_empirically,
)

DEMOGRAPHY = Path(__file__).resolve().parents[2] / "fixtures" / "demography" / "small_town.json"

factory = TinyPersonFactory.create_factory_from_demography(
    str(DEMOGRAPHY), population_size=30, context="A survey about a new ferry line.")
people = factory.generate_people(30, parallelize=True)

profile = Profiler(attributes=["age", "occupation.title"]).profile(
    people, plot=False, advanced_analysis=False)

market = TinyWorld("Town survey", people)
market.broadcast("A ferry to the mainland would cost 4 euros a trip. How likely are you to use "
                 "it, on a scale from 1 (never) to 5 (every day)?")
market.run(1)

answers = ResultsExtractor().extract_results_from_agents(
    people, extraction_objective="How likely the person is to use the ferry.",
    fields=["likelihood"], fields_hints={"likelihood": "a whole number from 1 to 5"})


def to_scale(value: object) -> int:
    """A real model answers a digit; the offline stand-in answers text (mapped 1-5)."""
    text = str(value).strip()
    return int(text) if text in {"1", "2", "3", "4", "5"} else len(text) % 5 + 1


simulated = [to_scale(a["likelihood"]) for a in answers if a]

survey = SimulationExperimentEmpiricalValidator.read_empirical_data_from_csv(
    Path.cwd() / "survey.csv", value_column="likelihood", dataset_name="Real survey")
result = validate_simulation_experiment_empirically(
    control_data=survey,
    treatment_data=SimulationExperimentDataset(name="Simulation",
                                               key_results={"likelihood": simulated}),
    validation_types=["statistical"], statistical_test_type="welch_t_test")

RESULT = {"people": len(people), "profiled": sum(profile["distributions"]["age"]),
          "answers": len(simulated), "score": result.overall_score,
          "p_value": result.statistical_results}
