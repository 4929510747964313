"""`Profiler`: reading an agent population's attributes into distributions.

The overview (the result's shape, optional dependencies, differences from upstream) is
in `tinytroupe.profiling`. The analysis, charts and report are mixins in `analysis`,
`charts` and `report`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinytroupe.profiling.analysis import PopulationAnalysis
from tinytroupe.profiling.charts import ProfileCharts
from tinytroupe.profiling.report import ProfileReport
from tinytroupe.profiling.values import (
    _hashable,
    _import_pandas,
    _is_agent,
    _is_real,
    _nested,
)

if TYPE_CHECKING:  # optional: imported by the calls that need it
    import pandas as pd

__all__ = ["Profiler"]


class Profiler(PopulationAnalysis, ProfileCharts, ProfileReport):
    """Profiles agent populations: distributions, analysis and charts (`tinytroupe.profiling`).

    `attributes` are persona fields, dotted for nested ones. After `profile`,
    `attributes_distributions`, `agents_data` (one record per agent) and
    `analysis_results` hold the latest population's profile.
    """

    def __init__(self, attributes: list[str] = ["age", "occupation.title",  # noqa: B006
                                                "nationality"]) -> None:
        if isinstance(attributes, str) or not all(isinstance(a, str) and a
                                                  for a in attributes):
            raise TypeError(f"attributes must be a list of persona field names, "
                            f"not {attributes!r}")
        self.attributes = list(attributes)
        self.attributes_distributions: dict[str, pd.Series] = {}
        self.agents_data: list[dict[str, Any]] | None = None
        self.analysis_results: dict[str, Any] = {}
        self._custom_analyses: dict[str, Callable[[list[dict[str, Any]]], Any]] = {}
        self._values: dict[str, list[Any]] = {}  # attribute -> each agent's value

    # --- profiling --------------------------------------------------------------------

    def profile(self, agents: Iterable[Any], plot: bool = True, advanced_analysis: bool = True,
                output_folder: str | Path | None = None) -> dict[str, Any]:
        """Profile `agents` (TinyPersons or dicts of persona fields); shape: package doc.

        With `plot`, `render(advanced=advanced_analysis, output_folder=output_folder)`
        draws the charts and their paths are the result's ``"charts"``. Raises
        ImportError (naming the extra) without pandas, or without matplotlib when
        plotting; TypeError for an agent that is neither.
        """
        pd = _import_pandas()
        agents = list(agents)
        for agent in agents:
            if not (isinstance(agent, dict) or _is_agent(agent)):
                raise TypeError(f"cannot profile {type(agent).__name__}: expected a "
                                "TinyPerson or a dict of persona fields")
        self._values = {attribute: [agent.get(attribute) if _is_agent(agent)
                                    else _nested(agent, attribute) for agent in agents]
                        for attribute in self.attributes}
        self.agents_data = self._prepare_agent_data(agents, full=advanced_analysis)
        self.attributes_distributions = {
            attribute: self._distribution(pd, attribute, values)
            for attribute, values in self._values.items()}
        self.analysis_results = self._perform_advanced_analysis() if advanced_analysis else {}
        result: dict[str, Any] = {"distributions": self.attributes_distributions,
                                  "analysis": self.analysis_results,
                                  "summary_stats": self._generate_summary_statistics()}
        if plot:
            result["charts"] = self.render(advanced=advanced_analysis,
                                           output_folder=output_folder)
        return result

    def _prepare_agent_data(self, agents: list[Any], full: bool) -> list[dict[str, Any]]:
        """One record per agent: the profiled attributes' values.

        With `full`, also the whole persona (a copy) and what the agent is doing (goals,
        context, contacts, memory size).
        """
        records = []
        for i, agent in enumerate(agents):
            if not _is_agent(agent):
                record = json.loads(json.dumps(agent, default=str)) if full else {}
            else:
                record = self._extract_tinyperson_data(agent) if full else {}
            for attribute in self.attributes:  # what profile() read, at its dotted path
                value = self._values[attribute][i]
                if value is None:
                    continue
                target: Any = record
                *parents, leaf = attribute.split(".")
                for key in parents:
                    target = target.setdefault(key, {})
                    if not isinstance(target, dict):
                        break
                else:
                    target.setdefault(leaf, value)
            records.append(record)
        return records

    @staticmethod
    def _extract_tinyperson_data(agent: Any) -> dict[str, Any]:
        """A TinyPerson's persona fields plus its current state, as upstream's records."""
        encode = getattr(agent, "encode_complete_state", None)
        data: dict[str, Any] = dict(encode().get("persona") or {}) if callable(encode) else {}
        cognitive = getattr(agent, "cognitive_state", None)
        if callable(cognitive):
            state = cognitive()
            data["current_emotions"] = state.get("emotions")
            data["current_goals"] = state.get("goals") or []
            data["current_context"] = state.get("context") or []
        accessible = getattr(agent, "accessible_agents", None)
        if accessible is not None:
            data["accessible_agents_count"] = len(accessible)
            data["social_connections"] = len(accessible)
        for counter in ("actions_count", "stimuli_count"):
            if _is_real(getattr(agent, counter, None)):
                data[counter] = getattr(agent, counter)
        memory = getattr(agent, "episodic_memory", None)
        if memory is not None and callable(getattr(memory, "count", None)):
            data["episodic_memory_size"] = memory.count()
        return data

    def _distribution(self, pd: Any, attribute: str, values: list[Any]) -> pd.Series:
        """Value -> count for `attribute`, ordered by value (package doc)."""
        present = [_hashable(v) for v in values if v is not None]
        if not present:
            return pd.Series([], dtype="int64", name="count").rename_axis(attribute)
        counts = pd.Series(present, dtype=object).value_counts()
        try:
            counts = counts.sort_index()
        except TypeError:  # values that cannot be ordered together: count them as text
            counts = pd.Series([str(v) for v in present]).value_counts().sort_index()
        if all(_is_real(v) for v in present):
            counts.index = pd.Index(list(counts.index))  # numbers: a numeric index
        return counts.rename_axis(attribute)

    # --- comparisons ------------------------------------------------------------------

    def compare_populations(self, other_agents: Iterable[Any],
                            attributes: list[str] | None = None) -> dict[str, Any]:
        """Compare the profiled population with `other_agents`, attribute by attribute.

        ``{"population_sizes": {"current", "comparison"}, "attribute_comparisons":
        {attribute: {"current_unique_values", "comparison_unique_values",
        "current_top_3", "comparison_top_3"}}}``; the top 3 are value -> count of the
        most frequent values (ties in value order). `attributes` defaults to this
        profiler's; attributes it did not profile are left out. Raises ValueError before
        `profile`.
        """
        if self.agents_data is None:
            raise ValueError("nothing to compare: call profile(agents) first")
        attributes = list(self.attributes if attributes is None else attributes)
        other = Profiler(attributes)
        other.profile(other_agents, plot=False, advanced_analysis=False)

        def top(counts: pd.Series) -> dict[Any, int]:
            ranked = counts.sort_values(ascending=False, kind="stable").head(3)
            return {k: int(c) for k, c in ranked.items()}

        comparisons = {}
        for attribute in attributes:
            if attribute in self.attributes_distributions:
                mine = self.attributes_distributions[attribute]
                theirs = other.attributes_distributions[attribute]
                comparisons[attribute] = {
                    "current_unique_values": len(mine),
                    "comparison_unique_values": len(theirs),
                    "current_top_3": top(mine), "comparison_top_3": top(theirs)}
        return {"population_sizes": {"current": len(self.agents_data),
                                     "comparison": len(other.agents_data or [])},
                "attribute_comparisons": comparisons}
