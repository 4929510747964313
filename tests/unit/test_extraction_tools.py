"""ResultsReducer, ArtifactExporter, Normalizer and the Jupyter chat widget, offline."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tinytroupe.agent import TinyPerson
from tinytroupe.agent.contacts import AgentRef
from tinytroupe.clients import Completion, OfflineClient
from tinytroupe.extraction import normalizer as normalizer_module
from tinytroupe.extraction.artifact_exporter import ArtifactExporter
from tinytroupe.extraction.normalizer import NormalizationError, Normalizer
from tinytroupe.extraction.results_reducer import ResultsReducer
from tinytroupe.ui import AgentChatJupyterWidget

QUESTIONS = ["What do you think of our new oat-milk latte?",
             "Would you pay four euros for it every morning?"]


# --- ResultsReducer -------------------------------------------------------------------


def interview() -> tuple[TinyPerson, TinyPerson]:
    """Lisa, interviewed by the user, answering towards Oscar (the offline model)."""
    lisa = TinyPerson("Lisa")
    lisa.define("occupation", "data scientist")
    oscar = TinyPerson("Oscar")
    lisa.make_agent_accessible(oscar)
    for question in QUESTIONS:
        lisa.listen_and_act(question)
    return lisa, oscar


def author_and_content(focus_agent, source_agent, target_agent, kind, event, content,
                       timestamp):
    """The rule of upstream's synthetic data example."""
    if event == "TALK":
        return (focus_agent.name, content)
    return ("USER" if source_agent is None else source_agent.name, content)


def conversation_reducer() -> ResultsReducer:
    reducer = ResultsReducer()
    reducer.add_reduction_rule("TALK", author_and_content)
    reducer.add_reduction_rule("CONVERSATION", author_and_content)
    return reducer


def test_reducer_turns_an_interview_into_rows_in_memory_order() -> None:
    lisa, _ = interview()
    rows = conversation_reducer().reduce_agent(lisa)
    episodes = lisa.episodic_memory.retrieve_all()
    talks = [e["content"]["action"]["content"] for e in episodes
             if e["role"] == "assistant" and e["content"]["action"]["type"] == "TALK"]
    assert talks  # the offline model answers the interviewer
    assert len(rows) == len(QUESTIONS) + len(talks)
    assert rows[0] == ("USER", QUESTIONS[0])
    assert [r for r in rows if r[0] == "USER"] == [("USER", q) for q in QUESTIONS]
    assert [r[1] for r in rows if r[0] == "Lisa"] == talks


def test_rules_get_upstreams_keyword_arguments() -> None:
    lisa, oscar = interview()
    calls: list[dict] = []
    reducer = ResultsReducer()
    reducer.add_reduction_rule("TALK", lambda **kw: calls.append(kw))  # returns None
    reducer.add_reduction_rule("CONVERSATION", lambda **kw: calls.append(kw))
    assert reducer.reduce_agent(lisa) == []  # None results are left out
    stimulus = calls[0]
    assert stimulus == {"focus_agent": lisa, "source_agent": None, "target_agent": lisa,
                        "kind": "stimulus", "event": "CONVERSATION",
                        "content": QUESTIONS[0], "timestamp": None}
    talk = next(c for c in calls if c["event"] == "TALK")
    assert talk["kind"] == "action" and talk["source_agent"] is lisa
    assert talk["target_agent"] is oscar  # looked up by name


def test_sources_known_only_by_name_and_timestamps() -> None:
    lisa = TinyPerson("Lisa")
    lisa.episodic_memory.store({
        "role": "user", "type": "stimulus", "simulation_timestamp": "2024-05-01T10:00:00",
        "content": {"stimuli": [{"type": "CONVERSATION", "content": "hello",
                                 "source": "Someone Elsewhere"}]}})
    lisa.episodic_memory.store({
        "role": "user", "type": "stimulus", "simulation_timestamp": None,
        "content": {"stimuli": [{"type": "VISUAL", "content": "a cup", "source": ""}]}})
    rows = conversation_reducer().reduce_agent(lisa)
    assert rows == [("Someone Elsewhere", "hello")]  # VISUAL has no rule
    seen: list = []
    reducer = ResultsReducer()
    reducer.add_reduction_rule("CONVERSATION", lambda **kw: seen.append(kw) or kw["timestamp"])
    assert reducer.reduce_agent(lisa) == ["2024-05-01T10:00:00"]
    assert isinstance(seen[0]["source_agent"], AgentRef)
    assert seen[0]["source_agent"].name == "Someone Elsewhere"


