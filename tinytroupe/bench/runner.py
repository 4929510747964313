"""``python -m tinytroupe bench [--quick] [--only NAME ...] [--out DIR]``.

Runs the scenarios, prints the targets table, writes ``bench.json`` (and
``bench.png`` when matplotlib is installed: ``pip install -e .[bench]``) into the
output folder. Exit code 0 when every scenario ran, whatever the timings (CI runs
``--quick`` to catch errors, never to judge speed); 1 if a scenario raised.
"""

from __future__ import annotations

import argparse
import logging
import time
import traceback
from pathlib import Path

from rich.console import Console

from tinytroupe import config_manager

#: The scenarios, in running order (their code is imported only when the suite runs,
#: so that ``python -m tinytroupe demo`` never needs the bench's dependencies).
SCENARIO_NAMES = ("speedup", "worker_cap", "overhead", "scale", "metrics_overhead", "timeout",
                  "provider_limit", "factory", "extraction", "quality_checks",
                  "defaults", "tail", "transport", "ray_backend", "ray_scale")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the bench options (--quick, --only, --out) to `parser`."""
    parser.add_argument("--quick", action="store_true",
                        help="a reduced set in under a minute (what CI runs)")
    parser.add_argument("--only", nargs="+", choices=SCENARIO_NAMES, metavar="NAME",
                        help=f"run only these scenarios ({', '.join(SCENARIO_NAMES)})")
    parser.add_argument("--out", type=Path, default=Path("benchmarks") / "results",
                        help="folder for bench.json and bench.png (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    """Run the chosen scenarios and write their report (module doc).

    Returns the exit code: 0 when every scenario ran, 1 if one raised, 2 when the
    bench extra is missing.
    """
    console = Console()
    try:
        from tinytroupe.bench import report
        from tinytroupe.bench.harness import fresh_simulation, quiet
        from tinytroupe.bench.scenarios import SCENARIOS
    except ImportError as exc:
        console.print(f"[red]The benchmark suite needs its extra: pip install -e '.[bench]' "
                      f"({exc})[/]")
        return 2
    quiet()
    logging.getLogger("tinytroupe").setLevel(logging.ERROR)  # expected timeouts are noise here
    names = args.only or list(SCENARIO_NAMES)
    results = []
    failed = []
    start = time.perf_counter()
    for name in names:
        console.print(f"[bold]running {name}{' (quick)' if args.quick else ''}...[/]")
        config_manager.reset()
        try:
            results.append(SCENARIOS[name](args.quick))
        except Exception:  # report every failing scenario, then fail
            failed.append(name)
            console.print(f"[red]{name} failed:[/]\n{traceback.format_exc()}")
        finally:
            fresh_simulation()
    seconds = time.perf_counter() - start
    report.show(results, console)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    report.write_json(results, args.out / f"bench{suffix}.json", args.quick, seconds)
    plotted = report.plot(results, args.out / f"bench{suffix}.png")
    console.print(f"results in {args.out}/bench{suffix}.json"
                  + (f" and bench{suffix}.png" if plotted else " (no plot: matplotlib missing)")
                  + f"; {seconds:.0f} s")
    return 1 if failed else 0

