"""ABRandomizer: blind two options for a judge, and undo the blinding (upstream's API).

`randomize(i, a, b)` returns the two options of item `i` in a random order and records
whether they were swapped; `derandomize(i, a, b)` puts a pair given in that presented
order back in the original order; `derandomize_name(i, blind_name)` turns the blind name
a judge chose ("A" or "B") into the real option name ("control" or "treatment").
Pass-through names (such as "neither") come back unchanged.

The random draw is upstream's: each `randomize` draws the first number of a fresh
``random.Random(random_seed)``, so with the same seed every item gets the same order (with
the default seed 42: swapped). This keeps results identical to upstream's for the same
seed; give each item its own seed (a new ABRandomizer, or ``random_seed=``) to vary it.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["ABRandomizer"]

_IN_ORDER = (0, 1)
_SWAPPED = (1, 0)


class ABRandomizer:
    """Randomises the order of two options per item, and undoes it (module doc)."""

    def __init__(self, real_name_1: str = "control", real_name_2: str = "treatment",
                 blind_name_a: str = "A", blind_name_b: str = "B",
                 passtrough_name: list[str] | None = None, random_seed: Any = 42) -> None:
        """Real names (as in the data), blind names (as shown), pass-through names, seed.

        `passtrough_name` (upstream's spelling) lists names returned as they are.
        """
        #: Per item index: (0, 1) when presented in order, (1, 0) when swapped.
        self.choices: dict[Any, tuple[int, int]] = {}
        self.real_name_1 = real_name_1
        self.real_name_2 = real_name_2
        self.blind_name_a = blind_name_a
        self.blind_name_b = blind_name_b
        self.passtrough_name = list(passtrough_name or [])
        self.random_seed = random_seed

    def randomize(self, i: Any, a: Any, b: Any) -> tuple[Any, Any]:
        """`(a, b)` or `(b, a)` at random (module doc); the choice is recorded for item `i`."""
        if random.Random(self.random_seed).random() < 0.5:
            self.choices[i] = _IN_ORDER
            return a, b
        self.choices[i] = _SWAPPED
        return b, a

    def derandomize(self, i: Any, a: Any, b: Any) -> tuple[Any, Any]:
        """`a, b` (in the order presented for item `i`) back in the original order.

        Raises KeyError if item `i` was never randomised.
        """
        return (a, b) if self._choice(i) == _IN_ORDER else (b, a)

    def derandomize_name(self, i: Any, blind_name: str) -> str:
        """The real name behind `blind_name` for item `i` (pass-through names unchanged).

        Raises KeyError if item `i` was never randomised, ValueError for a name that is
        neither blind nor pass-through.
        """
        swapped = self._choice(i) == _SWAPPED
        if blind_name == self.blind_name_a:
            return self.real_name_2 if swapped else self.real_name_1
        if blind_name == self.blind_name_b:
            return self.real_name_1 if swapped else self.real_name_2
        if blind_name in self.passtrough_name:
            return blind_name
        raise ValueError(f"Choice {blind_name!r} not recognized (blind names: "
                         f"{self.blind_name_a!r}, {self.blind_name_b!r}; pass-through: "
                         f"{self.passtrough_name!r})")

    def _choice(self, i: Any) -> tuple[int, int]:
        try:
            return self.choices[i]
        except KeyError:
            raise KeyError(f"No randomization found for item {i!r}") from None
