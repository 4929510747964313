"""Tools and enrichment: TinyToolUse, TinyWordProcessor, TinyCalendar, TinyEnricher, TinyStyler."""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from tinytroupe.agent import TinyPerson
from tinytroupe.agent.mental_faculty import faculty_from_state
from tinytroupe.agent.tool_use import TinyToolUse
from tinytroupe.clients import Completion
from tinytroupe.enrichment import TinyEnricher, TinyStyler
from tinytroupe.enrichment.rewriter import MAX_CONTEXT_CACHE, strip_enclosing_fence
from tinytroupe.extraction.artifact_exporter import ArtifactExporter
from tinytroupe.tools import (
    TinyCalendar,
    TinyTool,
    TinyWordProcessor,
    parse_action_namespace,
    tool_from_state,
)
from tinytroupe.utils import JsonSerializableRegistry

HAS_DOCX = importlib.util.find_spec("docx") is not None


def document_action(title: str = "Report", content: str = "# Hello", author: str = "X",
                    kind: str = "WRITE_DOCUMENT") -> dict[str, str]:
    return {"type": kind, "target": "",
            "content": json.dumps({"title": title, "content": content, "author": author})}


def answer(*actions: dict[str, Any]) -> str:
    return json.dumps({"actions": [*actions, {"type": "DONE"}], "cognitive_state": {}})


class Scripted:
    """A client answering every agent turn with `turn`, and enrichment with `enriched`."""

    def __init__(self, turn: str, enriched: str | None = None) -> None:
        self.turn, self.enriched = turn, enriched
        self.schemas: list[str] = []

    def complete(self, messages: list[dict[str, Any]], **params: Any) -> Completion:
        schema = ((params.get("response_format") or {}).get("json_schema") or {}).get("name")
        self.schemas.append(str(schema))
        if schema in ("enriched_content", "styled_content"):
            return Completion(content=json.dumps({"content": self.enriched}))
        return Completion(content=self.turn)


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch):
    """Make every model call answer from a `Scripted` client; returns a setter."""

    def use(turn: str, enriched: str | None = None) -> Scripted:
        client = Scripted(turn, enriched)
        monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
        return client

    return use


def writer(tmp_path: Path, name: str = "Writer", **tool_args: Any) -> TinyPerson:
    agent = TinyPerson(name)
    agent.add_mental_faculty(TinyToolUse(tools=[TinyWordProcessor(
        exporter=ArtifactExporter(str(tmp_path)), **tool_args)]))
    return agent


# --- the word processor ---------------------------------------------------------------


def test_a_word_processor_agent_writes_a_document(tmp_path: Path, script) -> None:
    script(answer(document_action()))
    agent = writer(tmp_path)
    actions = agent.act(return_actions=True)
    assert [a["action"]["type"] for a in actions] == ["WRITE_DOCUMENT", "DONE"]
    folder = tmp_path / "Document"
    assert (folder / "Report.X.md").read_text(encoding="utf-8") == "# Hello"
    assert json.loads((folder / "Report.X.json").read_text(encoding="utf-8")) == {
        "title": "Report", "content": "# Hello", "author": "X"}
    if HAS_DOCX:
        import docx

        document = docx.Document(str(folder / "Report.X.docx"))
        assert [p.text for p in document.paragraphs] == ["Hello"]
        assert document.paragraphs[0].style.name == "Heading 1"


def test_the_tool_prompt_is_in_the_agent_system_prompt(tmp_path: Path) -> None:
    prompt = writer(tmp_path).generate_agent_system_prompt()
    assert "WRITE_DOCUMENT" in prompt and "title" in prompt and "Markdown" in prompt
    assert "valid JSON object" in prompt  # the rules too, not only the definitions


def test_an_object_content_and_a_missing_author_are_accepted(tmp_path: Path) -> None:
    tool = TinyWordProcessor(exporter=ArtifactExporter(str(tmp_path)))
    agent = TinyPerson("Ann")
    action = {"type": "WRITE_DOCUMENT", "content": {"title": "Memo", "content": "Hi."}}
    assert tool.process_action(agent, action)
    assert (tmp_path / "Document" / "Memo.md").read_text(encoding="utf-8") == "Hi."
    assert json.loads((tmp_path / "Document" / "Memo.json").read_text())["author"] is None


