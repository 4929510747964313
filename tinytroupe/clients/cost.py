"""Cost statistics in upstream's names, from the process's usage counters.

`stats()` is the process's calls, tokens, cache hits and (when prices are configured)
estimated cost; `global_stats` adds averages per agent, `world_stats` a world's share
per agent and per step. `print_stats` shows any of them as a rich table. `CostStats`
gives a client upstream's methods (`get_cost_stats`, `pretty_print_cost_stats`,
`reset_cost_stats`).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from tinytroupe.clients.usage import UsageSnapshot, estimated_cost, usage


def as_cost_stats(used: UsageSnapshot) -> dict[str, Any]:
    """`used` in upstream's keys (plus retries, 429s and the estimated cost)."""
    return {
        "input_tokens": used.prompt_tokens, "output_tokens": used.completion_tokens,
        "total_tokens": used.prompt_tokens + used.completion_tokens,
        "model_calls": used.requests, "cached_calls": used.cache_hits,
        "retries": used.retries, "rate_limited": used.rate_limited,
        "estimated_cost": estimated_cost(used),
    }


def stats() -> dict[str, Any]:
    """The whole process's usage since it started (or since `reset`)."""
    return as_cost_stats(usage.snapshot())


def reset() -> None:
    """Zero the process's usage counters (what `stats` reports)."""
    usage.reset()


def _averages(totals: dict[str, Any], count: int) -> dict[str, float] | None:
    if count <= 0:
        return None
    return {key: value / count for key, value in totals.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}


def global_stats(agents: int) -> dict[str, Any]:
    """`stats()` with the number of `agents` and averages per agent (None with no agent)."""
    base = stats()
    return {"base_stats": base, "total_agents": agents, "per_agent": _averages(base, agents)}


def world_stats(used: UsageSnapshot, agents: int, steps: int) -> dict[str, Any]:
    """A world's usage `used` as upstream's report: totals and averages.

    Averages per agent, per step and per agent per step (None where the count is zero).
    """
    base = as_cost_stats(used)
    per_agent = _averages(base, agents)
    return {"base_stats": base, "num_agents": agents, "num_steps": steps,
            "per_agent": per_agent, "per_step": _averages(base, steps),
            "per_agent_per_step": _averages(per_agent or {}, steps) if per_agent else None}


def print_stats(title: str, report: dict[str, Any]) -> None:
    """Show a stats report (any of the shapes above) as a table on the console."""
    from tinytroupe.agent.display import console

    table = Table(title=title, title_justify="left", show_header=True)
    table.add_column("")
    table.add_column("value", justify="right")
    base = report.get("base_stats", report)
    for key, value in base.items():
        table.add_row(key.replace("_", " "), _shown(value))
    for name in ("total_agents", "num_agents", "num_steps"):
        if name in report:
            table.add_row(name.replace("_", " "), _shown(report[name]))
    for group in ("per_agent", "per_step", "per_agent_per_step"):
        for key, value in (report.get(group) or {}).items():
            if key in ("model_calls", "total_tokens", "estimated_cost"):
                table.add_row(f"{key.replace('_', ' ')} {group.replace('_', ' ')}",
                              _shown(value))
    console.print(table)


def _shown(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.4f}" if value < 100 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


class CostStats:
    """Upstream's cost methods on a client (they report the whole process)."""

    def get_cost_stats(self) -> dict[str, Any]:
        """The whole process's usage in upstream's keys (`stats()`), not this client's alone."""
        return stats()

    def pretty_print_cost_stats(self) -> None:
        """Show the whole process's usage (`stats()`) as a table on the console."""
        print_stats("LLM API cost statistics", stats())

    def reset_cost_stats(self) -> None:
        """Zero the process's usage counters (every client's, not only this one's)."""
        reset()
