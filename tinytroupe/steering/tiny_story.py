"""TinyStory: a story told from a simulation's history, started and continued.

The story follows a world (all its agents' interactions) or one agent. `start_story`
asks the model for an opening that fits the `purpose` and `context`; `continue_story`
asks for what happens next, given the story so far and the latest interactions. Both
return the new text and append it to `current_story`. Model calls go through the
structured-output helper (cached, counted, offline-capable).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from tinytroupe.clients.structured import ask_structured

_SYSTEM = ("You are a storyteller for a simulation of people. You write the story of what "
           "the simulated people do, faithful to their interaction history, in plain prose. "
           'Answer with JSON {"story": "..."}.')


class _StoryText(BaseModel):
    """The schema of a story answer."""

    story: str = Field(description="The new part of the story, in plain prose.")


class TinyStory:
    """A story about a world or an agent (TinyTroupe's API)."""

    def __init__(self, environment: Any = None, agent: Any = None,
                 purpose: str = "Be a realistic simulation.", context: str = "",
                 first_n: int = 10, last_n: int = 20,
                 include_omission_info: bool = True) -> None:
        if (environment is None) == (agent is None):
            raise ValueError("TinyStory needs either an environment or an agent, not both")
        self.environment, self.agent = environment, agent
        self.purpose, self.context = purpose, context
        self.first_n, self.last_n = first_n, last_n
        self.include_omission_info = include_omission_info
        self.current_story = context

    def start_story(self, requirements: str = "Start some interesting story about the agents.",
                    number_of_words: int = 100, include_plot_twist: bool = False) -> str:
        """The story's opening (also appended to `current_story`)."""
        return self._tell("start", requirements, number_of_words, include_plot_twist)

    def continue_story(self, requirements: str = "Allow the agents to behave naturally, and "
                                                 "make the story flow from what they did.",
                       number_of_words: int = 100, include_plot_twist: bool = False) -> str:
        """What happens next (also appended to `current_story`)."""
        return self._tell("continue", requirements, number_of_words, include_plot_twist)

    def _history(self) -> str:
        agents = [self.agent] if self.agent is not None else self.environment.agents
        return "\n\n".join(
            f"--- {agent.name} ---\n" + agent.pretty_current_interactions(
                first_n=self.first_n, last_n=self.last_n,
                include_omission_info=self.include_omission_info)
            for agent in agents)

    def _tell(self, how: str, requirements: str, words: int, plot_twist: bool) -> str:
        request = {"task": f"{how} the story", "purpose": self.purpose,
                   "requirements": requirements, "number_of_words": words,
                   "include_plot_twist": plot_twist, "story_so_far": self.current_story}
        messages = [{"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": f"{json.dumps(request, ensure_ascii=False)}"
                                                f"\n\nInteraction history:\n{self._history()}"}]
        who = self.agent.name if self.agent is not None else self.environment.name
        text = ask_structured(messages, _StoryText, name="story", user=who).story.strip()
        self.current_story = f"{self.current_story}\n\n{text}".strip()
        return text
