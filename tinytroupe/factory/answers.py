"""The shapes of the factory's model answers, and the checks beyond their schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from tinytroupe.agent.persona import read_specification


class PlannedPerson(BaseModel):
    """One person of a plan of names: a name and a one-line sketch."""

    name: str
    sketch: str


class PlanAnswer(BaseModel):
    """The schema of a population plan answer."""

    people: list[PlannedPerson]


class PersonaFields(BaseModel):
    """The persona fields a generated person must have (any others are kept)."""

    model_config = ConfigDict(extra="allow")

    name: str
    age: int | None = None
    nationality: str | None = None
    occupation: dict[str, Any] | str | None = None
    personality: dict[str, Any] | None = None
    preferences: dict[str, Any] | None = None


class PersonaAnswer(BaseModel):
    """The schema of a persona answer: a TinyTroupe persona specification."""

    type: str = "TinyPerson"
    persona: PersonaFields


def check_people(data: Any, number: int) -> dict[str, Any]:
    """`data` if it plans exactly `number` named people; ValueError otherwise."""
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list) or len(people) != number:
        raise ValueError(f'expected {{"people": [...]}} with {number} entries')
    for entry in people:
        if not isinstance(entry, dict) or not str(entry.get("name", "")).strip():
            raise ValueError("every planned person needs a non-empty name")
    return data


def check_persona(data: Any) -> dict[str, Any]:
    """`data` as a validated persona specification (a bare persona is wrapped)."""
    if isinstance(data, dict) and "persona" not in data and "name" in data:
        data = {"type": "TinyPerson", "persona": data}  # a bare persona is fine too
    spec = read_specification(data)
    age = spec["persona"].get("age")
    if age is not None and not (isinstance(age, int) and 0 <= age <= 130):
        raise ValueError(f"persona.age must be a whole number of years, got {age!r}")
    return spec
