"""ResultsExtractor: structured results from what agents said and did.

The model reads an agent's interaction history (or a whole world's) and returns a JSON
object with the requested `fields` (or fields it chooses, when none are given), through
the one structured-output helper: the fields become a JSON Schema, the answer is
validated and repaired, cached and counted like any other call.

Upstream extracts from many agents one after another. Here
`extract_results_from_agents` runs the independent calls concurrently on a
`ParallelRunner` (MAX_WORKERS, PARALLEL_EXECUTION_TIMEOUT, error isolation): a failed
or timed-out agent gets None in its slot and a recorded failure (`get_failures()`),
the others are returned, in the agents' order.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tinytroupe.clients.structured import ask_structured
from tinytroupe.environment.metrics import Accounting
from tinytroupe.environment.parallel import ParallelRunner, Task
from tinytroupe.sanitize import utf8

logger = logging.getLogger("tinytroupe")

DEFAULT_OBJECTIVE = "The main points present in the agent's interactions history."

_SYSTEM = ("You extract results from the interaction history of a simulation of people. "
           "Read the history and answer with one JSON object with the requested fields; "
           "report what the people said and did, never invent.")


class _FreeExtraction(BaseModel):
    """The answer's schema when no fields are requested: the model chooses them."""

    model_config = ConfigDict(extra="allow")

    summary: str = Field(description="A short summary of what the history shows.")
    main_points: list[str] = Field(description="The main points, one per entry.")


