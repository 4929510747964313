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


def test_reports_cover_everything_once_even_calls_that_end_between_reports() -> None:
    from tinytroupe.clients.usage import UsageReporter

    counters = UsageCounters()
    reporter = UsageReporter(counters)
    counters.add("Ana", requests=1, prompt_tokens=10)
    first = reporter.report()
    assert first["usage"]["requests"] == 1
    assert first["usage_by_user"] == {"Ana": {"requests": 1, "prompt_tokens": 10}}
    counters.add("Ana", completion_tokens=7)  # a late call ends between two reports
    counters.add(requests=2)  # calls of no agent (a factory's, say)
    second = reporter.report()
    assert second["usage"]["completion_tokens"] == 7 and second["usage"]["requests"] == 2
    assert second["usage"]["prompt_tokens"] == 0  # nothing reported twice
    assert second["usage_by_user"] == {"Ana": {"completion_tokens": 7}}
    assert reporter.report()["usage_by_user"] == {}  # nothing new: nothing to report
    driver = UsageCounters()
    for report in (first, second):
        driver.add_reported(report["usage"], report["usage_by_user"])
    assert driver.snapshot() == counters.snapshot()
    assert driver.snapshot("Ana") == counters.snapshot("Ana")
