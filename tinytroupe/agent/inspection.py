"""Looking into an agent: its next request, its interactions as text, cost statistics.

`Inspection` is the read-only part of `TinyPerson`'s public API (upstream's
`current_messages`, `generate_agent_system_prompt`, `pretty_current_interactions`,
`pp_current_interactions`, and the global cost statistics).
"""

from __future__ import annotations

from typing import Any, ClassVar

from tinytroupe.agent import rendering
from tinytroupe.agent.display import console, display_length
from tinytroupe.clients import cost


class Inspection:
    """Mixin of `TinyPerson`: read-only views of the agent (module doc)."""

    all_agents: ClassVar[dict[str, Any]]
    name: str
    episodic_memory: Any

    def _messages(self, taken: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
        raise NotImplementedError  # provided by TinyPerson

    @property
    def current_messages(self) -> list[dict[str, str]]:
        """The chat messages the agent's next model call would start from."""
        return self._messages()

    def generate_agent_system_prompt(self) -> str:
        """The system prompt: persona, contacts, mental state and the rules of acting."""
        return self._messages()[0]["content"]

    def pretty_current_interactions(self, simplified: bool = True, skip_system: bool = True,
                                    max_content_length: int | None = None,
                                    first_n: int | None = None, last_n: int | None = None,
                                    include_omission_info: bool = True) -> str:
        """The remembered interactions as text (all, or the first/last ones)."""
        episodes = self.episodic_memory.retrieve(first_n, last_n, include_omission_info)
        return rendering.pretty_interactions(self.name, episodes, simplified=simplified,
                                             skip_system=skip_system,
                                             max_content_length=max_content_length)

    def pp_current_interactions(self, simplified: bool = True, skip_system: bool = True,
                                max_content_length: int | None = None,
                                first_n: int | None = None, last_n: int | None = None,
                                include_omission_info: bool = True) -> None:
        """Print `pretty_current_interactions` on the console."""
        console.print(self.pretty_current_interactions(
            simplified, skip_system, display_length(max_content_length), first_n, last_n,
            include_omission_info), markup=False, highlight=False)

    @classmethod
    def get_global_cost_stats(cls) -> dict[str, Any]:
        """Calls, tokens and cache hits of the whole process, with averages per agent."""
        return cost.global_stats(len(cls.all_agents))

    @classmethod
    def pretty_print_global_cost_stats(cls) -> None:
        """Print `get_global_cost_stats` as a table on the console."""
        cost.print_stats("Cost statistics: all agents", cls.get_global_cost_stats())
