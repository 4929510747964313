"""Command line: ``python -m tinytroupe <subcommand>`` (also the ``tinytroupe`` script).

``demo`` runs the example focus group (`tinytroupe.examples.demo`); ``bench`` runs the
benchmark suite (`tinytroupe.bench.runner`). This module only parses arguments and
dispatches: each subcommand's module declares its options (`add_arguments`) and runs
(`run`); the benchmark's scenarios and extras are imported only when it runs.

Exit codes: 0 success; 1 the simulation failed (an error stopped it, or every agent
turn failed); 2 bad usage, a configuration error or LLM access not configured (for
example no API key); 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rich.console import Console

from tinytroupe import ConfigError, __version__
from tinytroupe.sanitize import for_console as escape

EXIT_USAGE = 2

#: Subcommand name -> (help, module with `add_arguments(parser)` and `run(args) -> int`).
SUBCOMMANDS = {
    "demo": ("run the example focus group (offline model by default)",
             "tinytroupe.examples.demo"),
    "bench": ("run the benchmark suite", "tinytroupe.bench.runner"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="tinytroupe", description="LLM multi-agent persona simulation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, module) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: ``sys.argv[1:]``), run the subcommand, return its exit code.

    Never raises `SystemExit`: argparse's exits (``--help``, usage errors) are returned
    as exit codes too; a configuration error is printed, without a traceback.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return importlib.import_module(SUBCOMMANDS[args.command][1]).run(args)
    except ConfigError as exc:  # a bad config.ini or TINYTROUPE_* variable
        Console(stderr=True, highlight=False).print(
            f"[bold red]configuration error:[/] {escape(exc)}", soft_wrap=True)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
