"""TinyWorld: the base world plus parallel steps, metrics and a progress bar.

The parallel machinery is a layer: `BaseWorld` keeps TinyTroupe's turn-based step,
and this class adds `_step_in_parallel` on top of a `ParallelRunner` (its own kept
thread pool), or, with the Ray backend, on actors (`ray_backend`). `run(steps,
parallelize=True)` is all a script needs.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tinytroupe.agent.display import console
from tinytroupe.clients import cost
from tinytroupe.clients.usage import UsageSnapshot, estimated_cost, usage
from tinytroupe.config import config_manager
from tinytroupe.environment.base_world import BaseWorld
from tinytroupe.environment.parallel import (
    AgentFailure,
    AgentTurn,
    ParallelRunner,
    ParallelStepError,
)
from tinytroupe.sanitize import for_console

logger = logging.getLogger("tinytroupe")


class TinyWorld(BaseWorld):
    """A world whose steps can run all agents concurrently (see docs/parallel-execution.md).

    Release the worker threads with `close()` or a ``with`` block; they are also
    released when the world is garbage-collected or the interpreter exits.
    """

    def __init__(self, name: str | None = None, agents: list[Any] | None = None,
                 *args: Any, backend: str | None = None, **kwargs: Any) -> None:
        self.backend = (backend or config_manager.get("execution_backend")).lower()
        if self.backend not in ("threads", "ray"):
            raise ValueError(f"TinyWorld backend must be 'threads' or 'ray', got {backend!r}")
        super().__init__(name, None, *args, **kwargs)
        self._parallel = ParallelRunner(self.name)
        self.closed = False
        self._progress_task: tuple[Progress, Any] | None = None
        self._ray: Any = None
        if self.backend == "ray":
            from tinytroupe.environment.ray_backend import RayBackend

            try:
                self._ray = RayBackend(self.name)
            except BaseException:
                BaseWorld.all_environments.pop(self.name, None)  # the name stays free
                raise
        self._finalizer = weakref.finalize(self, _close, self._parallel, self._ray)
        self.add_agents(agents or [])

    # --- agents (the Ray backend moves them onto actors) -----------------------------

    def add_agents(self, agents: list[Any]) -> TinyWorld:
        if not agents or self._ray is None:
            return super().add_agents(agents)
        names = [agent.name for agent in agents]
        taken = [n for n in names if n in self.name_to_agent] or \
            [n for n in set(names) if names.count(n) > 1]
        if taken:
            raise ValueError(f"Agent names must be unique, but {taken[0]!r} is already "
                             f"in the environment {self.name!r}.")
        handles = self._ray.place([agent.encode_complete_state() for agent in agents])
        for agent in agents:  # the agent now lives on an actor: its local copy is retired
            agent._moved_to = self.name
        return super().add_agents(handles)

    def remove_agent(self, agent: Any) -> TinyWorld:
        if self._ray is not None and agent.name in self.name_to_agent:
            self._ray.remove(agent.name)
        return super().remove_agent(agent)

    def _restore_agents(self, states: list[dict[str, Any]]) -> None:
        if self._ray is None:
            return super()._restore_agents(states)
        super().add_agents(self._ray.place(states))  # the saved states go to the actors

    def _agent_states(self) -> list[dict[str, Any]]:
        if self._ray is None:
            return super()._agent_states()
        return self._ray.all_states([agent.name for agent in self.agents])

    def add_agent(self, agent: Any) -> TinyWorld:
        if self._ray is not None and not hasattr(agent, "_backend"):
            return self.add_agents([agent])
        return super().add_agent(agent)

    def make_everyone_accessible(self) -> None:
        if self._ray is None:
            return super().make_everyone_accessible()
        self._ray.everyone_accessible([agent.name for agent in self.agents])

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
        try:
            outcome = self._run_turns(order)
        except BaseException:
            self._rewind_clock(clock)  # interrupted: the step did not happen
            raise
        for name, actions in outcome.results.items():
            self._handle_actions(self.name_to_agent[name], actions)
        self._end_step()
        if self._ray is not None:
            self._ray.flush()
            every = config_manager.get("ray_snapshot_every")
            if every and self.steps_done % every == 0:
                self._ray.snapshot()  # the state to restart a failed actor from
        if outcome.failures and config_manager.get("on_agent_error") == "raise":
            raise ParallelStepError(outcome.failures)
        return outcome.results

    def _run_turns(self, order: list[Any]) -> Any:
        step = self.steps_done + 1
        if self._ray is None:
            turns = {agent.name: AgentTurn(agent) for agent in order}
            return self._parallel.run(turns, step, self._progress_callback(step))
        start = time.perf_counter()
        outcome = self._ray.run_turns(order, step)
        timed = config_manager.get("collect_parallel_metrics")
        self._parallel.record(outcome, time.perf_counter() - start if timed else None)
        for failure in outcome.failures:  # the actor's worker log has the traceback
            logger.error("%s: %s failed in step %d on Ray: %s: %s", self.name, failure.agent,
                         step, failure.error_type, failure.message)
        self._parallel.failures.extend(outcome.failures)
        self._parallel.failures.extend(
            AgentFailure(step, name, "StepTimeout", "did not finish within the step timeout")
            for name in outcome.timed_out)
        return outcome

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

    def get_cost_stats(self) -> dict[str, Any]:
        """This world's LLM calls, tokens and cost: totals, per agent, per step."""
        return cost.world_stats(self._parallel.metrics.usage(), len(self.agents),
                                self.steps_done)

    def pretty_print_cost_stats(self) -> None:
        cost.print_stats(f"Cost statistics: world {self.name}", self.get_cost_stats())

    @staticmethod
    def get_global_cost_stats() -> dict[str, Any]:
        """The LLM usage of every live world of the process, added up."""
        worlds = [w for w in list(BaseWorld.all_environments.values())
                  if isinstance(w, TinyWorld)]
        total = UsageSnapshot()
        for world in worlds:
            total.add(world._parallel.metrics.usage().as_dict())
        report = cost.world_stats(total, sum(len(w.agents) for w in worlds),
                                  sum(w.steps_done for w in worlds))
        return {**report, "num_environments": len(worlds)}

    @staticmethod
    def pretty_print_global_cost_stats() -> None:
        cost.print_stats("Cost statistics: all worlds", TinyWorld.get_global_cost_stats())

    def get_agent_failures(self) -> list[dict[str, Any]]:
        """The most recent agent failures and timeouts (step, agent, error_type, message)."""
        return [f.as_dict() for f in self._parallel.failures]

    # --- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Release the worker threads (and the Ray actors; a closed Ray world cannot step
        again) and free the world's name; a step in flight ends promptly. A
        thread-backend world can still step (a new pool starts), and its agents may
        join another world."""
        self.closed = True
        self._stop_run()
        _close(self._parallel, self._ray)
        with BaseWorld._registry_lock:
            if BaseWorld.all_environments.get(self.name) is self:
                del BaseWorld.all_environments[self.name]

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


def _close(runner: ParallelRunner, ray_backend: Any) -> None:
    runner.close()
    if ray_backend is not None:
        ray_backend.close()
