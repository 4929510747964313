"""The offline model's persona generation (see `tinytroupe.factory`).

Two request kinds, recognised by their tags in the latest user message that has one
(a repair request after an invalid answer has none):

* ``<population_plan_request>{"context", "number", "particularities", "existing"}``:
  answers ``{"people": [{"name", "sketch"}, ...]}``, `number` distinct people whose
  names avoid `existing`;
* ``<persona_request>{"context", "particularities", "sketch", "existing"}``: answers a
  TinyTroupe persona specification ``{"type": "TinyPerson", "persona": {...}}`` built
  from the sketch (or, without one, from the next unused name).

Everything is chosen by a stable hash of the request, so the same request always
gets the same person. Templates, not a language model.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

FIRST = ("Ana", "Bilal", "Chen", "Dara", "Emeka", "Fatima", "Goran", "Hana", "Ines", "Jomo",
         "Kai", "Leila", "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tariq",
         "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zora")
LAST = ("Almeida", "Brennan", "Castillo", "Dubois", "Eriksen", "Fischer", "Gupta", "Haddad",
        "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Mensah", "Nakamura", "Okafor", "Petrov",
        "Quispe", "Rossi", "Sato", "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zhang")
OCCUPATIONS = ("nurse", "software engineer", "teacher", "farmer", "bus driver", "accountant",
               "chef", "student", "electrician", "pharmacist", "journalist", "retired postman",
               "architect", "shop owner", "social worker", "mechanic", "graphic designer",
               "lawyer", "warehouse worker", "musician")
COUNTRIES = ("Brazil", "Canada", "Egypt", "France", "Germany", "India", "Japan", "Kenya",
             "Mexico", "Nigeria", "Poland", "Spain", "Sweden", "Turkey", "United Kingdom", "USA")
TRAITS = ("curious", "cautious with money", "optimistic", "sceptical of new technology",
          "community-minded", "ambitious", "practical", "easily bored", "patient",
          "outspoken", "shy in groups", "detail-oriented")
INTERESTS = ("cycling", "cooking", "gardening", "football", "reading history", "video games",
             "hiking", "photography", "volunteering", "jazz", "chess", "travel")


def _hash(*parts: Any) -> int:
    return zlib.crc32(json.dumps(parts, sort_keys=True, default=str).encode())


def _people(context: str, number: int, existing: list[str], start: int = 0
            ) -> list[dict[str, str]]:
    """`number` distinct (name, sketch) pairs for `context`, avoiding `existing` names."""
    seed, taken, people = _hash(context), set(existing), []
    index = start
    while len(people) < number:
        h = seed + index * 2654435761
        name = f"{FIRST[h % len(FIRST)]} {LAST[(h // len(FIRST)) % len(LAST)]}"
        index += 1
        if name in taken:
            if index > start + 50 * (number + len(taken)) + 1000:
                name = f"{name} {index}"  # the name space is exhausted: make it unique
            else:
                continue
        taken.add(name)
        age = 18 + h % 65
        occupation = OCCUPATIONS[(h // 7) % len(OCCUPATIONS)]
        country = COUNTRIES[(h // 11) % len(COUNTRIES)]
        people.append({"name": name, "sketch": f"{age}-year-old {occupation} from {country}"})
    return people


def plan(request: dict[str, Any]) -> str:
    """A population plan for `request` as JSON text: ``{"people": [...]}``.

    The plan holds `number` (name, sketch) pairs whose names avoid `existing`.
    """
    people = _people(str(request.get("context", "")), int(request.get("number", 1)),
                     list(request.get("existing", [])))
    return json.dumps({"people": people}, ensure_ascii=False)


def persona(request: dict[str, Any]) -> str:
    """A persona specification for `request` as JSON text.

    It is built from the request's `sketch` (or, without one, from the next unused name)
    and its `particularities`.
    """
    context = str(request.get("context", ""))
    sketch = request.get("sketch") or _people(context, 1, list(request.get("existing", [])))[0]
    name, description = sketch["name"], str(sketch.get("sketch", ""))
    h = _hash(context, name, description, request.get("particularities"))
    words = description.split(" from ")
    age_and_job = words[0].split("-year-old ")
    age = int(age_and_job[0]) if age_and_job[0].isdigit() else 18 + h % 65
    occupation = age_and_job[-1] if len(age_and_job) > 1 else OCCUPATIONS[h % len(OCCUPATIONS)]
    country = words[1] if len(words) > 1 else COUNTRIES[h % len(COUNTRIES)]
    traits = [TRAITS[(h + k * 5) % len(TRAITS)] for k in range(3)]
    interests = [INTERESTS[(h + k * 7) % len(INTERESTS)] for k in range(3)]
    spec = {"type": "TinyPerson", "persona": {
        "name": name, "age": age, "gender": ("female", "male", "non-binary")[h % 3],
        "nationality": country, "residence": country,
        "education": ("secondary school", "vocational training", "a bachelor's degree",
                      "a master's degree")[(h // 3) % 4],
        "occupation": {"title": occupation, "organization": "a local employer",
                       "description": f"Works as a {occupation}. {context}".strip()},
        "style": ("plain-spoken", "warm and chatty", "precise", "wry")[(h // 5) % 4],
        "personality": {"traits": [f"You are {t}." for t in traits]},
        "preferences": {"interests": interests, "likes": [interests[0]],
                        "dislikes": ["being rushed"]},
        "skills": [f"Experienced {occupation}."],
        "beliefs": ["Fairness matters."], "behaviors": {"general": ["Listens before answering."]},
        "other_facts": [f"Asked to take part in: {context}"] if context else [],
    }}
    particularities = request.get("particularities")
    if particularities:
        spec["persona"]["other_facts"].append(f"Particularities: {particularities}")
    _apply_characteristics(spec["persona"], request.get("characteristics"))
    return json.dumps(spec, ensure_ascii=False)


def _apply_characteristics(persona: dict[str, Any], characteristics: Any) -> None:
    """Make the persona carry a sampling plan's characteristics for this person."""
    if not isinstance(characteristics, dict):
        return
    for dimension, value in characteristics.items():
        key = str(dimension).lower()
        if key == "age" and isinstance(value, (int, float)):
            persona["age"] = int(value)
        elif key in ("occupation", "profession", "job"):
            persona["occupation"]["title"] = str(value)
        elif key in ("country", "nationality"):
            persona["nationality"] = persona["residence"] = str(value)
        elif isinstance(persona.get(str(dimension)), (dict, list)):  # a structured field
            persona["other_facts"].append(f"{dimension}: {value}")
        elif key != "name":
            persona[str(dimension)] = value


