"""Dependency-driven steps: each agent goes on as soon as those who talk to it are done.

An agent starts step k+1 once everyone who can talk to it has finished step k,
instead of waiting for the whole world. A barrier step waits for its slowest agent;
on a heavy-tailed endpoint that is a few times the typical call. Here
`DependencySchedule` runs a window of steps of a world whose contacts are fixed during
the window. Its rules (docs/parallel-execution.md, "Dependency-driven steps"):

* the agents that can deliver to A are those having A among their contacts; A's turn
  of step k+1 starts once A and all of them have finished step k, and the TALKs of
  step k addressed to A have been delivered to A, in the order of step k (the
  world's shuffled order, then each speaker's actions in order), as a barrier step
  would deliver them;
* a TALK reaches only the speaker's contacts; others (to a non-contact, an unknown
  target or a broadcast) are dropped with a warning and counted;
* a REACH_OUT is deferred: the world applies it at the window's end (a global
  barrier), since it may connect two agents anywhere in the world;
* a global step k is complete when every agent has finished it: then, and in step
  order, `finish_step` gets its outcome (results in step k's order, failures,
  timeouts, skips) and its TALKs in delivery order, for the transcript and metrics;
* each turn is bounded by PARALLEL_EXECUTION_TIMEOUT from its own start and failures
  are isolated, as in a barrier step: a failed or timed-out turn finishes its step
  with no actions; an agent still busy from a timed-out turn skips its next step once
  the world has completed the step before it (busy agents skip in step with the world);
* `stopping()` true: no turn beyond the furthest step already started is launched,
  and the window ends once every agent has caught up with it; `close()` of the
  runner or Ctrl-C: turns in flight are given up, the TALKs of the turns that did
  finish are delivered (nothing done is lost), and the window ends (Ctrl-C re-raises).

For the same answers and seed, the transcript equals a barrier run's whenever every
TALK targets one of the speaker's contacts and there is no REACH_OUT.
"""

from __future__ import annotations

import logging
import queue
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from tinytroupe.environment.outcome import AgentFailure, BatchOutcome
from tinytroupe.environment.parallel import WAIT_SLICE, AgentTurn, ParallelRunner

logger = logging.getLogger("tinytroupe")


@dataclass(frozen=True)
class Talk:
    """One TALK of a step, in delivery order: who said what to whom."""

    source: str
    target: str
    content: str


@dataclass
class StepReport:
    """What `finish_step` gets for a completed global step.

    The outcome's `idle_wait_seconds` is the mean time an agent waited for its senders
    before its turn of this step, `steps_ahead` how far the furthest agent had run
    ahead when the step completed.
    """

    step: int
    outcome: BatchOutcome
    talks: list[Talk] = field(default_factory=list)


@dataclass
class _InFlight:
    step: int
    turn: AgentTurn
    future: Future
    deadline: float


