"""Upstream's module path for empirical validation (`tinytroupe.experimentation`)."""

from tinytroupe.experimentation.simulation_validator import (
    SimulationExperimentDataset,
    SimulationExperimentEmpiricalValidationResult,
    SimulationExperimentEmpiricalValidator,
    validate_simulation_experiment_empirically,
)

__all__ = ["SimulationExperimentDataset", "SimulationExperimentEmpiricalValidationResult",
           "SimulationExperimentEmpiricalValidator", "validate_simulation_experiment_empirically"]
