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

from tinytroupe.experimentation.simulation_validator import (
    SimulationExperimentDataset,
    SimulationExperimentEmpiricalValidationResult,
    SimulationExperimentEmpiricalValidator,
    validate_simulation_experiment_empirically,
)
from tinytroupe.experimentation.statistical_tests import StatisticalTester, cohen_d

__all__ = ["SimulationExperimentDataset", "SimulationExperimentEmpiricalValidationResult",
           "SimulationExperimentEmpiricalValidator", "StatisticalTester", "cohen_d", "logger",
           "validate_simulation_experiment_empirically"]

#: The package's logger (upstream's modules import it from here).
logger = logging.getLogger("tinytroupe")
