"""One structured model call: a pydantic model in, a validated instance out.

`ask_structured(messages, Model, name=...)` sends the model's JSON Schema as the
request's ``response_format`` (``STRUCTURED_OUTPUT``: ``json_schema`` by default;
``json_object`` or ``none`` for endpoints without schema support), validates the
answer against the same model, and when it is invalid asks again with the validation
error shown to the model (``MAX_OUTPUT_REPAIR_ATTEMPTS`` more calls), then raises
`LLMOutputError`. Every model-driven feature (agents' actions, persona generation,
extraction, validation, stories) goes through it, and so through the process's client:
its gate, retries, response cache and usage counters. The offline model answers any
schema with a schema-valid instance, so every feature works with no key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tinytroupe import sanitize
from tinytroupe.clients.errors import LLMOutputError
from tinytroupe.config import config_manager

logger = logging.getLogger("tinytroupe")

T = TypeVar("T")

#: Sampling settings sent with every structured call (the config key is the name).
SAMPLING_KEYS = ("temperature", "max_tokens", "top_p", "frequency_penalty",
                 "presence_penalty", "reasoning_effort")


class InvalidAnswer(ValueError):
    """Raised by a `parse` function: the answer is unusable.

    The message says why (it is shown to the model when asking again).
    """


#: Response formats built so far, by (name, schema identity, mode): the same object is
#: handed out again, so that the client encodes each one once (see `request_body`).
_formats: dict[tuple[str, int, str], tuple[dict[str, Any], dict[str, Any] | None]] = {}


def response_format(schema_name: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The ``response_format`` for `schema` under the configured STRUCTURED_OUTPUT."""
    mode = config_manager.get("structured_output")
    key = (schema_name, id(schema), mode)
    known = _formats.get(key)
    if known is not None and known[0] is schema:
        return known[1]
    if mode == "none":
        built = None
    elif mode == "json_object":
        built = {"type": "json_object"}
    else:
        built = {"type": "json_schema",
                 "json_schema": {"name": schema_name, "schema": schema, "strict": False}}
    _formats[key] = (schema, built)  # the schema is kept alive: its id stays its own
    return built


@cache
def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of `model` (built once per model), trimmed for the wire.

    Every request carries the schema, so what only speaks to programmers goes: titles
    (they repeat the names) and the models' own docstrings (the descriptions of object
    schemas); the fields' descriptions, which guide the model, stay.
    """
    return _trimmed(model.model_json_schema())


def _trimmed(schema: Any) -> Any:
    if isinstance(schema, dict):
        is_object = "properties" in schema
        return {k: _trimmed(v) for k, v in schema.items()
                if not (isinstance(v, str) and (k == "title" or (is_object
                                                                and k == "description")))}
    if isinstance(schema, list):
        return [_trimmed(v) for v in schema]
    return schema


def sampling(**overrides: Any) -> dict[str, Any]:
    """Sampling parameters from the configuration, with `overrides` (None: configured)."""
    params = {key: config_manager.get(key) for key in SAMPLING_KEYS}
    params.update({k: v for k, v in overrides.items() if v is not None})
    return {k: v for k, v in params.items() if v is not None}


def parse_json(text: str) -> Any:
    """The JSON document in a model answer (a Markdown code fence around it is fine).

    Cleaned of lone surrogates; raises `InvalidAnswer`.
    """
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped[stripped.find("{"):] if "{" in stripped else stripped
    try:
        return sanitize.loads(stripped)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"answer is not valid JSON: {exc}") from None
    except sanitize.UntrustedDataError as exc:
        raise InvalidAnswer(f"answer is not usable: {exc}") from None


def validated(model: type[BaseModel]) -> Callable[[str], BaseModel]:
    """A `parse` function: the answer as an instance of `model`."""

    def parse(text: str) -> BaseModel:
        try:
            return model.model_validate(parse_json(text))
        except ValidationError as exc:
            raise InvalidAnswer(describe(exc)) from None

    return parse


def describe(exc: ValidationError) -> str:
    """A validation error in a few words per problem, fit to show the model."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
                     for e in exc.errors()[:8])


def ask_structured(messages: list[dict[str, Any]], model: type[BaseModel], *,
                   name: str | None = None, user: str | None = None,
                   parse: Callable[[str], T] | None = None, attempts: int | None = None,
                   **sampling_overrides: Any) -> T:
    """Ask until the answer is valid (module doc); return the parsed answer.

    `parse` (default: validation against `model`) turns the answer text into the
    result or raises `InvalidAnswer`; `model`'s schema is what the endpoint is given.
    `user` names who the call is for (usage per agent). `attempts` (None:
    1 + MAX_OUTPUT_REPAIR_ATTEMPTS) bounds the calls. Raises `LLMError` subclasses.
    """
    from tinytroupe.clients import get_client  # the client module imports this one

    parse = parse or validated(model)  # type: ignore[assignment]
    schema_name = name or model.__name__
    fmt = response_format(schema_name, schema_of(model))
    params = sampling(**sampling_overrides)
    repairs = (config_manager.get("max_output_repair_attempts") if attempts is None
               else max(0, attempts - 1))
    client = get_client()
    for attempt in range(repairs + 1):
        completion = client.complete(messages, user=user, response_format=fmt, **params)
        try:
            return parse(completion.content)  # type: ignore[misc]
        except InvalidAnswer as exc:
            error = exc
            logger.info("%s: invalid %s answer (attempt %d): %s", user or "model",
                        schema_name, attempt + 1, exc)
            messages = [*messages, {"role": "assistant", "content": completion.content},
                        {"role": "user", "content": f"Your answer was invalid: {exc}. "
                                                    "Answer again with valid JSON only."}]
    raise LLMOutputError(f"{user or schema_name}: the model's answer stayed invalid after "
                         f"{repairs + 1} attempts: {error}")
