"""Who an agent is: its persona, and the specification files that carry it.

`PersonaDefinition` is the part of `TinyPerson` that owns ``_persona`` (TinyTroupe's
persona dict) and ``_prompt_version`` (bumped on every change, so the agent's cached
prompt is rebuilt): `define`, `get`, `minibio`, relationships, fragments, and
`save_specification` / `load_specification` in upstream's ``.agent.json`` format.
Everything that enters a persona is cleaned first (`tinytroupe.sanitize`).
"""

from __future__ import annotations

import copy
import json
import logging
import textwrap
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tinytroupe import sanitize
from tinytroupe.agent.persona import PersonaSpecError, read_specification
from tinytroupe.unsupported import warn_unsupported

logger = logging.getLogger("tinytroupe")


class _ExtendedBio(BaseModel):
    """The schema of an extended minibio answer."""

    summary: str


class PersonaDefinition:
    """Mixin of `TinyPerson`: the persona and its files (module doc)."""

    name: str
    _lock: threading.RLock

    def _init_persona(self, name: str) -> None:
        self._persona: dict[str, Any] = {"name": name}
        self._prompt_version = 0
        self._extended_bios: dict[str | None, str] = {}

    def _prompt_changed(self) -> None:  # called with self._lock held
        self._prompt_version += 1

    def _persona_changed(self) -> None:  # called with self._lock held
        self._prompt_version += 1
        self._extended_bios.clear()

    def _set_persona(self, persona: dict[str, Any]) -> None:  # called with self._lock held
        self._persona = persona
        self._persona["name"] = self.name
        self._persona_changed()

    # --- defining -----------------------------------------------------------------------

    def define(self, key: str, value: Any, merge: bool = False, overwrite_scalars: bool = True,
               group: str | None = None) -> Any:
        """Set persona field `key` to `value` (a copy; text dedented); returns self.

        With `merge`, a dict or list is merged into what is there (`merge_dicts`);
        with `overwrite_scalars=False`, an existing scalar is kept (ValueError). `group`
        is TinyTroupe's older API: append ``{key: value}`` to the list field `group`.
        """
        from tinytroupe.utils import merge_dicts

        value = sanitize.clean_data(value)  # a copy: the caller's object stays theirs
        if isinstance(value, str):
            value = textwrap.dedent(value).strip()
        with self._lock:
            current = self._persona.get(key)
            if group is not None:
                self._persona.setdefault(group, []).append({key: value})
            elif merge and isinstance(value, (dict, list)) and current is not None:
                merged = merge_dicts({key: current}, {key: value}, overwrite=True)
                self._persona[key] = merged[key]
            elif (not overwrite_scalars and current is not None
                  and not isinstance(current, (dict, list))):
                raise ValueError(f"{self.name}: persona field {key!r} is already set to "
                                 f"{current!r} (overwrite_scalars=False)")
            else:
                self._persona[key] = copy.deepcopy(value)
            self._persona_changed()
        return self

    def define_several(self, group: str, records: list[Any]) -> Any:
        """Append `records` to the list field `group` (TinyTroupe's older API)."""
        records = sanitize.clean_data(list(records))
        with self._lock:
            self._persona.setdefault(group, []).extend(copy.deepcopy(records))
            self._persona_changed()
        return self

    def include_persona_definitions(self, additional_definitions: dict[str, Any]) -> Any:
        """Merge `additional_definitions` into the persona (lists extended)."""
        from tinytroupe.utils import merge_dicts

        additions = sanitize.clean_data(additional_definitions)
        with self._lock:
            self._persona = merge_dicts(self._persona, additions, overwrite=True)
            self._persona["name"] = self.name
            self._persona_changed()
        return self

    def import_fragment(self, path: str | Path) -> Any:
        """Merge a persona fragment file (``{"type": "Fragment", "persona": {...}}``)."""
        try:
            fragment = sanitize.loads(Path(path).read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise PersonaSpecError(f"cannot read persona fragment {path}: {exc}") from None
        if not (isinstance(fragment, dict) and fragment.get("type") == "Fragment"
                and isinstance(fragment.get("persona"), dict)):
            raise PersonaSpecError(f"persona fragment {path}: expected "
                                   '{"type": "Fragment", "persona": {...}}')
        return self.include_persona_definitions(fragment["persona"])

    def get(self, key: str) -> Any:
        """A persona field; a dotted key (``"occupation.title"``) reads nested fields."""
        value: Any = self._persona
        for part in key.split("."):
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return copy.deepcopy(value)

    # --- relationships ------------------------------------------------------------------

    def related_to(self, other_agent: Any, description: str,
                   symmetric_description: str | None = None) -> Any:
        """Record that this agent knows `other_agent` (and the reverse, if described)."""
        self.define_relationships([{"name": other_agent.name, "description": description}],
                                  replace=False)
        if symmetric_description is not None:
            other_agent.define_relationships(
                [{"name": self.name, "description": symmetric_description}], replace=False)
        return self

    def define_relationships(self, relationships: list[dict[str, str]] | dict[str, str],
                             replace: bool = True) -> Any:
        """Set (or with `replace=False` extend) the ``relationships`` persona field."""
        items = [relationships] if isinstance(relationships, dict) else list(relationships)
        entries = [{"name": r.get("name", r.get("Name")),
                    "description": r.get("description", r.get("Description"))} for r in items]
        if replace:
            return self.define("relationships", entries)
        return self.define_several("relationships", entries)

    def clear_relationships(self) -> Any:
        """Empty the ``relationships`` persona field; returns the agent, as `define` does."""
        return self.define("relationships", [])

    # --- describing ---------------------------------------------------------------------

    def minibio(self, extended: bool = True, requirements: str | None = None) -> str:
        """A sentence about the agent from its persona.

        With `extended`, a short paragraph written by the model follows (one call per agent
        and `requirements`, cached).
        """
        p = self._persona
        occupation = p.get("occupation")
        if isinstance(occupation, dict):
            occupation = occupation.get("title")
        age = f"a {p['age']} year old" if p.get("age") else "a"
        bio = f"{self.name} is {age} {occupation or 'person'}"
        if p.get("nationality"):
            bio += f", {p['nationality']}"
        where = p.get("residence") or p.get("country_of_residence")
        bio += f", currently living in {where}." if where else "."
        if not extended:
            return bio
        if requirements not in self._extended_bios:
            self._extended_bios[requirements] = self._ask_extended_bio(bio, requirements)
        return f"{bio} {self._extended_bios[requirements]}"

    def _ask_extended_bio(self, bio: str, requirements: str | None) -> str:
        from tinytroupe.clients.structured import ask_structured

        request = {"persona": self._persona, "short_bio": bio, "requirements": requirements}
        messages = [
            {"role": "system", "content": "You summarise simulated people. Answer with JSON "
                                          '{"summary": "..."}: three or four sentences.'},
            {"role": "user", "content": "Describe this person beyond the short bio."
                                        f"\n{json.dumps(request, ensure_ascii=False)}"}]
        answer = ask_structured(messages, _ExtendedBio, name="extended_minibio",
                                user=self.name)
        return answer.summary.strip()

    # --- specification files ------------------------------------------------------------

    def save_specification(self, path: str | Path, include_mental_faculties: bool = True,
                           include_memory: bool = False, include_mental_state: bool = False,
                           **unsupported: Any) -> None:
        """Write the persona (and optionally memory and mental state) as ``.agent.json``.

        Missing folders are created.
        """
        warn_unsupported("TinyPerson.save_specification", unsupported)
        state = self.encode_complete_state()
        spec: dict[str, Any] = {"type": "TinyPerson", "persona": state["persona"]}
        if include_mental_state:
            spec["mental_state"] = state["mental_state"]
        if include_memory:
            spec["episodic_memory"] = state["episodic_memory"]
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(sanitize.utf8(json.dumps(spec, indent=4, ensure_ascii=False)))

    @classmethod
    def load_specification(cls, path_or_dict: str | Path | dict[str, Any],
                           suppress_mental_faculties: bool = False, suppress_memory: bool = False,
                           suppress_mental_state: bool = False, auto_rename_agent: bool = False,
                           new_agent_name: str | None = None, **unsupported: Any) -> Any:
        """Create an agent from a TinyTroupe ``.agent.json`` spec, keeping every field.

        `auto_rename_agent` picks a free name ("Lisa Carter 2") when the spec's is taken
        (upstream accepts the flag and ignores it); saved memory and mental state are
        restored unless suppressed. Nothing stays registered if loading fails.
        """
        warn_unsupported("TinyPerson.load_specification", unsupported)
        spec = read_specification(path_or_dict)
        name = new_agent_name or spec["persona"]["name"]
        if auto_rename_agent:
            name = cls.free_name(name)
        agent = cls(name)
        try:
            state = agent.encode_complete_state()
            state["persona"] = spec["persona"]
            if not suppress_mental_state and isinstance(spec.get("mental_state"), dict):
                state["mental_state"] = {**state["mental_state"], **spec["mental_state"]}
            if not suppress_memory and isinstance(spec.get("episodic_memory"), dict):
                state["episodic_memory"] = spec["episodic_memory"]
            agent.decode_complete_state(state)
        except BaseException:
            agent.unregister()  # a retry with a good file must find the name free
            raise
        return agent

    @classmethod
    def load_specifications_from_folder(cls, folder_path: str | Path,
                                        file_suffix: str = ".agent.json", **flags: Any
                                        ) -> list[Any]:
        """Agents loaded from the files of `folder_path`, in file-name order.

        Each file whose name ends in `file_suffix` is loaded by `load_specification`, with
        `flags`.
        """
        loaded: list[Any] = []
        try:
            for path in sorted(Path(folder_path).glob(f"*{file_suffix}")):
                loaded.append(cls.load_specification(path, **flags))
        except BaseException:
            for agent in loaded:  # all or nothing: a retry must find the names free
                agent.unregister()
            raise
        return loaded
