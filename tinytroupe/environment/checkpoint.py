"""Checkpoint files: a world's complete state, written atomically, read with checks.

A checkpoint is JSON: ``{"format": "tinytroupe-checkpoint", "version": 1,
"sha256": <hash of the state>, "state": <world.encode_complete_state()>}``. Writing
goes to a temporary file in the same folder, is fsync'ed, then renamed over the
target, so a process killed at any moment leaves either the old file or the new one
at `path`, never a torn one or none; the file it replaces is kept as ``<path>.prev``.
Reading checks the envelope and the hash, so a truncated or corrupted file is
reported, not half-loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

FORMAT, VERSION = "tinytroupe-checkpoint", 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupted or of another format."""


def _digest(state: dict[str, Any]) -> str:
    canonical = json.dumps(state, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def previous_path(path: str | Path) -> Path:
    return Path(f"{path}.prev")


def write_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write `state` to `path` atomically (module doc); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"format": FORMAT, "version": VERSION, "sha256": _digest(state), "state": state}
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, ensure_ascii=False)
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


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state saved at `path`; raises `CheckpointError` saying what is wrong."""
    path = Path(path)
    hint = (f"; the previous checkpoint {previous_path(path)} may still be usable"
            if previous_path(path).exists() else "")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}{hint}") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupted (not valid JSON: "
                              f"{exc.msg} at line {exc.lineno}){hint}") from None
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
