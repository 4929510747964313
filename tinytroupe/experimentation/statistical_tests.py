"""StatisticalTester: compare one control experiment with treatments, metric by metric.

Upstream's `tinytroupe.experimentation.statistical_tests` API. Data come as
``{"control": {"metric": [values...]}}`` (one control) and
``{"treatment_a": {"metric": [values...]}, ...}``; `run_test(test_type, alpha)` returns
``{treatment_id: {metric: result}}``, each result a JSON-serialisable dict with
``test_type`` (a readable name), ``p_value``, ``significant`` (``p_value < alpha``), the
test's statistic (``t_statistic``, ``u_statistic``, ``f_statistic``, ``chi2_statistic``
or ``ks_statistic``), ``effect_size`` and descriptive numbers.

Every test statistic and p-value comes from `scipy.stats` (never computed here):

* ``t_test``: `ttest_ind(equal_var=True)`; ``welch_t_test``: `ttest_ind(equal_var=False)`,
  both with Cohen's d (pooled standard deviation) as effect size;
* ``mann_whitney``: `mannwhitneyu(alternative="two-sided")`, effect size the common
  language effect size P(treatment > control) + P(tie) / 2, from U;
* ``anova``: `f_oneway`, effect size eta squared;
* ``chi_square``: `chi2_contingency` of the 2 x k table of counts (control row,
  treatment row), effect size Cramér's V (from the uncorrected chi-square statistic);
* ``ks_test``: `ks_2samp`, effect size the KS statistic.

scipy and numpy are imported when a test runs, not with this module; without them the
call raises ImportError naming the extra (``pip install 'tinytroupe[analysis]'``).

Differences from upstream: an undefined ``percent_change`` (control mean or median 0)
is None, not infinity, so results stay valid JSON; the Mann-Whitney confidence
interval is scipy's percentile bootstrap (seeded), None where it cannot be computed.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from tinytroupe.extras import require

logger = logging.getLogger("tinytroupe")

__all__ = ["ANALYSIS_EXTRA_HINT", "StatisticalTester", "cohen_d", "convert_to_serializable",
           "import_scipy_stats"]

#: How to install what statistics, charts and CSV reading need.
ANALYSIS_EXTRA_HINT = "pip install 'tinytroupe[analysis]'"

#: The test types `StatisticalTester.run_test` accepts.
SUPPORTED_TESTS = ("t_test", "welch_t_test", "mann_whitney", "anova", "chi_square", "ks_test")


def import_scipy_stats() -> Any:
    """The `scipy.stats` module; ImportError naming the extra to install if it is missing."""
    return require("scipy.stats", "analysis", "statistical tests")


def _numpy() -> Any:
    """The `numpy` module (scipy's own dependency); ImportError naming the extra."""
    return require("numpy", "analysis", "statistical tests")


def _ratio(numerator: float, denominator: float) -> float | None:
    """`numerator / denominator * 100`, or None where that is undefined."""
    if denominator == 0 or not math.isfinite(denominator):
        return None
    return numerator / denominator * 100


def _parameters(fn: Callable[..., Any]) -> set[str]:
    """The names of `fn`'s parameters (scipy renamed some across versions)."""
    import inspect

    return set(inspect.signature(fn).parameters)


def cohen_d(x: Sequence[float], y: Sequence[float]) -> float:
    """Cohen's d of `y` against `x`: (mean(y) - mean(x)) / pooled sample standard deviation.

    0.0 for two constant samples with the same mean; NaN where d is undefined (fewer
    than 3 values in all, an empty sample, constant samples with different means).
    Upstream returned 0.0 there, which the validator's score read as "identical".
    """
    np = _numpy()
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    nx, ny = len(xs), len(ys)
    if nx + ny <= 2 or nx == 0 or ny == 0:
        return math.nan
    difference = float(np.mean(ys) - np.mean(xs))
    sx = float(np.var(xs, ddof=1)) if nx > 1 else 0.0
    sy = float(np.var(ys, ddof=1)) if ny > 1 else 0.0
    pooled = math.sqrt(((nx - 1) * sx + (ny - 1) * sy) / (nx + ny - 2))
    if pooled == 0:
        return 0.0 if difference == 0 else math.nan
    return difference / pooled


def convert_to_serializable(obj: Any) -> Any:
    """`obj` with numpy scalars and arrays turned into Python numbers and lists (recursively).

    Dicts, lists and tuples are rebuilt; everything else is returned unchanged.
    """
    if isinstance(obj, dict):
        return {k: convert_to_serializable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [convert_to_serializable(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(convert_to_serializable(v) for v in obj)
    if type(obj).__module__ == "numpy":
        tolist = getattr(obj, "tolist", None)  # ndarray -> list; numpy scalar -> Python scalar
        if tolist is not None:
            return tolist()
    return obj


class StatisticalTester:
    """Statistical tests of treatments against one control (module doc).

    `control_experiment_data` is ``{control_id: {metric: [values]}}`` with exactly one
    control; `treatments_experiment_data` is ``{treatment_id: {metric: [values]}}``.
    With `results_key`, each experiment's metrics are read from ``data[id][results_key]``.
    Raises TypeError or ValueError for data of the wrong shape.
    """

    def __init__(self, control_experiment_data: dict[str, Any],
                 treatments_experiment_data: dict[str, Any],
                 results_key: str | None = None) -> None:
        if results_key:
            control_experiment_data = {k: v[results_key]
                                       for k, v in control_experiment_data.items()}
            treatments_experiment_data = {k: v[results_key]
                                          for k, v in treatments_experiment_data.items()}
        self.control_experiment_data = control_experiment_data
        self.treatments_experiment_data = treatments_experiment_data
        self._validate_input_data()

    def _validate_input_data(self) -> None:
        """Check the shapes described in the class doc; raise TypeError or ValueError."""
        if not isinstance(self.control_experiment_data, dict):
            raise TypeError("Control experiment data must be a dictionary")
        if not isinstance(self.treatments_experiment_data, dict):
            raise TypeError("Treatments experiment data must be a dictionary")
        if not self.control_experiment_data:
            raise ValueError("Control experiment data cannot be empty")
        if len(self.control_experiment_data) > 1:
            raise ValueError("Only one control experiment is allowed")
        if not self.treatments_experiment_data:
            raise ValueError("Treatments experiment data cannot be empty")
        control_metrics: set[str] = set()
        for kind, experiments in (("control experiment", self.control_experiment_data),
                                  ("treatment", self.treatments_experiment_data)):
            for exp_id, metrics in experiments.items():
                if not isinstance(metrics, dict):
                    raise TypeError(f"Metrics for {kind} '{exp_id}' must be a dictionary")
                if not metrics:
                    raise ValueError(f"{kind.capitalize()} '{exp_id}' has no metrics")
                for metric, values in metrics.items():
                    if not isinstance(values, list):
                        raise TypeError(f"Values for metric '{metric}' in {kind} '{exp_id}' "
                                        "must be a list")
                if kind == "control experiment":
                    control_metrics.update(metrics)
                elif not control_metrics & set(metrics):
                    logger.warning("Treatment '%s' has no metrics in common with the control",
                                   exp_id)

    # --- running ------------------------------------------------------------------------

    def run_test(self, test_type: str = "welch_t_test", alpha: float = 0.05,
                 **kwargs: Any) -> dict[str, dict[str, Any]]:
        """``{treatment_id: {metric: result}}`` for `test_type` at significance `alpha`.

        `test_type` is one of ``SUPPORTED_TESTS`` (ValueError otherwise). Metrics missing
        from a treatment, or with no values on either side, are skipped with a warning.
        Raises ImportError (naming the extra) without scipy.
        """
        runners: dict[str, Callable[..., dict[str, Any]]] = {
            "t_test": self._run_t_test, "welch_t_test": self._run_welch_t_test,
            "mann_whitney": self._run_mann_whitney, "anova": self._run_anova,
            "chi_square": self._run_chi_square, "ks_test": self._run_ks_test,
        }
        if test_type not in runners:
            raise ValueError(f"Unsupported test type: {test_type}. "
                             f"Supported types: {list(SUPPORTED_TESTS)}")
        import_scipy_stats()  # fail before any work when scipy is missing
        results: dict[str, dict[str, Any]] = {}
        control_data = next(iter(self.control_experiment_data.values()))
        for treatment_id, treatment_data in self.treatments_experiment_data.items():
            results[treatment_id] = {}
            for metric in sorted(control_data):
                if metric not in treatment_data:
                    logger.warning("Metric '%s' not found in treatment '%s'", metric,
                                   treatment_id)
                    continue
                control_values, treatment_values = control_data[metric], treatment_data[metric]
                if not control_values or not treatment_values:
                    logger.warning("Skipping metric '%s' for treatment '%s': no values",
                                   metric, treatment_id)
                    continue
                with warnings.catch_warnings():  # tiny samples: scipy warns, we report nan
                    warnings.simplefilter("ignore", RuntimeWarning)
                    result = runners[test_type](control_values, treatment_values, alpha,
                                                **kwargs)
                results[treatment_id][metric] = convert_to_serializable(result)
        return results

    @staticmethod
    def _arrays(control_values: list, treatment_values: list) -> tuple[Any, Any]:
        np = _numpy()
        return np.asarray(control_values, dtype=float), np.asarray(treatment_values, dtype=float)

    def _t_test(self, control_values: list, treatment_values: list, alpha: float,
                equal_var: bool) -> dict[str, Any]:
        stats, np = import_scipy_stats(), _numpy()
        control, treatment = self._arrays(control_values, treatment_values)
        control_mean, treatment_mean = float(np.mean(control)), float(np.mean(treatment))
        mean_diff = treatment_mean - control_mean
        res = stats.ttest_ind(control, treatment, equal_var=equal_var)
        interval: tuple[float, float] | None = None
        ci = getattr(res, "confidence_interval", None)  # scipy >= 1.11
        if ci is not None:
            bounds = ci(confidence_level=1 - alpha)  # of control - treatment: flip it
            interval = (-float(bounds.high), -float(bounds.low))
        p_value = float(res.pvalue)
        return {
            "control_mean": control_mean,
            "treatment_mean": treatment_mean,
            "mean_difference": mean_diff,
            "percent_change": _ratio(mean_diff, control_mean),
            "t_statistic": float(res.statistic),
            "p_value": p_value,
            "confidence_interval": interval,
            "confidence_level": 1 - alpha,
            "significant": bool(p_value < alpha),
            "degrees_of_freedom": float(res.df) if hasattr(res, "df") else None,
            "control_sample_size": len(control),
            "treatment_sample_size": len(treatment),
            "control_std": float(np.std(control, ddof=1)) if len(control) > 1 else 0.0,
            "treatment_std": float(np.std(treatment, ddof=1)) if len(treatment) > 1 else 0.0,
            "effect_size": cohen_d(control, treatment),
        }

    def _run_t_test(self, control_values: list, treatment_values: list, alpha: float,
                    **kwargs: Any) -> dict[str, Any]:
        """Student's t-test (equal variances assumed)."""
        return {"test_type": "Student t-test (equal variance)",
                **self._t_test(control_values, treatment_values, alpha, equal_var=True)}

    def _run_welch_t_test(self, control_values: list, treatment_values: list, alpha: float,
                          **kwargs: Any) -> dict[str, Any]:
        """Welch's t-test (unequal variances)."""
        return {"test_type": "Welch t-test (unequal variance)",
                **self._t_test(control_values, treatment_values, alpha, equal_var=False)}

    def _run_mann_whitney(self, control_values: list, treatment_values: list, alpha: float,
                          **kwargs: Any) -> dict[str, Any]:
        """Mann-Whitney U test (two-sided), with the common language effect size."""
        stats, np = import_scipy_stats(), _numpy()
        control, treatment = self._arrays(control_values, treatment_values)
        control_median, treatment_median = float(np.median(control)), float(np.median(treatment))
        median_diff = treatment_median - control_median
        res = stats.mannwhitneyu(control, treatment, alternative="two-sided")
        # U of the treatment sample counts pairs where treatment > control (ties: half)
        u_treatment = len(control) * len(treatment) - float(res.statistic)
        cles = u_treatment / (len(control) * len(treatment))
        interval: tuple[float, float] | None = None
        seed = {"rng" if "rng" in _parameters(stats.bootstrap) else "random_state": 42}
        try:
            boot = stats.bootstrap(
                (treatment, control), lambda t, c, axis=-1: np.median(t, axis=axis)
                - np.median(c, axis=axis), confidence_level=1 - alpha, n_resamples=1000,
                method="percentile", vectorized=True, **seed)
            low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
            if math.isfinite(low) and math.isfinite(high):
                interval = (low, high)
        except (ValueError, TypeError) as exc:  # too few values to resample
            logger.debug("Mann-Whitney bootstrap interval skipped: %s", exc)
        p_value = float(res.pvalue)
        return {
            "test_type": "Mann-Whitney U test",
            "control_median": control_median,
            "treatment_median": treatment_median,
            "median_difference": median_diff,
            "percent_change": _ratio(median_diff, control_median),
            "u_statistic": float(res.statistic),
            "p_value": p_value,
            "confidence_interval": interval,
            "confidence_level": 1 - alpha,
            "significant": bool(p_value < alpha),
            "control_sample_size": len(control),
            "treatment_sample_size": len(treatment),
            "effect_size": cles,
        }

    def _run_anova(self, control_values: list, treatment_values: list, alpha: float,
                   **kwargs: Any) -> dict[str, Any]:
        """One-way ANOVA of the two groups, with eta squared."""
        stats, np = import_scipy_stats(), _numpy()
        control, treatment = self._arrays(control_values, treatment_values)
        res = stats.f_oneway(control, treatment)
        pooled = np.concatenate([control, treatment])
        grand_mean = np.mean(pooled)
        ss_total = float(np.sum((pooled - grand_mean) ** 2))
        ss_between = float(len(control) * (np.mean(control) - grand_mean) ** 2
                           + len(treatment) * (np.mean(treatment) - grand_mean) ** 2)
        p_value = float(res.pvalue)
        return {
            "test_type": "One-way ANOVA",
            "f_statistic": float(res.statistic),
            "p_value": p_value,
            "significant": bool(p_value < alpha),
            "control_sample_size": len(control),
            "treatment_sample_size": len(treatment),
            "effect_size": ss_between / ss_total if ss_total > 0 else 0.0,
            "effect_size_type": "eta_squared",
        }

    def _run_chi_square(self, control_values: list, treatment_values: list, alpha: float,
                        **kwargs: Any) -> dict[str, Any]:
        """Chi-square test of independence; the values are counts per category."""
        stats, np = import_scipy_stats(), _numpy()
        control, treatment = self._arrays(control_values, treatment_values)
        if len(control) != len(treatment):
            raise ValueError("Control and treatment must have the same number of categories "
                             "for chi-square test")
        table = np.vstack([control, treatment])
        res = stats.chi2_contingency(table)
        # Cramér's V from the uncorrected statistic (scipy's `association` wants integers)
        uncorrected = float(stats.chi2_contingency(table, correction=False).statistic)
        cells = float(table.sum()) * (min(table.shape) - 1)
        p_value = float(res.pvalue)
        return {
            "test_type": "Chi-square test",
            "chi2_statistic": float(res.statistic),
            "p_value": p_value,
            "degrees_of_freedom": int(res.dof),
            "significant": bool(p_value < alpha),
            "effect_size": math.sqrt(uncorrected / cells) if cells > 0 else 0.0,
            "effect_size_type": "cramers_v",
        }

    def _run_ks_test(self, control_values: list, treatment_values: list, alpha: float,
                     **kwargs: Any) -> dict[str, Any]:
        """Two-sample Kolmogorov-Smirnov test: do both samples share one distribution."""
        stats, np = import_scipy_stats(), _numpy()
        control, treatment = self._arrays(control_values, treatment_values)
        res = stats.ks_2samp(control, treatment)
        ks_stat, p_value = float(res.statistic), float(res.pvalue)
        edges = np.linspace(min(control.min(), treatment.min()),
                            max(control.max(), treatment.max()), 50)
        overlap: float | None = None
        if edges[-1] > edges[0]:
            c_hist, _ = np.histogram(control, bins=edges, density=True)
            t_hist, _ = np.histogram(treatment, bins=edges, density=True)
            union = float(np.sum(np.maximum(c_hist, t_hist)))
            overlap = float(np.sum(np.minimum(c_hist, t_hist))) / union if union > 0 else 0.0
        significant = bool(p_value < alpha)
        return {
            "test_type": "Kolmogorov-Smirnov test",
            "control_mean": float(np.mean(control)),
            "treatment_mean": float(np.mean(treatment)),
            "control_median": float(np.median(control)),
            "treatment_median": float(np.median(treatment)),
            "control_std": float(np.std(control, ddof=1)) if len(control) > 1 else 0.0,
            "treatment_std": float(np.std(treatment, ddof=1)) if len(treatment) > 1 else 0.0,
            "ks_statistic": ks_stat,
            "p_value": p_value,
            "significant": significant,
            "control_sample_size": len(control),
            "treatment_sample_size": len(treatment),
            "effect_size": ks_stat,
            "overlap_coefficient": overlap,
            "percentile_differences": {
                f"p{p}_diff": float(np.percentile(treatment, p) - np.percentile(control, p))
                for p in (25, 50, 75, 90, 95)},
            "interpretation": self._interpret_ks_result(ks_stat, significant),
            "confidence_level": 1 - alpha,
        }

    @staticmethod
    def _interpret_ks_result(ks_stat: float, significant: bool) -> str:
        if not significant:
            return "No significant difference between distributions"
        for bound, words in ((0.1, "Very small"), (0.25, "Small"), (0.5, "Moderate")):
            if ks_stat < bound:
                return f"{words} difference between distributions"
        return "Large difference between distributions"

    # --- assumptions --------------------------------------------------------------------

    def check_assumptions(self, metric: str) -> dict[str, dict[str, Any]]:
        """Per treatment: normality (Shapiro-Wilk), equal variances (Levene), a test to use.

        The recommended test is ``t_test``, ``welch_t_test`` or ``mann_whitney``.

        Raises ValueError if the control lacks `metric` (scipy's own ValueError for
        samples shorter than 3).
        """
        stats = import_scipy_stats()
        control_data = next(iter(self.control_experiment_data.values()))
        if metric not in control_data:
            raise ValueError(f"Metric '{metric}' not found in control data")
        control = self._arrays(control_data[metric], [])[0]

        def normality(values: Any) -> dict[str, Any]:
            res = stats.shapiro(values)
            return {"test": "Shapiro-Wilk", "statistic": float(res.statistic),
                    "p_value": float(res.pvalue), "normal": bool(res.pvalue >= 0.05)}

        control_normality = normality(control)
        results: dict[str, dict[str, Any]] = {}
        for treatment_id, treatment_data in self.treatments_experiment_data.items():
            if metric not in treatment_data:
                logger.warning("Metric '%s' not found in treatment '%s'", metric, treatment_id)
                continue
            treatment = self._arrays(treatment_data[metric], [])[0]
            treatment_normality = normality(treatment)
            levene = stats.levene(control, treatment)
            equal_variance = bool(levene.pvalue >= 0.05)
            if control_normality["normal"] and treatment_normality["normal"]:
                recommended = "t_test" if equal_variance else "welch_t_test"
            else:
                recommended = "mann_whitney"
            results[treatment_id] = convert_to_serializable({
                "control_normality": control_normality,
                "treatment_normality": treatment_normality,
                "variance_homogeneity": {"test": "Levene", "statistic": float(levene.statistic),
                                         "p_value": float(levene.pvalue),
                                         "equal_variance": equal_variance},
                "recommended_test": recommended,
            })
        return results
