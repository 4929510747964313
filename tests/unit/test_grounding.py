"""Grounding in local files: text, Markdown, .docx and PDF; the grounding faculty's actions."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tinytroupe.agent import FilesAndWebGroundingFaculty, TinyPerson
from tinytroupe.agent.grounding import (
    GroundingError,
    LocalFilesGroundingConnector,
    WebPagesGroundingConnector,
    html_to_text,
    read_file,
)
from tinytroupe.clients import Completion


def pdf_bytes(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica (written by hand: no PDF writer needed)."""
    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        "/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return out


@pytest.fixture
def documents(tmp_path: Path) -> Path:
    """A folder with a text file, a Markdown file, a .docx file and a PDF."""
    docx = pytest.importorskip("docx")
    (tmp_path / "notes.txt").write_text(
        "Meeting notes.\n\nThe budget for the garden project is 4,000 euros.\n", "utf-8")
    (tmp_path / "handbook.md").write_text(
        "# Handbook\n\n## Holidays\n\nEvery employee gets 25 vacation days per year.\n",
        "utf-8")
    word = docx.Document()
    word.add_paragraph("Product sheet")
    word.add_paragraph("The Zephyr kettle boils one litre in ninety seconds.")
    table = word.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Colour", "Copper"
    word.save(tmp_path / "kettle.docx")
    (tmp_path / "warranty.pdf").write_bytes(
        pdf_bytes(["Warranty terms.", "The warranty lasts three years from purchase."]))
    (tmp_path / ".hidden.txt").write_text("secret", "utf-8")
    (tmp_path / "image.dat").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.txt").write_text("not read: subfolder", "utf-8")
    return tmp_path


class Scripted:
    def __init__(self, *documents: dict) -> None:
        self.documents = list(documents)
        self.requests: list[list[dict]] = []

    def complete(self, messages: list[dict], **params: object) -> Completion:
        self.requests.append(messages)
        document = self.documents.pop(0) if self.documents else {"actions": [{"type": "DONE"}]}
        return Completion(content=json.dumps(document))


def _act(kind: str, content: str = "") -> dict:
    return {"actions": [{"type": kind, "content": content, "target": ""}, {"type": "DONE"}],
            "cognitive_state": {}}


def _last_thought(agent: TinyPerson) -> str:
    episode = agent.episodic_memory.retrieve_all(item_type="stimulus")[-1]
    stimulus = episode["content"]["stimuli"][0]
    assert stimulus["type"] == "THOUGHT"
    return stimulus["content"]