def test_reducer_makes_a_dataframe_with_the_column_names() -> None:
    pytest.importorskip("pandas")
    lisa, _ = interview()
    reducer = conversation_reducer()
    df = reducer.reduce_agent_to_dataframe(lisa, column_names=["author", "content"])
    assert list(df.columns) == ["author", "content"]
    assert [tuple(row) for row in df.itertuples(index=False)] == reducer.reduce_agent(lisa)
    assert df.iloc[0]["author"] == "USER" and df.iloc[0]["content"] == QUESTIONS[0]


def test_a_trigger_gets_one_rule() -> None:
    reducer = ResultsReducer()
    reducer.add_reduction_rule("TALK", author_and_content)
    with pytest.raises(ValueError, match="TALK already exists"):
        reducer.add_reduction_rule("TALK", author_and_content)
    with pytest.raises(TypeError):
        reducer.add_reduction_rule("THINK", "not a function")


def test_dataframe_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    lisa = TinyPerson("Lisa")
    with pytest.raises(ImportError, match=r"pip install 'tinytroupe\[extraction\]'"):
        conversation_reducer().reduce_agent_to_dataframe(lisa, column_names=["a", "b"])


def test_modules_import_without_the_optional_libraries() -> None:
    code = ("import sys\n"
            "for name in ('pandas', 'docx', 'ipywidgets'):\n"
            "    sys.modules[name] = None\n"
            "import tinytroupe.extraction, tinytroupe.ui\n"
            "import tinytroupe.extraction.results_reducer, tinytroupe.extraction.normalizer\n"
            "import tinytroupe.extraction.artifact_exporter, tinytroupe.ui.jupyter_widgets\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# --- ArtifactExporter -----------------------------------------------------------------


def test_exporter_writes_text_json_and_markdown_in_upstreams_layout(tmp_path: Path) -> None:
    exporter = ArtifactExporter(str(tmp_path))
    path = exporter.export("summary", "    Line one\n    Line two", "reports")
    assert Path(path) == tmp_path / "reports" / "summary.txt"
    assert Path(path).read_text(encoding="utf-8") == "Line one\nLine two"  # dedented

    data = {"title": "Interview", "content": "  Ação & café\n  done"}
    path = exporter.export("interview", data, "data", target_format="json")
    assert json.loads(Path(path).read_text(encoding="utf-8")) == {
        "title": "Interview", "content": "Ação & café\ndone"}
    assert data["content"].startswith("  ")  # the caller's dict is not changed
    rows = [{"author": "Lisa", "content": "hi"}]
    path = exporter.export("rows", rows, "data", target_format="json")
    assert json.loads(Path(path).read_text(encoding="utf-8")) == rows

    path = exporter.export("notes", {"content": "# Title\n\n- a point"}, "docs",
                           target_format="md")
    assert Path(path) == tmp_path / "docs" / "notes.md"
    assert Path(path).read_text(encoding="utf-8") == "# Title\n\n- a point"
    path = exporter.export("loose", "text", None)
    assert Path(path) == tmp_path / "loose.txt"


def test_exporter_replaces_invalid_name_characters(tmp_path: Path) -> None:
    path = ArtifactExporter(str(tmp_path)).export('Q1: "best" <drink>?', "x", "t")
    assert Path(path).name == "Q1- -best- -drink--.txt"
    assert Path(path).parent == tmp_path / "t"


def test_exporter_writes_a_word_document(tmp_path: Path) -> None:
    docx = pytest.importorskip("docx")
    exporter = ArtifactExporter(str(tmp_path))
    markdown = ("# Focus group\n\nPeople **liked** the *latte*.\n\n- cheap\n- tasty\n\n"
                "1. first\n\n> a quote\n\n```\ncode line\n```")
    path = exporter.export("report", markdown, "docs", content_format="md",
                           target_format="docx")
    assert Path(path) == tmp_path / "docs" / "report.docx"
    document = docx.Document(path)
    paragraphs = [(p.style.name, p.text) for p in document.paragraphs]
    assert ("Heading 1", "Focus group") in paragraphs
    assert ("Normal", "People liked the latte.") in paragraphs
    assert ("List Bullet", "cheap") in paragraphs and ("List Number", "first") in paragraphs
    assert ("Quote", "a quote") in paragraphs
    assert any(text == "code line" for _, text in paragraphs)
    bold = [r.text for p in document.paragraphs for r in p.runs if r.bold]
    assert bold == ["liked"]

    path = exporter.export("plain", {"content": "First para\nsame para\n\nSecond"}, "docs",
                           content_format="text", target_format="docx")
    texts = [p.text for p in docx.Document(path).paragraphs]
    assert texts == ["First para\nsame para", "Second"]
    with pytest.raises(ValueError, match="original format"):
        exporter.export("bad", "x", "docs", content_format="csv", target_format="docx")


def test_word_export_without_python_docx_names_the_extra(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setitem(sys.modules, "docx", None)
    with pytest.raises(ImportError, match=r"pip install 'tinytroupe\[extraction\]'"):
        ArtifactExporter(str(tmp_path)).export("r", "x", "d", target_format="docx")
    assert not (tmp_path / "d" / "r.docx").exists()


@pytest.mark.parametrize(("name", "content_type"), [
    ("../escaped", "t"), ("..\\escaped", "t"), ("a/../../escaped", "t"), ("..", "t"),
    ("/etc/escaped", "t"), ("ok", "../outside"), ("ok", "/tmp/outside"), ("ok", "a/../../x"),
])
def test_exporter_refuses_path_traversal(tmp_path: Path, name: str, content_type: str) -> None:
    base = tmp_path / "out"
    with pytest.raises(ValueError, match=r"[Rr]efus|Invalid"):
        ArtifactExporter(str(base)).export(name, "secret", content_type)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_exporter_refuses_a_folder_linked_outside(tmp_path: Path) -> None:
    base, outside = tmp_path / "out", tmp_path / "elsewhere"
    base.mkdir()
    outside.mkdir()
    (base / "linked").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="outside the output folder"):
        ArtifactExporter(str(base)).export("x", "secret", "linked")
    assert list(outside.iterdir()) == []


def test_exporter_writes_atomically_and_rejects_unknown_formats(tmp_path: Path) -> None:
    exporter = ArtifactExporter(str(tmp_path))
    exporter.export("a", "old", "t")
    with pytest.raises(ValueError, match="must be a dictionary"):
        exporter.export("a", "not json", "t", target_format="json")
    with pytest.raises(ValueError, match=r"cannot be written as JSON"):
        exporter.export("a", {"content": "x", "when": object()}, "t", target_format="json")
    exporter.export("a", "new", "t")
    assert (tmp_path / "t" / "a.txt").read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["a.txt"]  # no temporaries
    with pytest.raises(ValueError, match=r"Unsupported target format: 'pdf'.*docx"):
        exporter.export("a", "x", "t", target_format="pdf")
    with pytest.raises(ValueError, match="string, a dictionary or a list"):
        exporter.export("a", 42, "t")


# --- Normalizer -----------------------------------------------------------------------

DRINKS = ["I love strong black coffee in the morning", "Green tea keeps me calm at work",
          "Espresso after lunch is a must for me", "I drink herbal infusions before bed",
          "Cold brew is my favourite summer drink", "Hot chocolate reminds me of winter",
          "Sparkling water with lemon is refreshing"]


@pytest.fixture
def model_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(call name, thread name) of every structured call the normaliser makes."""
    calls: list[tuple[str, str]] = []
    real = normalizer_module.ask_structured

    def recording(messages, model, **kwargs):
        calls.append((kwargs.get("name"), threading.current_thread().name))
        return real(messages, model, **kwargs)

    monkeypatch.setattr(normalizer_module, "ask_structured", recording)
    return calls


def test_normalizer_finds_n_concepts_and_maps_deterministically(model_calls) -> None:
    normalizer = Normalizer(DRINKS, n=3)
    concepts = normalizer.normalized_elements
    assert len(concepts) == 3 and len(set(concepts)) == 3
    assert [name for name, _ in model_calls] == ["normalizer_concepts"]
    mapped = normalizer.normalize(DRINKS)
    assert len(mapped) == len(DRINKS) and set(mapped) <= set(concepts)
    assert normalizer.normalize(DRINKS[2]) == mapped[2]  # a string gives a string
    again = Normalizer(DRINKS, n=3)
    assert again.normalized_elements == concepts and again.normalize(DRINKS) == mapped
    mapping = normalizer.normalized_mapping()
    assert sorted(e for members in mapping.values() for e in members) == sorted(DRINKS)
    assert all(normalizer.normalize(e) == c for c, members in mapping.items() for e in members)


def test_normalizer_caches_and_maps_batches_concurrently_on_the_runner(
        model_calls, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[list[str]] = []
    real_run = normalizer_module.ParallelRunner.run

    def recording_run(runner, tasks, step, **kwargs):
        batches.append(list(tasks))
        return real_run(runner, tasks, step, **kwargs)

    monkeypatch.setattr(normalizer_module.ParallelRunner, "run", recording_run)
    monkeypatch.setattr(Normalizer, "batch_size", 2)
    normalizer = Normalizer(DRINKS, n=3)
    model_calls.clear()
    first = normalizer.normalize([*DRINKS, DRINKS[0]])  # a repeat is mapped once
    assert first[0] == first[-1]
    assert len(batches) == 1 and len(batches[0]) == 4  # 7 elements in batches of 2
    assert len(model_calls) == 4
    assert all(name == "normalizer_mapping" for name, _ in model_calls)
    assert all(thread != threading.current_thread().name for _, thread in model_calls)
    assert normalizer.normalize(DRINKS) == first[:-1]  # from the cache
    assert len(model_calls) == 4 and len(batches) == 1
    assert set(normalizer.normalizing_map) == set(DRINKS)


def test_a_failed_batch_is_reported_and_the_rest_cached(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(Normalizer, "batch_size", 3)
    normalizer = Normalizer(DRINKS, n=3)
    real = normalizer_module.ask_structured

    def failing_for_espresso(messages, model, **kwargs):
        if "Espresso" in messages[-1]["content"]:
            raise RuntimeError("model unavailable")
        return real(messages, model, **kwargs)

    monkeypatch.setattr(normalizer_module, "ask_structured", failing_for_espresso)
    with pytest.raises(NormalizationError, match=r"1 of 3 .*model unavailable") as caught:
        normalizer.normalize(DRINKS)
    assert len(caught.value.failures) == 1
    assert set(normalizer.normalizing_map) == set(DRINKS) - set(DRINKS[:3])


class ScriptedModel(OfflineClient):
    """Answers from `answers` in turn (a real model's), recording what it was sent."""

    def __init__(self, answers: list[dict]) -> None:
        super().__init__()
        self.answers, self.requests = list(answers), []

    def complete(self, messages, **params):
        self.requests.append(messages)
        return Completion(json.dumps(self.answers.pop(0)))


def test_invalid_model_answers_are_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    model = ScriptedModel([
        {"concepts": ["Coffee", "Coffee", "Tea"]},  # repeated: asked again
        {"concepts": ["Coffee", "Tea", "Other drinks"]},
        {"normalized": ["Coffee", "Tea", "Beer"]},  # too few, and not a concept
        {"normalized": ["Coffee", "Tea", "Coffee", "Tea"]},
    ])
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: model)
    normalizer = Normalizer(DRINKS[:4], n=3)
    assert normalizer.normalized_elements == ["Coffee", "Tea", "Other drinks"]
    assert "distinct" in model.requests[1][-1]["content"]
    assert normalizer.normalize(DRINKS[:4]) == ["Coffee", "Tea", "Coffee", "Tea"]
    assert "invalid" in model.requests[3][-1]["content"]
    assert model.answers == []


def test_few_elements_are_their_own_concepts(model_calls) -> None:
    normalizer = Normalizer(["tea", "coffee", "tea"], n=3)
    assert normalizer.normalized_elements == ["tea", "coffee"]
    assert model_calls == []
    assert normalizer.normalize("tea") in ("tea", "coffee")
    assert Normalizer(["a very long concept indeed"], n=2,
                      max_length=12).normalized_elements == ["a very long…"]


def test_normalizer_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="n must be"):
        Normalizer(DRINKS, n=0)
    with pytest.raises(ValueError, match="strings"):
        Normalizer(["ok", 3], n=1)
    normalizer = Normalizer(["tea"], n=1)
    with pytest.raises(ValueError, match="string or a list"):
        normalizer.normalize(42)
    with pytest.raises(ValueError, match="no concepts"):
        Normalizer([], n=2).normalize("tea")


# --- AgentChatJupyterWidget -----------------------------------------------------------


def test_widget_display_outside_jupyter_prints_a_note_and_returns(
        capsys: pytest.CaptureFixture[str]) -> None:
    chat = AgentChatJupyterWidget([TinyPerson("Lisa"), TinyPerson("Oscar")])
    assert list(chat.agents) == ["Lisa", "Oscar"]
    assert chat.display() is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert "Jupyter" in out[0] and "pip install 'tinytroupe[ui]'" in out[0]


def test_widget_reply_shows_what_the_agent_said_and_thought() -> None:
    lisa = TinyPerson("Lisa")
    lisa.define("occupation", "barista")
    lisa.make_agent_accessible(TinyPerson("Oscar"))
    reply = AgentChatJupyterWidget([lisa])._reply("Lisa", "How is the new latte?")
    said = [e["content"]["action"] for e in lisa.episodic_memory.retrieve_all()
            if e["role"] == "assistant"]
    expected = [a["content"] for a in said if a["type"] in ("TALK", "THINK")]
    assert expected and all(text in reply for text in expected)
