"""Empirical validation: scipy's p-values, datasets, CSV/DataFrame reading, reports."""

from __future__ import annotations

import sys

import pytest
from pydantic import ValidationError

from tinytroupe.experimentation import (
    SimulationExperimentDataset,
    SimulationExperimentEmpiricalValidationResult,
    SimulationExperimentEmpiricalValidator,
    StatisticalTester,
    validate_simulation_experiment_empirically,
)

stats = pytest.importorskip("scipy.stats")
pd = pytest.importorskip("pandas")

CONTROL = [5.1, 4.9, 6.2, 5.7, 6.0, 5.5, 5.8, 4.6]
TREATMENT = [6.3, 6.8, 5.9, 7.1, 6.6, 6.9, 6.2]


def datasets(**extra_control) -> tuple[dict, dict]:
    control = {"name": "Survey", "key_results": {"score": CONTROL},
               "result_types": {"score": "per_agent"}, **extra_control}
    treatment = {"name": "Simulation", "key_results": {"score": TREATMENT},
                 "result_types": {"score": "per_agent"}}
    return control, treatment


@pytest.mark.parametrize(("test_type", "expected", "statistic_key"), [
    ("welch_t_test", lambda: stats.ttest_ind(CONTROL, TREATMENT, equal_var=False),
     "t_statistic"),
    ("t_test", lambda: stats.ttest_ind(CONTROL, TREATMENT, equal_var=True), "t_statistic"),
    ("mann_whitney", lambda: stats.mannwhitneyu(CONTROL, TREATMENT, alternative="two-sided"),
     "u_statistic"),
    ("ks_test", lambda: stats.ks_2samp(CONTROL, TREATMENT), "ks_statistic"),
    ("anova", lambda: stats.f_oneway(CONTROL, TREATMENT), "f_statistic"),
])
def test_p_values_are_scipys(test_type, expected, statistic_key) -> None:
    control, treatment = datasets()
    result = validate_simulation_experiment_empirically(
        control_data=control, treatment_data=treatment, validation_types=["statistical"],
        statistical_test_type=test_type, output_format="values")
    assert isinstance(result, SimulationExperimentEmpiricalValidationResult)
    scipy_result = expected()
    metric = result.statistical_results["test_results"]["treatment"]["score"]
    assert metric["p_value"] == pytest.approx(float(scipy_result.pvalue), rel=1e-12)
    assert metric[statistic_key] == pytest.approx(float(scipy_result.statistic), rel=1e-12)
    assert metric["significant"] == (scipy_result.pvalue < 0.05)
    assert result.statistical_results["common_metrics"] == ["score"]
    assert result.statistical_results["test_type"] == test_type
    assert result.semantic_results is None
    assert 0.0 <= result.overall_score <= 1.0
    assert result.summary.startswith("Statistical validation: 1/1 tests significant")
    assert result.control_name == "Survey" and result.treatment_name == "Simulation"


def test_welch_details_and_effect_size() -> None:
    metric = StatisticalTester({"c": {"m": CONTROL}}, {"t": {"m": TREATMENT}}).run_test(
        "welch_t_test", alpha=0.05)["t"]["m"]
    scipy_result = stats.ttest_ind(CONTROL, TREATMENT, equal_var=False)
    assert metric["test_type"] == "Welch t-test (unequal variance)"
    assert metric["degrees_of_freedom"] == pytest.approx(float(scipy_result.df))
    low, high = metric["confidence_interval"]
    mean_diff = sum(TREATMENT) / len(TREATMENT) - sum(CONTROL) / len(CONTROL)
    assert metric["mean_difference"] == pytest.approx(mean_diff)
    assert low < mean_diff < high
    assert metric["effect_size"] > 0  # treatment above control: positive Cohen's d


