"""`SimulationExperimentEmpiricalValidator`: how close a simulation is to the real study.

`validate` runs the statistical part (`StatisticalTester` on the metrics both datasets
have) and the semantic part (`semantic_proximity`), and scores the result. The overall
score is the mean of a statistical similarity and a semantic proximity. The statistical
similarity of a metric is ``1 / (1 + |d|)`` for an effect size ``d`` on Cohen's scale
(``0.95 + 0.05 / (1 + |d|)`` when ``|d| < 0.1``); when it is above 0.9 and both parts
ran, it weighs 70 %. Effect sizes are put on Cohen's scale per test: d for t-tests,
``2 * (CLES - 0.5)`` for Mann-Whitney, ``2 * sqrt(eta² / (1 - eta²))`` for ANOVA,
``2 * V`` for chi-square, the KS statistic for KS. Non-finite effect sizes (a metric
with one value) are left out of the score. The overview is in
`tinytroupe.experimentation.simulation_validator`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tinytroupe.experimentation.empirical_data_types import _as_list
from tinytroupe.experimentation.empirical_dataset import SimulationExperimentDataset
from tinytroupe.experimentation.empirical_report import ValidationReport
from tinytroupe.experimentation.empirical_tables import EmpiricalTableReader
from tinytroupe.experimentation.semantic_proximity import compare_justifications
from tinytroupe.experimentation.statistical_tests import SUPPORTED_TESTS, StatisticalTester

__all__ = ["SimulationExperimentEmpiricalValidationResult",
           "SimulationExperimentEmpiricalValidator",
           "validate_simulation_experiment_empirically"]

#: The validation types `validate` accepts.
VALIDATION_TYPES = ("statistical", "semantic")


class SimulationExperimentEmpiricalValidationResult(BaseModel):
    """The outcome of `SimulationExperimentEmpiricalValidator.validate` (module doc).

    ``statistical_results``: ``{"common_metrics", "test_results" ({treatment: {metric:
    test result}}), "test_type", "significance_level"}`` or ``{"error": ...}``;
    ``semantic_results``: ``{"individual_comparisons", "summary_comparison",
    "average_proximity", "failures"}``; ``overall_score`` in [0, 1].
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    validation_type: str
    control_name: str
    treatment_name: str
    statistical_results: dict[str, Any] | None = None
    semantic_results: dict[str, Any] | None = None
    overall_score: float | None = Field(
        None, ge=0.0, le=1.0, description="Overall validation score between 0.0 and 1.0")
    summary: str = ""
    timestamp: str = Field(default_factory=lambda: datetime.now().isoformat())


