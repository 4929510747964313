"""`TinyTool`: the base of the tools agents use (upstream's API), and tools' saved state.

A tool offers actions (their definitions and rules become prompt text through
`actions_definitions_prompt` / `actions_constraints_prompt`) and carries them out
(`process_action(agent, action) -> bool`: True when the action was the tool's and was
done). Agents reach their tools through the `TinyToolUse` faculty
(`tinytroupe.agent.TinyToolUse`), which offers each committed action to each tool.

An action's type is a plain word (``WRITE_DOCUMENT``); the namespaced form of newer
upstream versions (``TINYWORDPROCESSOR::WRITE_DOCUMENT``) is accepted too when the
namespace is the tool's own.

A tool with an `owner` serves that agent only (`process_action` raises ValueError for
another, as upstream); `owner=None` tools serve anyone. Tools are saved with their agent
(`to_state` / `tool_from_state`, by class name): settings, the owner by name, an
exporter by its output folder, an enricher by its type and settings. A subclass whose
constructor differs from `TinyTool`'s overrides `from_state` (and `to_state` if it has
state of its own).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

from tinytroupe.utils import JsonSerializableRegistry

__all__ = ["ACTION_NAMESPACE_SEPARATOR", "TinyTool", "parse_action_namespace",
           "tool_from_state"]

logger = logging.getLogger("tinytroupe")

#: Between a tool's namespace and an action's verb (``TINYCALENDAR::CREATE_EVENT``).
ACTION_NAMESPACE_SEPARATOR = "::"


def parse_action_namespace(action_type: Any) -> tuple[str | None, str | None]:
    """``(namespace, verb)`` of an action type; namespace None if it has none.

    ``"TINYWORDPROCESSOR::WRITE_DOCUMENT"`` gives ``("TINYWORDPROCESSOR",
    "WRITE_DOCUMENT")``, ``"TALK"`` gives ``(None, "TALK")``, None gives
    ``(None, None)``. Both parts are upper-cased and stripped.
    """
    if action_type is None:
        return None, None
    text = str(action_type).strip().upper()
    if ACTION_NAMESPACE_SEPARATOR in text:
        namespace, verb = text.split(ACTION_NAMESPACE_SEPARATOR, 1)
        return namespace.strip(), verb.strip()
    return None, text


class TinyTool(JsonSerializableRegistry):
    """A tool agents can use (module doc).

    `name` and `description` say what it is; `owner` (an agent, or None: anyone) who may
    use it; `real_world_side_effects` whether using it changes the world outside the
    simulation (a warning is logged each time it is used); `exporter` (an
    `ArtifactExporter`) and `enricher` (a `TinyEnricher`) are optional collaborators
    for what the tool produces. Subclasses implement `_process_action` and the two
    prompt methods.
    """

    #: Tool classes by name, for restoring saved agents.
    registry: ClassVar[dict[str, type[TinyTool]]] = {}
    #: The namespace of this tool's actions (``TINYCALENDAR``); None: plain types only.
    action_namespace: ClassVar[str | None] = None
    #: What `to_json` writes (the owner, exporter and enricher are not JSON).
    serializable_attributes: ClassVar[list[str]] = ["name", "description",
                                                    "real_world_side_effects"]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        TinyTool.registry[cls.__name__] = cls

    def __init__(self, name: str, description: str, owner: Any = None,
                 real_world_side_effects: bool = False, exporter: Any = None,
                 enricher: Any = None) -> None:
        self.name = name
        self.description = description
        self.owner = owner
        self.real_world_side_effects = real_world_side_effects
        self.exporter = exporter
        self.enricher = enricher
        self._lock = threading.RLock()

    def _post_deserialization_init(self, **kwargs: Any) -> None:
        # `from_json` does not call __init__: give what it does not restore its default.
        for attribute in ("owner", "exporter", "enricher"):
            if not hasattr(self, attribute):
                setattr(self, attribute, None)
        self._lock = threading.RLock()
        super()._post_deserialization_init(**kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, owner={self.owner_name!r})"

    # --- ownership and safety ---------------------------------------------------------

    @property
    def owner_name(self) -> str | None:
        """The owner's name (the owner may be an agent or, once restored, its name)."""
        if self.owner is None:
            return None
        return str(getattr(self.owner, "name", self.owner))

    def set_owner(self, owner: Any) -> None:
        """Make `owner` (an agent, or None: anyone) the tool's owner."""
        self.owner = owner

    def _protect_real_world(self) -> None:
        if self.real_world_side_effects:
            logger.warning("Tool %r has REAL-WORLD SIDE EFFECTS: using it changes things "
                           "outside the simulation. Use with caution.", self.name)

    def _enforce_ownership(self, agent: Any) -> None:
        owner = self.owner_name
        if owner is not None and getattr(agent, "name", None) != owner:
            raise ValueError(f"Agent {getattr(agent, 'name', agent)!r} does not own tool "
                             f"{self.name!r}, which is owned by {owner!r}.")

    # --- actions ----------------------------------------------------------------------

    def process_action(self, agent: Any, action: dict[str, Any]) -> bool:
        """Carry out `action` for `agent` if it is this tool's; True if it was done.

        Logs a warning first if the tool has real-world side effects; raises ValueError
        if the tool has another owner.
        """
        self._protect_real_world()
        self._enforce_ownership(agent)
        return bool(self._process_action(agent, action))

    def _process_action(self, agent: Any, action: dict[str, Any]) -> bool:
        raise NotImplementedError("Subclasses must implement _process_action.")

    def _action_verb(self, action: dict[str, Any]) -> str | None:
        """The verb of `action` if it is plain or in this tool's namespace, else None."""
        namespace, verb = parse_action_namespace(action.get("type"))
        if namespace is not None and namespace != self.action_namespace:
            return None
        return verb

    def actions_definitions_prompt(self) -> str:
        """The actions this tool offers, as prompt text (subclasses implement it)."""
        raise NotImplementedError("Subclasses must implement actions_definitions_prompt.")

    def actions_constraints_prompt(self) -> str:
        """Rules for using those actions, as prompt text (subclasses implement it)."""
        raise NotImplementedError("Subclasses must implement actions_constraints_prompt.")

    # --- saved state ------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable description of this tool, for `tool_from_state`.

        The owner is saved by name, the exporter by its folder, the enricher by its type
        and settings; one that cannot be described that way is left out (logged).
        """
        return {"type": type(self).__name__, "name": self.name,
                "description": self.description, "owner": self.owner_name,
                "real_world_side_effects": bool(self.real_world_side_effects),
                "exporter": exporter_state(self.exporter),
                "enricher": enricher_state(self.enricher)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TinyTool:
        """The tool described by `state` (the inverse of `to_state`).

        This works for subclasses with `TinyTool`'s constructor; others override it.
        """
        return cls(str(state.get("name", "")), str(state.get("description", "")),
                   owner=owner_from_state(state.get("owner")),
                   real_world_side_effects=bool(state.get("real_world_side_effects", False)),
                   exporter=exporter_from_state(state.get("exporter")),
                   enricher=enricher_from_state(state.get("enricher")))


def tool_from_state(state: dict[str, Any]) -> TinyTool:
    """A tool restored from `TinyTool.to_state()` (ValueError if unknown or malformed)."""
    if not isinstance(state, dict):
        raise ValueError(f"a saved tool must be a JSON object, got {type(state).__name__}")
    kind = TinyTool.registry.get(str(state.get("type")))
    if kind is None:
        raise ValueError(f"unknown tool type {state.get('type')!r}")
    return kind.from_state(state)


# --- collaborators in saved state -----------------------------------------------------


def owner_from_state(name: Any) -> Any:
    """The agent named `name` if it exists in this process, else the name (None: none)."""
    if name is None:
        return None
    from tinytroupe.agent.tiny_person import TinyPerson  # the agent package imports us

    return TinyPerson.get_agent_by_name(str(name)) or str(name)


def exporter_state(exporter: Any) -> dict[str, Any] | None:
    """An exporter as ``{"base_output_folder": ...}`` (None if none or not describable)."""
    if exporter is None:
        return None
    folder = getattr(exporter, "base_output_folder", None)
    if folder is None:
        logger.warning("The exporter %r has no base_output_folder; it is not saved.", exporter)
        return None
    return {"base_output_folder": str(folder)}


def exporter_from_state(state: Any) -> Any:
    """The `ArtifactExporter` that `exporter_state` described (None for None)."""
    if state is None:
        return None
    folder = state.get("base_output_folder") if isinstance(state, dict) else None
    if not isinstance(folder, str) or not folder:
        raise ValueError(f"a saved exporter needs a base_output_folder, got {state!r}")
    from tinytroupe.extraction.artifact_exporter import ArtifactExporter

    return ArtifactExporter(folder)


def enricher_state(enricher: Any) -> dict[str, Any] | None:
    """An enricher's type and settings (None if none or not describable)."""
    if enricher is None:
        return None
    to_state = getattr(enricher, "to_state", None)
    if not callable(to_state):
        logger.warning("The enricher %r cannot be saved (it has no to_state); it is left out.",
                       enricher)
        return None
    return to_state()


def enricher_from_state(state: Any) -> Any:
    """The enricher that `enricher_state` described (None for None)."""
    if state is None:
        return None
    from tinytroupe.enrichment import rewriter_from_state

    return rewriter_from_state(state)