def test_chi_square_on_counts_is_scipys() -> None:
    control_counts, treatment_counts = [30, 50, 20], [20, 45, 35]
    metric = StatisticalTester({"c": {"votes": control_counts}},
                               {"t": {"votes": treatment_counts}}).run_test(
        "chi_square")["t"]["votes"]
    expected = stats.chi2_contingency([control_counts, treatment_counts])
    assert metric["p_value"] == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert metric["chi2_statistic"] == pytest.approx(float(expected.statistic), rel=1e-12)
    assert metric["degrees_of_freedom"] == 2
    table = [control_counts, treatment_counts]
    assert metric["effect_size"] == pytest.approx(
        stats.contingency.association(table, method="cramer"))


def test_identical_samples_score_high() -> None:
    control, _ = datasets()
    result = validate_simulation_experiment_empirically(
        control, control, validation_types=["statistical"],
        statistical_test_type="mann_whitney")
    metric = result.statistical_results["test_results"]["treatment"]["score"]
    assert metric["p_value"] == pytest.approx(1.0)
    assert metric["effect_size"] == pytest.approx(0.5)  # CLES of identical samples
    assert result.overall_score == pytest.approx(1.0)


def test_report_output() -> None:
    control, treatment = datasets()
    report = validate_simulation_experiment_empirically(
        control, treatment, validation_types=["statistical"], output_format="report")
    assert isinstance(report, str)
    assert report.startswith("# Simulation Experiment Empirical Validation Report")
    assert "## Statistical Validation" in report
    p_value = stats.ttest_ind(CONTROL, TREATMENT, equal_var=False).pvalue
    assert f"p-value: {float(p_value)}" in report