class SimulationExperimentEmpiricalValidator(EmpiricalTableReader, ValidationReport):
    """Compares a simulation experiment with empirical control data (module doc)."""

    def __init__(self) -> None:
        pass

    def validate(self, control: SimulationExperimentDataset,
                 treatment: SimulationExperimentDataset,
                 validation_types: list[str] = ["statistical", "semantic"],  # noqa: B006
                 statistical_test_type: str = "welch_t_test",
                 significance_level: float = 0.05,
                 output_format: str = "values"
                 ) -> SimulationExperimentEmpiricalValidationResult | str:
        """Validate `treatment` (the simulation) against `control` (the real data).

        `validation_types`: ``"statistical"`` and/or ``"semantic"``;
        `statistical_test_type`: one of ``StatisticalTester``'s tests (``welch_t_test``,
        ``t_test``, ``mann_whitney``, ``anova``, ``chi_square``, ``ks_test``);
        `output_format`: ``"values"`` for the result object, ``"report"`` for Markdown.
        Raises ValueError for anything else, ImportError (naming the extra) when the
        statistical part needs scipy and it is missing.
        """
        unknown = [t for t in validation_types if t not in VALIDATION_TYPES]
        if unknown:
            raise ValueError(f"unknown validation type(s) {unknown}: use "
                             f"{list(VALIDATION_TYPES)}")
        if statistical_test_type not in SUPPORTED_TESTS:
            raise ValueError(f"Unsupported test type: {statistical_test_type}. "
                             f"Supported types: {list(SUPPORTED_TESTS)}")
        if output_format not in ("values", "report"):
            raise ValueError(f"output_format must be 'values' or 'report', not "
                             f"{output_format!r}")
        if not 0 < significance_level < 1:
            raise ValueError(f"significance_level must be in (0, 1), not {significance_level}")
        result = SimulationExperimentEmpiricalValidationResult(
            validation_type=", ".join(validation_types),
            control_name=control.name or "Control",
            treatment_name=treatment.name or "Treatment")
        if "statistical" in validation_types:
            result.statistical_results = self._perform_statistical_validation(
                control, treatment, significance_level, statistical_test_type)
        if "semantic" in validation_types:
            result.semantic_results = self._perform_semantic_validation(control, treatment)
        result.overall_score = self._calculate_overall_score(result)
        result.summary = self._generate_summary(result)
        if output_format == "report":
            return self._generate_markdown_report(result, control, treatment)
        return result

    # --- statistical ------------------------------------------------------------------

    def _perform_statistical_validation(self, control: SimulationExperimentDataset,
                                        treatment: SimulationExperimentDataset,
                                        significance_level: float,
                                        test_type: str = "welch_t_test") -> dict[str, Any]:
        """`StatisticalTester` on the metrics both datasets have values for."""
        if not control.key_results or not treatment.key_results:
            return {"error": "No key results available for statistical testing"}
        common = sorted(set(control.key_results) & set(treatment.key_results))
        if not common:
            return {"error": "No common metrics found between control and treatment"}
        control_data: dict[str, list[Any]] = {}
        treatment_data: dict[str, list[Any]] = {}
        for metric in common:
            c_values = [v for v in _as_list(control.key_results[metric]) if v is not None]
            t_values = [v for v in _as_list(treatment.key_results[metric]) if v is not None]
            if c_values and t_values:
                control_data[metric], treatment_data[metric] = c_values, t_values
        if not control_data:
            return {"error": "No common metrics with values in both control and treatment"}
        try:
            tester = StatisticalTester({"control": control_data}, {"treatment": treatment_data})
            test_results = tester.run_test(test_type=test_type, alpha=significance_level)
        except (ValueError, TypeError) as exc:  # data the test cannot take
            return {"error": f"Statistical testing failed: {exc}"}
        return {"common_metrics": common, "test_results": test_results,
                "test_type": test_type, "significance_level": significance_level}

    # --- semantic ---------------------------------------------------------------------

    def _perform_semantic_validation(self, control: SimulationExperimentDataset,
                                     treatment: SimulationExperimentDataset) -> dict[str, Any]:
        """Model-rated proximity of justifications (`semantic_proximity`).

        Each control/treatment pair and the summaries; the calls run concurrently; a
        failed call is listed in ``failures``.
        """
        return compare_justifications(control, treatment)

    # --- scoring and summary ----------------------------------------------------------

    def _calculate_overall_score(self, result: SimulationExperimentEmpiricalValidationResult
                                 ) -> float:
        """The overall score in [0, 1] (module doc)."""
        scores: list[float] = []
        statistical = result.statistical_results or {}
        similarities = []
        for treatment_results in statistical.get("test_results", {}).values():
            for metric_result in treatment_results.values():
                effect = self._extract_effect_size(metric_result)
                if effect is None or not math.isfinite(effect):
                    continue
                size = abs(effect)
                similarities.append(0.95 + 0.05 / (1 + size) if size < 0.1 else 1 / (1 + size))
        if similarities:
            scores.append(sum(similarities) / len(similarities))
        semantic = result.semantic_results or {}
        proximities = []
        if semantic.get("average_proximity") is not None:
            proximities.append(semantic["average_proximity"])
        if semantic.get("summary_comparison"):
            proximities.append(semantic["summary_comparison"]["proximity_score"])
        if proximities:
            scores.append(sum(proximities) / len(proximities))
        if similarities and proximities and scores[0] > 0.9:
            return min(1.0, max(0.0, 0.7 * scores[0] + 0.3 * scores[1]))
        return min(1.0, max(0.0, sum(scores) / len(scores))) if scores else 0.0

    def _generate_summary(self, result: SimulationExperimentEmpiricalValidationResult) -> str:
        """One line: tests significant, mean effect size, proximities, overall score."""
        parts: list[str] = []
        statistical = result.statistical_results
        if statistical:
            if "error" in statistical:
                parts.append(f"Statistical validation: {statistical['error']}")
            else:
                metric_results = [r for per_treatment in statistical["test_results"].values()
                                  for r in per_treatment.values()]
                significant = sum(1 for r in metric_results if r.get("significant"))
                effects = [abs(e) for r in metric_results
                           if (e := self._extract_effect_size(r)) is not None
                           and math.isfinite(e)]
                line = (f"Statistical validation: {significant}/{len(metric_results)} tests "
                        "significant")
                if effects:
                    line += f", average effect size: {sum(effects) / len(effects):.3f}"
                parts.append(line)
        semantic = result.semantic_results or {}
        if semantic.get("average_proximity") is not None:
            parts.append("Semantic validation: Average proximity score of "
                         f"{semantic['average_proximity']:.3f}")
        if semantic.get("summary_comparison"):
            parts.append("Summary proximity: "
                         f"{semantic['summary_comparison']['proximity_score']:.3f}")
        if result.overall_score is not None:
            parts.append(f"Overall validation score: {result.overall_score:.3f}")
        return "; ".join(parts) if parts else "No validation results available"

    def _extract_effect_size(self, metric_result: dict[str, Any]) -> float | None:
        """The result's effect size on Cohen's scale (module doc); None if it has none."""
        raw = metric_result.get("effect_size")
        if raw is None or isinstance(raw, bool) or not isinstance(raw, (int, float)):
            return None
        test_type = str(metric_result.get("test_type", "")).lower()
        if "mann-whitney" in test_type:
            return 2 * (raw - 0.5)
        if "anova" in test_type:
            return 2 * math.sqrt(raw / (1 - raw)) if 0 < raw < 1 else 0.0
        if "chi-square" in test_type:
            return 2 * raw
        return float(raw)

    def _interpret_effect_size(self, effect_size: float, test_type: str = "") -> str:
        """Cohen's words for an effect size (KS: for the distance between distributions)."""
        lowered = test_type.lower()
        if "kolmogorov-smirnov" in lowered or "ks" in lowered.split():
            for bound, word in ((0.1, "negligible"), (0.25, "small"), (0.5, "medium")):
                if effect_size < bound:
                    return f"{word} difference"
            return "large difference"
        for bound, word in ((0.2, "negligible"), (0.5, "small"), (0.8, "medium")):
            if effect_size < bound:
                return word
        return "large"


def validate_simulation_experiment_empirically(
        control_data: dict[str, Any] | SimulationExperimentDataset,
        treatment_data: dict[str, Any] | SimulationExperimentDataset,
        validation_types: list[str] = ["statistical", "semantic"],  # noqa: B006
        statistical_test_type: str = "welch_t_test",
        significance_level: float = 0.05,
        output_format: str = "values") -> SimulationExperimentEmpiricalValidationResult | str:
    """Validate `treatment_data` (the simulation) against `control_data` (the real data).

    Each is a `SimulationExperimentDataset` or a dict of its fields (pydantic's
    ValidationError otherwise); the other arguments and the result are those of
    `SimulationExperimentEmpiricalValidator.validate`.
    """
    control = SimulationExperimentDataset.model_validate(control_data)
    treatment = SimulationExperimentDataset.model_validate(treatment_data)
    return SimulationExperimentEmpiricalValidator().validate(
        control, treatment, validation_types=validation_types,
        statistical_test_type=statistical_test_type, significance_level=significance_level,
        output_format=output_format)
