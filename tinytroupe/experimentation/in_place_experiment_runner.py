"""InPlaceExperimentRunner: run the experiments of a study one after another, in place.

Upstream's API for notebooks that run the same code once per experiment (control,
treatment, ...): the runner keeps the study's state in a JSON file
(``experiment_config.json`` by default) so that each rerun of the notebook knows which
experiment is active, collects each experiment's results, and finally compares them
(`run_statistical_tests`, with `StatisticalTester`). The file holds::

    {"experiments": {name: {"results": {metric: [values...]}, ...}},
     "active_experiment": name or null, "finished_all_experiments": bool,
     "finished_experiments": [names...]}

Every change is written at once (atomically: a temporary file, then a rename). An
existing file is loaded (with a warning, as upstream: delete it to start over) and
checked: a file that is not such an object is a ValueError naming it.

Results merge as upstream's (``merge=True``): dicts merge key by key, lists are
concatenated keeping repeated values (each run's observations count), a missing or None
value takes the new one, and differing plain values raise ValueError.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from tinytroupe import sanitize

logger = logging.getLogger("tinytroupe")

__all__ = ["InPlaceExperimentRunner"]

#: The largest configuration file read (bytes).
MAX_CONFIG_BYTES = 64 * 1024 * 1024


class InPlaceExperimentRunner:
    """Which experiment is active, and each experiment's results, kept in a file."""

    def __init__(self, config_file_path: str | os.PathLike[str] = "experiment_config.json"
                 ) -> None:
        """Load the study in `config_file_path`, or start a new one there (written now)."""
        self.config_file_path = config_file_path
        self.experiment_config = self._load_or_create_config(config_file_path)
        self._save_config()

    # --- experiments ------------------------------------------------------------------

    def add_experiment(self, experiment_name: str) -> None:
        """Add an experiment (nothing happens if it exists already)."""
        experiments = self.experiment_config["experiments"]
        if experiment_name in experiments:
            logger.info("Experiment %r already exists, nothing to add.", experiment_name)
            return
        experiments[experiment_name] = {}
        self._save_config()

    def activate_next_experiment(self) -> None:
        """Finish the active experiment and activate the next unfinished one, in order.

        With no active experiment, the first unfinished one is activated. When none is
        left, no experiment is active and all are finished. Raises ValueError if there
        are no experiments; does nothing once all are finished.
        """
        config = self.experiment_config
        if config["finished_all_experiments"]:
            logger.info("All experiments have been finished. No more experiments to "
                        "activate.")
            return
        experiments = list(config["experiments"])
        if not experiments:
            raise ValueError("No experiments available to activate.")
        finished = config.setdefault("finished_experiments", [])
        current = config.get("active_experiment")
        start = 0
        if current:
            if current not in finished:
                finished.append(current)
            start = experiments.index(current) + 1 if current in experiments else 0
        candidates = experiments[start:] if current else experiments
        following = next((name for name in candidates if name not in finished), None)
        config["active_experiment"] = following
        if following is None:
            config["finished_all_experiments"] = True
        self._save_config()

    def fix_active_experiment(self, experiment_name: str) -> None:
        """Make `experiment_name` the active experiment (ValueError if it does not exist)."""
        self._require(experiment_name)
        self.experiment_config["active_experiment"] = experiment_name
        self.experiment_config["finished_all_experiments"] = False
        self._save_config()

    def get_active_experiment(self) -> str | None:
        """The name of the active experiment, or None."""
        return self.experiment_config.get("active_experiment")

    def get_unfinished_experiments(self) -> list[str]:
        """The names of the experiments not finished yet, in the order they were added."""
        finished = set(self.experiment_config.get("finished_experiments", []))
        return [name for name in self.experiment_config["experiments"] if name not in finished]

    def has_finished_all_experiments(self) -> bool:
        """Whether every experiment has been finished."""
        return bool(self.experiment_config.get("finished_all_experiments", False))

    def finish_active_experiment(self) -> bool:
        """Finish the active experiment without activating another.

        Returns False if no experiment is active (or it was finished already). When it
        was the last unfinished one, all experiments are finished.
        """
        current = self.get_active_experiment()
        if not current:
            logger.info("No active experiment to finish.")
            return False
        finished = self.experiment_config.setdefault("finished_experiments", [])
        if current in finished:
            return False
        finished.append(current)
        self.experiment_config["active_experiment"] = None
        logger.info("Experiment %r marked as finished.", current)
        if set(self.experiment_config["experiments"]) <= set(finished):
            self.experiment_config["finished_all_experiments"] = True
            logger.info("All experiments have been finished.")
        self._save_config()
        return True

    # --- results ----------------------------------------------------------------------

    def add_experiment_results(self, results: dict[str, Any], experiment_name: str | None = None,
                               merge: bool = True) -> None:
        """Add `results` to an experiment (default: the active one), merged (module doc).

        With ``merge=False`` a key's value is replaced. Raises ValueError if there is no
        such experiment (or none is active), or the results do not merge.
        """
        if not isinstance(results, dict):
            raise ValueError(f"results must be a dict, got {type(results).__name__}")
        if experiment_name is None:
            experiment_name = self.get_active_experiment()
            if experiment_name is None:
                raise ValueError("No active experiment exists to add results to.")
        experiment = self._require(experiment_name)
        current = experiment.get("results") or {}
        if merge:
            combined = _merge_results(current, results, experiment_name)
        else:
            combined = {**current, **results}
        json.dumps(combined)  # TypeError now, not a half-written file later
        experiment["results"] = combined
        self._save_config()

    def get_experiment_results(self, experiment_name: str | None = None) -> Any:
        """One experiment's results, or ``{name: results}`` for all (None).

        An experiment without results gives ``[]`` (upstream's shape). Raises
        ValueError for an unknown experiment.
        """
        experiments = self.experiment_config["experiments"]
        if experiment_name is None:
            return {name: data.get("results", []) for name, data in experiments.items()}
        return self._require(experiment_name).get("results", [])

    def run_statistical_tests(self, control_experiment_name: str) -> dict[str, Any]:
        """Compare each other experiment's results with the control's (`StatisticalTester`).

        The results (``{treatment: {metric: test result}}``) are also stored under the
        control's ``statistical_test_results_vs_others``. Needs scipy (the analysis
        extra). Raises ValueError without experiments or for an unknown control.
        """
        from tinytroupe.experimentation.statistical_tests import StatisticalTester

        experiments = self.experiment_config["experiments"]
        if not experiments:
            raise ValueError("No experiments available to run statistical tests.")
        self._require(control_experiment_name)
        treatments = {name: data for name, data in experiments.items()
                      if name != control_experiment_name}
        tester = StatisticalTester(
            control_experiment_data={control_experiment_name: experiments[
                control_experiment_name]},
            treatments_experiment_data=treatments, results_key="results")
        results = tester.run_test()
        experiments[control_experiment_name]["statistical_test_results_vs_others"] = results
        self._save_config()
        return results

    # --- the file ---------------------------------------------------------------------

    def _require(self, experiment_name: str) -> dict[str, Any]:
        experiments = self.experiment_config["experiments"]
        if experiment_name not in experiments:
            raise ValueError(f"Experiment {experiment_name!r} does not exist.")
        return experiments[experiment_name]  # type: ignore[no-any-return]

    def _load_or_create_config(self, config_file_path: str | os.PathLike[str]
                               ) -> dict[str, Any]:
        try:
            config = self._load_config(config_file_path)
        except FileNotFoundError:
            return self._create_default_config(config_file_path)
        logger.warning("Configuration file '%s' exists and was loaded successfully. If you "
                       "are trying to fully rerun the experiments, delete it first.",
                       config_file_path)
        return config

    def _create_default_config(self, config_file_path: str | os.PathLike[str]
                               ) -> dict[str, Any]:
        return {"experiments": {}, "active_experiment": None,
                "finished_all_experiments": False, "finished_experiments": []}

    def _load_config(self, config_file_path: str | os.PathLike[str]) -> dict[str, Any]:
        path = Path(config_file_path)
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ValueError(f"{path}: experiment configuration larger than "
                             f"{MAX_CONFIG_BYTES} bytes")
        try:
            config = sanitize.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a valid experiment configuration (JSON): "
                             f"{exc}") from None
        problem = _config_problem(config)
        if problem:
            raise ValueError(f"{path}: not a valid experiment configuration: {problem}")
        config.setdefault("active_experiment", None)
        config.setdefault("finished_all_experiments", False)
        config.setdefault("finished_experiments", [])
        return config  # type: ignore[no-any-return]

    def _save_config(self) -> None:
        path = Path(self.config_file_path)
        text = json.dumps(self.experiment_config, indent=4, ensure_ascii=False)
        directory = path.parent if str(path.parent) else Path(".")
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                         dir=directory)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(sanitize.utf8(text))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _config_problem(config: Any) -> str | None:
    """What is wrong with a loaded configuration, or None."""
    if not isinstance(config, dict):
        return f"a JSON object was expected, got {type(config).__name__}"
    experiments = config.get("experiments")
    if not isinstance(experiments, dict) or not all(
            isinstance(v, dict) for v in experiments.values()):
        return '"experiments" must be an object of experiment objects'
    active = config.get("active_experiment")
    if active is not None and active not in experiments:
        return f'"active_experiment" names an unknown experiment: {active!r}'
    finished = config.get("finished_experiments", [])
    if not isinstance(finished, list) or not all(isinstance(n, str) for n in finished):
        return '"finished_experiments" must be a list of names'
    if not isinstance(config.get("finished_all_experiments", False), bool):
        return '"finished_all_experiments" must be true or false'
    return None


def _merge_results(current: dict[str, Any], additions: dict[str, Any], where: str
                   ) -> dict[str, Any]:
    """`current` with `additions` merged in (module doc); neither is modified."""
    merged = dict(current)
    for key, added in additions.items():
        present = merged.get(key)
        if present is None:
            merged[key] = added
        elif isinstance(present, dict) and isinstance(added, dict):
            merged[key] = _merge_results(present, added, f"{where}.{key}")
        elif isinstance(present, list) and isinstance(added, list):
            merged[key] = [*present, *added]
        elif type(present) is not type(added):
            raise ValueError(f"Cannot merge results at {where}.{key}: "
                             f"{type(present).__name__} and {type(added).__name__}")
        elif present != added:
            raise ValueError(f"Conflicting results at {where}.{key}: {present!r} != "
                             f"{added!r} (use merge=False to replace)")
    return merged
