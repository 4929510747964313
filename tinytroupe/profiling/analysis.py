"""The profiler's analysis: demographics, behaviour, social ties, traits, correlations.

`PopulationAnalysis` is the part of `Profiler` that reads the per-agent records made by
`profile` (``Profiler.agents_data``) and the profiled values; it also runs the custom
analyses added with `add_custom_analysis`.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

from tinytroupe.profiling.values import (
    _diversity_index,
    _hashable,
    _import_pandas,
    _is_real,
    _matrix,
    _nested,
    _numeric_summary,
)


class PopulationAnalysis:
    """Mixin of `Profiler`: the analysis of the latest profiled population."""

    attributes: list[str]
    agents_data: list[dict[str, Any]] | None
    _custom_analyses: dict[str, Callable[[list[dict[str, Any]]], Any]]
    _values: dict[str, list[Any]]

    def add_custom_analysis(self, name: str,
                            analysis_func: Callable[[list[dict[str, Any]]], Any]) -> None:
        """Run `analysis_func(agents_data)` in each `profile`; its result is ``analysis[name]``."""
        if not callable(analysis_func):
            raise TypeError(f"custom analysis {name!r} must be callable")
        self._custom_analyses[name] = analysis_func

    def _perform_advanced_analysis(self) -> dict[str, Any]:
        results = {"demographics": self._analyze_demographics(),
                   "behavioral_patterns": self._analyze_behavioral_patterns(),
                   "social_analysis": self._analyze_social_patterns(),
                   "personality_clusters": self._analyze_personality_clusters(),
                   "correlations": self._analyze_correlations()}
        for name, func in self._custom_analyses.items():
            results[name] = func(self.agents_data or [])
        return results

    def _records(self) -> list[dict[str, Any]]:
        return self.agents_data or []

    def _analyze_demographics(self) -> dict[str, Any]:
        demographics: dict[str, Any] = {}
        ages = [r.get("age") for r in self._records() if _is_real(r.get("age"))]
        if ages:
            pd = _import_pandas()
            skew = pd.Series(ages, dtype=float).skew() if len(ages) >= 3 else float("nan")
            demographics["age_stats"] = {
                "mean": statistics.fmean(ages), "median": statistics.median(ages),
                "std": statistics.pstdev(ages), "range": (min(ages), max(ages)),
                "distribution": "normal" if math.isfinite(skew) and abs(skew) < 0.3
                else "non-normal"}
        occupations = []
        for record in self._records():
            occupation = record.get("occupation")
            if isinstance(occupation, dict):
                occupation = occupation.get("title")
            if occupation is not None:
                occupations.append(_hashable(occupation))
        if occupations:
            counts = Counter(occupations)
            demographics["occupation_diversity"] = {
                "unique_count": len(counts), "diversity_index": _diversity_index(counts),
                "most_common": counts.most_common(5)}
        nationalities = [_hashable(r["nationality"]) for r in self._records()
                         if r.get("nationality")]
        if nationalities:
            counts = Counter(nationalities)
            demographics["geographic_diversity"] = {
                "unique_countries": len(counts), "diversity_index": _diversity_index(counts),
                "distribution": dict(counts)}
        return demographics

    def _analyze_behavioral_patterns(self) -> dict[str, Any]:
        behavioral: dict[str, Any] = {}
        actions = [r.get("actions_count", 0) for r in self._records()]
        stimuli = [r.get("stimuli_count", 0) for r in self._records()]
        if any(actions):
            behavioral["activity_levels"] = {
                "actions_mean": statistics.fmean(actions),
                "actions_std": statistics.pstdev(actions),
                "stimuli_mean": statistics.fmean(stimuli),
                "stimuli_std": statistics.pstdev(stimuli),
                "activity_ratio": statistics.fmean(actions) / max(statistics.fmean(stimuli), 1)}
        goals = Counter(_hashable(goal) for r in self._records()
                        if isinstance(r.get("current_goals"), list)
                        for goal in r["current_goals"])
        if goals:
            behavioral["goal_patterns"] = {"common_goals": goals.most_common(10),
                                           "goal_diversity": _diversity_index(goals)}
        return behavioral

    def _analyze_social_patterns(self) -> dict[str, Any]:
        connections = [r.get("social_connections", 0) for r in self._records()]
        accessible = [r.get("accessible_agents_count", 0) for r in self._records()]
        if not any(connections + accessible):
            return {}
        levels = {"isolated": 0, "low": 0, "medium": 0, "high": 0}
        for n in connections:
            levels["isolated" if n == 0 else "low" if n <= 2 else "medium" if n <= 5
                   else "high"] += 1
        return {"connectivity": {
            "avg_connections": statistics.fmean(connections),
            "avg_accessible": statistics.fmean(accessible),
            "connectivity_distribution": levels,
            "social_isolation_rate": levels["isolated"] / len(connections)}}

    def _analyze_personality_clusters(self) -> dict[str, Any]:
        """Average Big Five traits (``big_five`` or ``personality.big_five``).

        Words such as "high" / "medium" / "low" read as 0.8 / 0.5 / 0.2.
        """
        rows = []
        for record in self._records():
            traits = record.get("big_five") or _nested(record, "personality.big_five")
            if not isinstance(traits, dict) or len(traits) != 5:
                continue
            row = {}
            for trait, value in traits.items():
                if _is_real(value):
                    row[trait] = float(value)
                else:
                    text = str(value).lower()
                    row[trait] = 0.8 if "high" in text else 0.2 if "low" in text else 0.5
            rows.append(row)
        if len(rows) < 2:
            return {}
        df = _import_pandas().DataFrame(rows)
        means = df.mean()
        return {"trait_analysis": {
            "average_traits": means.to_dict(),
            "trait_correlations": _matrix(df.corr()),
            "dominant_traits": {trait: "high" if m > 0.6 else "low" if m < 0.4 else "moderate"
                                for trait, m in means.items()}}}

    def _analyze_correlations(self) -> dict[str, Any]:
        columns = {}
        for name in ("age", "actions_count", "stimuli_count", "social_connections"):
            values = [r.get(name, 0) for r in self._records()]
            values = [v if _is_real(v) else 0 for v in values]
            if len(set(values)) > 1:  # a constant column has no correlation
                columns[name] = values
        if len(columns) < 2:
            return {}
        matrix = _import_pandas().DataFrame(columns).corr()
        strong = [{"variables": (a, b), "correlation": float(matrix.loc[a, b])}
                  for i, a in enumerate(matrix.columns) for b in matrix.columns[i + 1:]
                  if abs(matrix.loc[a, b]) > 0.5]
        return {"numerical_correlations": strong, "correlation_matrix": _matrix(matrix)}

    def _generate_summary_statistics(self) -> dict[str, Any]:
        total = len(self.agents_data or [])
        numeric = {}
        for attribute, values in self._values.items():
            summary = _numeric_summary([v for v in values if v is not None])
            if summary is not None:
                numeric[attribute] = summary
        return {
            "total_agents": total,
            "attributes_analyzed": len(self.attributes),
            "data_completeness": {
                attribute: (sum(v is not None for v in self._values.get(attribute, [])) / total
                            if total else 0.0) for attribute in self.attributes},
            "numeric_attributes": numeric,
        }
