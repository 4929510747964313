"""The Markdown report of an empirical validation (``output_format="report"``).

`ValidationReport` is the part of `SimulationExperimentEmpiricalValidator` that writes
the header, the summary, each metric's data type, the statistical tests and the semantic
comparisons.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinytroupe.experimentation.empirical_dataset import SimulationExperimentDataset
    from tinytroupe.experimentation.empirical_validator import (
        SimulationExperimentEmpiricalValidationResult,
    )


class ValidationReport:
    """Mixin of `SimulationExperimentEmpiricalValidator`: results as Markdown."""

    def _extract_effect_size(self, metric_result: dict[str, Any]) -> float | None:
        raise NotImplementedError  # provided by SimulationExperimentEmpiricalValidator

    def _interpret_effect_size(self, effect_size: float, test_type: str = "") -> str:
        raise NotImplementedError  # provided by SimulationExperimentEmpiricalValidator

    def _generate_markdown_report(self, result: SimulationExperimentEmpiricalValidationResult,
                                  control: SimulationExperimentDataset | None = None,
                                  treatment: SimulationExperimentDataset | None = None) -> str:
        """The result as a Markdown report: header, summary, data types, tests, semantics."""
        score = "N/A" if result.overall_score is None else f"{result.overall_score:.3f}"
        lines = ["# Simulation Experiment Empirical Validation Report", "",
                 f"**Validation Type:** {result.validation_type}  ",
                 f"**Control/Empirical:** {result.control_name}  ",
                 f"**Treatment/Simulation:** {result.treatment_name}  ",
                 f"**Timestamp:** {result.timestamp}  ",
                 f"**Overall Score:** {score}", "", "## Summary", "", result.summary, ""]
        lines += self._data_type_lines(control, treatment)
        statistical = result.statistical_results
        if statistical:
            lines += ["## Statistical Validation", ""]
            if "error" in statistical:
                lines += [f"**Error:** {statistical['error']}", ""]
            else:
                lines += [f"**Common Metrics:** {', '.join(statistical['common_metrics'])}", "",
                          f"**Significance Level:** {statistical['significance_level']}", ""]
                if statistical["test_results"]:
                    lines += ["### Test Results", ""]
                for treatment_name, metrics in statistical["test_results"].items():
                    lines += [f"#### {treatment_name}", ""]
                    for metric, res in metrics.items():
                        lines += self._test_lines(metric, res)
        semantic = result.semantic_results
        if semantic:
            lines += ["## Semantic Validation", ""]
            if semantic.get("individual_comparisons"):
                lines += ["### Individual Agent Comparisons", ""]
                for comp in semantic["individual_comparisons"]:
                    lines += [f"**{comp['control_agent']} vs {comp['treatment_agent']}:** "
                              f"{comp['proximity_score']:.3f}", "", comp["justification"], ""]
                if semantic.get("average_proximity") is not None:
                    lines += ["**Average Proximity Score:** "
                              f"{semantic['average_proximity']:.3f}", ""]
            if semantic.get("summary_comparison"):
                summary = semantic["summary_comparison"]
                lines += ["### Summary Comparison", "",
                          f"**Proximity Score:** {summary['proximity_score']:.3f}", "",
                          f"**Justification:** {summary['justification']}", ""]
            for failure in semantic.get("failures", []):
                lines += [f"- comparison {failure['comparison']} failed: {failure['error']}"]
        return "\n".join(lines).rstrip() + "\n"

    def _test_lines(self, metric: str, res: dict[str, Any]) -> list[str]:
        statistic = next((res[k] for k in ("t_statistic", "u_statistic", "f_statistic",
                                           "chi2_statistic", "ks_statistic") if k in res), "N/A")
        test_type = res.get("test_type", "N/A")
        status = "✅ Significant" if res.get("significant") else "❌ Not Significant"
        lines = [f"**{metric}:**", "", f"- **{test_type}:** {status}",
                 f"  - p-value: {res.get('p_value', 'N/A')}", f"  - statistic: {statistic}"]
        effect = self._extract_effect_size(res)
        if effect is not None and math.isfinite(effect):
            lines.append(f"  - effect size: {effect:.3f} "
                         f"({self._interpret_effect_size(abs(effect), test_type)})")
        return [*lines, ""]

    @staticmethod
    def _data_type_lines(control: SimulationExperimentDataset | None,
                         treatment: SimulationExperimentDataset | None) -> list[str]:
        """The report's data-type section: each metric's type, categories or ranks."""
        datasets = [(label, d) for label, d in (("Control", control), ("Treatment", treatment))
                    if d is not None]
        metrics = sorted({m for _, d in datasets for m in d.key_results})
        if not metrics:
            return []
        lines = ["## Data Type Information", ""]
        for metric in metrics:
            lines += [f"### {metric}", ""]
            for label, dataset in datasets:
                if metric not in dataset.key_results:
                    continue
                summary = dataset.get_metric_summary(metric)
                line = f"- **{label}:** {summary['data_type']}"
                if summary.get("categories") or summary.get("ordinal_categories"):
                    cats = summary.get("categories") or summary.get("ordinal_categories")
                    line += f"; categories: {', '.join(f'`{c}`' for c in cats)}"
                for key in ("category_distribution", "rank_distribution",
                            "binary_distribution"):
                    if summary.get(key):
                        line += f"; distribution: {summary[key]}"
                if "min_value" in summary:
                    line += f"; range: {summary['min_value']} to {summary['max_value']}"
                if "valid_values" in summary:
                    line += f"; valid values: {summary['valid_values']}/{summary['total_values']}"
                lines.append(line)
            lines.append("")
        return lines
