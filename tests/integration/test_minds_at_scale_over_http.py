"""Fifty agents with faculties and tools in parallel steps keep every guarantee.

Over the fake server: exactly-once delivery, a hung agent bounded by the step timeout,
a failing agent isolated, with RecallFaculty and TinyToolUse(TinyCalendar) on everyone.
"""

from __future__ import annotations

import time

from tinytroupe import config_manager
from tinytroupe.agent import RecallFaculty, TinyPerson, TinyToolUse
from tinytroupe.environment import TinyWorld
from tinytroupe.testing import FakeLLMServer, FaultPlan
from tinytroupe.testing.delivery import talks_heard, talks_sent
from tinytroupe.tools import TinyCalendar


def test_fifty_agents_with_faculties_keep_the_step_guarantees(use_server) -> None:
    config_manager.set("max_workers", "ALL")
    config_manager.set("parallel_execution_timeout", 1.5)
    config_manager.set("max_attempts", 1)
    faults = FaultPlan(by_agent={"Agent7": "hang", "Agent8": "500"})
    with FakeLLMServer(faults=faults) as server:
        use_server(server)
        agents = [TinyPerson(f"Agent{i}", mental_faculties=[
            RecallFaculty(), TinyToolUse(tools=[TinyCalendar()])]) for i in range(50)]
        with TinyWorld("minds", agents, seed=2) as world:
            world.make_everyone_accessible()
            world.broadcast("The library will close for renovation. What now?")
            start = time.monotonic()
            results = world.run(3, parallelize=True, return_actions=True)
            elapsed = time.monotonic() - start
            metrics = world.get_parallel_metrics()
            failures = world.get_agent_failures()
    names = {a.name for a in agents}
    assert talks_sent(results, names) == talks_heard(agents)  # every TALK exactly once
    assert all("Agent8" not in step and len(step) >= 48 for step in results)
    assert {f["agent"] for f in failures} == {"Agent7", "Agent8"}
    assert metrics["parallel_errors"] == 3 and metrics["parallel_timeouts"] >= 1
    assert elapsed < 3 * (1.5 + 0.5)  # each step within its timeout plus the grace
    assert all(a.mental_faculties for a in agents)
