"""Experiments on simulations (upstream's `tinytroupe.experimentation`).

`StatisticalTester` compares treatments with a control using scipy.stats
(`statistical_tests`); the empirical validation of a simulation against real data
(`SimulationExperimentDataset`, `SimulationExperimentEmpiricalValidator`,
`validate_simulation_experiment_empirically`, upstream's
`tinytroupe.validation.simulation_validator`) lives in `simulation_validator`.
scipy, numpy and pandas are optional (``pip install 'tinytroupe[analysis]'``): importing
this package does not import them; the calls that need them do.
"""

import logging

from tinytroupe.experimentation.in_place_experiment_runner import InPlaceExperimentRunner
from tinytroupe.experimentation.proposition import (
    Proposition,
    check_proposition,
    compute_score,
)
from tinytroupe.experimentation.randomization import ABRandomizer
from tinytroupe.experimentation.simulation_validator import (
    SimulationExperimentDataset,
    SimulationExperimentEmpiricalValidationResult,
    SimulationExperimentEmpiricalValidator,
    validate_simulation_experiment_empirically,
)
from tinytroupe.experimentation.statistical_tests import StatisticalTester, cohen_d

__all__ = [
    "ABRandomizer",
    "InPlaceExperimentRunner",
    "Proposition",
    "SimulationExperimentDataset",
    "SimulationExperimentEmpiricalValidationResult",
    "SimulationExperimentEmpiricalValidator",
    "StatisticalTester",
    "check_proposition",
    "cohen_d",
    "compute_score",
    "logger",
    "validate_simulation_experiment_empirically",
]

#: The package's logger (upstream's modules import it from here).
logger = logging.getLogger("tinytroupe")
