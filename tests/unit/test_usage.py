"""The process-wide LLM usage counters."""

from __future__ import annotations

from tinytroupe.clients.usage import UsageCounters


def test_usage_reported_by_another_process_adds_up_in_total_and_per_user() -> None:
    counters = UsageCounters()
    counters.add("Ana", requests=1, prompt_tokens=10)
    counters.add_reported({"requests": 5, "prompt_tokens": 70, "retries": 0},
                          {"Ana": {"requests": 2, "prompt_tokens": 30},
                           "Bo": {"requests": 1, "prompt_tokens": 15}})
    total = counters.snapshot()
    assert (total.requests, total.prompt_tokens) == (6, 80)  # the rest counts in total only
    assert counters.snapshot("Ana").requests == 3 and counters.snapshot("Ana").prompt_tokens == 40
    assert counters.snapshot("Bo").requests == 1
    assert counters.snapshot("nobody").requests == 0
