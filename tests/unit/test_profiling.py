"""Profiler: exact distributions, numeric summaries, PNG charts, reports, comparisons."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile

import pytest

from tinytroupe.agent import TinyPerson
from tinytroupe.profiling import Profiler

PNG_HEADER = b"\x89PNG\r\n\x1a\n"

# (name, age, occupation title, nationality or None)
PEOPLE = [("Ana", 30, "nurse", "Brazilian"), ("Ben", 30, "teacher", "Brazilian"),
          ("Chen", 45, "nurse", "Chinese"), ("Dora", 52, "engineer", None),
          ("Eli", 45, "nurse", "Chinese"), ("Femi", 61, "teacher", "Nigerian")]


def population(prefix: str = "") -> list[TinyPerson]:
    """TinyPersons with known age, occupation title and (mostly) nationality."""
    agents = []
    for name, age, title, nationality in PEOPLE:
        agent = TinyPerson(prefix + name).define("age", age).define(
            "occupation", {"title": title, "organization": "City"})
        if nationality is not None:
            agent.define("nationality", nationality)
        agents.append(agent)
    return agents


def test_distributions_match_the_population_exactly() -> None:
    result = Profiler().profile(population(), plot=False)
    distributions = result["distributions"]
    assert list(distributions) == ["age", "occupation.title", "nationality"]
    assert distributions["age"].to_dict() == {30: 2, 45: 2, 52: 1, 61: 1}
    assert list(distributions["age"].index) == [30, 45, 52, 61]  # ordered by value
    assert distributions["occupation.title"].to_dict() == {"engineer": 1, "nurse": 3,
                                                           "teacher": 2}
    assert distributions["nationality"].to_dict() == {"Brazilian": 2, "Chinese": 2,
                                                      "Nigerian": 1}
    summary = result["summary_stats"]
    assert summary["total_agents"] == 6
    assert summary["attributes_analyzed"] == 3
    assert summary["data_completeness"] == {"age": 1.0, "occupation.title": 1.0,
                                            "nationality": 5 / 6}
    ages = [age for _, age, _, _ in PEOPLE]
    assert summary["numeric_attributes"] == {"age": {
        "count": 6, "mean": statistics.fmean(ages), "median": statistics.median(ages),
        "std": statistics.pstdev(ages), "min": 30, "max": 61}}
    assert "charts" not in result


def test_dicts_of_persona_fields_and_dotted_keys() -> None:
    agents = [{"age": 20, "occupation": {"title": "chef"}, "nationality": "French"},
              {"age": 20, "occupation": {"title": "chef"}},
              {"age": 35, "occupation": "unemployed", "nationality": "French"}]
    profiler = Profiler(["age", "occupation.title", "nationality"])
    distributions = profiler.profile(agents, plot=False)["distributions"]
    assert distributions["age"].to_dict() == {20: 2, 35: 1}
    assert distributions["occupation.title"].to_dict() == {"chef": 2}  # no title: left out
    assert distributions["nationality"].to_dict() == {"French": 2}
    assert profiler.agents_data is not None and len(profiler.agents_data) == 3


def test_mixed_and_structured_values_are_counted() -> None:
    agents = [{"x": 1}, {"x": "one"}, {"x": 1}, {"tags": ["a", "b"]}, {"tags": ["a", "b"]}]
    distributions = Profiler(["x", "tags", "missing"]).profile(agents, plot=False)[
        "distributions"]
    assert distributions["x"].to_dict() == {"1": 2, "one": 1}  # cannot order 1 and "one"
    assert distributions["tags"].to_dict() == {'["a", "b"]': 2}
    assert distributions["missing"].empty


def test_advanced_analysis_reads_the_population() -> None:
    agents = population()
    agents[0].make_agent_accessible(agents[1])
    profiler = Profiler()
    profiler.add_custom_analysis("count", len)
    analysis = profiler.profile(agents, plot=False)["analysis"]
    demographics = analysis["demographics"]
    assert demographics["age_stats"]["range"] == (30, 61)
    assert demographics["age_stats"]["mean"] == pytest.approx(statistics.fmean(
        [age for _, age, _, _ in PEOPLE]))
    assert demographics["occupation_diversity"]["unique_count"] == 3
    assert demographics["occupation_diversity"]["most_common"][0] == ("nurse", 3)
    assert demographics["geographic_diversity"]["distribution"] == {
        "Brazilian": 2, "Chinese": 2, "Nigerian": 1}
    assert analysis["social_analysis"]["connectivity"]["connectivity_distribution"] == {
        "isolated": 5, "low": 1, "medium": 0, "high": 0}
    assert analysis["count"] == 6


def test_render_writes_png_files(tmp_path) -> None:
    profiler = Profiler()
    profiler.profile(population(), plot=False)
    paths = profiler.render(output_folder=tmp_path / "charts")
    assert len(paths) >= 3  # one per attribute, then the analysis charts
    for path in paths:
        with open(path, "rb") as file:
            data = file.read()
        assert data.startswith(PNG_HEADER), path
        assert len(data) > 1000
        assert str(tmp_path / "charts") in path
    assert paths[0].endswith("01_age.png")


def test_profile_with_plot_returns_the_charts(tmp_path) -> None:
    result = Profiler(["age"]).profile(population(), output_folder=tmp_path,
                                       advanced_analysis=False)
    assert [p.rsplit("/", 1)[-1] for p in result["charts"]] == ["01_age.png"]
    assert (tmp_path / "01_age.png").read_bytes().startswith(PNG_HEADER)


def test_render_without_a_folder_uses_a_new_temporary_one(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    profiler = Profiler(["age"])
    profiler.profile(population(), plot=False, advanced_analysis=False)
    paths = profiler.render()
    assert len(paths) == 1 and paths[0].startswith(str(tmp_path / "tinytroupe-profile-"))
    with open(paths[0], "rb") as file:
        assert file.read(8) == PNG_HEADER


def test_render_and_report_need_a_profile_first() -> None:
    with pytest.raises(ValueError, match="profile"):
        Profiler().render()
    with pytest.raises(ValueError, match="profile"):
        Profiler().export_analysis_report()
    with pytest.raises(ValueError, match="profile"):
        Profiler().compare_populations([])


def test_compare_populations() -> None:
    profiler = Profiler()
    profiler.profile(population(), plot=False)
    other = [{"age": 30, "occupation": {"title": "pilot"}, "nationality": "Chilean"},
             {"age": 30, "occupation": {"title": "pilot"}},
             {"age": 22, "occupation": {"title": "nurse"}}]
    comparison = profiler.compare_populations(other)
    assert comparison["population_sizes"] == {"current": 6, "comparison": 3}
    occupations = comparison["attribute_comparisons"]["occupation.title"]
    assert occupations == {"current_unique_values": 3, "comparison_unique_values": 2,
                           "current_top_3": {"nurse": 3, "teacher": 2, "engineer": 1},
                           "comparison_top_3": {"pilot": 2, "nurse": 1}}
    ages = comparison["attribute_comparisons"]["age"]
    assert ages["current_top_3"] == {30: 2, 45: 2, 52: 1}  # ties in value order
    assert ages["comparison_top_3"] == {30: 2, 22: 1}
    only_age = profiler.compare_populations(other, attributes=["age"])
    assert list(only_age["attribute_comparisons"]) == ["age"]


def test_export_analysis_report_text_and_json(tmp_path) -> None:
    profiler = Profiler()
    profiler.profile(population(), plot=False)
    text_path = profiler.export_analysis_report(tmp_path / "report.txt")
    text = (tmp_path / "report.txt").read_text(encoding="utf-8")
    assert text_path == str(tmp_path / "report.txt")
    assert "Total Agents Analyzed: 6" in text
    assert "nationality: 83.33%" in text
    assert "  nurse: 3" in text
    profiler.export_analysis_report(tmp_path / "report.json")
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert document["summary_stats"]["total_agents"] == 6
    assert document["distributions"]["age"] == [[30, 2], [45, 2], [52, 1], [61, 1]]


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="attributes"):
        Profiler("age")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="int"):
        Profiler().profile([3], plot=False)


def test_missing_matplotlib_names_the_extra(monkeypatch) -> None:
    profiler = Profiler(["age"])
    profiler.profile(population(), plot=False, advanced_analysis=False)
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"tinytroupe\[analysis\]"):
        profiler.render()


def test_missing_pandas_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"tinytroupe\[analysis\]"):
        Profiler().profile([{"age": 3}], plot=False)


def test_importing_stays_light() -> None:
    code = ("import sys, tinytroupe, tinytroupe.profiling, tinytroupe.experimentation\n"
            "print([m for m in ('matplotlib', 'scipy', 'pandas', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
