"""An agent writes a resume with the word processor tool.

Upstream's "Word Processor Tool Usage" example in a few lines: TinyToolUse +
TinyWordProcessor + TinyEnricher, the documents exported as Markdown, Word and JSON.
"""

import json
from pathlib import Path

from tinytroupe.agent import TinyPerson, TinyToolUse
from tinytroupe.enrichment import TinyEnricher
from tinytroupe.examples import create_lisa_the_data_scientist
from tinytroupe.extraction import ArtifactExporter
from tinytroupe.tools import TinyWordProcessor

data_export_folder = "extractions/wordprocessor"

exporter = ArtifactExporter(base_output_folder=data_export_folder)
enricher = TinyEnricher()

lisa = create_lisa_the_data_scientist()
word_processor = TinyWordProcessor(owner=lisa, exporter=exporter, enricher=enricher)
lisa.add_mental_faculties([TinyToolUse(tools=[word_processor])])

actions = lisa.listen_and_act(
    "You have just been fired and need to find a new job. You decide to think about what "
    "you want in life and then write a resume. Make it very detailed.", return_actions=True)
used_tool = any(a["action"]["type"] == "WRITE_DOCUMENT" for a in actions)

if not used_tool:
    # The offline model (which the fake server also answers with) is not a language
    # model: it never chooses WRITE_DOCUMENT. So that the rest of the example runs the
    # same, write Lisa's resume with the word processor directly, from her persona and
    # what she just thought, as the agent would have.
    thoughts = [a["action"]["content"] for a in actions if a["action"]["type"] == "THINK"]
    skills = "\n".join(f"- {skill}" for skill in lisa.get("skills") or [])
    draft = (f"# {lisa.name}\n\n{lisa.minibio(extended=False)}\n\n"
             f"## Objective\n\n{' '.join(thoughts) or 'A new role in data science.'}\n\n"
             f"## Skills\n\n{skills}\n")
    word_processor.write_document(title="Resume", content=draft, author=lisa.name)

folder = Path(data_export_folder)
files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
resume = next((f for f in files if f.endswith(".md")), None)

RESULT = {
    "agent": TinyPerson.get_agent_by_name("Lisa Carter").name,
    "actions": [a["action"]["type"] for a in actions],
    "used_tool": used_tool,
    "files": files,
    "markdown": (folder / resume).read_text(encoding="utf-8") if resume else None,
    "json": [json.loads((folder / f).read_text(encoding="utf-8"))
             for f in files if f.endswith(".json")],
}