class DependencySchedule:
    """Runs steps `first`..`last` of one window (module doc); `run()` does it."""

    def __init__(self, agents: dict[str, Any], contacts: dict[str, list[str]],
                 runner: ParallelRunner, first: int, last: int, timeout: float,
                 order_of: Callable[[int], list[str]],
                 start_turn: Callable[[Any, int], None],
                 finish_step: Callable[[StepReport], None],
                 stopping: Callable[[], bool] = lambda: False) -> None:
        self.agents, self.runner, self.timeout = agents, runner, timeout
        self.first, self.last = first, last
        self.order_of, self.start_turn, self.finish_step = order_of, start_turn, finish_step
        self.stopping = stopping
        self.contacts = {name: [t for t in contacts.get(name, []) if t in agents and t != name]
                         for name in agents}
        self.senders: dict[str, list[str]] = {name: [] for name in agents}
        for name, targets in self.contacts.items():
            for target in targets:
                self.senders[target].append(name)
        self.done = dict.fromkeys(agents, first - 1)  # last step each agent finished
        self.deferred: list[tuple[int, int, str, dict[str, Any]]] = []  # REACH_OUTs
        self._positions: dict[int, dict[str, int]] = {}
        self._inbox: dict[tuple[str, int], list[tuple[int, int, Talk]]] = defaultdict(list)
        self._outcomes: dict[int, BatchOutcome] = defaultdict(BatchOutcome)
        self._finished_at: dict[str, float] = {}
        self._idle: dict[int, list[float]] = defaultdict(list)
        self._in_flight: dict[str, _InFlight] = {}
        self._completions: queue.SimpleQueue[tuple[str, Future]] = queue.SimpleQueue()
        self._next_final = first
        self._ceiling = last  # lowered by stopping()
        self._started_max = first - 1
        self._drawn = first - 1  # steps whose order was drawn
        self._talks: dict[int, list[tuple[int, int, Talk]]] = defaultdict(list)
        self._to_check: list[str] = []
        self._busy_waiting: set[str] = set()  # busy agents waiting to skip a step
        self._mark = 0  # the runner's closings when the window opened

    # --- the loop -------------------------------------------------------------------

    def run(self) -> None:
        """Run the window to its end (module doc); Ctrl-C re-raises after the cleanup."""
        if not self.agents:
            return  # no agent, no step to schedule (the world runs empty steps itself)
        self._mark = self.runner.open_stream(len(self.agents))
        self._window_start = time.perf_counter()
        try:
            for name in self.agents:
                self._launch_if_ready(name)
            while self._next_final <= self._ceiling:
                if self.runner.closings != self._mark:
                    self._give_up_all()
                    break
                if self.stopping() and self._ceiling > self._started_max:
                    self._ceiling = max(self._started_max, self._next_final - 1)
                    for name in self.agents:  # catching up may free someone
                        self._launch_if_ready(name)
                self._wait_for_completions()
                self._give_up_late_turns()
                self._finish_complete_steps()
        except BaseException:
            self._give_up_all()
            raise
        finally:
            self._flush()

    def _wait_for_completions(self) -> None:
        deadlines = [f.deadline for f in self._in_flight.values()]
        wait = min([WAIT_SLICE, *(d - time.perf_counter() for d in deadlines)])
        try:
            item = self._completions.get(timeout=max(0.0, wait))
        except queue.Empty:
            return
        while True:
            self._complete(*item)
            try:
                item = self._completions.get_nowait()
            except queue.Empty:
                return

    # --- turns ----------------------------------------------------------------------

    def _ready(self, name: str) -> bool:
        step = self.done[name] + 1
        return (name not in self._in_flight and step <= self._ceiling
                and all(self.done[s] >= step - 1 for s in self.senders[name]))

    def _launch_if_ready(self, name: str) -> None:
        """Start every turn that became possible, `name`'s first (a work list, no recursion)."""
        self._to_check.append(name)
        while self._to_check:
            name = self._to_check.pop()
            if self._ready(name):
                self._launch(name)

    def _launch(self, name: str) -> None:
        step = self.done[name] + 1
        self._deliver(name, step - 1)
        now = time.perf_counter()
        if step > self.first:
            self._idle[step].append(now - self._finished_at.get(name, now))
        agent = self.agents[name]
        if not self.runner.may_run(name):  # still busy from a timed-out turn
            if self._next_final < step:  # skip in step with the world, not all at once
                self._busy_waiting.add(name)
                return
            self._started_max = max(self._started_max, step)
            self.start_turn(agent, step)
            self._outcomes[step].skipped_busy.append(name)
            self._finish_turn(name, step)
            return
        self._started_max = max(self._started_max, step)
        self.start_turn(agent, step)
        turn = AgentTurn(agent)
        try:
            future = self.runner.submit(name, turn, self._mark)
        except RuntimeError:  # the runner was closed: end the window
            self._outcomes[step].cancelled.append(name)
            self._give_up_all()
            return
        self._in_flight[name] = _InFlight(step, turn, future, now + self.timeout)
        future.add_done_callback(lambda f, n=name: self._completions.put((n, f)))

    def _complete(self, name: str, future: Future) -> None:
        flight = self._in_flight.get(name)
        if flight is None or flight.future is not future:
            return  # a turn given up on earlier, ending late
        del self._in_flight[name]
        step, outcome = flight.step, self._outcomes[flight.step]
        outcome.agent_seconds += flight.turn.seconds
        if future.cancelled():
            outcome.cancelled.append(name)
        elif (error := future.exception()) is not None:
            outcome.failures.append(AgentFailure.of(step, name, error))
            outcome.tracebacks[name] = "".join(traceback.format_exception(error))
        else:
            actions = future.result()
            outcome.results[name] = actions
            self._route(name, step, actions)
        self._finish_turn(name, step)
        self._launch_if_ready(name)

    def _finish_turn(self, name: str, step: int) -> None:
        """`name` finished `step`: it and the agents it talks to may be able to go on."""
        self.done[name] = step
        self._finished_at[name] = time.perf_counter()
        self._to_check.extend((name, *self.contacts[name]))

    def _give_up_late_turns(self) -> None:
        now = time.perf_counter()
        for name, flight in list(self._in_flight.items()):
            if flight.deadline <= now and self.runner.give_up(name, flight.future, flight.turn):
                del self._in_flight[name]
                self._outcomes[flight.step].timed_out.append(name)
                self._finish_turn(name, flight.step)
                self._launch_if_ready(name)

    def _give_up_all(self) -> None:
        self._ceiling = -1  # launch nothing more
        for name, flight in list(self._in_flight.items()):
            if self.runner.give_up(name, flight.future, flight.turn):
                del self._in_flight[name]
                self._outcomes[flight.step].cancelled.append(name)
            else:  # it finished (its callback may not have queued it yet): it counts
                self._complete(name, flight.future)
        while True:  # turns that finished just now still count
            try:
                self._complete(*self._completions.get_nowait())
            except queue.Empty:
                break

    # --- routing --------------------------------------------------------------------

    def _positions_of(self, step: int) -> dict[str, int]:
        """Each agent's place in `step`'s delivery order (orders are drawn in step order)."""
        while self._drawn < step:
            self._drawn += 1
            self._positions[self._drawn] = {n: i for i, n in
                                            enumerate(self.order_of(self._drawn))}
        return self._positions[step]

    def _route(self, source: str, step: int, actions: list[dict[str, Any]]) -> None:
        position = self._positions_of(step)[source]
        for index, action in enumerate(actions):
            kind, target = action.get("type"), action.get("target") or ""
            if kind == "REACH_OUT":
                self.deferred.append((step, position * 1_000_000 + index, source, action))
            elif kind == "TALK":
                if target in self.contacts[source]:
                    item = (position, index, Talk(source, target, action.get("content", "")))
                    self._inbox[(target, step)].append(item)
                    self._talks[step].append(item)
                elif target != source:
                    self._outcomes[step].talks_dropped += 1
                    logger.warning("%s talked to %r, not one of its contacts: dropped (a "
                                   "dependency-driven step delivers only to contacts)",
                                   source, target)

    def _deliver(self, name: str, step: int) -> None:
        """The TALKs of `step` to `name`, in step order (before its next turn)."""
        inbox = self._inbox.pop((name, step), None)
        if not inbox:
            return
        inbox.sort(key=lambda item: item[:2])
        for _, _, talk in inbox:
            self.agents[name].listen(talk.content, source=self.agents[talk.source])

    # --- global steps ---------------------------------------------------------------

    def _finish_complete_steps(self) -> None:
        while self._next_final <= self._ceiling and min(self.done.values()) >= self._next_final:
            self._report(self._next_final)
            self._next_final += 1
            waiting, self._busy_waiting = self._busy_waiting, set()
            for name in waiting:  # a global step passed: a busy agent may skip one more
                self._launch_if_ready(name)

    def _report(self, step: int) -> None:
        positions = self._positions_of(step)
        outcome = self._outcomes.pop(step, BatchOutcome())
        outcome.timeout = self.timeout
        outcome.results = dict(sorted(outcome.results.items(),
                                      key=lambda item: positions[item[0]]))
        now = time.perf_counter()
        outcome.wall_seconds, self._window_start = now - self._window_start, now
        talks = sorted(self._talks.pop(step, []), key=lambda item: item[:2])
        idle = self._idle.pop(step, [])
        outcome.idle_wait_seconds = sum(idle) / len(idle) if idle else 0.0
        outcome.steps_ahead = max(self.done.values()) - step
        self.finish_step(StepReport(step, outcome, [talk for _, _, talk in talks]))
        self._positions.pop(step - 1, None)

    def _flush(self) -> None:
        """At the end: deliver what finished turns said, report the steps they finished.

        After a normal end that is the last step's TALKs; after an early one, everything
        still pending (nothing done is lost).
        """
        for name, step in sorted(self._inbox, key=lambda key: key[1]):
            self._deliver(name, step)
        while self._next_final <= min(self.last, max(self.done.values())):
            self._report(self._next_final)
            self._next_final += 1
