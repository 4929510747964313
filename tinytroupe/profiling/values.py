"""The profiler's shared helpers: reading persona values, counting and summarising them.

Nothing here imports pandas or matplotlib: `_import_pandas` does, when a call needs it.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from typing import Any

from tinytroupe.extras import require

#: How to install what distributions and charts need.
EXTRA_HINT = "pip install 'tinytroupe[analysis]'"


def _import_pandas() -> Any:
    return require("pandas", "analysis", "profiling")


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
