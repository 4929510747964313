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
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tinytroupe import sanitize
from tinytroupe.experimentation.statistical_tests import (
    ANALYSIS_EXTRA_HINT,
    SUPPORTED_TESTS,
    StatisticalTester,
)

if TYPE_CHECKING:  # pandas is optional: only the table readers import it
    import pandas as pd

logger = logging.getLogger("tinytroupe")

__all__ = ["SimulationExperimentDataset", "SimulationExperimentEmpiricalValidationResult",
           "SimulationExperimentEmpiricalValidator",
           "validate_simulation_experiment_empirically"]

#: The data types a metric may have ("auto": detect it).
DATA_TYPES = ("numeric", "categorical", "ordinal", "ranking", "count", "proportion", "binary")
#: The validation types `validate` accepts.
VALIDATION_TYPES = ("statistical", "semantic")
#: The table layouts the CSV and DataFrame readers accept.
EXPERIMENTAL_DATA_TYPES = ("single_value_per_agent", "ranking_per_agent",
                           "ordinal_ranking_per_agent")

# Common ordered answer scales (lower-case): a set of categories that all belong to
# one of them is ordered by it; anything else is ordered alphabetically.
_ORDERED_SCALES: tuple[tuple[str, ...], ...] = (
    ("strongly disagree", "disagree", "neutral", "agree", "strongly agree"),
    ("strongly disagree", "somewhat disagree", "neither agree nor disagree",
     "somewhat agree", "strongly agree"),
    ("very poor", "poor", "fair", "good", "very good", "excellent"),
    ("never", "rarely", "sometimes", "often", "always"),
    ("very low", "low", "medium", "high", "very high"),
    ("terrible", "bad", "okay", "good", "great", "amazing"),
    ("very unlikely", "unlikely", "neutral", "likely", "very likely"),
    ("very dissatisfied", "dissatisfied", "neutral", "satisfied", "very satisfied"),
)
_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on", "success", "positive"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", "failure", "negative"})

Scalar = Union[float, int, bool, str, None]  # noqa: UP007 (pydantic reads it at runtime)


def _import_pandas() -> Any:
    """The `pandas` module; ImportError naming the extra if it is missing."""
    try:
        import pandas
    except ImportError:
        raise ImportError("reading empirical data tables needs pandas, which is not "
                          f"installed: {ANALYSIS_EXTRA_HINT}") from None
    return pandas


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _norm(category: str) -> str:
    return category.strip().lower()


def _as_list(data: Any) -> list[Any]:
    if data is None:
        return []
    return list(data) if isinstance(data, list) else [data]


def _map_values(data: Any, fn: Any) -> Any:
    """`fn` applied to `data` (a value or each non-None item of a list)."""
    if isinstance(data, list):
        return [None if item is None else fn(item) for item in data]
    return None if data is None else fn(data)


def _to_binary(value: Any) -> int:
    """0 or 1 for a boolean, a number or a yes/no word; ValueError otherwise."""
    if isinstance(value, bool):
        return int(value)
    if _is_number(value):
        return 0 if value == 0 else 1
    if isinstance(value, str):
        word = _norm(value)
        if word in _TRUE_WORDS:
            return 1
        if word in _FALSE_WORDS:
            return 0
        raise ValueError(f"Cannot convert string '{value}' to binary")
    raise ValueError(f"Cannot convert {type(value).__name__} to binary")


