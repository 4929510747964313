"""ResultsReducer: rows of data from agents' memories, by rules the user writes.

Upstream's API: `add_reduction_rule(trigger, func)` registers a rule for one kind of
event, an action type ("TALK", "THINK", ...) or a stimulus type ("CONVERSATION",
"VISUAL", ...); `reduce_agent(agent)` walks the agent's episodic memory in order and
calls the rule of every episode whose type has one, with upstream's keyword
arguments::

    func(focus_agent=agent, source_agent=..., target_agent=..., kind="stimulus" | "action",
         event=<the type>, content=<the text>, timestamp=<the simulation timestamp>)

For a stimulus the source is whoever caused it and the target is the agent; for an
action the source is the agent and the target whoever it was aimed at. Those others
are looked up by name (`TinyPerson.get_agent_by_name`); an empty name (the user or
the world) gives None, as upstream, and a name with no agent in this process (an
agent of another process or not loaded) gives an `AgentRef` carrying that name, so
that a rule reading ``source_agent.name`` still works. What the rules return, except
None, are the rows, in memory order. No model is called: reducing is plain Python.

`reduce_agent_to_dataframe(agent, column_names=None)` makes the rows a pandas
DataFrame; pandas is optional (``pip install 'tinytroupe[extraction]'``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinytroupe.agent import TinyPerson
from tinytroupe.agent.contacts import AgentRef
from tinytroupe.extras import require

if TYPE_CHECKING:  # pandas is optional: only the DataFrame call imports it
    import pandas as pd

__all__ = ["EXTRA_HINT", "ResultsReducer", "import_pandas"]

logger = logging.getLogger("tinytroupe")

#: How to install what the optional DataFrame and Word-document calls need.
EXTRA_HINT = "pip install 'tinytroupe[extraction]'"


def import_pandas() -> Any:
    """The `pandas` module; raises ImportError naming the extra to install if missing."""
    return require("pandas", "extraction", "a DataFrame of reduced results")


class ResultsReducer:
    """Turns agents' episodes into rows with per-event rules (module doc).

    `rules` maps each trigger to its function; `results` is kept for upstream's
    attribute (the reductions themselves are returned, not stored).
    """

    def __init__(self) -> None:
        self.results: dict[str, Any] = {}
        self.rules: dict[str, Callable[..., Any]] = {}

    def add_reduction_rule(self, trigger: str, func: Callable[..., Any]) -> None:
        """Call `func` for every episode of type `trigger` (an action or stimulus type).

        Raises ValueError if `trigger` already has a rule (one rule per trigger, as
        upstream), and TypeError if `func` is not callable.
        """
        if trigger in self.rules:
            raise ValueError(f"Rule for {trigger} already exists.")
        if not callable(func):
            raise TypeError(f"the reduction rule for {trigger} must be callable, "
                            f"got {type(func).__name__}")
        self.rules[trigger] = func

    def reduce_agent(self, agent: TinyPerson) -> list:
        """The non-None results of the rules over `agent`'s memory, in memory order.

        An exception raised by a rule propagates (it is the user's code).
        """
        reduction: list[Any] = []
        for episode in agent.episodic_memory.retrieve_all():
            for call in self._calls_for(agent, episode):
                rule = self.rules.get(call["event"])
                if rule is None:
                    continue
                extracted = rule(**call)
                if extracted is not None:
                    reduction.append(extracted)
        return reduction

    def reduce_agent_to_dataframe(self, agent: TinyPerson,
                                  column_names: list | None = None) -> pd.DataFrame:
        """`reduce_agent(agent)` as a pandas DataFrame with `column_names` as columns.

        Raises ImportError naming the extra to install when pandas is missing.
        """
        pandas = import_pandas()
        return pandas.DataFrame(self.reduce_agent(agent), columns=column_names)

    # --- episodes ---------------------------------------------------------------------

    def _calls_for(self, agent: TinyPerson, episode: Any) -> list[dict[str, Any]]:
        """The keyword arguments of the rule calls `episode` gives rise to (maybe none).

        A stimulus episode may carry several stimuli (upstream reads only the first;
        all are read here). Episodes of other roles, and malformed ones, give none.
        """
        if not isinstance(episode, dict) or not isinstance(episode.get("content"), dict):
            return []
        role, content = episode.get("role"), episode["content"]
        timestamp = episode.get("simulation_timestamp")
        if role == "user":
            stimuli = content.get("stimuli")
            return [{"focus_agent": agent,
                     "source_agent": _agent_named(stimulus.get("source")),
                     "target_agent": agent, "kind": "stimulus", "event": stimulus.get("type"),
                     "content": stimulus.get("content"), "timestamp": timestamp}
                    for stimulus in (stimuli if isinstance(stimuli, list) else [])
                    if isinstance(stimulus, dict)]
        if role == "assistant" and isinstance(content.get("action"), dict):
            action = content["action"]
            return [{"focus_agent": agent, "source_agent": agent,
                     "target_agent": _agent_named(action.get("target")), "kind": "action",
                     "event": action.get("type"), "content": action.get("content"),
                     "timestamp": timestamp}]
        return []


def _agent_named(name: Any) -> TinyPerson | AgentRef | None:
    """The agent called `name`; None for no name; an `AgentRef` for one not here."""
    if name is None:
        return None
    if not isinstance(name, str):  # an agent object stored directly
        return name
    if not name.strip():
        return None
    return TinyPerson.get_agent_by_name(name) or AgentRef(name)
