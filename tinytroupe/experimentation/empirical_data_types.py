"""The data types of a dataset's metrics: detecting them and normalising the values.

`DataTypeProcessing` is the part of `SimulationExperimentDataset` that runs when a
dataset is created: each metric without a declared type gets one of `DATA_TYPES`
(detected from its values), and the values are converted to match. Strings become
ordinal codes (categories in alphabetical order; known Likert scales in their own
order), booleans and yes/no become 0/1, percentages above 1 become proportions; the
mappings are kept (``categorical_mappings``, ``ordinal_mappings``, ``ranking_info``) so
that codes can be read back.
"""

from __future__ import annotations

from typing import Any

#: The data types a metric may have ("auto": detect it).
DATA_TYPES = ("numeric", "categorical", "ordinal", "ranking", "count", "proportion", "binary")

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


class DataTypeProcessing:
    """Mixin of `SimulationExperimentDataset`: types detected and values converted.

    The dataset's fields (``key_results``, ``data_types``, ``categorical_mappings``,
    ``ordinal_mappings``, ``ranking_info``) are read and updated in place.
    """

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
