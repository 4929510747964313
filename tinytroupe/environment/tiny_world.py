"""TinyWorld: the base world plus parallel steps, metrics and a progress bar.

The parallel machinery is a layer: `BaseWorld` keeps TinyTroupe's turn-based step,
and this class adds `_step_in_parallel`: the world's backend (`ThreadBackend`, a kept
executor in this process, or `RayBackend`, actors) runs every agent's turn at once,
`Accounting` counts the outcome, the world delivers it in its own order. `run(steps,
parallelize=True)` is all a script needs.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tinytroupe.agent.display import console
from tinytroupe.clients import cost
from tinytroupe.clients.usage import UsageSnapshot, estimated_cost, usage
from tinytroupe.config import config_manager
from tinytroupe.environment.base_world import BaseWorld
from tinytroupe.environment.dependency_steps import DependencySchedule, StepReport
from tinytroupe.environment.metrics import Accounting
from tinytroupe.environment.outcome import ParallelStepError
from tinytroupe.environment.thread_backend import ThreadBackend
from tinytroupe.sanitize import for_console

logger = logging.getLogger("tinytroupe")


class TinyWorld(BaseWorld):
    """A world whose steps can run all agents concurrently (see docs/parallel-execution.md).

    Where the agents act is its backend: threads of this process (`ThreadBackend`) or
    Ray actors (`RayBackend`), both behind one interface. Release the worker threads
    with `close()` or a ``with`` block; they are also released when the world is
    garbage-collected or the interpreter exits.
    """

    def __init__(self, name: str | None = None, agents: list[Any] | None = None,
                 *args: Any, backend: str | None = None, **kwargs: Any) -> None:
        self.backend = (backend or config_manager.get("execution_backend")).lower()
        if self.backend not in ("threads", "ray"):
            raise ValueError(f"TinyWorld backend must be 'threads' or 'ray', got {backend!r}")
        self.closed = False
        self._progress_task: tuple[Progress, Any] | None = None
        super().__init__(name, None, *args, **kwargs)
        self._accounting = Accounting(self.name)
        self._finalizer = weakref.finalize(self, self._agents.close)
        self.add_agents(agents or [])

    def _placement(self) -> Any:
        """The backend the agents live and act on (`ThreadBackend` or `RayBackend`)."""
        if self.backend == "ray":
            from tinytroupe.environment.ray_backend import RayBackend

            return RayBackend(self.name)
        return ThreadBackend(self.name)

    # --- steps ----------------------------------------------------------------------

    def step(self, timedelta_per_step: timedelta | None = None,
             randomize_agents_order: bool = True, parallelize: bool | None = None
             ) -> dict[str, list[dict]]:
        """One step, in parallel (default: ``PARALLEL_AGENT_ACTIONS``) or turn by turn.

        Returns ``{agent_name: actions}`` for the agents that completed their turn.
        """
        if parallelize is None:
            parallelize = config_manager.get("parallel_agent_actions")
        return self._step(timedelta_per_step, randomize_agents_order, parallelize)

    def _step(self, timedelta_per_step: timedelta | None = None,
              randomize_agents_order: bool = True, parallelize: bool = False
              ) -> dict[str, list[dict]]:
        """A step of either mode, with the LLM usage it caused recorded."""
        before = usage.snapshot()
        step = self.steps_done + 1
        try:
            return super()._step(timedelta_per_step, randomize_agents_order, parallelize)
        finally:
            used = usage.snapshot().minus(before)  # on Ray, the actors' calls are counted here
            self._accounting.metrics.record_step_usage(step, bool(parallelize), used,
                                                       estimated_cost(used))

    def _step_in_parallel(self, timedelta_per_step: timedelta | None = None,
                          randomize_agents_order: bool = True) -> dict[str, list[dict]]:
        """All agents act at once from the same snapshot; delivery in the world's order.

        The backend submits one turn per agent to its executor and waits until all
        finish or the step timeout, giving up on the rest; the outcome is counted in one
        place, then delivered. With ON_AGENT_ERROR=raise, raises `ParallelStepError`
        after delivering the others. Returns ``{agent_name: actions}``.
        """
        clock, step = self.current_datetime, self.steps_done + 1
        order = self._begin_step(timedelta_per_step, randomize_agents_order)
        self._start_progress_step(len(order))
        try:
            outcome = self._agents.run_turns(order, step, self._progress_callback(step))
        except BaseException:
            self._rewind_clock(clock)  # interrupted: the step did not happen
            raise
        self._accounting.account(outcome, step)
        for name, actions in outcome.results.items():
            self._handle_actions(self.name_to_agent[name], actions)
        self._end_step()
        self._agents.after_step(self.steps_done)
        if outcome.failures and config_manager.get("on_agent_error") == "raise":
            raise ParallelStepError(outcome.failures)
        return outcome.results

    # --- dependency-driven steps ----------------------------------------------------

    def _run(self, steps: int, timedelta_per_step: timedelta | None, return_actions: bool,
             randomize_agents_order: bool, parallelize: bool | None,
             checkpoint_every: int | None, checkpoint_path: str | Path | None,
             schedule: str = "barrier") -> list[dict[str, list[dict]]] | None:
        if not (parallelize and schedule == "dependency"):
            return super()._run(steps, timedelta_per_step, return_actions,
                                randomize_agents_order, parallelize, checkpoint_every,
                                checkpoint_path)
        if not self.agents:  # nothing to schedule
            return super()._run(steps, timedelta_per_step, return_actions,
                                randomize_agents_order, parallelize, checkpoint_every,
                                checkpoint_path)
        if self.interventions or self.backend != "threads":
            logger.warning("%s: %s, so every step is a barrier step", self.name,
                           "interventions run between steps" if self.interventions
                           else "dependency-driven steps run on the threads backend only")
            return super()._run(steps, timedelta_per_step, return_actions,
                                randomize_agents_order, parallelize, checkpoint_every,
                                checkpoint_path)
        results: list[dict[str, list[dict]]] = []
        stops, end = self._stops, self.steps_done + steps
        with self._progress(steps) as advance:
            while self.steps_done < end and self._stops == stops:
                window = end - self.steps_done  # a window ends at a global barrier:
                if checkpoint_every:  # the run's end, or a checkpoint
                    window = min(window, checkpoint_every - self.steps_done % checkpoint_every)
                steps_results = self._dependency_window(window, timedelta_per_step,
                                                        randomize_agents_order, stops, advance)
                if return_actions:
                    results.extend({name: self.name_to_agent[name].action_contents(taken)
                                    for name, taken in step.items()} for step in steps_results)
                if checkpoint_every:
                    self.save_checkpoint(checkpoint_path)
        return results if return_actions else None

    def _dependency_window(self, steps: int, delta: timedelta | None, randomize: bool,
                           stops: int, advance: Any) -> list[dict[str, list[dict]]]:
        """Run `steps` steps as one `DependencySchedule` window; each step's actions."""
        first = self.steps_done + 1
        self._agents.stop_warm_up()
        self._before_step()
        start = self.current_datetime
        names = [agent.name for agent in self.agents]
        last = first + steps - 1
        failures: list[Any] = []
        results: list[dict[str, list[dict]]] = []
        deferred_applied = False

        def apply_deferred() -> None:  # REACH_OUTs wait for the window's global barrier
            nonlocal deferred_applied
            if not deferred_applied:
                deferred_applied = True
                for _, _, source, action in sorted(schedule.deferred, key=lambda d: d[:2]):
                    self._handle_actions(self.name_to_agent[source], [action])

        def clock(step: int) -> Any:
            return start + (step - first + 1) * delta if delta is not None else start

        def order_of(step: int) -> list[str]:
            order = list(names)
            if randomize:
                self._random.shuffle(order)
            return order

        def start_turn(agent: Any, step: int) -> None:
            agent._set_datetime(clock(step))

        def finish_step(report: StepReport) -> None:
            self.current_datetime = clock(report.step)
            for talk in report.talks:
                self._record("TALK", self.name_to_agent[talk.source], talk.target, talk.content)
            if report.step == last:
                apply_deferred()
            self._accounting.account(report.outcome, report.step)
            self._end_step()
            results.append(report.outcome.results)
            failures.extend(report.outcome.failures)
            advance()

        raising = config_manager.get("on_agent_error") == "raise"
        schedule = DependencySchedule(
            dict(self.name_to_agent), {a.name: [c.name for c in a.accessible_agents]
                                       for a in self.agents},
            self._agents.runner, first, last,
            config_manager.get("parallel_execution_timeout"), order_of, start_turn,
            finish_step, stopping=lambda: self._stops != stops or (raising and bool(failures)))
        before = usage.snapshot()
        try:
            schedule.run()
        finally:
            apply_deferred()  # an early end: nothing done is lost
            used = usage.snapshot().minus(before)  # steps overlap: usage is per window
            self._accounting.metrics.record_step_usage(self.steps_done, True, used,
                                                       estimated_cost(used))
            self._rewind_clock(self.current_datetime)  # every agent at the world's time
        if failures and raising:
            raise ParallelStepError(failures)
        return results

    def _step_sequentially(self, timedelta_per_step: timedelta | None = None,
                           randomize_agents_order: bool = True) -> dict[str, list[dict]]:
        results = super()._step_sequentially(timedelta_per_step, randomize_agents_order)
        self._accounting.metrics.record_sequential_step()
        return results

    def worker_threads(self) -> list[Any]:
        """The live threads of this world's executor (diagnostics; none on Ray)."""
        runner = getattr(self._agents, "runner", None)
        return runner.threads() if runner is not None else []

    # --- metrics --------------------------------------------------------------------

    def get_parallel_metrics(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the parallel-execution metrics."""
        return self._accounting.metrics.snapshot()

    def reset_parallel_metrics(self) -> None:
        """Zero this world's metrics, its per-step and total LLM usage included."""
        self._accounting.metrics.reset()

    def get_step_usage(self) -> list[dict[str, Any]]:
        """LLM usage and estimated cost of each recent step (the last 10,000)."""
        return self._accounting.metrics.step_usage()

    def get_agent_usage(self) -> dict[str, dict[str, Any]]:
        """LLM usage and estimated cost of each agent of this world.

        Counted since the process started (or `usage.reset()`): requests, retries, 429s,
        tokens, cost.
        """
        report = {}
        for agent in self.agents:
            used = usage.snapshot(agent.name)
            report[agent.name] = {**used.as_dict(), "estimated_cost": estimated_cost(used)}
        return report

    def get_cost_stats(self) -> dict[str, Any]:
        """This world's LLM calls, tokens and cost: totals, per agent, per step."""
        return cost.world_stats(self._accounting.metrics.usage(), len(self.agents),
                                self.steps_done)

    def pretty_print_cost_stats(self) -> None:
        """Print `get_cost_stats` as a table on the console."""
        cost.print_stats(f"Cost statistics: world {self.name}", self.get_cost_stats())

    @staticmethod
    def get_global_cost_stats() -> dict[str, Any]:
        """The LLM usage of every live world of the process, added up."""
        worlds = [w for w in list(BaseWorld.all_environments.values())
                  if isinstance(w, TinyWorld)]
        total = UsageSnapshot()
        for world in worlds:
            total.add(world._accounting.metrics.usage().as_dict())
        report = cost.world_stats(total, sum(len(w.agents) for w in worlds),
                                  sum(w.steps_done for w in worlds))
        return {**report, "num_environments": len(worlds)}

    @staticmethod
    def pretty_print_global_cost_stats() -> None:
        """Print `get_global_cost_stats` as a table on the console."""
        cost.print_stats("Cost statistics: all worlds", TinyWorld.get_global_cost_stats())

    def get_agent_failures(self) -> list[dict[str, Any]]:
        """The most recent agent failures and timeouts (step, agent, error_type, message)."""
        return self._accounting.failure_records()

    # --- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Release the worker threads (and the Ray actors) and free the world's name.

        A step in flight ends promptly. A closed Ray world cannot step again; a
        thread-backend world can still step (a new pool starts), and its agents may join
        another world.
        """
        self.closed = True
        self._stop_run()
        self._agents.close()
        self._drop_name()

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
            steps_task = progress.add_task(f"{for_console(self.name)} steps", total=steps,
                                           status="")
            agents_task = progress.add_task("agents this step", total=len(self.agents),
                                            status="")
            self._progress_task = (progress, agents_task)
            try:
                yield lambda: progress.update(steps_task, advance=1, status=self._status())
            finally:
                self._progress_task = None

    def _status(self) -> str:
        metrics = self._accounting.metrics.snapshot()
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
