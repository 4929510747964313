"""Profiler: what an agent population looks like (ages, occupations, nationalities, ...).

Upstream's `tinytroupe.profiling` API. `Profiler(attributes)` names persona fields,
dotted for nested ones (``"occupation.title"``); `profile(agents)` takes `TinyPerson`s
(read with ``agent.get(attribute)``) or dicts of persona fields and returns::

    {"distributions": {attribute: pandas Series of value -> count, ordered by value},
     "analysis": {"demographics", "behavioral_patterns", "social_analysis",
                  "personality_clusters", "correlations", <custom analyses>},
     "summary_stats": {"total_agents", "attributes_analyzed", "data_completeness",
                       "numeric_attributes": {attribute: {"count", "mean", "median",
                                                          "std", "min", "max"}}},
     "charts": [paths of the PNG files drawn, when plot=True]}

Agents without a value (None) are left out of a distribution; lists and dicts are
counted by their JSON text; if values cannot be ordered together (numbers and text),
all are counted as text. ``std`` is the population standard deviation (as upstream).

`render()` draws bar charts of the distributions (and, with ``advanced``, the
demographics, behaviour and correlation charts) with matplotlib's Agg canvas: no window
and no change to pyplot's global backend; each chart is a PNG file in `output_folder`
(a new temporary folder when None) and the paths are returned. `export_analysis_report`
writes the analysis as text (JSON for a ``.json`` file name); `compare_populations`
compares the profiled population with another one.

pandas (distributions) and matplotlib (charts) are optional and imported by the calls
that need them, never with this module; without them the call raises ImportError
naming the extra (``pip install 'tinytroupe[analysis]'``).

Differences from upstream: charts are files, not windows (no seaborn); the top values in
`compare_populations` are the most frequent ones (upstream took the first three in value
order); custom analyses added with `add_custom_analysis` do run during `profile`
(upstream stored them only); an attribute with no values has an empty Series rather
than an empty DataFrame; the report is logged, not printed.
"""

from __future__ import annotations

import json
import logging
import math
import re
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # optional: imported by the calls that need them
    import pandas as pd
    from matplotlib.figure import Figure

logger = logging.getLogger("tinytroupe")

__all__ = ["Profiler"]

#: How to install what distributions and charts need.
EXTRA_HINT = "pip install 'tinytroupe[analysis]'"
#: Distributions with more values than this are drawn as their most frequent values.
MAX_BARS = 15


def _import_pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError("profiling needs pandas, which is not installed: "
                          f"{EXTRA_HINT}") from None
    return pandas


def _figure(width: float, height: float) -> Figure:
    """A matplotlib figure on an Agg canvas (no pyplot, no display)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("drawing profiles needs matplotlib, which is not installed: "
                          f"{EXTRA_HINT}") from None
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _is_agent(agent: Any) -> bool:
    """True for a TinyPerson-like object (not a dict of persona fields)."""
    return not isinstance(agent, dict) and callable(getattr(agent, "get", None))


def _nested(record: Any, attribute: str) -> Any:
    """`record`'s value at a dotted path (``"occupation.title"``), or None."""
    value = record
    for key in attribute.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _hashable(value: Any) -> Any:
    """`value`, or its JSON text for lists and dicts (so that it can be counted)."""
    if isinstance(value, (list, dict, set, tuple)):
        return json.dumps(value if not isinstance(value, set) else sorted(value, key=str),
                          sort_keys=True, default=str, ensure_ascii=False)
    return value


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _numeric_summary(values: list[Any]) -> dict[str, Any] | None:
    """Count, mean, median, population std, min and max of numbers (None otherwise)."""
    if not values or not all(_is_real(v) for v in values):
        return None
    return {"count": len(values), "mean": statistics.fmean(values),
            "median": statistics.median(values), "std": statistics.pstdev(values),
            "min": min(values), "max": max(values)}


def _diversity_index(counts: Counter[Any]) -> float:
    """Shannon entropy of the counts divided by its maximum (0 = one value, 1 = even)."""
    total = sum(counts.values())
    if total <= 1 or len(counts) <= 1:
        return 0.0
    entropy = -sum(c / total * math.log(c / total) for c in counts.values() if c > 0)
    return entropy / math.log(len(counts))


def _matrix(frame: Any) -> dict[str, dict[str, float | None]]:
    """A correlation DataFrame as nested dicts, undefined (NaN) cells as None."""
    return {str(col): {str(row): (float(v) if math.isfinite(v) else None)
                       for row, v in frame[col].items()} for col in frame.columns}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "attribute"


