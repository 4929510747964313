"""The model-judged part of empirical validation: how close two sets of reasons are.

`compare_justifications` asks the model how close each control justification is to
each treatment justification (and the two summaries), one structured call per pair,
concurrently on a `ParallelRunner`; a failed call is reported, not raised.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from tinytroupe.experimentation.empirical_dataset import SimulationExperimentDataset

logger = logging.getLogger("tinytroupe")

__all__ = ["compare_justifications"]


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


def compare_justifications(control: SimulationExperimentDataset,
                           treatment: SimulationExperimentDataset) -> dict[str, Any]:
    """Model-rated proximity of justifications: each control/treatment pair, summaries.

    ``{"individual_comparisons": [{"control_agent", "treatment_agent",
    "proximity_score", "justification"}], "summary_comparison": {"proximity_score",
    "justification"} or None, "average_proximity": mean of the pairs' scores or None,
    "failures": [{"comparison", "error"}]}``. Pairs where either text is empty are
    skipped. The calls run concurrently; a failed call is listed in ``failures``.
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