def test_malformed_or_unsafe_documents_are_refused_without_raising(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out"
    tool = TinyWordProcessor(exporter=ArtifactExporter(str(out)))
    agent = TinyPerson("Ann")
    bad = [{"type": "WRITE_DOCUMENT", "content": "I will write it later."},
           {"type": "WRITE_DOCUMENT", "content": json.dumps({"content": "no title"})},
           {"type": "WRITE_DOCUMENT", "content": json.dumps({"title": "No content"})},
           document_action(title="../escape", author=None),  # type: ignore[arg-type]
           {"type": "WRITE_DOCUMENT", "content": None}]
    with caplog.at_level(logging.ERROR, logger="tinytroupe"):
        assert not any(tool.process_action(agent, action) for action in bad)
    assert "WRITE_DOCUMENT needs" in caplog.text and "could not be written" in caplog.text
    assert not list(tmp_path.rglob("*.md"))


def test_unknown_fields_are_ignored_with_a_warning(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    tool = TinyWordProcessor(exporter=ArtifactExporter(str(tmp_path)))
    content = json.dumps({"title": "T", "content": "Body.", "format": "md"})
    with caplog.at_level(logging.WARNING, logger="tinytroupe"):
        assert tool.process_action(TinyPerson("Ann"), {"type": "WRITE_DOCUMENT",
                                                       "content": content})
    assert "'format'" in caplog.text and (tmp_path / "Document" / "T.md").exists()


def test_other_actions_and_other_namespaces_are_not_the_word_processors() -> None:
    tool = TinyWordProcessor()
    agent = TinyPerson("Ann")
    assert not tool.process_action(agent, {"type": "TALK", "content": "hi"})
    assert not tool.process_action(agent, document_action(kind="TINYCALENDAR::WRITE_DOCUMENT"))
    assert tool.process_action(agent, document_action(kind="TINYWORDPROCESSOR::WRITE_DOCUMENT"))
    assert parse_action_namespace("tinycalendar::create_event") == ("TINYCALENDAR",
                                                                    "CREATE_EVENT")
    assert parse_action_namespace("TALK") == (None, "TALK")
    assert parse_action_namespace(None) == (None, None)


def test_write_document_enriches_then_exports(tmp_path: Path, script) -> None:
    client = script(answer(), enriched="# Hello\n\nA much longer and more detailed text.")
    tool = TinyWordProcessor(exporter=ArtifactExporter(str(tmp_path)), enricher=TinyEnricher())
    paths = tool.write_document("Plan", "# Hello", author="Ann")
    assert client.schemas == ["enriched_content"]
    assert sorted(Path(p).name for p in paths) == sorted(
        ["Plan.Ann.md", "Plan.Ann.json"] + (["Plan.Ann.docx"] if HAS_DOCX else []))
    assert (tmp_path / "Document" / "Plan.Ann.md").read_text(encoding="utf-8").endswith(
        "more detailed text.")


@pytest.mark.parametrize("enriched", ["short", ""])
def test_a_failed_enrichment_keeps_the_draft(tmp_path: Path, script, enriched: str) -> None:
    script(answer(), enriched=enriched)
    tool = TinyWordProcessor(exporter=ArtifactExporter(str(tmp_path)), enricher=TinyEnricher())
    tool.write_document("Plan", "A draft that is longer than the enrichment.")
    assert (tmp_path / "Document" / "Plan.md").read_text(encoding="utf-8") == (
        "A draft that is longer than the enrichment.")


def test_an_unreachable_enricher_keeps_the_draft(tmp_path: Path, monkeypatch) -> None:
    from tinytroupe.clients.errors import LLMRequestError

    class Down:
        def complete(self, messages: Any, **params: Any) -> Completion:
            raise LLMRequestError("connection refused")

    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: Down())
    tool = TinyWordProcessor(exporter=ArtifactExporter(str(tmp_path)), enricher=TinyEnricher())
    assert tool.process_action(TinyPerson("Ann"), document_action(title="Kept"))
    assert (tmp_path / "Document" / "Kept.X.md").read_text(encoding="utf-8") == "# Hello"


def test_the_enricher_is_used_when_the_agent_writes(tmp_path: Path, script) -> None:
    script(answer(document_action()), enriched="# Hello\n\nWith many, many more details.")
    agent = writer(tmp_path, enricher=TinyEnricher())
    agent.act()
    assert "many more details" in (tmp_path / "Document" / "Report.X.md").read_text("utf-8")


# --- ownership and the faculty ----------------------------------------------------------


def test_an_owned_tool_serves_its_owner_only(tmp_path: Path, script,
                                            caplog: pytest.LogCaptureFixture) -> None:
    owner, other = TinyPerson("Owner"), TinyPerson("Other")
    tool = TinyWordProcessor(owner=owner, exporter=ArtifactExporter(str(tmp_path)))
    with pytest.raises(ValueError, match="does not own tool"):
        tool.process_action(other, document_action())
    other.add_mental_faculty(TinyToolUse(tools=[tool]))
    script(answer(document_action()))
    with caplog.at_level(logging.ERROR, logger="tinytroupe"):
        other.act()  # the turn stands; the tool refused and said why
    assert "does not own tool" in caplog.text
    assert not (tmp_path / "Document").exists()
    assert tool.process_action(owner, document_action())


def test_tool_use_offers_actions_to_each_tool_in_order(tmp_path: Path) -> None:
    calendar = TinyCalendar()
    faculty = TinyToolUse(tools=[TinyWordProcessor(exporter=ArtifactExporter(str(tmp_path))),
                                 calendar])
    agent = TinyPerson("Ann")
    event = {"type": "CREATE_EVENT", "content": json.dumps({"title": "Sync",
                                                            "date": "2025-03-14"})}
    assert faculty.process_action(agent, event)
    assert faculty.process_action(agent, document_action())
    assert not faculty.process_action(agent, {"type": "THINK", "content": "hmm"})
    assert len(calendar.all_events()) == 1
    definitions = faculty.actions_definitions_prompt()
    assert definitions.index("WRITE_DOCUMENT") < definitions.index("CREATE_EVENT")
    assert faculty.name == "Tool Use"
    with pytest.raises(TypeError, match="TinyTool"):
        TinyToolUse(tools=["not a tool"])  # type: ignore[list-item]


def test_the_faculty_survives_encoding_and_decoding_the_agent(tmp_path: Path,
                                                             script) -> None:
    agent = writer(tmp_path, enricher=TinyEnricher(use_past_results_in_context=True))
    agent.mental_faculties[0].tools[0].set_owner(agent)
    state = json.loads(json.dumps(agent.encode_complete_state()))  # JSON all the way
    [saved] = state["mental_faculties"]
    assert saved["type"] == "TinyToolUse"
    assert saved["tools"][0]["exporter"] == {"base_output_folder": str(tmp_path)}
    assert saved["tools"][0]["owner"] == "Writer"

    TinyPerson.clear_agents()  # as in a new process
    restored = TinyPerson("Writer").decode_complete_state(state)
    [faculty] = restored.mental_faculties
    assert isinstance(faculty, TinyToolUse)
    [tool] = faculty.tools
    assert isinstance(tool, TinyWordProcessor) and tool.owner is restored
    assert isinstance(tool.enricher, TinyEnricher) and tool.enricher.use_past_results_in_context
    assert tool.exporter.base_output_folder == str(tmp_path)
    assert "WRITE_DOCUMENT" in restored.generate_agent_system_prompt()
    script(answer(document_action(title="After")), enriched="# Hello\n\nRestored and longer.")
    restored.act()
    assert (tmp_path / "Document" / "After.X.md").exists()


def test_saved_tools_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown tool type"):
        tool_from_state({"type": "Hammer"})
    with pytest.raises(ValueError, match="must be a list"):
        faculty_from_state({"type": "TinyToolUse", "name": "Tool Use", "tools": "x"})
    with pytest.raises(ValueError, match="base_output_folder"):
        tool_from_state({"type": "TinyWordProcessor", "exporter": {"folder": 1}})
    with pytest.raises(ValueError, match="unknown enricher"):
        tool_from_state({"type": "TinyWordProcessor", "enricher": {"type": "os.system"}})
    with pytest.raises(ValueError, match="map dates"):
        tool_from_state({"type": "TinyCalendar", "calendar": {"2025-01-01": "x"}})


def test_a_custom_tool_with_the_base_constructor_round_trips() -> None:
    class Stamp(TinyTool):
        def _process_action(self, agent: Any, action: dict[str, Any]) -> bool:
            return action.get("type") == "STAMP"

        def actions_definitions_prompt(self) -> str:
            return "- STAMP: stamp a paper."

        def actions_constraints_prompt(self) -> str:
            return ""

    tool = Stamp("stamp", "A rubber stamp.", real_world_side_effects=True)
    restored = tool_from_state(json.loads(json.dumps(tool.to_state())))
    assert isinstance(restored, Stamp) and restored.description == "A rubber stamp."
    assert restored.real_world_side_effects
    faculty = TinyToolUse(tools=[restored])
    assert faculty.actions_constraints_prompt() == ""  # empty prompts are left out
    assert faculty.process_action(TinyPerson("Ann"), {"type": "STAMP"})


def test_tools_serialise_with_to_json_as_upstream() -> None:
    calendar = TinyCalendar()
    calendar.add_event("2025-01-02", "Dentist")
    data = calendar.to_json()
    assert data["name"] == "calendar" and "owner" not in data and "_lock" not in data
    copy = JsonSerializableRegistry.from_json(json.loads(json.dumps(data)))
    assert isinstance(copy, TinyCalendar) and copy.owner is None
    copy.add_event("2025-01-02", "Lunch")  # the lock is back
    assert [e["title"] for e in copy.find_events(2025, 1, 2)] == ["Dentist", "Lunch"]


# --- the calendar -----------------------------------------------------------------------


def test_an_agent_creates_calendar_events(script) -> None:
    calendar = TinyCalendar()
    agent = TinyPerson("Planner")
    agent.add_mental_faculty(TinyToolUse(tools=[calendar]))
    event = {"title": "Design review", "description": "Q3 plans",
             "mandatory_attendees": ["Lisa Carter", "Oscar"], "optional_attendees": "Marcos",
             "start_time": "2025-03-14T10:30", "end_time": "2025-03-14T11:30"}
    script(answer({"type": "CREATE_EVENT", "content": json.dumps(event), "target": ""}))
    agent.act()
    assert calendar.find_events(2025, 3, 14) == [{
        "title": "Design review", "description": "Q3 plans", "owner": "Planner",
        "mandatory_attendees": ["Lisa Carter", "Oscar"], "optional_attendees": ["Marcos"],
        "start_time": "2025-03-14T10:30", "end_time": "2025-03-14T11:30"}]
    assert calendar.find_events(2025, 3, 14, hour=10, minute=30)
    assert calendar.find_events(2025, 3, 14, hour=9) == []
    assert calendar.find_events(2025, 3, 15) == []
    assert "CREATE_EVENT" in agent.generate_agent_system_prompt()


def test_calendar_dates_times_and_state() -> None:
    from datetime import date, datetime

    calendar = TinyCalendar()
    calendar.add_event(date(2025, 5, 1), "Holiday")
    calendar.add_event(datetime(2025, 5, 1, 9, 0), "Run", start_time="09:00")
    calendar.add_event("tomorrow", "Vague")
    agent = TinyPerson("Ann")
    assert not calendar.process_action(agent, {"type": "CREATE_EVENT", "content": "{}"})
    assert calendar.process_action(agent, {"type": "CREATE_EVENT",
                                           "content": json.dumps({"title": "Someday"})})
    assert [e["title"] for e in calendar.find_events(2025, 5, 1, hour=9)] == ["Run"]
    assert [(e["date"], e["title"]) for e in calendar.all_events()] == [
        ("2025-05-01", "Holiday"), ("2025-05-01", "Run"), ("tomorrow", "Vague"),
        ("undated", "Someday")]
    restored = tool_from_state(json.loads(json.dumps(calendar.to_state())))
    assert isinstance(restored, TinyCalendar)
    assert restored.all_events() == calendar.all_events()
    restored.find_events(2025, 5, 1)[0]["title"] = "changed"  # copies, not the calendar
    assert restored.find_events(2025, 5, 1)[0]["title"] == "Holiday"


def test_a_shared_calendar_takes_events_from_many_threads() -> None:
    calendar = TinyCalendar()
    agents = [TinyPerson(f"A{i}") for i in range(8)]
    start = threading.Barrier(len(agents))

    def book(agent: TinyPerson) -> None:
        start.wait()
        for k in range(50):
            calendar.process_action(agent, {"type": "CREATE_EVENT", "content": json.dumps(
                {"title": f"{agent.name}-{k}", "date": "2025-06-01"})})

    threads = [threading.Thread(target=book, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(calendar.find_events(2025, 6, 1)) == 8 * 50


# --- enrichment ---------------------------------------------------------------------------


def test_enricher_and_styler_return_text_offline() -> None:
    draft = "We will build a bridge over the river next spring, with local partners."
    enriched = TinyEnricher().enrich_content("Make it longer.", draft, content_type="Plan")
    styled = TinyStyler().apply_style(draft, "pirate", content_type="Announcement",
                                      context_info="A town newsletter.")
    assert isinstance(enriched, str) and enriched.strip()
    assert isinstance(styled, str) and styled.strip()
    again = TinyEnricher().enrich_content("Make it longer.", draft, content_type="Plan")
    assert again == enriched  # the offline model is deterministic


def test_past_results_are_remembered_and_shown_when_asked(script) -> None:
    client = script(answer(), enriched="styled text")
    seen: list[str] = []
    original = client.complete

    def spy(messages: list[dict[str, Any]], **params: Any) -> Completion:
        seen.append(messages[0]["content"])
        return original(messages, **params)

    client.complete = spy  # type: ignore[method-assign]
    styler = TinyStyler(use_past_results_in_context=True)
    for i in range(MAX_CONTEXT_CACHE + 2):
        assert styler.apply_style(f"text {i}", "formal") == "styled text"
    assert len(styler.context_cache) == MAX_CONTEXT_CACHE
    assert styler.context_cache[-1] == {"original": f"text {MAX_CONTEXT_CACHE + 1}",
                                        "style": "formal", "styled": "styled text"}
    assert "Earlier result" not in seen[0] and "Earlier result 1" in seen[1]
    plain = TinyStyler()
    plain.apply_style("text", "formal")
    assert plain.context_cache == []
    assert "Earlier result" not in seen[-1]
    TinyEnricher().enrich_content("r", "c", context_cache=["an earlier draft"])
    assert "an earlier draft" in seen[-1]


def test_styler_keeps_the_original_when_the_model_gives_nothing(script) -> None:
    script(answer(), enriched="  ")
    assert TinyStyler().apply_style("Keep me.", "casual") == "Keep me."


def test_an_enclosing_code_fence_is_removed(script) -> None:
    script(answer(), enriched="```markdown\n# Title\n\nBody\n```")
    assert TinyEnricher().enrich_content("r", "c") == "# Title\n\nBody"
    assert strip_enclosing_fence("no fence") == "no fence"
    assert strip_enclosing_fence("``` ```") == "``` ```"


def test_enrichers_round_trip_with_to_json() -> None:
    styler = TinyStyler(use_past_results_in_context=True)
    copy = JsonSerializableRegistry.from_json(json.loads(json.dumps(styler.to_json())))
    assert isinstance(copy, TinyStyler) and copy.use_past_results_in_context
    assert copy.context_cache == [] and "_lock" not in styler.to_json()