def test_semantic_validation_uses_the_model() -> None:
    control, treatment = datasets(agent_justifications=["It is cheap", "It tastes good"],
                                  justification_summary="People like price and taste")
    treatment["agent_justifications"] = [{"agent_name": "Sim-1", "justification": "Cheap"}]
    treatment["justification_summary"] = "Price matters"
    result = validate_simulation_experiment_empirically(control, treatment)
    semantic = result.semantic_results
    assert [(c["control_agent"], c["treatment_agent"])
            for c in semantic["individual_comparisons"]] == [("Agent_0", "Sim-1"),
                                                             ("Agent_1", "Sim-1")]
    scores = [c["proximity_score"] for c in semantic["individual_comparisons"]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert semantic["average_proximity"] == pytest.approx(sum(scores) / 2)
    assert 0.0 <= semantic["summary_comparison"]["proximity_score"] <= 1.0
    assert semantic["failures"] == []
    assert "Semantic validation: Average proximity score" in result.summary
    assert 0.0 <= result.overall_score <= 1.0


def test_validator_rejects_unknown_options() -> None:
    control, treatment = datasets()
    with pytest.raises(ValueError, match="Unsupported test type"):
        validate_simulation_experiment_empirically(control, treatment,
                                                   statistical_test_type="z_test")
    with pytest.raises(ValueError, match="validation type"):
        validate_simulation_experiment_empirically(control, treatment,
                                                   validation_types=["vibes"])
    with pytest.raises(ValueError, match="output_format"):
        validate_simulation_experiment_empirically(control, treatment, output_format="pdf")


def test_no_common_metrics_is_reported_in_the_results() -> None:
    control, treatment = datasets()
    treatment["key_results"] = {"other": [1.5, 2.5]}
    treatment["result_types"] = {"other": "per_agent"}
    result = validate_simulation_experiment_empirically(control, treatment,
                                                        validation_types=["statistical"])
    assert result.statistical_results == {
        "error": "No common metrics found between control and treatment"}
    assert result.overall_score == 0.0


def test_missing_scipy_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    control, treatment = datasets()
    with pytest.raises(ImportError, match=r"pip install 'tinytroupe\[analysis\]'"):
        validate_simulation_experiment_empirically(control, treatment,
                                                   validation_types=["statistical"])


def test_missing_pandas_names_the_extra(monkeypatch, tmp_path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text("score\n1\n2\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"tinytroupe\[analysis\]"):
        SimulationExperimentEmpiricalValidator.read_empirical_data_from_csv(path)


# --- datasets ---------------------------------------------------------------------------


def test_dataset_converts_categories_binaries_and_percentages() -> None:
    dataset = SimulationExperimentDataset(
        key_results={"choice": ["Tea", "coffee", None, "tea "],
                     "bought": [True, False, True],
                     "share": [40, 55.5],
                     "agreement": ["Agree", "strongly disagree", "Neutral"]},
        result_types={"choice": "per_agent", "bought": "per_agent", "share": "aggregate",
                      "agreement": "per_agent"},
        data_types={"share": "proportion", "agreement": "ordinal"})
    assert dataset.data_types["choice"] == "categorical"
    assert dataset.categorical_mappings["choice"] == {"coffee": 0, "tea": 1}
    assert dataset.key_results["choice"] == [1, 0, None, 1]
    assert dataset.get_categorical_values("choice") == ["coffee", "tea"]
    assert dataset.convert_ordinal_to_categorical("choice", 1) == "tea"
    assert dataset.data_types["bought"] == "binary"
    assert dataset.key_results["bought"] == [1, 0, 1]
    assert dataset.key_results["share"] == [0.4, 0.555]
    assert dataset.key_results["agreement"] == [2, 0, 1]  # the Likert scale's own order
    assert dataset.get_data_type_info("agreement")["ordinal_categories"] == [
        "strongly disagree", "neutral", "agree"]
    summary = dataset.get_metric_summary("choice")
    assert summary["category_distribution"] == {"tea": 2, "coffee": 1}
    assert summary["missing_values"] == 1
    assert dataset.get_valid_agent_data("choice") == [1, 0, 1]
    assert dataset.validate_data_consistency() == [
        "Per-agent metrics have inconsistent lengths: "
        "{'choice': 4, 'bought': 3, 'agreement': 3}",
        "WARNING: Metric 'choice' has missing data (None) at indices: [2]"]


def test_dataset_detects_counts_and_rankings() -> None:
    dataset = SimulationExperimentDataset(key_results={"visits": [0, 3, 12],
                                                       "rank": [1, 2, 1, 3, 2]})
    assert dataset.data_types == {"visits": "count", "rank": "ranking"}
    assert dataset.ranking_info["rank"]["rank_values"] == [1, 2, 3]


def test_dataset_rejects_bad_data() -> None:
    with pytest.raises(ValidationError, match="unknown data type"):
        SimulationExperimentDataset(key_results={"x": [1]}, data_types={"x": "fuzzy"})
    with pytest.raises(ValidationError, match="non-negative integers"):
        SimulationExperimentDataset(key_results={"x": [1, -2]}, data_types={"x": "count"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        SimulationExperimentDataset(results={"x": [1]})


# --- reading tables ---------------------------------------------------------------------


def test_read_single_value_csv(tmp_path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text("respondent,score,why,age\n"
                    "r1,4,Great value,34\n"
                    "r2,2,Too sweet,51\n"
                    "r3,,,29\n"
                    "r4,5,Love it,40\n", encoding="utf-8")
    dataset = SimulationExperimentEmpiricalValidator.read_empirical_data_from_csv(
        path, agent_id_column="respondent", agent_comments_column="why",
        agent_attributes_columns=["age"])
    assert dataset.name == "Empirical_Data_survey"
    assert dataset.key_results == {"score": [4, 2, None, 5]}  # whole numbers as int
    assert dataset.result_types == {"score": "per_agent"}
    assert dataset.data_types == {"score": "count"}
    assert dataset.agent_names == ["r1", "r2", "r3", "r4"]
    assert dataset.agent_justifications[0] == {"agent_name": "r1", "agent_index": 0,
                                               "justification": "Great value"}
    assert dataset.agent_justifications[2]["justification"] == ""
    assert dataset.agent_attributes == {"age": ["34", "51", "29", "40"]}

    frame = pd.read_csv(path)
    from_frame = SimulationExperimentEmpiricalValidator.read_empirical_data_from_dataframe(
        frame, agent_id_column="respondent", agent_comments_column="why",
        agent_attributes_columns=["age"], dataset_name="Empirical_Data_survey",
        dataset_description=dataset.description)
    assert from_frame.model_dump() == dataset.model_dump()

    validator, again = SimulationExperimentEmpiricalValidator.create_from_csv(
        path, value_column="score")
    assert isinstance(validator, SimulationExperimentEmpiricalValidator)
    assert again.key_results == dataset.key_results


def test_csv_data_validates_against_a_simulation(tmp_path) -> None:
    path = tmp_path / "real.csv"
    path.write_text("rating\n" + "\n".join(str(v) for v in CONTROL) + "\n", encoding="utf-8")
    control = SimulationExperimentEmpiricalValidator.read_empirical_data_from_csv(path)
    treatment = SimulationExperimentDataset(key_results={"rating": TREATMENT},
                                            result_types={"rating": "per_agent"})
    result = SimulationExperimentEmpiricalValidator().validate(
        control, treatment, validation_types=["statistical"])
    metric = result.statistical_results["test_results"]["treatment"]["rating"]
    expected = stats.ttest_ind(CONTROL, TREATMENT, equal_var=False).pvalue
    assert metric["p_value"] == pytest.approx(float(expected), rel=1e-12)


def test_read_ranking_layouts(tmp_path) -> None:
    ranks = tmp_path / "ranks.csv"
    ranks.write_text("id,A,B,C\n1,1,2,3\n2,2,1,3\n3,1,3,2\n", encoding="utf-8")
    dataset = SimulationExperimentEmpiricalValidator.read_empirical_data_from_csv(
        ranks, experimental_data_type="ranking_per_agent", agent_id_column="id")
    assert dataset.key_results == {"A": [1, 2, 1], "B": [2, 1, 3], "C": [3, 3, 2]}
    assert set(dataset.data_types.values()) == {"ranking"}

    ordinal = tmp_path / "ordinal.csv"
    ordinal.write_text("who,ranking\nx,B-A-C\ny,A-B-C\nz,\n", encoding="utf-8")
    dataset = SimulationExperimentEmpiricalValidator.read_empirical_data_from_csv(
        ordinal, experimental_data_type="ordinal_ranking_per_agent", agent_id_column="who")
    assert dataset.key_results == {"A_rank": [2, 1, None], "B_rank": [1, 2, None],
                                   "C_rank": [3, 3, None]}
    assert dataset.ranking_info["A_rank"]["original_options"] == ["A", "B", "C"]
    assert dataset.ranking_info["A_rank"]["max_rank"] == 2


def test_reading_errors_are_clear(tmp_path) -> None:
    reader = SimulationExperimentEmpiricalValidator
    with pytest.raises(FileNotFoundError):
        reader.read_empirical_data_from_csv(tmp_path / "nope.csv")
    path = tmp_path / "t.csv"
    path.write_text("a,b\nx,y\n", encoding="utf-8")
    with pytest.raises(ValueError, match="value_column"):
        reader.read_empirical_data_from_csv(path)
    with pytest.raises(ValueError, match="not found"):
        reader.read_empirical_data_from_csv(path, value_column="score")
    with pytest.raises(ValueError, match="experimental_data_type"):
        reader.read_empirical_data_from_csv(path, experimental_data_type="matrix")
    with pytest.raises(TypeError, match="DataFrame"):
        reader.read_empirical_data_from_dataframe({"a": [1]})


def test_undefined_effect_sizes_are_left_out_of_the_score() -> None:
    control = {"key_results": {"share": 0.42, "score": CONTROL},
               "result_types": {"share": "aggregate", "score": "per_agent"}}
    treatment = {"key_results": {"share": 0.61, "score": CONTROL},
                 "result_types": {"share": "aggregate", "score": "per_agent"}}
    result = validate_simulation_experiment_empirically(control, treatment,
                                                        validation_types=["statistical"])
    per_metric = result.statistical_results["test_results"]["treatment"]
    assert per_metric["share"]["effect_size"] != per_metric["share"]["effect_size"]  # NaN
    assert per_metric["score"]["effect_size"] == 0.0
    assert result.overall_score == pytest.approx(1.0)  # from "score" alone
    assert result.summary.startswith("Statistical validation: 0/2 tests significant")