class SimulationExperimentDataset(BaseModel):
    """One study's or simulation's results (module doc); processed on creation.

    Raises pydantic's ValidationError for unknown fields or data types, ValueError
    (wrapped likewise) for values that contradict a declared type (a negative count, a
    word that is not yes/no for a binary metric, a rank below 1).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str | None = None
    description: str | None = None
    key_results: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    result_types: dict[str, str] = Field(
        default_factory=dict, description="Map from result name to 'aggregate' or 'per_agent'")
    data_types: dict[str, str] = Field(
        default_factory=dict, description="Map from result name to its data type: "
        "'numeric', 'categorical', 'ordinal', 'ranking', 'count', 'proportion', 'binary'")
    categorical_mappings: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Category -> code, per categorical metric")
    ordinal_mappings: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Category -> code (string levels), or the "
        "levels' range (numeric levels), per ordinal metric")
    ranking_info: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Ranks seen and their direction, per ranking metric")
    agent_names: list[str | None] | None = Field(
        None, description="The people's names, in the order of per-agent values")
    agent_justifications: list[str | dict[str, str | int]] = Field(
        default_factory=list, description="Justifications: strings, or dicts with "
        "'justification' and optionally 'agent_name' / 'agent_index'")
    justification_summary: str | None = None
    agent_attributes: dict[str, list[str | None]] = Field(
        default_factory=dict, description="People's attributes from a table (age, "
        "gender, ...): kept for inspection, not compared")

    @field_validator("data_types")
    @classmethod
    def _known_data_types(cls, value: dict[str, str]) -> dict[str, str]:
        for metric, data_type in value.items():
            if data_type not in (*DATA_TYPES, "auto"):
                raise ValueError(f"metric '{metric}': unknown data type '{data_type}' "
                                 f"(one of {', '.join(DATA_TYPES)} or 'auto')")
        return value

    def model_post_init(self, context: Any, /) -> None:
        """Detect and apply the metrics' data types (class doc)."""
        self._process_data_types()

    # --- processing the data types ----------------------------------------------------

    def _process_data_types(self) -> None:
        """Detect missing data types and convert values accordingly (module doc)."""
        for metric in list(self.key_results):
            data = self.key_results[metric]
            data_type = self.data_types.get(metric, "auto")
            if data_type == "auto":
                data_type = self._detect_data_type(data)
                self.data_types[metric] = data_type
            if data_type == "categorical":
                self._process_categorical(metric, data)
            elif data_type == "ordinal":
                self._process_ordinal(metric, data)
            elif data_type == "ranking":
                self._process_ranking(metric, data)
            elif data_type == "count":
                self._check_counts(metric, data)
            elif data_type == "proportion":
                self.key_results[metric] = _map_values(
                    data, lambda v: v / 100.0 if _is_number(v) and v > 1 else v)
            elif data_type == "binary":
                self.key_results[metric] = _map_values(data, _to_binary)

    @staticmethod
    def _detect_data_type(data: Any) -> str:
        """The data type that `data` (a value or a list) looks like."""
        values = [v for v in _as_list(data) if v is not None]
        if not values:
            return "numeric"
        if any(isinstance(v, str) for v in values):
            return "categorical"
        if all(isinstance(v, bool) for v in values):
            return "binary"
        if not all(_is_number(v) for v in values):
            return "numeric"
        if all(_is_whole(v) and v >= 0 for v in values):
            distinct = sorted({int(v) for v in values})
            # ranks: 1..k (2 <= k <= 10) with repeats, at least 3 answers
            if (len(values) >= 3 and len(distinct) >= 2 and distinct[-1] <= 10
                    and distinct == list(range(1, distinct[-1] + 1))
                    and len(values) > len(distinct)):
                return "ranking"
            return "count"
        if all(0 <= v <= 1 for v in values):
            return "proportion"
        return "numeric"

    @staticmethod
    def _categories(data: Any) -> set[str]:
        return {_norm(v) for v in _as_list(data) if isinstance(v, str)}

    @staticmethod
    def _encode(data: Any, mapping: dict[str, int]) -> Any:
        return _map_values(data, lambda v: mapping.get(_norm(v), 0) if isinstance(v, str) else v)

    def _process_categorical(self, metric: str, data: Any) -> None:
        categories = self._categories(data)
        if categories:
            mapping = {category: code for code, category in enumerate(sorted(categories))}
            self.categorical_mappings[metric] = mapping
            self.key_results[metric] = self._encode(data, mapping)

    def _process_ordinal(self, metric: str, data: Any) -> None:
        categories = self._categories(data)
        if categories:
            ordered = self._order_levels(categories)
            mapping = {category: code for code, category in enumerate(ordered)}
            self.ordinal_mappings[metric] = mapping
            self.key_results[metric] = self._encode(data, mapping)
            return
        levels = sorted({v for v in _as_list(data) if _is_number(v)})
        if len(levels) >= 2:
            self.ordinal_mappings[metric] = {"min_value": levels[0], "max_value": levels[-1],
                                             "unique_values": levels,
                                             "num_levels": len(levels)}

    @staticmethod
    def _order_levels(categories: set[str]) -> list[str]:
        """`categories` in the order of a known answer scale, else alphabetically."""
        for scale in _ORDERED_SCALES:
            if categories <= set(scale):
                return [level for level in scale if level in categories]
        return sorted(categories)

    def _process_ranking(self, metric: str, data: Any) -> None:
        ranks = sorted({v for v in _as_list(data) if _is_number(v)})
        if not ranks:
            return
        if ranks[0] < 1:
            raise ValueError(f"Ranking data for metric '{metric}' should start from 1, "
                             f"found minimum: {ranks[0]}")
        info = dict(self.ranking_info.get(metric, {}))
        info.update({"min_rank": ranks[0], "max_rank": ranks[-1], "num_ranks": len(ranks),
                     "rank_values": ranks, "direction": info.get("direction", "ascending")})
        self.ranking_info[metric] = info

    @staticmethod
    def _check_counts(metric: str, data: Any) -> None:
        for value in _as_list(data):
            if value is not None and not (_is_number(value) and _is_whole(value)
                                          and value >= 0):
                raise ValueError(f"Count data for metric '{metric}' must be non-negative "
                                 f"integers, found: {value}")

    # --- reading ----------------------------------------------------------------------

    def get_agent_name(self, index: int) -> str | None:
        """The name of the agent at `index`, or None (no names, out of range, unnamed)."""
        if self.agent_names and 0 <= index < len(self.agent_names):
            return self.agent_names[index]
        return None

    def get_agent_data(self, metric_name: str, agent_index: int) -> Any:
        """The per-agent value of `metric_name` for the agent at `agent_index`, or None."""
        data = self.key_results.get(metric_name)
        if self.result_types.get(metric_name) == "per_agent" and isinstance(data, list) \
                and 0 <= agent_index < len(data):
            return data[agent_index]
        return None

    def get_all_agent_data(self, metric_name: str) -> dict[str, Any]:
        """Agent name -> value of a metric ({} if the metric is unknown).

        Per-agent metric: unnamed agents are ``Agent_i``, None values left out;
        aggregate metric: ``{"aggregate": value}``.
        """
        if metric_name not in self.key_results:
            return {}
        data = self.key_results[metric_name]
        kind = self.result_types.get(metric_name)
        if kind == "per_agent" and isinstance(data, list):
            return {self.get_agent_name(i) or f"Agent_{i}": value
                    for i, value in enumerate(data) if value is not None}
        if kind == "aggregate":
            return {"aggregate": data}
        return {}

    def get_valid_agent_data(self, metric_name: str) -> list[Any]:
        """The non-None values of a per-agent metric ([] for other metrics)."""
        data = self.key_results.get(metric_name)
        if self.result_types.get(metric_name) == "per_agent" and isinstance(data, list):
            return [value for value in data if value is not None]
        return []

    def validate_data_consistency(self) -> list[str]:
        """Problems with the per-agent data: errors, then ``"WARNING: ..."`` lines.

        Errors: a per-agent metric that is not a list, per-agent lists of different
        lengths, names that do not match that length. Warnings: unnamed agents, missing
        values.
        """
        errors: list[str] = []
        warnings: list[str] = []
        lengths: dict[str, int] = {}
        for metric, kind in self.result_types.items():
            if kind != "per_agent" or metric not in self.key_results:
                continue
            data = self.key_results[metric]
            if not isinstance(data, list):
                errors.append(f"Metric '{metric}' marked as per_agent but is not a list")
                continue
            lengths[metric] = len(data)
            missing = [i for i, value in enumerate(data) if value is None]
            if missing:
                warnings.append(f"Metric '{metric}' has missing data (None) at indices: "
                                f"{missing}")
        if len(set(lengths.values())) > 1:
            errors.append(f"Per-agent metrics have inconsistent lengths: {lengths}")
        if self.agent_names and lengths:
            first = next(iter(lengths.values()))
            if len(self.agent_names) != first:
                errors.append(f"agent_names length ({len(self.agent_names)}) doesn't match "
                              f"per-agent data length ({first})")
        if self.agent_names:
            unnamed = [i for i, name in enumerate(self.agent_names) if name is None]
            if unnamed:
                warnings.insert(0, f"agent_names contains None values at indices: {unnamed}")
        return errors + [f"WARNING: {warning}" for warning in warnings]

    def get_justification_text(self, justification_item: str | dict[str, Any]) -> str:
        """The text of a justification (a string, or a dict's ``"justification"``)."""
        if isinstance(justification_item, str):
            return justification_item
        if isinstance(justification_item, dict):
            return str(justification_item.get("justification", ""))
        return ""

    def get_justification_agent_reference(self, justification_item: str | dict[str, Any]
                                          ) -> str | None:
        """Who gave a justification: its ``agent_name``, or the name at ``agent_index``."""
        if isinstance(justification_item, dict):
            if "agent_name" in justification_item:
                return str(justification_item["agent_name"])
            if "agent_index" in justification_item:
                return self.get_agent_name(int(justification_item["agent_index"]))
        return None

    def _string_mapping(self, metric_name: str) -> dict[str, int] | None:
        """Category -> code of a categorical or string-ordinal metric, else None."""
        if metric_name in self.categorical_mappings:
            return self.categorical_mappings[metric_name]
        mapping = self.ordinal_mappings.get(metric_name)
        if mapping and "min_value" not in mapping and all(isinstance(v, int)
                                                          for v in mapping.values()):
            return mapping  # type: ignore[return-value]
        return None

    def get_categorical_values(self, metric_name: str) -> list[str] | None:
        """The categories of a categorical (or string-ordinal) metric in code order."""
        mapping = self._string_mapping(metric_name)
        return None if mapping is None else sorted(mapping, key=mapping.__getitem__)

    def convert_ordinal_to_categorical(self, metric_name: str, ordinal_value: float
                                       ) -> str | None:
        """The category coded `ordinal_value` for `metric_name`, or None."""
        mapping = self._string_mapping(metric_name) or {}
        return next((cat for cat, code in mapping.items() if code == int(ordinal_value)), None)

    def is_categorical_metric(self, metric_name: str) -> bool:
        """True for a metric whose values were strings (categorical or ordinal)."""
        return self._string_mapping(metric_name) is not None

    def get_data_type_info(self, metric_name: str) -> dict[str, Any]:
        """The metric's data and result types, with its mapping, levels or rank info."""
        data_type = self.data_types.get(metric_name, "numeric")
        info: dict[str, Any] = {"data_type": data_type,
                                "result_type": self.result_types.get(metric_name, "unknown")}
        if data_type == "categorical" and metric_name in self.categorical_mappings:
            info["categories"] = self.get_categorical_values(metric_name)
            info["category_mapping"] = dict(self.categorical_mappings[metric_name])
        elif data_type == "ordinal" and metric_name in self.ordinal_mappings:
            if self._string_mapping(metric_name) is not None:
                info["ordinal_categories"] = self.get_categorical_values(metric_name)
                info["ordinal_mapping"] = dict(self.ordinal_mappings[metric_name])
            else:
                info["ordinal_info"] = dict(self.ordinal_mappings[metric_name])
        elif data_type == "ranking" and metric_name in self.ranking_info:
            info["ranking_info"] = dict(self.ranking_info[metric_name])
        return info

    def get_metric_summary(self, metric_name: str) -> dict[str, Any]:
        """Counts, range, type information and the distribution of a metric's values."""
        summary: dict[str, Any] = {
            "metric_name": metric_name,
            "result_type": self.result_types.get(metric_name, "unknown"),
            "data_type": self.data_types.get(metric_name, "numeric"),
            "is_categorical": self.is_categorical_metric(metric_name),
        }
        if metric_name not in self.key_results:
            return summary
        data = self.key_results[metric_name]
        summary["data_type_name"] = type(data).__name__
        if isinstance(data, list):
            valid = [v for v in data if v is not None]
            summary.update(total_values=len(data), valid_values=len(valid),
                           missing_values=len(data) - len(valid))
            if valid:
                summary.update(min_value=min(valid), max_value=max(valid))
        summary.update(self.get_data_type_info(metric_name))
        if isinstance(data, list) and summary["result_type"] == "per_agent":
            valid = [v for v in data if v is not None]
            data_type = summary["data_type"]
            if data_type in ("categorical", "ordinal") and summary["is_categorical"]:
                counts: dict[str, int] = {}
                for value in valid:
                    category = self.convert_ordinal_to_categorical(metric_name, value)
                    if category is not None:
                        counts[category] = counts.get(category, 0) + 1
                summary["category_distribution"] = counts
            elif data_type == "ranking":
                ranks: dict[Any, int] = {}
                for value in valid:
                    ranks[value] = ranks.get(value, 0) + 1
                summary["rank_distribution"] = ranks
            elif data_type == "binary":
                summary["binary_distribution"] = {"true": sum(1 for v in valid if v == 1),
                                                  "false": sum(1 for v in valid if v == 0)}
        return summary


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


