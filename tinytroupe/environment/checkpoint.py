"""Checkpoint files: a world's complete state, written atomically, read with checks.

A checkpoint is JSON: ``{"format": "tinytroupe-checkpoint", "version": 1,
"sha256": <hash of the state>, "state": <world.encode_complete_state()>}``. Writing
goes to a temporary file in the same folder, is fsync'ed, then renamed over the
target, so a process killed at any moment leaves either the old file or the new one
at `path`, never a torn one or none; the file it replaces is kept as ``<path>.prev``.
Temporary files left by a process killed mid-write are removed by the next write.
Reading checks the envelope, the hash and the shape of the world's state
(`WorldState`), so a truncated, corrupted or malformed file is reported as a
`CheckpointError`, never half-loaded and never as a raw KeyError or TypeError.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tinytroupe import sanitize

FORMAT, VERSION = "tinytroupe-checkpoint", 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted or of another format."""


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class AgentState(_Loose):
    """What `TinyPerson.encode_complete_state` saves (fields the restore relies on)."""

    name: str = Field(min_length=1)
    persona: dict[str, Any]
    mental_state: dict[str, Any]
    episodic_memory: dict[str, Any]
    accessible_agents: list[dict[str, Any]] = []


class WorldState(_Loose):
    """What `BaseWorld.encode_complete_state` saves (fields the restore relies on)."""

    name: str = Field(min_length=1)
    current_datetime: str
    steps_done: int = Field(ge=0)
    random_state: tuple[int, list[int], float | None] | None = None
    max_transcript_events: int | None = Field(default=None, ge=1)
    transcript: list[dict[str, Any]] = []
    agents: list[AgentState]

    @field_validator("current_datetime")
    @classmethod
    def _iso(cls, value: str) -> str:
        datetime.fromisoformat(value)
        return value


def _canonical(state: dict[str, Any]) -> bytes:
    return json.dumps(state, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode()


def _digest(state: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(state)).hexdigest()


def previous_path(path: str | Path) -> Path:
    """Where the checkpoint that a write to `path` replaced is kept: ``<path>.prev``."""
    return Path(f"{path}.prev")


def write_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` to `path` atomically (module doc); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    try:
        digest = _digest(state)
    except UnicodeEncodeError:  # a string that UTF-8 cannot carry: save it repaired
        state = sanitize.clean_data(state, max_depth=2 * sanitize.MAX_DEPTH)
        digest = _digest(state)
    document = {"format": FORMAT, "version": VERSION, "sha256": digest, "state": state}
    handle, temporary = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp",
                                         dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(json.dumps(document, ensure_ascii=False).encode())
            out.flush()
            os.fsync(out.fileno())
        if path.exists():  # keep it as .prev by a second name: `path` never disappears
            previous_path(path).unlink(missing_ok=True)
            try:
                os.link(path, previous_path(path))
            except OSError:  # no hard links here
                shutil.copy2(path, previous_path(path))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files of `path` from writes that never finished (the process died).

    Writes to one checkpoint path come from one world, one at a time, so any such
    file seen before a write is a leftover.
    """
    for stale in path.parent.glob(f"{_temporary_prefix(path)}*.tmp"):
        stale.unlink(missing_ok=True)


def read_world_checkpoint(path: str | Path) -> dict[str, Any]:
    """`read_checkpoint`, then the state's shape checked as a world's (`WorldState`)."""
    state = read_checkpoint(path)
    try:
        WorldState.model_validate(state)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'state'}: {e['msg']}"
                             for e in exc.errors()[:5])
        raise CheckpointError(f"checkpoint {path} does not hold a world's state: "
                              f"{problems}") from None
    return state


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state saved at `path`; raises `CheckpointError` saying what is wrong."""
    path = Path(path)
    hint = (f"; the previous checkpoint {previous_path(path)} may still be usable"
            if previous_path(path).exists() else "")
    try:
        # a saved state nests a few levels above the personas and answers it holds,
        # each of which was bounded by MAX_DEPTH when it came in
        document = sanitize.loads(path.read_bytes(), max_depth=2 * sanitize.MAX_DEPTH)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}{hint}") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupted (not valid JSON: "
                              f"{exc.msg} at line {exc.lineno}){hint}") from None
    except sanitize.UntrustedDataError as exc:
        raise CheckpointError(f"checkpoint {path} is malformed: {exc}{hint}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a tinytroupe checkpoint{hint}")
    if document.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} has version {document.get('version')!r}; "
                              f"this tinytroupe reads version {VERSION}")
    state = document.get("state")
    if not isinstance(state, dict) or _digest(state) != document.get("sha256"):
        raise CheckpointError(f"checkpoint {path} is corrupted (its content does not match "
                              f"its checksum){hint}")
    return state


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where unsupported."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
