"""Grounding connectors: documents an agent can list, consult by name and search by meaning.

Upstream's classes and methods (microsoft/TinyTroupe ``tinytroupe/agent/grounding.py``)
without llama-index:

- `BaseSemanticGroundingConnector`: named `Document` pages, indexed passage by passage
  in a `SemanticMemory`; `list_sources()`, `retrieve_by_name(name)` (the pages of a
  document, each cut to `MAX_PAGE_CHARS`), `retrieve_relevant(relevance_target,
  top_k=20)` (the best passages, each a text of three lines: ``SOURCE:``,
  ``SIMILARITY SCORE:`` and ``RELEVANT CONTENT:``), `search` (the same as `MemoryHit`s).
- `LocalFilesGroundingConnector(folders_paths=...)`: the files of folders (not their
  subfolders; hidden files skipped), by file name: text and Markdown (any UTF-8 text
  file), PDF (one document page per PDF page, with pypdf) and Word .docx (python-docx);
  pypdf and python-docx come with the ``grounding`` extra. A folder that does not exist,
  or a file that cannot be read, is logged and skipped when folders are given to the
  constructor (as upstream); `add_file_path` raises `GroundingError`.
- `WebPagesGroundingConnector(web_urls=...)`: web pages by URL, fetched only when they
  are needed (a search, or consulting that page) or explicitly added (`add_web_url`),
  over urllib3, with a bounded size and time. A page that cannot be fetched (no network,
  unknown host, HTTP error) raises `GroundingError` naming the URL when it was asked
  for by name or added; a search skips it (logged once) instead. Only configured URLs
  are ever fetched: nothing an agent says makes the connector fetch another address.

Everything read is untrusted text: it is sanitised, and bounded (`MAX_FILE_BYTES`,
`MAX_PAGE_BYTES`) while it is read. All connectors are thread-safe.

The classes and functions live in `grounding_base` (documents, connector interface,
semantic base), `grounding_files` (local files) and `grounding_web` (web pages); this
module is their public import path.
"""

# The limits (MAX_PAGE_CHARS, MAX_FILE_BYTES, MAX_PAGE_BYTES, WEB_TIMEOUT) stay
# importable from here too, outside __all__ as before.
from tinytroupe.agent.grounding_base import MAX_PAGE_CHARS as MAX_PAGE_CHARS
from tinytroupe.agent.grounding_base import (
    BaseSemanticGroundingConnector,
    Document,
    GroundingConnector,
    GroundingError,
)
from tinytroupe.agent.grounding_files import MAX_FILE_BYTES as MAX_FILE_BYTES
from tinytroupe.agent.grounding_files import LocalFilesGroundingConnector, read_file
from tinytroupe.agent.grounding_web import MAX_PAGE_BYTES as MAX_PAGE_BYTES
from tinytroupe.agent.grounding_web import WEB_TIMEOUT as WEB_TIMEOUT
from tinytroupe.agent.grounding_web import (
    WebPagesGroundingConnector,
    fetch_web_page,
    html_to_text,
)

__all__ = [
    "BaseSemanticGroundingConnector", "Document", "GroundingConnector", "GroundingError",
    "LocalFilesGroundingConnector", "WebPagesGroundingConnector", "fetch_web_page",
    "html_to_text", "read_file",
]
