"""TinyWorld: the base world plus parallel steps, metrics and a progress bar.

The parallel machinery is a layer: `BaseWorld` keeps TinyTroupe's turn-based step,
and this class adds `_step_in_parallel` on top of a `ParallelStepRunner` (its own
kept thread pool). `run(steps, parallelize=True)` is all a script needs.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tinytroupe.agent.display import console
from tinytroupe.clients.usage import estimated_cost, usage
from tinytroupe.config import config_manager
from tinytroupe.environment.base_world import BaseWorld
from tinytroupe.environment.parallel import AgentTurn, ParallelRunner, ParallelStepError

logger = logging.getLogger("tinytroupe")


class TinyWorld(BaseWorld):
    """A world whose steps can run all agents concurrently (see docs/parallel-execution.md).

    Release the worker threads with `close()` or a ``with`` block; they are also
    released when the world is garbage-collected or the interpreter exits.
    """

    def __init__(self, name: str | None = None, agents: list[Any] | None = None,
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(name, agents, *args, **kwargs)
        self._parallel = ParallelRunner(self.name)
        self._finalizer = weakref.finalize(self, self._parallel.close)
        self._progress_task: tuple[Progress, Any] | None = None

    # --- steps ----------------------------------------------------------------------

    def _step(self, timedelta_per_step: timedelta | None = None,
              randomize_agents_order: bool = True, parallelize: bool = False
              ) -> dict[str, list[dict]]:
        """A step of either mode, with the LLM usage it caused recorded."""
        before = usage.snapshot()
        step = self.steps_done + 1
        try:
            return super()._step(timedelta_per_step, randomize_agents_order, parallelize)
        finally:
            used = usage.snapshot().minus(before)
            self._parallel.metrics.record_step_usage(step, bool(parallelize), used,
                                                     estimated_cost(used))

    def _step_in_parallel(self, timedelta_per_step: timedelta | None = None,
                          randomize_agents_order: bool = True) -> dict[str, list[dict]]:
        """All agents act at once from the same snapshot; delivery in the world's order.

        Returns ``{agent_name: actions}`` for every agent that completed. With
        ON_AGENT_ERROR=raise, raises `ParallelStepError` after delivering the others.
        """
        clock = self.current_datetime
        order = self._begin_step(timedelta_per_step, randomize_agents_order)
        self._start_progress_step(len(order))
        turns = {agent.name: AgentTurn(agent) for agent in order}
        try:
            outcome = self._parallel.run(turns, self.steps_done + 1,
                                         self._progress_callback(self.steps_done + 1))
        except BaseException:
            self._rewind_clock(clock)  # interrupted: the step did not happen
            raise
        for name, actions in outcome.results.items():
            self._handle_actions(self.name_to_agent[name], actions)
        self._end_step()
        if outcome.failures and config_manager.get("on_agent_error") == "raise":
            raise ParallelStepError(outcome.failures)
        return outcome.results

    def _step_sequentially(self, timedelta_per_step: timedelta | None = None,
                           randomize_agents_order: bool = True) -> dict[str, list[dict]]:
        results = super()._step_sequentially(timedelta_per_step, randomize_agents_order)
        self._parallel.metrics.record_sequential_step()
        return results

    def _may_act(self, agent: Any) -> bool:
        """An agent whose timed-out parallel turn still runs sits out (it is busy)."""
        if self._parallel.is_busy(agent.name):
            logger.warning("%s: skipping %s, still busy from an earlier step",
                           self.name, agent.name)
            return False
        return True

    # --- metrics --------------------------------------------------------------------

    def get_parallel_metrics(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the parallel-execution metrics."""
        return self._parallel.metrics.snapshot()

    def reset_parallel_metrics(self) -> None:
        self._parallel.metrics.reset()

    def get_step_usage(self) -> list[dict[str, Any]]:
        """LLM usage and estimated cost of each recent step (the last 10,000)."""
        return self._parallel.metrics.step_usage()

    def get_agent_usage(self) -> dict[str, dict[str, Any]]:
        """LLM usage and estimated cost of each agent of this world, since the process
        started (or `usage.reset()`): requests, retries, 429s, tokens, cost."""
        report = {}
        for agent in self.agents:
            used = usage.snapshot(agent.name)
            report[agent.name] = {**used.as_dict(), "estimated_cost": estimated_cost(used)}
        return report

    def get_agent_failures(self) -> list[dict[str, Any]]:
        """The most recent agent failures and timeouts (step, agent, error_type, message)."""
        return [f.as_dict() for f in self._parallel.failures]

    # --- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Release the worker threads; the world can still step (a new pool starts)."""
        self._parallel.close()

    def __enter__(self) -> TinyWorld:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # --- progress -------------------------------------------------------------------

    @contextmanager
    def _progress(self, steps: int) -> Iterator[Any]:
        if steps <= 1 or not self.communication_display:
            yield lambda: None
            return
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[status]}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            steps_task = progress.add_task(f"{self.name} steps", total=steps, status="")
            agents_task = progress.add_task("agents this step", total=len(self.agents),
                                            status="")
            self._progress_task = (progress, agents_task)
            try:
                yield lambda: progress.update(steps_task, advance=1, status=self._status())
            finally:
                self._progress_task = None

    def _status(self) -> str:
        metrics = self._parallel.metrics.snapshot()
        return f"errors {metrics['parallel_errors']}  timeouts {metrics['parallel_timeouts']}"

    def _start_progress_step(self, agents: int) -> None:
        if self._progress_task is not None:
            progress, task = self._progress_task
            progress.reset(task, total=agents)

    def _progress_callback(self, step: int) -> Any:
        """Advances the bar for this step only (a late turn of an earlier step does not)."""
        def advance() -> None:
            if self._progress_task is not None and self.steps_done + 1 == step:
                progress, task = self._progress_task
                progress.advance(task)
        return advance
