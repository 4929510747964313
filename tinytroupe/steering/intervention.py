"""Intervention and InterventionBatch: steer a simulation when a condition holds.

An `Intervention` watches its targets (a TinyPerson, a world, or a list of them) and,
when its precondition holds, applies its effect, a function of the targets
(``lambda target: target.think("...")``). Worlds given ``interventions=[...]`` (or
`add_intervention`) check every intervention before the agents of a step act, in the
main thread, and apply the effects of those whose precondition holds.

The precondition is the conjunction of up to three parts (a part not set holds):

* **functional**: ``fn(targets) -> bool``, plain code (`set_functional_precondition`);
* **textual**: a claim judged by the model, as ``Proposition(text, target=targets,
  first_n=, last_n=).check()`` (`set_textual_precondition`);
* **propositional**: a `Proposition` (`set_propositional_precondition`). Without a
  threshold it holds when ``proposition.check()`` is True; with one, upstream's rule:
  it holds when ``proposition.score() < threshold`` (a claim already true enough needs
  no intervention). A proposition built without a target is judged on the
  intervention's targets; one built with its own target is judged on that.

The functional part is checked first, and the model is asked only when it holds (and
the propositional part only when the textual one holds): the answer is upstream's,
with fewer model calls. `Intervention.create_for_each(targets)` makes one intervention
per target, as an `InterventionBatch` whose ``set_*`` methods configure them all.
A batch checks the model-judged parts of its interventions concurrently
(`evaluate_preconditions`); functional preconditions and effects always run in the
calling thread, in the batch's order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tinytroupe.experimentation.proposition import Proposition, run_concurrently
from tinytroupe.utils.misc import fresh_id

logger = logging.getLogger("tinytroupe")

__all__ = ["DEFAULT_FIRST_N", "DEFAULT_LAST_N", "Intervention", "InterventionBatch",
           "evaluate_preconditions"]

#: How many of the first and of the last interactions a textual precondition reads.
DEFAULT_FIRST_N = 10
DEFAULT_LAST_N = 100


class Intervention:
    """A precondition on some targets and an effect applied to them (module doc)."""

    def __init__(self, targets: Any, first_n: int | None = DEFAULT_FIRST_N,
                 last_n: int | None = DEFAULT_LAST_N, name: str | None = None) -> None:
        """An intervention on `targets` (a TinyPerson, a world, or a list of them).

        `first_n`/`last_n` bound the interactions a textual precondition reads;
        `name` defaults to "Intervention <n>".
        """
        self.targets = targets
        self.text_precondition: str | None = None
        self.precondition_func: Callable[[Any], bool] | None = None
        self.propositional_precondition: Proposition | None = None
        self.propositional_precondition_threshold: int | None = None
        self.effect_func: Callable[[Any], Any] | None = None
        self.first_n = first_n
        self.last_n = last_n
        self.name = name if name is not None else f"Intervention {fresh_id(type(self).__name__)}"
        # what the latest check found (None: that part was not evaluated)
        self._last_text_precondition_proposition: Proposition | None = None
        self._last_functional_precondition_check: bool | None = None
        self._last_propositional_precondition_check: bool | None = None
        self._last_propositional_precondition_response: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Intervention(name={self.name!r})"

    @classmethod
    def create_for_each(cls, targets: Any, first_n: int | None = DEFAULT_FIRST_N,
                        last_n: int | None = DEFAULT_LAST_N,
                        name: str | None = None) -> InterventionBatch:
        """One intervention per target (a single target counts as a list of one).

        With `name`, they are named ``f"{name}_{i}"``. Returns an `InterventionBatch`
        whose ``set_*`` methods configure every intervention.
        """
        if not isinstance(targets, list):
            targets = [targets]
        return InterventionBatch([
            cls(target, first_n=first_n, last_n=last_n,
                name=f"{name}_{i}" if name else None)
            for i, target in enumerate(targets)])

    # --- flow -------------------------------------------------------------------------

    def __call__(self) -> bool:
        """Same as `execute`."""
        return self.execute()

    def execute(self) -> bool:
        """Apply the effect if the precondition holds; whether it was applied."""
        if self.check_precondition():
            self.apply_effect()
            logger.debug("%s: precondition held, effect applied", self.name)
            return True
        logger.debug("%s: precondition did not hold, no effect", self.name)
        return False

    def check_precondition(self) -> bool:
        """Whether the precondition holds now (module doc); the parts are remembered.

        Raises what a precondition function or a model call raised.
        """
        return self._functional_holds() and self._judged_holds()

    def apply_effect(self) -> None:
        """Call the effect on the targets, without checking the precondition.

        Raises ValueError if no effect was set.
        """
        if self.effect_func is None:
            raise ValueError(f"{self.name}: no effect to apply; set one with set_effect(fn)")
        self.effect_func(self.targets)

    # --- configuration (each returns the intervention, for chaining) ------------------

    def set_textual_precondition(self, text: str) -> Intervention:
        """Make the claim `text`, judged by the model, part of the precondition."""
        self.text_precondition = text
        return self

    def set_functional_precondition(self, func: Callable[[Any], bool]) -> Intervention:
        """Make ``func(targets) -> bool`` part of the precondition."""
        self.precondition_func = func
        return self

    def set_propositional_precondition(self, proposition: Proposition,
                                       threshold: int | None = None) -> Intervention:
        """Make `proposition` part of the precondition (with a score `threshold`: module doc)."""
        self.propositional_precondition = proposition
        self.propositional_precondition_threshold = threshold
        return self

    def set_effect(self, effect_func: Callable[[Any], Any]) -> Intervention:
        """Make ``effect_func(targets)`` the effect."""
        self.effect_func = effect_func
        return self

    # --- inspection -------------------------------------------------------------------

    def precondition_justification(self) -> str:
        """Why the latest check found what it found, part by part, as text."""
        lines: list[str] = []
        if self.precondition_func is not None:
            verdict = "was met" if self._last_functional_precondition_check else (
                "was not met" if self._last_functional_precondition_check is False
                else "was not checked yet")
            lines.append(f"Functional precondition {verdict}.")
        proposition = self._last_text_precondition_proposition
        if proposition is not None:
            lines.append(f"Textual precondition ({self.text_precondition!r}) evaluated to "
                         f"{proposition.value}: {proposition.justification} "
                         f"(confidence = {proposition.confidence})")
        elif self.text_precondition is not None:
            lines.append(f"Textual precondition ({self.text_precondition!r}) was not "
                         "evaluated in the latest check.")
        if self.propositional_precondition is not None:
            response = self._last_propositional_precondition_response
            if self._last_propositional_precondition_check is None or response is None:
                lines.append("Propositional precondition was not evaluated in the latest "
                             "check.")
            else:
                verdict = "was met" if self._last_propositional_precondition_check \
                    else "was not met"
                lines.append(f"Propositional precondition {verdict} (value = "
                             f"{response['value']}): {response['justification']} "
                             f"(confidence = {response['confidence']})")
        if not lines:
            return "No preconditions are set: the precondition always holds."
        return "\n\n".join(lines)

    # --- the parts of the precondition ------------------------------------------------

    def _needs_judgment(self) -> bool:
        return self.text_precondition is not None or self.propositional_precondition is not None

    def _functional_holds(self) -> bool:
        """The functional part (calling thread); resets the model-judged parts' records."""
        self._last_text_precondition_proposition = None
        self._last_propositional_precondition_check = None
        self._last_propositional_precondition_response = None
        holds = True if self.precondition_func is None else bool(
            self.precondition_func(self.targets))
        self._last_functional_precondition_check = holds
        return holds

    def _judged_holds(self) -> bool:
        """The textual, then the propositional part (model calls; any thread)."""
        if self.text_precondition is not None:
            proposition = Proposition(claim=self.text_precondition, target=self.targets,
                                      first_n=self.first_n, last_n=self.last_n)
            holds = bool(proposition.check())
            self._last_text_precondition_proposition = proposition
            if not holds:
                return False
        proposition = self.propositional_precondition
        if proposition is None:
            return True
        target = self.targets if proposition.targets is None else None
        threshold = self.propositional_precondition_threshold
        if threshold is None:
            response = proposition.check(target=target, return_full_response=True)
            holds = bool(response["value"])
        else:
            response = proposition.score(target=target, return_full_response=True)
            holds = response["value"] < threshold
        self._last_propositional_precondition_response = response
        self._last_propositional_precondition_check = holds
        return holds


