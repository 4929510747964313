"""`SimulationExperimentDataset`: a study's or a simulation's results, per metric.

``key_results`` maps each metric to a value or a per-agent list; ``result_types`` says
``"per_agent"`` or ``"aggregate"``; ``data_types`` says how to read the values (one of
`DATA_TYPES`), detected and applied on creation (`empirical_data_types`).
``agent_justifications`` and ``justification_summary`` carry the people's reasons
(semantic validation). The overview of empirical validation is in
`tinytroupe.experimentation.simulation_validator`.
"""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tinytroupe.experimentation.empirical_data_types import (
    DATA_TYPES,
    DataTypeProcessing,
)

__all__ = ["SimulationExperimentDataset"]

Scalar = Union[float, int, bool, str, None]  # noqa: UP007 (pydantic reads it at runtime)


class SimulationExperimentDataset(DataTypeProcessing, BaseModel):
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
