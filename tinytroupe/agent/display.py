"""Console display of what agents perceive and do (rich)."""

from __future__ import annotations

from rich.console import Console

from tinytroupe.sanitize import for_console as escape

console = Console(highlight=False)

_STYLES = {"TALK": "bold green", "THINK": "green", "DONE": "dim", "REACH_OUT": "bold cyan"}


def show_action(agent_name: str, action: dict[str, str]) -> None:
    kind = action.get("type", "")
    if kind == "DONE":
        return
    target = f" -> {escape(action['target'])}" if action.get("target") else ""
    style = _STYLES.get(kind, "green")
    console.print(f"[{style}]{escape(agent_name)} acts: [{escape(kind)}]{target}[/] "
                  f"{escape(action.get('content', ''))}")


def show_stimulus(agent_name: str, stimulus: dict[str, str]) -> None:
    source = f"{escape(stimulus['source'])} --> " if stimulus.get("source") else ""
    console.print(f"[bold italic cyan1]{source}{escape(agent_name)}: "
                  f"[{escape(stimulus['type'])}][/] {escape(stimulus['content'])}")


def show_world(message: str) -> None:
    console.print(f"[bold magenta]{escape(message)}[/]")
