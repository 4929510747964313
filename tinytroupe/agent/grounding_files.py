"""Local files as grounding documents: text and Markdown, PDF and Word .docx files.

`read_file` reads one file into `Document` pages, sanitised and bounded by
`MAX_FILE_BYTES`: text and Markdown (any UTF-8 text file), PDF (one page per PDF page,
with pypdf) and Word .docx (python-docx); pypdf and python-docx come with the
``grounding`` extra. `LocalFilesGroundingConnector(folders_paths=...)` serves the files
of folders (not their subfolders; hidden files skipped) by file name. A folder that
does not exist, or a file that cannot be read, is logged and skipped when folders are
given to the constructor (as upstream); `add_file_path` raises `GroundingError`.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from tinytroupe.agent.grounding_base import (
    BaseSemanticGroundingConnector,
    Document,
    GroundingError,
)
from tinytroupe.sanitize import clean_text

logger = logging.getLogger("tinytroupe")

__all__ = ["LocalFilesGroundingConnector", "read_file"]

#: Largest local file read.
MAX_FILE_BYTES = 50 * 1024 * 1024

_PDF, _DOCX = ".pdf", ".docx"
_NOT_TEXT = frozenset({".doc", ".xls", ".xlsx", ".ppt", ".pptx", ".zip", ".gz", ".png", ".jpg",
                       ".jpeg", ".gif", ".bmp", ".mp3", ".mp4", ".exe", ".so", ".dll", ".bin"})


class LocalFilesGroundingConnector(BaseSemanticGroundingConnector):
    """The files of local folders (module doc)."""

    def __init__(self, name: str = "Local Files", folders_paths: list[str] | None = None) -> None:
        super().__init__(name)
        self.folders_paths: list[str] = []
        self.loaded_folders_paths: list[str] = []
        self.file_paths: list[str] = []  # files added one by one
        self._load_lock = threading.Lock()  # one folder loaded at a time
        self.add_folders(folders_paths or [])

    def add_folders(self, folders_paths: list[str]) -> None:
        """Add each folder's files; a folder that cannot be read is logged and skipped."""
        if isinstance(folders_paths, (str, os.PathLike)):
            folders_paths = [folders_paths]
        for folder in folders_paths or []:
            try:
                self.add_folder(folder)
            except GroundingError as exc:
                logger.warning("grounding: %s (working folder: %s)", exc, os.getcwd())

    def add_folder(self, folder_path: str) -> None:
        """Add the files of `folder_path` (not of its subfolders); each folder once.

        Raises `GroundingError` if it is not a readable folder; a file in it that cannot
        be read is logged and skipped.
        """
        folder = os.fspath(folder_path)
        with self._lock:
            if folder not in self.folders_paths:
                self.folders_paths.append(folder)
        with self._load_lock:
            if folder not in self.loaded_folders_paths:
                self._load_folder(folder)

    def _load_folder(self, folder: str) -> None:
        if not os.path.isdir(folder):
            raise GroundingError(f"folder {folder!r} does not exist or is not a folder")
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise GroundingError(f"folder {folder!r} cannot be read: {exc.strerror}") from None
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_file():
                continue
            try:
                self.add_documents(read_file(entry.path))
            except GroundingError as exc:
                logger.warning("grounding: skipped %s", exc)
        with self._lock:
            self.loaded_folders_paths.append(folder)

    def add_file_path(self, file_path: str) -> None:
        """Add one file (raises `GroundingError` if it cannot be read)."""
        path = os.fspath(file_path)
        self.add_documents(read_file(path))
        with self._lock:
            if path not in self.file_paths:
                self.file_paths.append(path)


def read_file(path: str | os.PathLike[str]) -> list[Document]:
    """The pages of a local file, named by its file name (raises `GroundingError`).

    PDF: a page per PDF page (pypdf); .docx: one page (python-docx); other files: one
    page of UTF-8 text (refused if they look binary).
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise GroundingError(f"file {path!r} cannot be read: {exc.strerror}") from None
    if size > MAX_FILE_BYTES:
        raise GroundingError(f"file {path!r} is larger than {MAX_FILE_BYTES} bytes")
    suffix = Path(path).suffix.lower()
    metadata = {"file_name": name, "file_path": path}
    if suffix == _PDF:
        texts = _pdf_pages(path)
    elif suffix == _DOCX:
        texts = [_docx_text(path)]
    elif suffix in _NOT_TEXT:
        raise GroundingError(f"file {path!r}: {suffix} files are not supported")
    else:
        texts = [_plain_text(path)]
    return [Document(clean_text(text), name, page, dict(metadata))
            for page, text in enumerate(texts)]


def _plain_text(path: str) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise GroundingError(f"file {path!r} cannot be read: {exc.strerror}") from None
    if b"\x00" in data[:8192]:
        raise GroundingError(f"file {path!r} is not text (and not PDF or .docx)")
    return data.decode("utf-8-sig", errors="replace")


def _pdf_pages(path: str) -> list[str]:
    try:
        import pypdf
    except ImportError:
        raise GroundingError(f"file {path!r}: reading PDF files needs pypdf "
                             "(pip install 'tinytroupe[grounding]')") from None
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise GroundingError(f"file {path!r} is an encrypted PDF")
        return [page.extract_text() or "" for page in reader.pages]
    except GroundingError:
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file
        raise GroundingError(f"file {path!r} is not a readable PDF: "
                             f"{type(exc).__name__}: {exc}") from None


def _docx_text(path: str) -> str:
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError:
        raise GroundingError(f"file {path!r}: reading .docx files needs python-docx "
                             "(pip install 'tinytroupe[grounding]')") from None
    try:
        document = docx.Document(path)
        blocks = []
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                blocks.append(Paragraph(child, document).text)
            elif tag == "tbl":
                for row in Table(child, document).rows:
                    blocks.append(" | ".join(cell.text.strip() for cell in row.cells))
        return "\n\n".join(block for block in blocks if block.strip())
    except Exception as exc:  # a broken zip, broken XML, ...
        raise GroundingError(f"file {path!r} is not a readable .docx file: "
                             f"{type(exc).__name__}: {exc}") from None
