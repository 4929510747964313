"""Benchmark output: a rich table on the terminal, a JSON file and a PNG plot."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from tinytroupe.bench.scenarios import Result


def machine() -> dict[str, Any]:
    """Python version, platform, CPU count and memory (GB) of this machine."""
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30)}


def show(results: list[Result], console: Console) -> None:
    """Print the targets of `results` as a table on `console`, then their notes."""
    table = Table(title="tinytroupe benchmark: targets")
    for column in ("scenario", "what", "measured", "target", "met"):
        table.add_column(column)
    for result in results:
        for t in result.targets:
            table.add_row(result.name, t["what"], f"{t['measured']:.4g}", t["target"],
                          "[green]yes[/]" if t["met"] else "[red]no[/]")
    console.print(table)
    for result in results:
        for note in result.notes:
            console.print(f"[dim]{result.name}: {note}[/]")


def write_json(results: list[Result], path: Path, quick: bool, seconds: float) -> None:
    """Write `results` with `machine()`, `quick` and the run's `seconds` to `path` as JSON."""
    document = {"machine": machine(), "quick": quick, "seconds": round(seconds, 1),
                "scenarios": {r.name: {"rows": r.rows, "targets": r.targets, "notes": r.notes}
                              for r in results}}
    path.write_text(json.dumps(document, indent=2, default=float))


def plot(results: list[Result], path: Path) -> bool:
    """Plot the speedup curve and worker-cap scenario; False if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    by_name = {r.name: r for r in results}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    if "speedup" in by_name:
        rows = by_name["speedup"].rows
        agents = [r["agents"] for r in rows]
        axes[0].plot(agents, agents, "k--", label="ideal (= agents)")
        axes[0].plot(agents, [r["speedup"] for r in rows], "o-", label="measured speedup")
        axes[0].set(xscale="log", yscale="log", xlabel="agents",
                    ylabel="sequential / parallel step time",
                    title=f"Speedup at {rows[0]['latency']} s latency, MAX_WORKERS=ALL")
        axes[0].legend()
    if "worker_cap" in by_name:
        rows = by_name["worker_cap"].rows
        workers = [r["workers"] for r in rows]
        axes[1].plot(workers, [r["expected_s"] for r in rows], "k--", label="ceil(n/w) x latency")
        axes[1].plot(workers, [r["step_s"] for r in rows], "o-", label="measured step time")
        axes[1].set(xscale="log", yscale="log", xlabel="MAX_WORKERS", ylabel="seconds",
                    title=f"{rows[0]['agents']} agents under a worker cap")
        axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def markdown(document: dict[str, Any]) -> str:
    """The targets of a bench JSON document as a Markdown table."""
    lines = ["| scenario | what | measured | target | met |", "|---|---|---|---|---|"]
    for name, scenario in document["scenarios"].items():
        for t in scenario["targets"]:
            lines.append(f"| {name} | {t['what']} | {t['measured']:.4g} | {t['target']} | "
                         f"{'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines)
