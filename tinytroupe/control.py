"""Simulation control (upstream's `tinytroupe.control`): replayable runs, and reset.

``control.begin("run.cache")`` ... ``control.end()`` makes a script replayable: every
model answer is stored in the file as it arrives, and running the same script again
answers each request from the file without calling the model, up to the first request
that differs (a changed prompt, a new step), from where it calls the model again and
stores the new answers. Same answers in, same transcript out.

How (and how it differs from upstream): upstream pickles/JSON-dumps the whole
simulation state after each call and restores it on replay; here `begin` turns on the
response cache (SQLite, never pickle: loading it cannot run code) at `cache_path` and
fixes the seed (``RANDOM_SEED``, unless the script set one) so that worlds start at a
fixed date and shuffle agents the same way, which makes every prompt of a re-run
identical. World checkpoints (`TinyWorld.run(checkpoint_every=...)`, `resume`) are the
way to continue a run that stopped. A file in another format (upstream's cache) is
refused with a clear error rather than loaded.

`begin` forgets every agent, world and factory (as upstream does), so a script that
begins a simulation starts from a clean process state. Every answer is written to the
file as it arrives, so upstream's `auto_checkpoint=True` (write after every call) is
what always happens here; `checkpoint()` folds the write-ahead log into the file.
"""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path
from typing import Any

from tinytroupe.clients.usage import UsageSnapshot, usage
from tinytroupe.config import config_manager

_SQLITE_HEADER = b"SQLite format 3\x00"
_OVERRIDDEN = ("cache_api_calls", "cache_file_name", "random_seed")


class Simulation:
    """One replayable simulation (module doc); use the module's functions."""

    STATUS_STOPPED = "stopped"
    STATUS_STARTED = "started"

    def __init__(self, id: str = "default") -> None:
        self.id = id
        self.status = Simulation.STATUS_STOPPED
        self.cache_path = f"./tinytroupe-{id}.cache.sqlite"
        self.auto_checkpoint = False
        self._saved: dict[str, Any] = {}
        self._baseline = UsageSnapshot()
        self._final: UsageSnapshot | None = UsageSnapshot()  # None while started

    @property
    def cache_hits(self) -> int:
        """Model answers replayed from the file since `begin`."""
        return (self._final or usage.snapshot()).cache_hits - self._baseline.cache_hits

    @property
    def cache_misses(self) -> int:
        """Model calls made (and stored) since `begin`."""
        return (self._final or usage.snapshot()).cache_misses - self._baseline.cache_misses

    def begin(self, cache_path: str | Path | None = None, auto_checkpoint: bool = False) -> None:
        """Start: answer from and store into `cache_path` (default: `self.cache_path`).

        Forgets every agent, world and factory, and fixes the seed unless one is set. Raises
        ValueError if already started, or if the file is not a replay cache.
        """
        if self.status == Simulation.STATUS_STARTED:
            raise ValueError(f"Simulation {self.id!r} is already started")
        path = Path(cache_path if cache_path is not None else self.cache_path)
        _check_cache_file(path)
        _forget_everything()
        self.cache_path, self.auto_checkpoint = str(path), auto_checkpoint
        self._saved = {key: config_manager.get(key) for key in _OVERRIDDEN}
        config_manager.set("cache_api_calls", True)
        config_manager.set("cache_file_name", str(path.resolve()))
        if self._saved["random_seed"] is None:
            config_manager.set("random_seed", zlib.crc32(self.id.encode()))
        self._baseline, self._final = usage.snapshot(), None
        self.status = Simulation.STATUS_STARTED

    def checkpoint(self) -> None:
        """Make what is stored so far durable in the file itself.

        Answers are stored as they arrive; this folds SQLite's write-ahead log into the file.
        """
        if not Path(self.cache_path).exists():
            return
        with sqlite3.connect(self.cache_path, timeout=30) as connection:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def end(self) -> None:
        """Stop: checkpoint the file and restore the settings `begin` changed.

        Raises ValueError if the simulation is not started.
        """
        if self.status != Simulation.STATUS_STARTED:
            raise ValueError(f"Simulation {self.id!r} is not started")
        self.checkpoint()
        for key, value in self._saved.items():
            config_manager.set(key, value)
        self._final = usage.snapshot()  # the counts stay those of the simulation
        self.status = Simulation.STATUS_STOPPED


def _check_cache_file(path: Path) -> None:
    if path.is_dir():
        raise ValueError(f"control.begin: cache_path {path} is a folder, not a file")
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as handle:
        header = handle.read(len(_SQLITE_HEADER))
    if header != _SQLITE_HEADER:
        raise ValueError(
            f"control.begin: {path} is not a tinytroupe replay cache (an upstream TinyTroupe "
            "cache, pickle or JSON, cannot be replayed here, and pickle is never loaded: it "
            "could run code). Delete it, or pass another cache_path.")


_simulations: dict[str, Simulation] = {}


def _simulation(id: str) -> Simulation:
    return _simulations.setdefault(id, Simulation(id))


def begin(cache_path: str | Path | None = None, id: str = "default",
          auto_checkpoint: bool = False) -> None:
    """Start a replayable simulation (module doc). Forgets all agents and worlds."""
    started = current_simulation()
    if started is not None and started.id != id:
        raise ValueError(f"Simulation {started.id!r} is already started; end() it first")
    _simulation(id).begin(cache_path, auto_checkpoint)


def checkpoint(id: str = "default") -> None:
    """Make simulation `id`'s stored answers durable in its file (`Simulation.checkpoint`)."""
    _simulation(id).checkpoint()


def end(id: str = "default") -> None:
    """Stop the simulation: answers stay in the file; the configuration is restored."""
    _simulation(id).end()


def current_simulation() -> Simulation | None:
    """The started simulation, or None."""
    return next((s for s in _simulations.values()
                 if s.status == Simulation.STATUS_STARTED), None)


def cache_hits(id: str = "default") -> int:
    """Answers simulation `id` replayed from its file between `begin` and `end`.

    0 for a simulation never begun.
    """
    simulation = _simulations.get(id)
    return simulation.cache_hits if simulation is not None else 0


def cache_misses(id: str = "default") -> int:
    """Model calls simulation `id` made (and stored) between `begin` and `end`.

    0 for a simulation never begun.
    """
    simulation = _simulations.get(id)
    return simulation.cache_misses if simulation is not None else 0


def reset() -> None:
    """End any started simulation, close and forget all worlds, forget all agents and factories.

    (Test fixtures call this.)
    """
    for simulation in list(_simulations.values()):
        if simulation.status == Simulation.STATUS_STARTED:
            simulation.end()
    _simulations.clear()
    _forget_everything()


def _forget_everything() -> None:
    from tinytroupe.agent import TinyPerson
    from tinytroupe.environment import BaseWorld
    from tinytroupe.factory import TinyPersonFactory

    for world in list(BaseWorld.all_environments.values()):
        close = getattr(world, "close", None)
        if close is not None:
            close()
    BaseWorld.clear_environments()
    TinyPerson.clear_agents()
    TinyPersonFactory.clear_factories()
