"""Console display of what agents perceive and do (rich).

Everything shown is passed through `for_console`: no markup or terminal control
sequence from a persona, a model answer or user text reaches the terminal. Long
contents are cut for display only (`max_content_length`), never in memory.
"""

from __future__ import annotations

from rich.console import Console

from tinytroupe.agent.rendering import shorten
from tinytroupe.sanitize import for_console as escape

console = Console(highlight=False)

_STYLES = {"TALK": "bold green", "THINK": "green", "DONE": "dim", "REACH_OUT": "bold cyan"}


def show_action(agent_name: str, action: dict[str, str],
                max_content_length: int | None = None) -> None:
    """Print what `agent_name` does (nothing for DONE), content cut to `max_content_length`."""
    kind = action.get("type", "")
    if kind == "DONE":
        return
    target = f" -> {escape(action['target'])}" if action.get("target") else ""
    style = _STYLES.get(kind, "green")
    content = shorten(str(action.get("content", "")), max_content_length)
    console.print(f"[{style}]{escape(agent_name)} acts: \\[{escape(kind)}]{target}[/] "
                  f"{escape(content)}")


def show_stimulus(agent_name: str, stimulus: dict[str, str],
                  max_content_length: int | None = None) -> None:
    """Print what `agent_name` perceives (source USER when it has none).

    The content is cut to `max_content_length`.
    """
    source = escape(stimulus.get("source") or "USER")
    content = shorten(str(stimulus.get("content", "")), max_content_length)
    console.print(f"[bold italic cyan1]{source} --> {escape(agent_name)}: "
                  f"\\[{escape(stimulus.get('type', ''))}][/] {escape(content)}")


def display_length(max_content_length: int | None) -> int | None:
    """`max_content_length`, or MAX_CONTENT_DISPLAY_LENGTH when it is None."""
    from tinytroupe.config import config_manager

    return max_content_length if max_content_length is not None \
        else config_manager.get("max_content_display_length")


def show_world(message: str) -> None:
    """Print a message of a world (escaped) in the world's style."""
    console.print(f"[bold magenta]{escape(message)}[/]")
