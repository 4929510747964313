"""The profiler's written report: the latest profile as text or JSON.

`ProfileReport` is the part of `Profiler` that writes `export_analysis_report`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # optional: imported by the calls that need it
    import pandas as pd

logger = logging.getLogger("tinytroupe")


class ProfileReport:
    """Mixin of `Profiler`: the analysis report written to a file."""

    agents_data: list[dict[str, Any]] | None
    attributes_distributions: dict[str, pd.Series]
    analysis_results: dict[str, Any]

    def _generate_summary_statistics(self) -> dict[str, Any]:
        raise NotImplementedError  # provided by PopulationAnalysis

    def export_analysis_report(self, filename: str | Path = "agent_population_analysis.txt"
                               ) -> str:
        """Write the latest profile to `filename`; its path.

        Text (totals, completeness, distributions, numeric summaries, demographics,
        behaviour) or, for a ``.json`` name, JSON of the distributions, summary and
        analysis. Raises ValueError before `profile`.
        """
        if self.agents_data is None:
            raise ValueError("nothing to report: call profile(agents) first")
        path = Path(filename)
        summary = self._generate_summary_statistics()
        if path.suffix.lower() == ".json":
            document = {"summary_stats": summary,
                        "distributions": {a: [[k, int(c)] for k, c in d.items()]
                                          for a, d in self.attributes_distributions.items()},
                        "analysis": self.analysis_results}
            path.write_text(json.dumps(document, indent=2, default=str, ensure_ascii=False),
                            encoding="utf-8")
        else:
            path.write_text(self._report_text(summary), encoding="utf-8", errors="replace")
        logger.info("Analysis report exported to %s", path)
        return str(path)

    def _report_text(self, summary: dict[str, Any]) -> str:
        lines = ["AGENT POPULATION ANALYSIS REPORT", "=" * 50, "",
                 f"Total Agents Analyzed: {summary['total_agents']}",
                 f"Attributes Analyzed: {summary['attributes_analyzed']}", "",
                 "Data Completeness:"]
        lines += [f"  {a}: {c:.2%}" for a, c in summary["data_completeness"].items()]
        lines += ["", "DISTRIBUTIONS", "-" * 20]
        for attribute, counts in self.attributes_distributions.items():
            lines.append(f"{attribute}:")
            lines += [f"  {value}: {int(count)}" for value, count in counts.items()] \
                or ["  (no values)"]
            stats = summary["numeric_attributes"].get(attribute)
            if stats:
                lines.append(f"  mean {stats['mean']:.2f}, median {stats['median']:.2f}, "
                             f"std {stats['std']:.2f}, range {stats['min']}-{stats['max']}")
        lines.append("")
        demographics = self.analysis_results.get("demographics") or {}
        if demographics:
            lines += ["DEMOGRAPHICS", "-" * 20]
            if "age_stats" in demographics:
                age = demographics["age_stats"]
                lines += ["Age Statistics:", f"  Mean: {age['mean']:.1f} years",
                          f"  Median: {age['median']:.1f} years",
                          f"  Range: {age['range'][0]}-{age['range'][1]} years", ""]
            if "occupation_diversity" in demographics:
                occupation = demographics["occupation_diversity"]
                lines += ["Occupation Diversity:",
                          f"  Unique Occupations: {occupation['unique_count']}",
                          f"  Diversity Index: {occupation['diversity_index']:.3f}", ""]
            if "geographic_diversity" in demographics:
                geography = demographics["geographic_diversity"]
                lines += ["Geographic Diversity:",
                          f"  Unique Nationalities: {geography['unique_countries']}",
                          f"  Diversity Index: {geography['diversity_index']:.3f}", ""]
        activity = (self.analysis_results.get("behavioral_patterns") or {}).get(
            "activity_levels")
        if activity:
            lines += ["BEHAVIORAL PATTERNS", "-" * 20, "Activity Levels:",
                      f"  Average Actions: {activity['actions_mean']:.1f}",
                      f"  Average Stimuli: {activity['stimuli_mean']:.1f}",
                      f"  Activity Ratio: {activity['activity_ratio']:.2f}", ""]
        return "\n".join(lines).rstrip() + "\n"
