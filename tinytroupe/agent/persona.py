"""Persona specifications: TinyTroupe's ``.agent.json`` format, validated.

A specification is ``{"type": "TinyPerson", "persona": {"name": ..., ...}}``. Every
persona field is kept as it is (TinyTroupe personas carry many free-form fields);
only the envelope and the name are checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tinytroupe import sanitize


class PersonaSpecError(ValueError):
    """A persona specification is unreadable or not of the expected shape."""


class _Persona(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _stripped(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()


class _Specification(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = "TinyPerson"
    persona: _Persona

    @field_validator("type")
    @classmethod
    def _is_person(cls, value: str) -> str:
        if value != "TinyPerson":
            raise ValueError(f'expected "TinyPerson", got {value!r}')
        return value


def read_specification(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The validated specification dict from a path or an already-loaded dict.

    Raises `PersonaSpecError` naming the file (or "<dict>") and what is wrong.
    """
    where = "<dict>" if isinstance(source, dict) else str(source)
    try:
        if isinstance(source, dict):
            data = sanitize.clean_data(source)
        else:
            data = sanitize.loads(Path(source).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise PersonaSpecError(f"cannot read persona file {where}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PersonaSpecError(f"persona file {where} is not UTF-8 text (byte {exc.start}); "
                               "save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PersonaSpecError(
            f"persona file {where} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}") from None
    except sanitize.UntrustedDataError as exc:
        raise PersonaSpecError(f"persona spec {where}: {exc}") from None
    if not isinstance(data, dict):
        raise PersonaSpecError(f"persona spec {where}: expected a JSON object")
    try:
        _Specification.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise PersonaSpecError(f"persona spec {where} is invalid: {problems}") from None
    persona = dict(data["persona"])
    persona["name"] = persona["name"].strip()
    return {**data, "persona": persona}