def sampling_dimensions(request: dict[str, Any]) -> str:
    """Sampling dimensions for a population description (deterministic)."""
    description = str(request.get("description", ""))
    h = _hash(description)
    occupations = [OCCUPATIONS[(h + 3 * k) % len(OCCUPATIONS)] for k in range(5)]
    countries = [COUNTRIES[(h + 5 * k) % len(COUNTRIES)] for k in range(4)]
    shares = [0.4, 0.3, 0.2, 0.1]
    return json.dumps({"sampling_space_description": description, "dimensions": [
        {"name": "age", "range": [18, 80]},
        {"name": "occupation", "values": list(dict.fromkeys(occupations))},
        {"name": "country", "values": dict(zip(countries, shares, strict=True))},
        {"name": "temperament", "values": [f"Someone {t}." for t in TRAITS[:6]]},
    ]}, ensure_ascii=False)


def sampling_plan(request: dict[str, Any]) -> str:
    """A sampling plan whose quantities add up to the population size (at most 5 each)."""
    size = max(1, int(request.get("population_size", 1)))
    dimensions = (request.get("dimensions") or {}).get("dimensions") or []
    directives, left, index = [], size, 0
    while left > 0:
        quantity = min(5, left)
        values: dict[str, Any] = {}
        for d, dimension in enumerate(dimensions):
            name = str(dimension.get("name", f"dimension{d}"))
            if dimension.get("range"):
                low, high = dimension["range"][0], dimension["range"][1]
                step = max(1, int((high - low) / 4))
                start = int(low) + step * (index % 4)
                values[name] = [start, min(int(high), start + step)]
            elif isinstance(dimension.get("values"), dict):
                options = list(dimension["values"])
                values[name] = options[index % len(options)] if options else ""
            elif dimension.get("values"):
                options = dimension["values"]
                values[name] = [options[index % len(options)],
                                options[(index + 1) % len(options)]]
        directives.append({"id": index + 1, "quantity": quantity, "sampled_values": values,
                           "subpopulation_description": f"Segment {index + 1}"})
        left -= quantity
        index += 1
    return json.dumps({"directives": directives}, ensure_ascii=False)


def answer(messages: list[dict[str, Any]]) -> str | None:
    """The answer to a persona-generation request, or None if `messages` is not one."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        text = str(message.get("content", ""))
        for tag, respond in (("population_plan_request", plan), ("persona_request", persona),
                             ("sampling_dimensions_request", sampling_dimensions),
                             ("sampling_plan_request", sampling_plan)):
            start, end = text.find(f"<{tag}>"), text.find(f"</{tag}>")
            if 0 <= start < end:
                try:
                    request = json.loads(text[start + len(tag) + 2:end])
                except ValueError:
                    return None  # not a request this module can read
                return respond(request) if isinstance(request, dict) else None
    return None
