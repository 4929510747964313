"""`TinyToolUse`: the mental faculty through which an agent uses tools (upstream's API).

``agent.add_mental_faculties([TinyToolUse(tools=[TinyWordProcessor(...), ...])])`` puts
the tools' actions and rules in the agent's system prompt and, after each `act()`, offers
every committed action to the tools in order until one has done it.

A tool that fails (an exception, including upstream's ValueError when another agent owns
the tool) is logged and does not end the agent's turn: the turn is already committed, so
raising out of `act()` would only report as failed a turn whose actions were kept. The
faculty is saved with its agent: its tools by type and settings (`TinyTool.to_state`).
"""

from __future__ import annotations

import logging
from typing import Any

from tinytroupe.agent.mental_faculty import TinyMentalFaculty
from tinytroupe.tools.tiny_tool import TinyTool, tool_from_state

__all__ = ["TinyToolUse"]

logger = logging.getLogger("tinytroupe")


class TinyToolUse(TinyMentalFaculty):
    """The faculty of using `tools` (a list of `TinyTool`; TypeError for anything else)."""

    def __init__(self, tools: list[TinyTool]) -> None:
        super().__init__("Tool Use")
        tools = list(tools)
        for tool in tools:
            if not isinstance(tool, TinyTool):
                raise TypeError(f"TinyToolUse takes TinyTool instances, got {tool!r}")
        self.tools = tools

    def __repr__(self) -> str:
        return f"TinyToolUse(tools={self.tools!r})"

    def process_action(self, agent: Any, action: dict[str, Any]) -> bool:
        """Offer `action` to each tool in turn; True once one has done it."""
        for tool in self.tools:
            try:
                if tool.process_action(agent, action):
                    return True
            except Exception as exc:
                logger.error("%s: tool %r failed on %s: %s: %s", getattr(agent, "name", agent),
                             tool.name, action.get("type"), type(exc).__name__, exc,
                             exc_info=not isinstance(exc, ValueError))
        return False

    def actions_definitions_prompt(self) -> str:
        """The actions of all the tools, one tool after the other."""
        return "\n".join(p for p in (t.actions_definitions_prompt() for t in self.tools)
                         if p.strip())

    def actions_constraints_prompt(self) -> str:
        """The rules of all the tools, one tool after the other."""
        return "\n".join(p for p in (t.actions_constraints_prompt() for t in self.tools)
                         if p.strip())

    def to_state(self) -> dict[str, Any]:
        """Name and tools (each by `TinyTool.to_state`), JSON-serialisable."""
        return {**super().to_state(), "tools": [tool.to_state() for tool in self.tools]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TinyToolUse:
        """The faculty `to_state` described, its tools restored (ValueError if malformed)."""
        tools = state.get("tools", [])
        if not isinstance(tools, list):
            raise ValueError(f"TinyToolUse: saved tools must be a list, got {tools!r}")
        return cls([tool_from_state(tool) for tool in tools])
