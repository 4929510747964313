"""JSON from model answers, dict merging, and a small JSON (de)serialisation mixin."""

from __future__ import annotations

import ast
import copy
import functools
import json
import logging
import os
import re
import threading
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from tinytroupe.sanitize import UntrustedDataError, clean_data, loads

__all__ = ["JsonSerializableRegistry", "extract_json", "merge_dicts", "post_init",
           "remove_duplicates"]

logger = logging.getLogger("tinytroupe")

T = TypeVar("T")

_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[^\n`]*\n?(.*?)```", re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_VALID_ESCAPES = frozenset('"\\/bfnrtu')
_SINGLE_QUOTED = re.compile(r"'([^']*)'")
_PARSE_ERRORS = (ValueError, TypeError, SyntaxError, RecursionError, MemoryError)
#: Longest text tried as a Python literal (``ast`` is slow and memory-hungry on more).
MAX_LITERAL_CHARS = 200_000


# ------------------------------------------------------------------------------------
# extract_json
# ------------------------------------------------------------------------------------

def _outermost(text: str) -> str | None:
    """`text` from its first ``{``/``[`` to its last ``}``/``]``, or None."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return None
    start, end = min(starts), max(text.rfind("}"), text.rfind("]"))
    return text[start:end + 1] if end > start else None


def _fix_escapes(text: str) -> str:
    r"""Drop the backslash of escapes JSON does not know (``\'``, ``\,``, ``\_``...)."""
    return _ESCAPE.sub(lambda m: m.group(0) if m.group(1) in _VALID_ESCAPES else m.group(1),
                       text)


def _literal(text: str) -> Any:
    """Python-literal syntax (single quotes, True/None): only dicts and lists count."""
    if len(text) > MAX_LITERAL_CHARS:
        raise ValueError("too long to try as a Python literal")
    value = ast.literal_eval(text)
    if not isinstance(value, (dict, list)):
        raise ValueError("not a dict or list")
    json.dumps(value)  # sets, bytes, complex numbers... are not JSON
    return value


def _parsers(candidate: str) -> Iterable[Any]:
    """Lazily yield parse attempts of `candidate`, most faithful first."""
    yield lambda: loads(candidate)
    yield lambda: json.loads(candidate, strict=False)  # raw newlines/tabs inside strings
    fixed = _fix_escapes(candidate)
    yield lambda: json.loads(fixed, strict=False)
    yield lambda: _literal(fixed)
    yield lambda: json.loads(_SINGLE_QUOTED.sub(r'"\1"', fixed), strict=False)


def _parse(candidate: str) -> Any:
    for attempt in _parsers(candidate):
        try:
            value = attempt()
        except UntrustedDataError:
            raise
        except _PARSE_ERRORS:
            continue
        if isinstance(value, (dict, list)):
            return clean_data(value)  # cleaned and nesting-bounded, whatever parsed it
    raise ValueError("no parse")


def extract_json(text: Any) -> Any:
    r"""The JSON object or array in a model answer, or ``{}`` if there is none.

    Tolerates what models wrap around JSON: prose before the first ``{``/``[`` and
    after the last ``}``/``]``, Markdown code fences, raw newlines inside strings,
    invalid escapes such as ``\'``, and Python-style single quotes / True / None.
    Lone surrogates become U+FFFD. Input nested deeper than
    `tinytroupe.sanitize.MAX_DEPTH` gives ``{}``; this function never raises for
    any input (no RecursionError either). A dict or list argument is returned as is
    if it is JSON-serialisable, else ``{}``.
    """
    if isinstance(text, (dict, list)):
        try:
            json.dumps(text)
        except _PARSE_ERRORS:
            logger.debug("extract_json: the given %s is not JSON-serialisable",
                         type(text).__name__)
            return {}
        return text
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return {}
    candidates: list[str] = []
    fenced = _FENCED.search(text)
    for source in ([fenced.group(1)] if fenced else []) + [text]:
        candidate = _outermost(source)
        if candidate is not None and candidate not in candidates:
            candidates.append(candidate)
    for candidate in candidates:
        try:
            return _parse(candidate)
        except UntrustedDataError:
            logger.debug("extract_json: JSON nested too deeply; ignored")
            return {}
        except ValueError:
            continue
    logger.debug("extract_json: no JSON found in %d characters", len(text))
    return {}


# ------------------------------------------------------------------------------------
# merge_dicts
# ------------------------------------------------------------------------------------

def remove_duplicates(lst: Iterable[T]) -> list[T]:
    """A new list of `lst`'s items without repeats (by equality), in first-seen order.

    Unhashable items (dicts, lists) are fine.
    """
    seen_hashable: set[Any] = set()
    seen_other: list[Any] = []
    result: list[T] = []
    for item in lst:
        if isinstance(item, Hashable):
            try:
                if item in seen_hashable:
                    continue
                seen_hashable.add(item)
                result.append(item)
                continue
            except TypeError:  # e.g. a tuple holding a list
                pass
        if item not in seen_other:
            seen_other.append(item)
            result.append(item)
    return result


def merge_dicts(current: dict, additions: dict, overwrite: bool = False,
                error_on_conflict: bool = True) -> dict:
    """A new dict: `current` with `additions` merged in. Neither argument is modified.

    * a key only in `additions` is added; a key whose current value is None takes the
      added value;
    * two dicts merge recursively; two lists are concatenated with repeats removed
      (first occurrence kept);
    * values of different types raise TypeError;
    * other differing values: the added one wins if `overwrite`; else ValueError if
      `error_on_conflict`; else the current one is kept.
    """
    merged = dict(current)
    for key, added in additions.items():
        if key not in merged or merged[key] is None:
            merged[key] = added
            continue
        present = merged[key]
        if isinstance(present, dict) and isinstance(added, dict):
            merged[key] = merge_dicts(present, added, overwrite, error_on_conflict)
        elif isinstance(present, list) and isinstance(added, list):
            merged[key] = remove_duplicates([*present, *added])
        elif type(present) is not type(added):
            raise TypeError(f"Cannot merge key {key!r}: {type(present).__name__} "
                            f"and {type(added).__name__}")
        elif overwrite:
            merged[key] = added
        elif present != added and error_on_conflict:
            raise ValueError(f"Conflict at key {key!r}: {present!r} != {added!r} "
                             "(overwrite is False)")
    return merged


# ------------------------------------------------------------------------------------
# post_init
# ------------------------------------------------------------------------------------

_init_depth = threading.local()


def post_init(cls: type[T]) -> type[T]:
    """Class decorator: ``self._post_init()`` runs once after construction.

    It runs when the outermost decorated ``__init__`` returns, so a decorated subclass
    of a decorated class calls it once, not twice; the call is dynamic, so a
    subclass's override is the one that runs.
    """
    original_init = cls.__init__

    @functools.wraps(original_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        depths: dict[int, int] = _init_depth.__dict__.setdefault("depths", {})
        key = id(self)
        depths[key] = depths.get(key, 0) + 1
        try:
            original_init(self, *args, **kwargs)
        finally:
            depths[key] -= 1
            outermost = depths[key] == 0
            if outermost:
                del depths[key]
        if outermost:
            hook = getattr(self, "_post_init", None)
            if callable(hook):
                hook()

    cls.__init__ = __init__  # type: ignore[misc]
    return cls


# ------------------------------------------------------------------------------------
# JsonSerializableRegistry
# ------------------------------------------------------------------------------------

TYPE_FIELD = "json_serializable_class_name"


class JsonSerializableRegistry:
    """Mixin: ``to_json()`` / ``from_json()`` with the class name recorded in the JSON.

    Every subclass is registered by its name, so ``from_json`` rebuilds the right
    class, nested ones included. Optional class attributes, merged along the MRO:
    ``serializable_attributes`` (list; default: every instance attribute),
    ``suppress_attributes_from_serialization`` (list),
    ``custom_serialization_initializers`` (attribute -> function building the value
    from its JSON) and ``serializable_attributes_renaming`` (attribute -> JSON name).
    After loading, ``_post_deserialization_init(**post_init_params)`` runs, which by
    default calls ``_post_init(**post_init_params)`` if the class has one.
    """

    class_mapping: ClassVar[dict[str, type]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        JsonSerializableRegistry.class_mapping[cls.__name__] = cls

    @classmethod
    def _merged_list(cls, name: str) -> list[str]:
        result: list[str] = []
        for klass in reversed(cls.__mro__):
            for item in klass.__dict__.get(name) or ():
                if item not in result:
                    result.append(item)
        return result

    @classmethod
    def _merged_dict(cls, name: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            result.update(klass.__dict__.get(name) or {})
        return result

    @classmethod
    def _programmatic_name_to_json_name(cls, name: str) -> str:
        return cls._merged_dict("serializable_attributes_renaming").get(name, name)

    @classmethod
    def _json_name_to_programmatic_name(cls, name: str) -> str:
        reverse: dict[str, str] = {}
        for attr, json_name in cls._merged_dict("serializable_attributes_renaming").items():
            if json_name in reverse:
                raise ValueError(f"Two attributes are renamed to {json_name!r}")
            reverse[json_name] = attr
        return reverse.get(name, name)

    def to_json(self, include: list | None = None, suppress: list | None = None,
                file_path: str | os.PathLike | None = None,
                serialization_type_field_name: str = TYPE_FIELD) -> dict:
        """This object as a JSON-ready dict (also written to `file_path` if given).

        `include` replaces the declared attributes; `suppress` adds to the suppressed.
        """
        attrs = (list(include) if include else self._merged_list("serializable_attributes")
                 or list(vars(self)))
        hidden = set(self._merged_list("suppress_attributes_from_serialization"))
        hidden.update(suppress or ())
        result: dict[str, Any] = {serialization_type_field_name: type(self).__name__}
        for attr in attrs:
            if attr not in hidden:
                result[self._programmatic_name_to_json_name(attr)] = _to_json_value(
                    getattr(self, attr, None), serialization_type_field_name)
        if file_path:
            path = Path(file_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=4, default=str), encoding="utf-8")
        return result

    @classmethod
    def from_json(cls, json_dict_or_path: dict | str | os.PathLike,
                  suppress: list | None = None,
                  serialization_type_field_name: str = TYPE_FIELD,
                  post_init_params: dict | None = None) -> Any:
        """An instance rebuilt from `to_json` output (a dict, or the path of a file).

        The class named in the JSON is used if it is `cls` or a subclass (TypeError
        otherwise); ``__init__`` is not called. A file is read as untrusted JSON
        (cleaned, nesting bounded).
        """
        if isinstance(json_dict_or_path, (str, os.PathLike)):
            data = loads(Path(json_dict_or_path).read_text(encoding="utf-8"))
        else:
            data = json_dict_or_path
        if not isinstance(data, dict):
            raise TypeError(f"Expected a JSON object, got {type(data).__name__}")
        name = data.get(serialization_type_field_name)
        target = cls.class_mapping.get(name, cls) if isinstance(name, str) else cls
        if not issubclass(target, cls):
            raise TypeError(f"The JSON describes a {name}, which is not a {cls.__name__}")
        instance = target.__new__(target)
        declared = target._merged_list("serializable_attributes")
        attrs = declared or [target._json_name_to_programmatic_name(k) for k in data
                             if k != serialization_type_field_name]
        hidden = set(target._merged_list("suppress_attributes_from_serialization"))
        hidden.update(suppress or ())
        initializers = target._merged_dict("custom_serialization_initializers")
        for attr in attrs:
            if (attr in hidden or not isinstance(attr, str) or not attr.isidentifier()
                    or attr.startswith("__")):
                continue
            key = target._programmatic_name_to_json_name(attr)
            if key not in data:
                continue
            if attr in initializers:
                value = initializers[attr](data[key])
            else:
                value = _from_json_value(data[key], serialization_type_field_name)
            setattr(instance, attr, value)
        hook = getattr(instance, "_post_deserialization_init", None)
        if callable(hook):
            hook(**(post_init_params or {}))
        return instance

    def _post_deserialization_init(self, **kwargs: Any) -> None:
        hook = getattr(self, "_post_init", None)
        if callable(hook):
            hook(**kwargs)


def _to_json_value(value: Any, field: str) -> Any:
    if isinstance(value, JsonSerializableRegistry):
        return value.to_json(serialization_type_field_name=field)
    if isinstance(value, (list, tuple)):
        return [_to_json_value(item, field) for item in value]
    if isinstance(value, dict):
        return {k: _to_json_value(v, field) for k, v in value.items()}
    return copy.deepcopy(value)


def _from_json_value(value: Any, field: str) -> Any:
    if isinstance(value, dict):
        if field in value:
            return JsonSerializableRegistry.from_json(value, serialization_type_field_name=field)
        return {k: _from_json_value(v, field) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json_value(item, field) for item in value]
    return copy.deepcopy(value)