class Profiler:
    """Profiles agent populations: distributions, analysis and charts (module doc).

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
        """Profile `agents` (TinyPersons or dicts of persona fields); shape in the module doc.

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
        """Value -> count for `attribute`, ordered by value (module doc)."""
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

    # --- analysis ---------------------------------------------------------------------

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

    # --- rendering --------------------------------------------------------------------

    def render(self, advanced: bool = True, output_folder: str | Path | None = None
               ) -> list[str]:
        """Draw the profile as PNG files in `output_folder`; the files' paths.

        One bar chart per attribute (the `MAX_BARS` most frequent values when there are
        more), and with `advanced` the demographics, behaviour and correlation charts
        that the analysis has data for. `output_folder` is created if needed; None
        means a new temporary folder. Raises ValueError before `profile`, ImportError
        (naming the extra) without matplotlib.
        """
        if self.agents_data is None:
            raise ValueError("nothing to render: call profile(agents) first")
        _figure(1, 1)  # fail early, before creating folders, when matplotlib is missing
        folder = Path(tempfile.mkdtemp(prefix="tinytroupe-profile-")) if output_folder is None \
            else Path(output_folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, attribute in enumerate(self.attributes):
            figure = self._plot_attribute(attribute)
            paths.append(self._save(figure, folder / f"{i + 1:02d}_{_slug(attribute)}.png"))
        if advanced and self.analysis_results:
            for name, plot in (("demographics", self._plot_demographics),
                               ("behavioral_patterns", self._plot_behavioral_patterns),
                               ("correlations", self._plot_correlation_heatmap)):
                figure = plot()
                if figure is not None:
                    paths.append(self._save(figure, folder / f"{name}.png"))
        logger.info("Profiler: %d chart(s) written to %s", len(paths), folder)
        return paths

    @staticmethod
    def _save(figure: Figure, path: Path) -> str:
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=100)
        return str(path)

    def _plot_attribute(self, attribute: str) -> Figure:
        """A bar chart of one attribute's distribution."""
        counts = self.attributes_distributions.get(attribute)
        figure = _figure(7, 4.5)
        ax = figure.add_subplot()
        title = f"{attribute.replace('_', ' ').replace('.', ' ').title()} distribution"
        if counts is None or counts.empty:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        else:
            if len(counts) > MAX_BARS:
                counts = counts.sort_values(ascending=False, kind="stable").head(MAX_BARS)
                title = f"Top {MAX_BARS} values of {attribute}"
            labels = [str(v) if len(str(v)) <= 30 else str(v)[:29] + "…" for v in counts.index]
            ax.bar(range(len(counts)), list(counts.values), color="tab:blue")
            ax.set_xticks(range(len(counts)), labels, rotation=45, ha="right")
            ax.set_ylabel("Count")
            ax.grid(axis="y", alpha=0.3)
        ax.set_title(title)
        return figure

    def _plot_demographics(self) -> Figure | None:
        demographics = self.analysis_results.get("demographics") or {}
        if not demographics:
            return None
        figure = _figure(12, 9)
        axes = figure.subplots(2, 2)
        figure.suptitle("Population demographics")
        if "age_stats" in demographics:
            ages = [r["age"] for r in self._records() if _is_real(r.get("age"))]
            axes[0, 0].hist(ages, bins=min(10, max(1, len(set(ages)))), color="skyblue",
                            edgecolor="black")
            axes[0, 0].axvline(demographics["age_stats"]["mean"], color="red", linestyle="--",
                               label=f"Mean: {demographics['age_stats']['mean']:.1f}")
            axes[0, 0].set(title="Age distribution", xlabel="Age", ylabel="Count")
            axes[0, 0].legend()
        if "occupation_diversity" in demographics:
            common = demographics["occupation_diversity"]["most_common"]
            axes[0, 1].barh([str(o)[:30] for o, _ in common], [c for _, c in common],
                            color="tab:orange")
            axes[0, 1].set(title="Top occupations", xlabel="Count")
        if "geographic_diversity" in demographics:
            spread = Counter(demographics["geographic_diversity"]["distribution"])
            top = spread.most_common(10)
            axes[1, 0].barh([str(n)[:30] for n, _ in top], [c for _, c in top],
                            color="lightcoral")
            axes[1, 0].set(title="Nationalities", xlabel="Count")
        indices = {label: demographics[key]["diversity_index"]
                   for label, key in (("Occupation", "occupation_diversity"),
                                      ("Nationality", "geographic_diversity"))
                   if key in demographics}
        if indices:
            axes[1, 1].bar(list(indices), list(indices.values()), color="lightgreen")
            axes[1, 1].set(title="Diversity indices", ylabel="Diversity", ylim=(0, 1))
        for ax in axes.flat:
            if not ax.has_data():
                ax.set_axis_off()
        return figure

    def _plot_behavioral_patterns(self) -> Figure | None:
        behavioral = self.analysis_results.get("behavioral_patterns") or {}
        if not behavioral:
            return None
        figure = _figure(12, 5)
        left, right = figure.subplots(1, 2)
        figure.suptitle("Behavioural patterns")
        if "activity_levels" in behavioral:
            left.scatter([r.get("stimuli_count", 0) for r in self._records()],
                         [r.get("actions_count", 0) for r in self._records()], alpha=0.6)
            left.set(title="Activity", xlabel="Stimuli", ylabel="Actions")
        else:
            left.set_axis_off()
        if "goal_patterns" in behavioral:
            goals = behavioral["goal_patterns"]["common_goals"][:8]
            right.barh([str(g)[:30] for g, _ in goals], [c for _, c in goals],
                       color="tab:orange")
            right.set(title="Common goals", xlabel="Agents")
        else:
            right.set_axis_off()
        return figure

    def _plot_correlation_heatmap(self) -> Figure | None:
        matrix = (self.analysis_results.get("correlations") or {}).get("correlation_matrix")
        if not matrix:
            return None
        names = list(matrix)
        values = [[math.nan if matrix[col][row] is None else matrix[col][row] for col in names]
                  for row in names]
        figure = _figure(7, 6)
        ax = figure.add_subplot()
        image = ax.imshow(values, cmap="coolwarm", vmin=-1, vmax=1)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_yticks(range(len(names)), names)
        for i, row in enumerate(values):
            for j, value in enumerate(row):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center")
        figure.colorbar(image, ax=ax, label="Correlation coefficient")
        ax.set_title("Attribute correlations")
        return figure

    # --- reports and comparisons ------------------------------------------------------

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