#: Lists at least this long show a progress bar (when the display is on).
PROGRESS_FROM = 10


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar's advance function for a long list, else a no-op."""
    from tinytroupe.agent import TinyPerson
    from tinytroupe.agent.display import console

    if total < PROGRESS_FROM or not TinyPerson.communication_display:
        yield lambda: None
        return
    with Progress(TextColumn("extracting"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("extracting", total=total)
        yield lambda: progress.advance(task)


def _schema(fields: list[str] | None, hints: dict[str, str] | None) -> type[BaseModel]:
    """The answer's model for these fields (one class per distinct request shape)."""
    if not fields:
        return _FreeExtraction
    return _fields_model(tuple(fields), tuple(sorted((hints or {}).items())))


@functools.lru_cache(maxsize=256)  # a class per call would cost a schema build per call
def _fields_model(fields: tuple[str, ...], hints: tuple[tuple[str, str], ...]
                  ) -> type[BaseModel]:
    described = dict(hints)
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Extraction", __config__=ConfigDict(extra="allow"),
        **{name: (Any, Field(description=described.get(name, f"The {name}.")))
           for name in fields})


class ResultsExtractor:
    """Extracts structured results from agents and worlds (TinyTroupe's API)."""

    def __init__(self, extraction_prompt_template_path: str | None = None,
                 extraction_objective: str = DEFAULT_OBJECTIVE, situation: str = "",
                 fields: list[str] | None = None, fields_hints: dict[str, str] | None = None,
                 verbose: bool = False) -> None:
        if extraction_prompt_template_path is not None:
            logger.warning("ResultsExtractor: extraction_prompt_template_path is not used; "
                           "this package writes its own extraction prompt")
        self.default_extraction_objective = extraction_objective
        self.default_situation = situation
        self.default_fields = fields
        self.default_fields_hints = fields_hints
        self.default_verbose = verbose
        #: The latest result per agent name, and per world name.
        self.agent_extraction: dict[str, Any] = {}
        self.world_extraction: dict[str, Any] = {}
        self._runner = ParallelRunner("extraction")
        self._accounting = Accounting("extraction")
        self._batches = 0

    # --- public API -------------------------------------------------------------------

    def extract_results_from_agent(self, tinyperson: Any, extraction_objective: str | None = None,
                                   situation: str | None = None, fields: list[str] | None = None,
                                   fields_hints: dict[str, str] | None = None,
                                   verbose: bool | None = None) -> dict[str, Any]:
        """The results the model reads in one agent's history, as a dict.

        Raises the model call's error (`LLMError`) if it fails.
        """
        result = self._from_agent(tinyperson, self._request(
            extraction_objective, situation, fields, fields_hints), verbose)
        self.agent_extraction[tinyperson.name] = result
        return result

    def extract_results_from_agents(self, agents: list[Any],
                                    extraction_objective: str | None = None,
                                    situation: str | None = None,
                                    fields: list[str] | None = None,
                                    fields_hints: dict[str, str] | None = None,
                                    verbose: bool | None = None) -> list[dict[str, Any] | None]:
        """Each agent's results, in the agents' order, extracted concurrently (module doc).

        An agent whose extraction failed or timed out gets None (see `get_failures()`).
        """
        self._batches += 1
        request = self._request(extraction_objective, situation, fields, fields_hints)
        tasks = {f"{i}:{agent.name}": Task(lambda a=agent: self._from_agent(a, request, verbose))
                 for i, agent in enumerate(agents)}
        try:
            with _progress(len(tasks)) as advance:
                outcome = self._runner.run(tasks, step=self._batches, on_task_done=advance)
        finally:
            self._runner.close()  # no idle threads left behind between batches
        self._accounting.account(outcome, self._batches)
        results = [outcome.results.get(key) for key in tasks]
        for agent, result in zip(agents, results, strict=True):  # in the agents' order
            if result is not None:
                self.agent_extraction[agent.name] = result
        return results

    def extract_results_from_world(self, tinyworld: Any, extraction_objective: str | None = None,
                                   situation: str | None = None, fields: list[str] | None = None,
                                   fields_hints: dict[str, str] | None = None,
                                   verbose: bool | None = None) -> dict[str, Any]:
        """The results the model reads in the histories of all of a world's agents."""
        request = self._request(extraction_objective, situation, fields, fields_hints)
        history = "\n\n".join(
            f"--- {agent.name} ---\n{agent.pretty_current_interactions(max_content_length=None)}"
            for agent in tinyworld.agents)
        result = self._extract(tinyworld.name, history, request, verbose)
        self.world_extraction[tinyworld.name] = result
        return result

    def save_as_json(self, filename: str | Path, verbose: bool = False) -> None:
        """Write every extraction so far to `filename` as JSON (folders created)."""
        path = Path(filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {"agent_extractions": self.agent_extraction,
                    "world_extraction": self.world_extraction}
        path.write_bytes(utf8(json.dumps(document, indent=4, ensure_ascii=False)))
        if verbose:
            print(f"Saved extraction results to {path}")

    def get_failures(self) -> list[dict[str, Any]]:
        """Recent failed or timed-out extractions (step = batch number)."""
        return self._accounting.failure_records()

    # --- model calls ------------------------------------------------------------------

    def _request(self, objective: str | None, situation: str | None,
                 fields: list[str] | None, hints: dict[str, str] | None) -> dict[str, Any]:
        return {
            "objective": objective or self.default_extraction_objective,
            "situation": self.default_situation if situation is None else situation,
            "fields": self.default_fields if fields is None else fields,
            "fields_hints": self.default_fields_hints if hints is None else hints,
        }

    def _from_agent(self, agent: Any, request: dict[str, Any], verbose: bool | None
                    ) -> dict[str, Any]:
        history = agent.pretty_current_interactions(max_content_length=None)
        return self._extract(agent.name, history, request, verbose)

    def _extract(self, who: str, history: str, request: dict[str, Any],
                 verbose: bool | None) -> dict[str, Any]:
        schema = _schema(request["fields"], request["fields_hints"])
        asked = {k: v for k, v in request.items() if v}
        messages = [{"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": f"Extraction request: "
                                                f"{json.dumps(asked, ensure_ascii=False)}\n\n"
                                                f"Interaction history:\n{history}"}]
        answer = ask_structured(messages, schema, name="extraction", user=who)
        result = answer.model_dump()
        if verbose if verbose is not None else self.default_verbose:
            print(f"Extraction from {who}: {json.dumps(result, ensure_ascii=False)}")
        return result
