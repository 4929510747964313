"""The profiler's charts: PNG files drawn with matplotlib's Agg canvas.

`ProfileCharts` is the part of `Profiler` that draws the distributions (and the
demographics, behaviour and correlation charts) as files: no window and no change to
pyplot's global backend. matplotlib is imported when a chart is drawn.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinytroupe.profiling.values import EXTRA_HINT, _is_real

if TYPE_CHECKING:  # optional: imported by the calls that need them
    import pandas as pd
    from matplotlib.figure import Figure

logger = logging.getLogger("tinytroupe")

#: Distributions with more values than this are drawn as their most frequent values.
MAX_BARS = 15


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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "attribute"


class ProfileCharts:
    """Mixin of `Profiler`: the profile drawn as PNG files."""

    attributes: list[str]
    agents_data: list[dict[str, Any]] | None
    attributes_distributions: dict[str, pd.Series]
    analysis_results: dict[str, Any]

    def _records(self) -> list[dict[str, Any]]:
        raise NotImplementedError  # provided by PopulationAnalysis

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
