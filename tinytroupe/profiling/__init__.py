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

The package's modules: `profiler` (`Profiler`, reading the population), `analysis`,
`charts`, `report` (its mixins) and `values` (shared helpers).
"""

from tinytroupe.profiling.charts import MAX_BARS as MAX_BARS
from tinytroupe.profiling.profiler import Profiler
from tinytroupe.profiling.values import EXTRA_HINT as EXTRA_HINT

__all__ = ["Profiler"]
