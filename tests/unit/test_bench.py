"""The benchmark suite runs end to end (timings are reported, never asserted here)."""

from __future__ import annotations

import json

from tinytroupe.bench.runner import SCENARIO_NAMES
from tinytroupe.bench.scenarios import SCENARIOS, Result
from tinytroupe.cli import main


def test_every_scenario_is_registered_in_running_order() -> None:
    assert tuple(SCENARIOS) == SCENARIO_NAMES


def test_result_targets_record_whether_they_were_met() -> None:
    result = Result("x")
    result.target("a", 1.23456, "<= 2", True)
    result.target("b", 3.0, "<= 2", False)
    assert [(t["measured"], t["met"]) for t in result.targets] == [(1.2346, True), (3.0, False)]


def test_quick_timeout_scenario_writes_json_with_targets(tmp_path) -> None:
    assert main(["bench", "--quick", "--only", "timeout", "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "bench-quick.json").read_text())
    scenario = document["scenarios"]["timeout"]
    assert scenario["rows"][0]["timeouts"] == 1  # the hung agent, once; then skipped busy
    assert scenario["rows"][0]["skipped_busy"] == 2
    assert {t["what"] for t in scenario["targets"]} == {"slowest step", "whole run"}
    assert document["machine"]["cpus"] >= 1
