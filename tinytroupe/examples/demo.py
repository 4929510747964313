"""The demo: the example focus group discusses a product, then a summary table.

``python -m tinytroupe demo`` runs it (see `tinytroupe.cli`). It uses the offline model
unless ``--model`` or ``--api-type`` is given, so it runs on a fresh machine with no key
and no network.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from tinytroupe import ConfigError, config_manager
from tinytroupe.sanitize import for_console as escape

#: Exit codes (the CLI's).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: The question the focus group discusses.
DEMO_QUESTION = (
    "We are thinking of launching VeloPass, a subscription e-bike service: for a monthly "
    "fee you get an electric bike, maintenance, insurance and a replacement within 24 hours "
    "if it breaks down, and you can cancel any month. Would you use it? What would make "
    "it worth the price for you, and what would put you off?"
)

OFFLINE_NOTE = (
    "Note: the offline model is a deterministic stand-in, not a language model. Its answers "
    "are templates filled from each persona and what it last heard, so the conversation "
    "shows the machinery, not real opinions. Use --model or --api-type for a real LLM."
)

_MIN_AGENTS, _MAX_AGENTS = 2, 6
_FAILURES_SHOWN = 3


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _agent_count(text: str) -> int:
    value = _int(text)
    if not _MIN_AGENTS <= value <= _MAX_AGENTS:
        raise argparse.ArgumentTypeError(
            f"must be from {_MIN_AGENTS} to {_MAX_AGENTS}, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options (--steps, --agents, --model, --api-type, ...) to `parser`."""
    parser.add_argument("--steps", type=_positive_int, default=3, metavar="N",
                        help="simulation steps to run (default: 3)")
    parser.add_argument("--agents", type=_agent_count, default=_MAX_AGENTS, metavar="N",
                        help=f"example agents taking part, {_MIN_AGENTS}-{_MAX_AGENTS} "
                             f"(default: {_MAX_AGENTS})")
    parser.add_argument("--model", help="chat model to call; implies --api-type openai "
                                        "unless --api-type is given")
    parser.add_argument("--api-type", choices=("offline", "openai", "azure"),
                        help="LLM backend (default: offline, or openai when --model is given)")
    parser.add_argument("--sequential", action="store_true",
                        help="turn-based steps instead of parallel ones")
    parser.add_argument("--quiet", action="store_true",
                        help="do not show the conversation, only the summary")


def _configure_llm(args: argparse.Namespace) -> str:
    """Apply the demo's LLM choice to `config_manager`; return the API type chosen.

    No ``--model``/``--api-type``: offline. Otherwise ``--api-type`` (default openai)
    and, if given, ``--model``. Raises `ConfigError` for an invalid value.
    """
    api_type = args.api_type or ("openai" if args.model is not None else "offline")
    config_manager.set("api_type", api_type)
    if args.model is not None:
        config_manager.set("model", args.model)
    return api_type


