"""Empirical validation: how close a simulation experiment is to the real study.

Upstream's `tinytroupe.validation.simulation_validator` API (re-exported from
`tinytroupe.experimentation` here):

* `SimulationExperimentDataset`: a study's or a simulation's results. ``key_results``
  maps each metric to a value or a per-agent list; ``result_types`` says
  ``"per_agent"`` or ``"aggregate"``; ``data_types`` says how to read the values
  (``numeric``, ``categorical``, ``ordinal``, ``ranking``, ``count``, ``proportion``,
  ``binary``), detected when not given. On creation, strings become ordinal codes
  (categories in alphabetical order; known Likert scales in their own order),
  booleans and yes/no become 0/1, percentages above 1 become proportions; the
  mappings are kept so that codes can be read back. ``agent_justifications`` and
  ``justification_summary`` carry the people's reasons (semantic validation).
* `SimulationExperimentEmpiricalValidator.validate(control, treatment, validation_types,
  statistical_test_type, significance_level, output_format)`: the statistical part runs
  `StatisticalTester` (scipy.stats) on the metrics both datasets have; the semantic
  part asks the model how close each control justification is to each treatment
  justification (and the two summaries), concurrently on a `ParallelRunner`. It returns
  a `SimulationExperimentEmpiricalValidationResult` (``overall_score`` in [0, 1],
  ``statistical_results``, ``semantic_results``, ``summary``), or with
  ``output_format="report"`` a Markdown report.
* `read_empirical_data_from_csv` / `read_empirical_data_from_dataframe` (and
  `create_from_csv` / `create_from_dataframe`): a dataset from a survey table, one row
  per person, in three layouts: ``single_value_per_agent`` (one value column),
  ``ranking_per_agent`` (one rank column per option) and ``ordinal_ranking_per_agent``
  (one column like ``"A-C-B"``).
* `validate_simulation_experiment_empirically(control_data, treatment_data, ...)`: the
  same from two dicts.

The overall score is the mean of a statistical similarity and a semantic proximity.
The statistical similarity of a metric is ``1 / (1 + |d|)`` for an effect size ``d``
on Cohen's scale (``0.95 + 0.05 / (1 + |d|)`` when ``|d| < 0.1``); when it is above 0.9
and both parts ran, it weighs 70 %. Effect sizes are put on Cohen's scale per test: d
for t-tests, ``2 * (CLES - 0.5)`` for Mann-Whitney, ``2 * sqrt(eta² / (1 - eta²))``
for ANOVA, ``2 * V`` for chi-square, the KS statistic for KS (upstream meant the same
but used Mann-Whitney's raw CLES, which scores identical samples 0.67). Non-finite
effect sizes (a metric with one value) are left out of the score.

scipy (tests) and pandas (tables) are imported when needed; without them the call
raises ImportError naming the extra (``pip install 'tinytroupe[analysis]'``). Unlike
upstream, an unknown validation type, test type or output format is a ValueError
(upstream ignored it or reported it inside the results), and a missing scipy is an
ImportError rather than an ``"error"`` entry.

The code lives in `empirical_dataset` (the dataset) with `empirical_data_types` (its
type detection and conversion), `empirical_validator` (validation and scoring) with
`empirical_tables` (the table readers), `empirical_report` (the Markdown report) and
`semantic_proximity` (the model-judged part); this module is their public import path.
"""

# The constants and the Scalar type stay importable from here too, outside __all__.
from tinytroupe.experimentation.empirical_data_types import DATA_TYPES as DATA_TYPES
from tinytroupe.experimentation.empirical_dataset import Scalar as Scalar
from tinytroupe.experimentation.empirical_dataset import SimulationExperimentDataset
from tinytroupe.experimentation.empirical_tables import (
    EXPERIMENTAL_DATA_TYPES as EXPERIMENTAL_DATA_TYPES,
)
from tinytroupe.experimentation.empirical_validator import (
    VALIDATION_TYPES as VALIDATION_TYPES,
)
from tinytroupe.experimentation.empirical_validator import (
    SimulationExperimentEmpiricalValidationResult,
    SimulationExperimentEmpiricalValidator,
    validate_simulation_experiment_empirically,
)

__all__ = ["SimulationExperimentDataset", "SimulationExperimentEmpiricalValidationResult",
           "SimulationExperimentEmpiricalValidator",
           "validate_simulation_experiment_empirically"]
