"""Validation of simulated people (TinyTroupe's `tinytroupe.validation`).

`TinyPersonValidator.validate_person` interviews a person with a model-driven
interviewer and scores how well it matches its specification and given expectations;
`TinyPersonValidator.validate_people` does so for many people concurrently. Empirical
validation of a simulated experiment against survey data is re-exported from
`tinytroupe.experimentation`.
"""

from tinytroupe.validation.simulation_validator import (
    SimulationExperimentDataset,
    SimulationExperimentEmpiricalValidationResult,
    SimulationExperimentEmpiricalValidator,
    validate_simulation_experiment_empirically,
)
from tinytroupe.validation.tiny_person_validator import TinyPersonValidator

__all__ = ["SimulationExperimentDataset", "SimulationExperimentEmpiricalValidationResult",
           "SimulationExperimentEmpiricalValidator", "TinyPersonValidator",
           "validate_simulation_experiment_empirically"]