def test_each_kind_of_file_is_read(documents: Path) -> None:
    assert "4,000 euros" in read_file(documents / "notes.txt")[0].text
    assert "25 vacation days" in read_file(documents / "handbook.md")[0].text
    kettle = read_file(documents / "kettle.docx")[0].text
    assert "ninety seconds" in kettle and "Colour | Copper" in kettle
    pages = read_file(documents / "warranty.pdf")
    assert len(pages) == 1 and "three years" in pages[0].text
    assert pages[0].name == "warranty.pdf" and pages[0].metadata["file_name"] == "warranty.pdf"
    with pytest.raises(GroundingError, match="not text"):
        read_file(documents / "image.dat")
    (documents / "old.doc").write_bytes(b"whatever")
    with pytest.raises(GroundingError, match=r"\.doc files are not supported"):
        read_file(documents / "old.doc")
    with pytest.raises(GroundingError, match="cannot be read"):
        read_file(documents / "missing.txt")
    (documents / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    with pytest.raises(GroundingError, match=r"broken\.pdf.*not a readable PDF"):
        read_file(documents / "broken.pdf")


def test_grounding_finds_a_passage_in_each_local_file(documents: Path) -> None:
    connector = LocalFilesGroundingConnector(folders_paths=[str(documents)])
    assert connector.list_sources() == ["handbook.md", "kettle.docx", "notes.txt",
                                        "warranty.pdf"]  # no hidden, binary or subfolder file
    for query, source, passage in [
        ("garden project budget", "notes.txt", "4,000 euros"),
        ("vacation days per year", "handbook.md", "25 vacation days"),
        ("kettle boils litre", "kettle.docx", "ninety seconds"),
        ("warranty years", "warranty.pdf", "three years"),
    ]:
        best = connector.search(query, top_k=1)[0]
        assert best.source == source and passage in best.text, query
    relevant = connector.retrieve_relevant("warranty", top_k=1)[0]
    assert relevant.startswith("SOURCE: warranty.pdf\nSIMILARITY SCORE: ")
    page = connector.retrieve_by_name("notes.txt")
    assert page[0].startswith("SOURCE: notes.txt\nPAGE: 0\nCONTENT:\n") and "euros" in page[0]
    assert connector.retrieve_by_name("nope.txt") == []
    assert connector.find_name("NOTES") == connector.find_name("Notes.TXT") == "notes.txt"


def test_a_missing_folder_is_logged_and_skipped(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="tinytroupe"):
        connector = LocalFilesGroundingConnector(folders_paths=[str(tmp_path / "nowhere")])
    assert connector.list_sources() == [] and "nowhere" in caplog.text
    with pytest.raises(GroundingError, match="does not exist"):
        connector.add_folder(str(tmp_path / "nowhere"))
    with pytest.raises(GroundingError):
        connector.add_file_path(str(tmp_path / "nowhere.txt"))


def test_an_agent_lists_and_consults_documents(documents: Path, monkeypatch) -> None:
    client = Scripted(_act("LIST_DOCUMENTS"), _act("CONSULT", "kettle.docx"),
                      _act("CONSULT", "how many vacation days"), _act("CONSULT", "zzz qqq"))
    monkeypatch.setattr("tinytroupe.clients.get_client", lambda: client)
    faculty = FilesAndWebGroundingFaculty(folders_paths=[str(documents)])
    agent = TinyPerson("Ann", mental_faculties=[faculty])
    prompt = agent.generate_agent_system_prompt()
    assert "LIST_DOCUMENTS" in prompt and "CONSULT" in prompt
    agent.act()
    assert _last_thought(agent) == ("The documents I can consult are: handbook.md; "
                                    "kettle.docx; notes.txt; warranty.pdf")
    agent.act()
    thought = _last_thought(agent)
    assert thought.startswith("I consulted 'kettle.docx'") and "ninety seconds" in thought
    agent.act()  # not a name: a search over the passages
    thought = _last_thought(agent)
    assert "No document is named" in thought and "From handbook.md:" in thought
    assert "25 vacation days" in thought.split("From ", 2)[1]  # the best passage first
    agent.act()
    assert "can't find any document" in _last_thought(agent)
    agent.act()  # the next turn sees what was found
    assert "25 vacation days" in json.dumps(client.requests[-1])


def test_grounding_faculty_survives_encode_and_decode(documents: Path) -> None:
    (documents / "sub" / "extra.md").unlink(missing_ok=True)
    extra = documents / "sub" / "extra.md"
    extra.write_text("The launch date is the 3rd of March.", "utf-8")
    faculty = FilesAndWebGroundingFaculty(folders_paths=[str(documents)],
                                          web_urls=["http://127.0.0.1:9/page"])
    faculty.local_files_grounding_connector.add_file_path(str(extra))
    agent = TinyPerson("Ann", mental_faculties=[faculty])
    state = json.loads(json.dumps(agent.encode_complete_state()))
    TinyPerson.clear_agents()
    restored = TinyPerson("Ann").decode_complete_state(state).mental_faculties[0]
    assert isinstance(restored, FilesAndWebGroundingFaculty) and restored is not faculty
    assert restored.list_documents() == faculty.list_documents() == [
        "handbook.md", "kettle.docx", "notes.txt", "warranty.pdf", "extra.md",
        "http://127.0.0.1:9/page"]
    assert "3rd of March" in restored.consult("extra")[0]


def test_web_urls_are_checked_and_not_fetched_until_needed() -> None:
    with pytest.raises(GroundingError, match="not an http"):
        WebPagesGroundingConnector(web_urls=["file:///etc/passwd"])
    connector = WebPagesGroundingConnector(web_urls=["http://127.0.0.1:9/a"])
    assert connector.list_sources() == ["http://127.0.0.1:9/a"]
    assert connector.loaded_web_urls == [] and connector.failed_web_urls == {}
    assert connector.retrieve_by_name("http://127.0.0.1:9/other") == []  # never fetched


def test_html_is_reduced_to_its_visible_text() -> None:
    page = ("<html><head><title>Shop</title><style>p {color: red}</style></head><body>"
            "<script>alert('x')</script><h1>Opening hours</h1><p>Mon&ndash;Fri 9&amp;5</p>"
            "</body></html>")
    assert html_to_text(page) == "Shop\n\nOpening hours\n\nMon\u2013Fri 9&5"