def evaluate_preconditions(interventions: Iterable[Any]) -> list[bool]:
    """Whether each intervention's precondition holds now, in the interventions' order.

    Functional preconditions run first, in the calling thread, in order; the model-judged
    parts of the `Intervention`s whose functional part held then run concurrently
    (`run_concurrently`: MAX_WORKERS, the step timeout; the first failure is raised once
    all have ended). Any other object is asked its ``check_precondition()`` in the calling
    thread. Every intervention is judged on the state before any effect is applied.
    """
    items = list(interventions)
    held: list[bool] = [False] * len(items)
    judged: list[int] = []
    for index, item in enumerate(items):
        if not isinstance(item, Intervention):
            held[index] = bool(item.check_precondition())
        elif item._functional_holds():
            if item._needs_judgment():
                judged.append(index)
            else:
                held[index] = True
    answers = run_concurrently([items[i]._judged_holds for i in judged], name="interventions")
    for index, answer in zip(judged, answers, strict=True):
        held[index] = answer
    return held


class InterventionBatch:
    """Several interventions configured together (`Intervention.create_for_each`).

    Iterable (``list(batch)``, ``TinyWorld(..., interventions=batch)``), and itself
    usable as one intervention of a world: `check_precondition` judges all of them
    concurrently, `apply_effect` applies the effects of those whose precondition held.
    """

    def __init__(self, interventions: list[Intervention]) -> None:
        """A batch of `interventions` (kept as the list `interventions`)."""
        self.interventions = interventions
        self._last_held: list[bool] | None = None

    def __repr__(self) -> str:
        return f"InterventionBatch({len(self.interventions)} interventions)"

    def __iter__(self) -> Iterator[Intervention]:
        """The interventions, in order."""
        return iter(self.interventions)

    def __len__(self) -> int:
        """How many interventions the batch holds."""
        return len(self.interventions)

    def __getitem__(self, index: int) -> Intervention:
        """The intervention at `index`."""
        return self.interventions[index]

    def as_list(self) -> list[Intervention]:
        """The list of interventions (the batch's own list)."""
        return self.interventions

    # --- configuration (each applies to every intervention and returns the batch) -----

    def set_textual_precondition(self, text: str) -> InterventionBatch:
        """`Intervention.set_textual_precondition` on each intervention."""
        for intervention in self.interventions:
            intervention.set_textual_precondition(text)
        return self

    def set_functional_precondition(self, func: Callable[[Any], bool]) -> InterventionBatch:
        """`Intervention.set_functional_precondition` on each intervention."""
        for intervention in self.interventions:
            intervention.set_functional_precondition(func)
        return self

    def set_propositional_precondition(self, proposition: Proposition,
                                       threshold: int | None = None) -> InterventionBatch:
        """`Intervention.set_propositional_precondition` on each intervention (shared)."""
        for intervention in self.interventions:
            intervention.set_propositional_precondition(proposition, threshold)
        return self

    def set_effect(self, effect_func: Callable[[Any], Any]) -> InterventionBatch:
        """`Intervention.set_effect` on each intervention."""
        for intervention in self.interventions:
            intervention.set_effect(effect_func)
        return self

    # --- flow -------------------------------------------------------------------------

    def check_preconditions(self) -> list[bool]:
        """Each intervention's `check_precondition`, judged concurrently, in order.

        See `evaluate_preconditions`; the answers are remembered for `apply_effect`.
        """
        self._last_held = evaluate_preconditions(self.interventions)
        return list(self._last_held)

    def check_precondition(self) -> bool:
        """Whether any intervention's precondition holds (see `check_preconditions`)."""
        return any(self.check_preconditions())

    def apply_effect(self) -> None:
        """Apply the effects of the interventions whose precondition held at the last check.

        Before any check, every effect is applied (like `Intervention.apply_effect`, no
        precondition is checked here). In the batch's order, in the calling thread.
        """
        held = self._last_held if self._last_held is not None else [True] * len(self)
        self._last_held = None
        for intervention, holds in zip(self.interventions, held, strict=False):
            if holds:
                intervention.apply_effect()

    def execute(self) -> list[bool]:
        """Check every precondition (concurrently), apply the effects of those that hold.

        Returns, per intervention in order, whether its effect was applied.
        """
        held = self.check_preconditions()
        self.apply_effect()
        return held

    def __call__(self) -> list[bool]:
        """Same as `execute`."""
        return self.execute()
