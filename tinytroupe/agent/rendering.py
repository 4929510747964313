"""An agent's remembered interactions as text (upstream's `pretty_current_interactions`).

Each episode becomes one line: a stimulus as ``SOURCE --> AGENT: [TYPE] content``, an
action as ``AGENT acts: [TYPE] -> TARGET content``. Contents longer than
`max_content_length` are cut with `` (...)`` (display only: memory keeps everything).
The text is plain (no markup, no control characters), so it can be printed, logged or
fed to a model.
"""

from __future__ import annotations

from typing import Any

from tinytroupe.sanitize import for_terminal


def shorten(text: str, max_content_length: int | None) -> str:
    """`text` cut to `max_content_length` characters with " (...)" (None: whole)."""
    if max_content_length is not None and len(text) > max_content_length:
        return text[:max_content_length] + " (...)"
    return text


def episode_lines(agent_name: str, episode: dict[str, Any], *, simplified: bool = True,
                  skip_system: bool = True, max_content_length: int | None = None
                  ) -> list[str]:
    """The lines of one remembered episode (none for a skipped system episode)."""
    role, content = episode.get("role"), episode.get("content")
    if role == "system" and skip_system:
        return []
    if isinstance(content, dict) and "stimuli" in content:
        return [f"{s.get('source') or 'USER'} --> {agent_name}: [{s.get('type', '')}] "
                f"{shorten(str(s.get('content', '')), max_content_length)}"
                for s in content["stimuli"] if isinstance(s, dict)]
    if isinstance(content, dict) and isinstance(content.get("action"), dict):
        action = content["action"]
        if simplified and action.get("type") == "DONE":
            return []
        target = f" -> {action['target']}" if action.get("target") else ""
        return [f"{agent_name} acts: [{action.get('type', '')}]{target} "
                f"{shorten(str(action.get('content', '')), max_content_length)}"]
    return [f"[{role}] {shorten(str(content), max_content_length)}"]


def pretty_interactions(agent_name: str, episodes: list[dict[str, Any]], *,
                        simplified: bool = True, skip_system: bool = True,
                        max_content_length: int | None = None) -> str:
    """All `episodes` as text, one line per stimulus or action, oldest first."""
    lines: list[str] = []
    for episode in episodes:
        lines += episode_lines(agent_name, episode, simplified=simplified,
                               skip_system=skip_system, max_content_length=max_content_length)
    return for_terminal("\n".join(lines))