class _SemanticProximity(BaseModel):
    """The model's answer: how close two texts are in meaning."""

    proximity_score: float = Field(ge=0.0, le=1.0, description="0.0 = unrelated or opposite "
                                   "in meaning, 1.0 = the same meaning.")
    justification: str = Field(description="One or two sentences explaining the score.")


_PROXIMITY_SYSTEM = (
    "You compare two texts and rate how close they are in meaning: the same reasons, "
    "opinions and conclusions score high, different or opposite ones score low. Wording "
    "and length do not matter. Answer with one JSON object.")


def _semantic_proximity(text1: str, text2: str, context: str | None = None
                        ) -> _SemanticProximity:
    """The model's proximity score for two texts (one structured call)."""
    from tinytroupe.clients.structured import ask_structured

    parts = [f"Context: {context}"] if context else []
    parts += [f"Text 1:\n{text1}", f"Text 2:\n{text2}"]
    messages = [{"role": "system", "content": _PROXIMITY_SYSTEM},
                {"role": "user", "content": "\n\n".join(parts)}]
    return ask_structured(messages, _SemanticProximity, name="SemanticProximity")


class SimulationExperimentEmpiricalValidator:
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
        """Model-rated proximity of justifications: each control/treatment pair, summaries.

        The calls run concurrently; a failed call is listed in ``failures``.
        """
        from tinytroupe.environment.parallel import ParallelRunner, Task

        results: dict[str, Any] = {"individual_comparisons": [], "summary_comparison": None,
                                   "average_proximity": None, "failures": []}
        pairs: dict[str, tuple[str, str]] = {}
        tasks: dict[str, Task] = {}
        for i, c_item in enumerate(control.agent_justifications):
            c_text = control.get_justification_text(c_item)
            for j, t_item in enumerate(treatment.agent_justifications):
                t_text = treatment.get_justification_text(t_item)
                if not (c_text and t_text):
                    continue
                key = f"pair-{i}-{j}"
                pairs[key] = (control.get_justification_agent_reference(c_item)
                              or f"Agent_{i}",
                              treatment.get_justification_agent_reference(t_item)
                              or f"Agent_{j}")
                tasks[key] = Task(lambda a=c_text, b=t_text: _semantic_proximity(
                    a, b, "Comparing agent justifications from simulation experiments"))
        if control.justification_summary and treatment.justification_summary:
            tasks["summary"] = Task(lambda: _semantic_proximity(
                control.justification_summary or "", treatment.justification_summary or "",
                "Comparing summary justifications from simulation experiments"))
        if not tasks:
            return results
        runner = ParallelRunner("empirical-validation")
        try:
            outcome = runner.run(tasks, step=1)
        finally:
            runner.close()
        errors = {failure.agent: f"{failure.error_type}: {failure.message}"
                  for failure in outcome.failures}
        errors.update(dict.fromkeys(outcome.timed_out + outcome.cancelled, "timed out"))
        proximities: list[float] = []
        for key in tasks:
            answer = outcome.results.get(key)
            if answer is None:
                logger.warning("semantic validation: %s failed: %s", key,
                               errors.get(key, "no answer"))
                results["failures"].append({"comparison": key,
                                            "error": errors.get(key, "no answer")})
                continue
            if key == "summary":
                results["summary_comparison"] = {"proximity_score": answer.proximity_score,
                                                 "justification": answer.justification}
                continue
            control_agent, treatment_agent = pairs[key]
            results["individual_comparisons"].append({
                "control_agent": control_agent, "treatment_agent": treatment_agent,
                "proximity_score": answer.proximity_score,
                "justification": answer.justification})
            proximities.append(answer.proximity_score)
        if proximities:
            results["average_proximity"] = sum(proximities) / len(proximities)
        return results

    # --- scoring and reporting --------------------------------------------------------

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

    # --- reading empirical data -------------------------------------------------------

    @classmethod
    def read_empirical_data_from_csv(cls, file_path: str | Path,
                                     experimental_data_type: str = "single_value_per_agent",
                                     agent_id_column: str | None = None,
                                     agent_comments_column: str | None = None,
                                     agent_attributes_columns: list[str] | None = None,
                                     value_column: str | None = None,
                                     ranking_columns: list[str] | None = None,
                                     ordinal_ranking_column: str | None = None,
                                     ordinal_ranking_separator: str = "-",
                                     ordinal_ranking_options: list[str] | None = None,
                                     dataset_name: str | None = None,
                                     dataset_description: str | None = None,
                                     encoding: str = "utf-8") -> SimulationExperimentDataset:
        """A dataset from a CSV file, one row per person (module doc for the layouts).

        Undecodable bytes become U+FFFD. Raises FileNotFoundError, ValueError (no rows,
        a named column missing, no column to use), pandas' EmptyDataError for an empty
        file, ImportError (naming the extra) without pandas.
        """
        pd = _import_pandas()
        path = Path(file_path)
        if not path.exists():
            raise FileNotFoundError(f"CSV file not found: {path}")
        try:
            df = pd.read_csv(path, encoding=encoding, encoding_errors="replace")
        except pd.errors.EmptyDataError:
            raise pd.errors.EmptyDataError(f"CSV file is empty: {path}") from None
        if df.empty:
            raise ValueError(f"CSV file contains no data: {path}")
        return cls._process_empirical_data_from_dataframe(
            df, experimental_data_type, agent_id_column, agent_comments_column,
            agent_attributes_columns, value_column, ranking_columns, ordinal_ranking_column,
            ordinal_ranking_separator, ordinal_ranking_options,
            dataset_name or f"Empirical_Data_{path.stem}",
            dataset_description or f"Empirical data loaded from {path.name}")

    @classmethod
    def read_empirical_data_from_dataframe(cls, df: pd.DataFrame,
                                           experimental_data_type: str = "single_value_per_agent",
                                           agent_id_column: str | None = None,
                                           agent_comments_column: str | None = None,
                                           agent_attributes_columns: list[str] | None = None,
                                           value_column: str | None = None,
                                           ranking_columns: list[str] | None = None,
                                           ordinal_ranking_column: str | None = None,
                                           ordinal_ranking_separator: str = "-",
                                           ordinal_ranking_options: list[str] | None = None,
                                           dataset_name: str | None = None,
                                           dataset_description: str | None = None
                                           ) -> SimulationExperimentDataset:
        """A dataset from a pandas DataFrame, as `read_empirical_data_from_csv`.

        Raises TypeError if `df` is not a DataFrame, ValueError as the CSV reader.
        """
        pd = _import_pandas()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"Expected pandas DataFrame, got {type(df)}")
        if df.empty:
            raise ValueError("DataFrame contains no data")
        return cls._process_empirical_data_from_dataframe(
            df, experimental_data_type, agent_id_column, agent_comments_column,
            agent_attributes_columns, value_column, ranking_columns, ordinal_ranking_column,
            ordinal_ranking_separator, ordinal_ranking_options,
            dataset_name or "Empirical_Data_from_DataFrame",
            dataset_description or "Empirical data loaded from pandas DataFrame")

    @classmethod
    def create_from_csv(cls, file_path: str | Path, *args: Any, **kwargs: Any
                        ) -> tuple[SimulationExperimentEmpiricalValidator,
                                   SimulationExperimentDataset]:
        """A validator, and the dataset `read_empirical_data_from_csv` reads (same arguments)."""
        return cls(), cls.read_empirical_data_from_csv(file_path, *args, **kwargs)

    @classmethod
    def create_from_dataframe(cls, df: pd.DataFrame, *args: Any, **kwargs: Any
                              ) -> tuple[SimulationExperimentEmpiricalValidator,
                                         SimulationExperimentDataset]:
        """A validator, and the dataset `read_empirical_data_from_dataframe` reads (same args)."""
        return cls(), cls.read_empirical_data_from_dataframe(df, *args, **kwargs)

    @classmethod
    def _process_empirical_data_from_dataframe(
            cls, df: pd.DataFrame, experimental_data_type: str, agent_id_column: str | None,
            agent_comments_column: str | None, agent_attributes_columns: list[str] | None,
            value_column: str | None, ranking_columns: list[str] | None,
            ordinal_ranking_column: str | None, ordinal_ranking_separator: str,
            ordinal_ranking_options: list[str] | None, dataset_name: str,
            dataset_description: str) -> SimulationExperimentDataset:
        if experimental_data_type not in EXPERIMENTAL_DATA_TYPES:
            raise ValueError(f"Unsupported experimental_data_type: {experimental_data_type}. "
                             f"Supported types: {', '.join(EXPERIMENTAL_DATA_TYPES)}")
        pd = _import_pandas()
        key_results: dict[str, Any] = {}
        result_types: dict[str, str] = {}
        data_types: dict[str, str] = {}
        ranking_info: dict[str, dict[str, Any]] = {}
        if experimental_data_type == "single_value_per_agent":
            column = value_column or cls._guess_column(
                df, ("vote", "score", "rating", "value", "response", "answer"), numeric=True)
            cls._require_columns(df, [column], "Value column")
            key_results[column] = [cls._cell_value(v) for v in df[column]]
            result_types[column] = "per_agent"
        elif experimental_data_type == "ranking_per_agent":
            if ranking_columns is None:
                ranking_columns = [c for c in df.select_dtypes(include=["number"]).columns
                                   if c != agent_id_column]
                if len(ranking_columns) < 2:
                    raise ValueError("No suitable ranking columns found. Please specify "
                                     "ranking_columns parameter.")
            cls._require_columns(df, ranking_columns, "Ranking columns")
            for column in ranking_columns:
                key_results[column] = [cls._rank(v) for v in df[column]]
                result_types[column], data_types[column] = "per_agent", "ranking"
        else:
            column = ordinal_ranking_column or cls._guess_ordinal_column(
                df, ordinal_ranking_separator, agent_id_column, agent_comments_column)
            cls._require_columns(df, [column], "Ordinal ranking column")
            options = ordinal_ranking_options or cls._auto_detect_ranking_options(
                df[column], ordinal_ranking_separator)
            parsed = cls._parse_ordinal_rankings(df[column], ordinal_ranking_separator, options)
            for option in options:
                key = f"{option}_rank"
                key_results[key] = parsed[option]
                result_types[key], data_types[key] = "per_agent", "ranking"
                ranking_info[key] = {"direction": "ascending", "original_options": options,
                                     "separator": ordinal_ranking_separator,
                                     "source_column": column, "min_rank": 1,
                                     "max_rank": len(options), "num_ranks": 0,
                                     "rank_values": []}
        names = ([None if pd.isna(v) else sanitize.clean_text(str(v))
                  for v in df[agent_id_column]]
                 if agent_id_column and agent_id_column in df.columns
                 else [f"Agent_{i + 1}" for i in range(len(df))])
        justifications: list[str | dict[str, str | int]] = []
        if agent_comments_column and agent_comments_column in df.columns:
            for i, comment in enumerate(df[agent_comments_column]):
                text = "" if pd.isna(comment) else sanitize.clean_text(str(comment)).strip()
                justifications.append({"agent_name": names[i] or f"Agent_{i + 1}",
                                       "agent_index": i, "justification": text})
        attributes = {column: [None if pd.isna(v) else sanitize.clean_text(str(v)).strip()
                               for v in df[column]]
                      for column in agent_attributes_columns or [] if column in df.columns}
        return SimulationExperimentDataset(
            name=dataset_name, description=dataset_description, key_results=key_results,
            result_types=result_types, data_types=data_types, ranking_info=ranking_info,
            agent_names=names, agent_justifications=justifications,
            agent_attributes=attributes)

    @staticmethod
    def _require_columns(df: pd.DataFrame, columns: list[str], what: str) -> None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"{what} not found in CSV: {missing}. "
                             f"Available columns: {list(df.columns)}")

    @staticmethod
    def _guess_column(df: pd.DataFrame, keywords: tuple[str, ...], numeric: bool) -> str:
        """The shortest column named like one of `keywords`, else the first numeric one."""
        candidates = [c for c in df.columns if any(k in str(c).lower() for k in keywords)]
        if candidates:
            return min(candidates, key=lambda c: len(str(c)))
        numeric_columns = list(df.select_dtypes(include=["number"]).columns) if numeric else []
        if numeric_columns:
            return numeric_columns[0]
        raise ValueError("No suitable value column found. Please specify value_column "
                         "parameter.")

    @classmethod
    def _guess_ordinal_column(cls, df: pd.DataFrame, separator: str, agent_id_column: str | None,
                              agent_comments_column: str | None) -> str:
        keywords = ("ranking", "rank", "order", "preference", "choice")
        candidates = [c for c in df.columns if any(k in str(c).lower() for k in keywords)]
        if candidates:
            return min(candidates, key=lambda c: len(str(c)))
        for column in df.select_dtypes(include=["object"]).columns:
            if column in (agent_id_column, agent_comments_column):
                continue
            if df[column].astype(str).str.contains(separator, regex=False, na=False).any():
                return column
        raise ValueError("No suitable ordinal ranking column found. Please specify "
                         "ordinal_ranking_column parameter.")

    @staticmethod
    def _cell_value(value: Any) -> Any:
        """A table cell as None, a number (whole numbers as int) or stripped text."""
        pd = _import_pandas()
        if pd.isna(value):
            return None
        if isinstance(value, str):
            text = sanitize.clean_text(value).strip()
            try:
                number = float(text)
            except ValueError:
                return text
            if not math.isfinite(number):
                return text
            return int(number) if number.is_integer() else number
        if hasattr(value, "item"):  # numpy scalar
            value = value.item()
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @staticmethod
    def _rank(value: Any) -> int | None:
        pd = _import_pandas()
        if pd.isna(value):
            return None
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return None

    @classmethod
    def _auto_detect_ranking_options(cls, ranking_series: pd.Series, separator: str
                                     ) -> list[str]:
        """The options named in ordinal ranking strings, sorted; ValueError if none."""
        options: set[str] = set()
        for cell in ranking_series.dropna():
            text = sanitize.clean_text(str(cell)).strip()
            if separator in text:
                options.update(part.strip() for part in text.split(separator))
        options.discard("")
        if not options:
            raise ValueError(f"No ranking options found in data using separator '{separator}'")
        return sorted(options)

    @classmethod
    def _parse_ordinal_rankings(cls, ranking_series: pd.Series, separator: str,
                                options: list[str]) -> dict[str, list[int | None]]:
        """Each option's rank (1 = first) per row; None where the row does not rank it."""
        pd = _import_pandas()
        result: dict[str, list[int | None]] = {option: [] for option in options}
        for cell in ranking_series:
            text = "" if pd.isna(cell) else sanitize.clean_text(str(cell)).strip()
            ranked = [p.strip() for p in text.split(separator)] if separator in text else []
            positions: dict[str, int] = {}
            for rank, option in enumerate(ranked, 1):
                positions.setdefault(option, rank)
            for option in options:
                result[option].append(positions.get(option))
        return result


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