def run(args: argparse.Namespace) -> int:
    """The ``demo`` subcommand: a focus group on `DEMO_QUESTION`, then a summary.

    Side effects on the process: sets API_TYPE (and MODEL) with `config_manager.set`,
    and creates agents and a world named "Focus group" in the process registries (call
    `tinytroupe.control.reset()` before running it again in the same process). The
    world is closed at the end. Returns an exit code (module docstring).
    """
    # Imported here so that `--help` and argument errors stay fast.
    from tinytroupe.agent import TinyPerson
    from tinytroupe.clients import LLMConfigurationError, LLMError, get_client, usage
    from tinytroupe.environment import ParallelStepError, TinyWorld
    from tinytroupe.examples import load_example_agents

    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    try:
        api_type = _configure_llm(args)
        get_client()  # fails fast, before any agent exists, if LLM access is not configured
    except (ConfigError, LLMConfigurationError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_USAGE
    model = "offline" if api_type == "offline" else f"{api_type}: {config_manager.get('model')}"

    display = not args.quiet
    saved_display = (TinyPerson.communication_display, TinyWorld.communication_display)
    TinyPerson.communication_display = TinyWorld.communication_display = display
    try:
        agents = load_example_agents()[: args.agents]
        mode = "sequential" if args.sequential else "parallel"
        out.print(f"[bold]Focus group[/]: {len(agents)} agents, {args.steps} {mode} step(s), "
                  f"model {escape(model)}")
        with TinyWorld("Focus group", agents) as world:
            world.make_everyone_accessible()
            world.broadcast(DEMO_QUESTION)
            usage_before, start = usage.snapshot(), time.perf_counter()
            try:
                steps = world.run(args.steps, parallelize=not args.sequential,
                                  return_actions=True) or []
            except (LLMError, ParallelStepError) as exc:
                err.print(f"[bold red]error:[/] the simulation failed: {escape(str(exc))}",
                          soft_wrap=True)
                return EXIT_FAILED
            wall = time.perf_counter() - start
            calls = usage.snapshot().minus(usage_before)
            summary = _summary(world, steps, calls.as_dict(), wall, args, model)
            failures = world.get_agent_failures()
    except KeyboardInterrupt:
        err.print("interrupted")
        return EXIT_INTERRUPTED
    finally:
        TinyPerson.communication_display, TinyWorld.communication_display = saved_display
    out.print(summary)
    for failure in failures[:_FAILURES_SHOWN]:
        err.print(f"[red]agent failure:[/] step {failure['step']}, {escape(failure['agent'])}: "
                  f"{escape(failure['error_type'])}: {escape(failure['message'])}",
                  soft_wrap=True)
    if api_type == "offline":
        out.print(OFFLINE_NOTE)
    if failures and not _any_action(steps):
        err.print("[bold red]error:[/] every agent turn failed; see the failures above")
        return EXIT_FAILED
    return EXIT_OK


def _any_action(steps: list[dict[str, list[dict]]]) -> bool:
    """Whether any agent completed a turn with at least one action in `steps`."""
    return any(taken for step in steps for taken in step.values())


def _summary(world: Any, steps: list[dict[str, list[dict]]], calls: dict[str, int],
             wall: float, args: argparse.Namespace, model: str) -> Table:
    """The summary table of a finished demo run.

    Actions count every action the agents took except DONE; messages count transcript
    events sent by an agent (TALK, REACH_OUT, an agent's broadcast), so the opening
    question, which comes from the world, is not one of them.
    """
    metrics = world.get_parallel_metrics()
    actions = sum(1 for step in steps for taken in step.values()
                  for item in taken if item["action"].get("type") != "DONE")
    messages = sum(1 for event in world.transcript if event.get("source") is not None)
    speedup = ("n/a (sequential)" if args.sequential
               else f"{metrics['avg_parallel_speedup']:.2f}x")
    table = Table(title="Focus group summary", show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    rows: list[tuple[str, str]] = [
        ("Model", escape(model)),
        ("Agents", str(len(world.agents))),
        ("Steps", f"{args.steps} ({'sequential' if args.sequential else 'parallel'})"),
        ("Agent actions taken", str(actions)),
        ("Messages delivered", str(messages)),
        ("LLM calls", str(calls["requests"])),
        ("Wall time", f"{wall:.2f} s"),
        ("Avg parallel speedup", speedup),
        ("Errors / timeouts", f"{metrics['parallel_errors']} / {metrics['parallel_timeouts']}"),
    ]
    if calls["retries"] or calls["failures"]:
        rows.append(("LLM retries / failures", f"{calls['retries']} / {calls['failures']}"))
    if calls["prompt_tokens"] or calls["completion_tokens"]:
        rows.append(("Tokens (prompt / completion)",
                     f"{calls['prompt_tokens']} / {calls['completion_tokens']}"))
    for name, value in rows:
        table.add_row(name, value)
    return table
