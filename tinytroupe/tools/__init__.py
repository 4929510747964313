"""Tools: what agents use to get specialised work done (upstream's API).

`TinyTool` is the base; `TinyWordProcessor` writes documents (WRITE_DOCUMENT, through an
`ArtifactExporter`, optionally expanded by a `TinyEnricher`); `TinyCalendar` keeps events
(CREATE_EVENT). An agent uses tools through the `tinytroupe.agent.TinyToolUse` faculty::

    lisa.add_mental_faculties([TinyToolUse(tools=[TinyWordProcessor(owner=lisa,
                                                                    exporter=exporter)])])
"""

import logging

from tinytroupe.tools.tiny_calendar import TinyCalendar
from tinytroupe.tools.tiny_tool import TinyTool, parse_action_namespace, tool_from_state
from tinytroupe.tools.tiny_word_processor import TinyWordProcessor

#: The library's logger (upstream's modules log through ``tools.logger``).
logger = logging.getLogger("tinytroupe")

__all__ = ["TinyCalendar", "TinyTool", "TinyWordProcessor", "parse_action_namespace",
           "tool_from_state"]
