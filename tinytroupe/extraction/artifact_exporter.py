r"""ArtifactExporter: write what a simulation produced to files (upstream's API).

``ArtifactExporter(base_output_folder).export(artifact_name, artifact_data, content_type,
content_format=None, target_format="txt", verbose=False)`` writes
``<base_output_folder>/<content_type>/<artifact_name>.<target_format>``, upstream's
layout (no subfolder when `content_type` is None):

* ``txt``/``text``/``md``/``markdown``: the text as is: a string, or a dict's
  ``"content"``;
* ``json``: a dict (or, here also, a list) as indented JSON;
* ``docx``: a Word document made with python-docx (optional:
  ``pip install 'tinytroupe[extraction]'``), from text (paragraphs) or from Markdown
  (`content_format` "md"/"markdown": headings, lists, quotes, code blocks, bold,
  italics and inline code become Word's own styles). Upstream converts through pandoc;
  here no external program is needed.

Text is dedented first, as upstream (a dict's ``"content"`` too, in a copy: the
caller's dict is not changed). Characters that file names cannot hold (``/ \ : * ? "
< > |``, tabs, line breaks, ``;``) are replaced by hyphens with a warning, as
upstream; a name or `content_type` that tries to leave the output folder (``..``
segments, absolute paths) is refused with ValueError, and so is any path that would
end up outside it (through a symbolic link, say). Files are written atomically: a
temporary file in the same folder, flushed to disk, then renamed over the target, so a
reader never sees half a file and a failed export leaves the old file in place. An
unsupported `target_format` or data type is a ValueError naming what is supported.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tinytroupe import sanitize
from tinytroupe.extras import require
from tinytroupe.utils import JsonSerializableRegistry, dedent

__all__ = ["EXTRA_HINT", "SUPPORTED_TARGET_FORMATS", "ArtifactExporter", "import_docx"]

logger = logging.getLogger("tinytroupe")

#: How to install what the optional Word-document export needs.
EXTRA_HINT = "pip install 'tinytroupe[extraction]'"

_TEXT_FORMATS = ("txt", "text", "md", "markdown")
#: The target formats `export` accepts (upstream's).
SUPPORTED_TARGET_FORMATS = (*_TEXT_FORMATS, "json", "docx")
#: The source formats a Word document can be made from.
_DOCX_SOURCE_FORMATS = ("text", "txt", "markdown", "md")

#: Characters replaced by a hyphen in artifact names (upstream's list).
_INVALID_NAME_CHARS = ("/", "\\", ":", "*", "?", '"', "<", ">", "|", "\n", "\t", "\r", ";")
#: Characters an XML document (so a Word file) cannot hold.
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def import_docx() -> Any:
    """The `docx` module (python-docx); raises ImportError naming the extra if missing."""
    return require("docx", "extraction", "exporting Word documents (python-docx)")


class ArtifactExporter(JsonSerializableRegistry):
    """Exports artifacts (texts, JSON documents) to files under one folder (module doc)."""

    def __init__(self, base_output_folder: str) -> None:
        self.base_output_folder = str(base_output_folder)

    def export(self, artifact_name: str, artifact_data: dict | list | str, content_type: str,
               content_format: str | None = None, target_format: str = "txt",
               verbose: bool = False) -> str:
        """Write `artifact_data` as `target_format`; returns the file's path (module doc).

        `content_format` is the format of the text inside (for ``docx``: "text"/"txt",
        the default, or "markdown"/"md"). Raises ValueError for an unsupported format or
        data, or a name that would leave the output folder; ImportError (naming the
        extra) for ``docx`` without python-docx; OSError if the file cannot be written.
        """
        if target_format not in SUPPORTED_TARGET_FORMATS:
            raise ValueError(f"Unsupported target format: {target_format!r}; supported: "
                             f"{', '.join(SUPPORTED_TARGET_FORMATS)}.")
        data = _dedented(artifact_data)
        path = self._compose_filepath(data, _clean_name(artifact_name), content_type,
                                      target_format, verbose)
        if target_format == "json":
            self._export_as_json(path, data, content_type, verbose)
        elif target_format == "docx":
            self._export_as_docx(path, data, content_format, verbose)
        else:
            self._export_as_txt(path, data, content_type, verbose)
        if verbose:
            print(f"Exported {artifact_name!r} to {path}")
        logger.info("exported artifact %r to %s", artifact_name, path)
        return path

    # --- formats ----------------------------------------------------------------------

    def _export_as_txt(self, artifact_file_path: str, artifact_data: dict | list | str,
                       content_type: str | None, verbose: bool = False) -> None:
        """Write the text (a string, or a dict's "content") as is."""
        _write_atomically(artifact_file_path,
                          lambda out: out.write(sanitize.utf8(_content_of(artifact_data))))

    def _export_as_json(self, artifact_file_path: str, artifact_data: dict | list | str,
                        content_type: str | None, verbose: bool = False) -> None:
        """Write a dict or list as indented JSON."""
        if not isinstance(artifact_data, (dict, list)):
            raise ValueError("The artifact data must be a dictionary (or a list) to export "
                             f"to JSON, got {type(artifact_data).__name__}.")
        try:
            text = json.dumps(artifact_data, indent=4, ensure_ascii=False)
        except TypeError as exc:
            raise ValueError(f"The artifact data cannot be written as JSON: {exc}") from None
        _write_atomically(artifact_file_path, lambda out: out.write(sanitize.utf8(text)))

    def _export_as_docx(self, artifact_file_path: str, artifact_data: dict | list | str,
                        content_original_format: str | None, verbose: bool = False) -> None:
        """Write a Word document of the text, read as plain text or as Markdown."""
        source = "text" if content_original_format is None else content_original_format
        if source not in _DOCX_SOURCE_FORMATS:
            raise ValueError(f"The original format cannot be {content_original_format!r} to "
                             f"export to DOCX; use one of {', '.join(_DOCX_SOURCE_FORMATS)}.")
        docx = import_docx()
        document = docx.Document()
        text = _NOT_IN_XML.sub("", sanitize.clean_text(_content_of(artifact_data)))
        if source in ("markdown", "md"):
            _render_markdown(document, text)
        else:
            _render_text(document, text)
        _write_atomically(artifact_file_path, document.save)

    # --- paths ------------------------------------------------------------------------

    def _compose_filepath(self, artifact_data: dict | list | str, artifact_name: str,
                          content_type: str | None, target_format: str | None = None,
                          verbose: bool = False) -> str:
        """``<base>/<content_type>/<artifact_name>.<target_format>``, its folder created.

        Raises ValueError if the path would not be inside the base folder.
        """
        extension = target_format or ("txt" if isinstance(artifact_data, str) else "json")
        subfolder = "" if content_type is None else _checked_relative(
            str(content_type), "content type")
        base = Path(self.base_output_folder)
        path = base / subfolder / f"{artifact_name}.{extension}"
        _check_inside(path, base)  # before any folder is made
        path.parent.mkdir(parents=True, exist_ok=True)
        _check_inside(path, base)  # and with the folders there (links followed)
        return str(path)


# --- helpers ------------------------------------------------------------------------


def _dedented(artifact_data: Any) -> dict | list | str:
    if isinstance(artifact_data, str):
        return dedent(artifact_data)
    if isinstance(artifact_data, dict):
        data = dict(artifact_data)
        if isinstance(data.get("content"), str):
            data["content"] = dedent(data["content"])
        return data
    if isinstance(artifact_data, list):
        return artifact_data
    raise ValueError("The artifact data must be a string, a dictionary or a list, got "
                     f"{type(artifact_data).__name__}.")


def _content_of(artifact_data: dict | list | str) -> str:
    """The text to write: the string itself, or a dict's "content"."""
    if isinstance(artifact_data, str):
        return artifact_data
    if isinstance(artifact_data, dict) and isinstance(artifact_data.get("content"), str):
        return artifact_data["content"]
    raise ValueError("To export as text or a document the artifact data must be a string or "
                     "a dictionary with a string under 'content'.")


def _clean_name(artifact_name: Any) -> str:
    """`artifact_name` fit for a file name (module doc); ValueError if it escapes."""
    name = str(artifact_name)
    _checked_relative(name, "artifact name")
    for char in _INVALID_NAME_CHARS:
        if char in name:
            name = name.replace(char, "-")
            logger.warning("Replaced invalid character %r with hyphen in artifact name %r.",
                           char, name)
    return name


def _checked_relative(value: str, what: str) -> str:
    """`value` if it is a relative path that stays below where it starts; else ValueError."""
    if value.strip() in ("", ".", ".."):
        raise ValueError(f"Invalid {what} {value!r}: it must name a file or folder.")
    segments = [segment.strip() for segment in re.split(r"[\\/]", value)]
    if ".." in segments or value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", value):
        raise ValueError(f"Refusing {what} {value!r}: it would leave the output folder "
                         "(no '..' segments or absolute paths).")
    if "\x00" in value:
        raise ValueError(f"Invalid {what} {value!r}: it holds a NUL character.")
    return value


def _check_inside(path: Path, base: Path) -> None:
    """ValueError unless `path`, links resolved, is inside `base`."""
    if not path.resolve().is_relative_to(base.resolve()):
        raise ValueError(f"Refusing to write {str(path)!r}: it is outside the output folder "
                         f"{str(base)!r}.")


def _write_atomically(path: str, write: Callable[[Any], Any]) -> None:
    """Have `write(binary_file)` fill a temporary file, then rename it to `path`."""
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                         dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- Word documents -----------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_INLINE = re.compile(r"(\*\*.+?\*\*|__.+?__|`[^`]+`|\*[^*\s][^*]*?\*|_[^_\s][^_]*?_)")


def _render_text(document: Any, text: str) -> None:
    """Plain text: one Word paragraph per blank-line-separated block, lines kept."""
    for block in re.split(r"\n\s*\n", text):
        if not block.strip():
            continue
        paragraph = document.add_paragraph()
        for i, line in enumerate(block.split("\n")):
            if i:
                paragraph.add_run().add_break()
            paragraph.add_run(line)


def _render_markdown(document: Any, text: str) -> None:
    """Common Markdown as Word styles: headings, lists, quotes, code, emphasis."""
    lines = text.split("\n")
    paragraph_lines: list[str] = []

    def flush() -> None:
        if paragraph_lines:
            _add_inline(document.add_paragraph(), " ".join(s.strip() for s in paragraph_lines))
            paragraph_lines.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            flush()
            code: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            paragraph = document.add_paragraph()
            for k, code_line in enumerate(code):
                run = paragraph.add_run(code_line)
                run.font.name = "Courier New"
                if k < len(code) - 1:
                    run.add_break()
        elif not line.strip():
            flush()
        elif match := _HEADING.match(line):
            flush()
            document.add_heading(match.group(2), level=len(match.group(1)))
        elif _RULE.match(line):
            flush()
        elif match := _BULLET.match(line):
            flush()
            _add_inline(document.add_paragraph(style="List Bullet"), match.group(1))
        elif match := _NUMBERED.match(line):
            flush()
            _add_inline(document.add_paragraph(style="List Number"), match.group(1))
        elif match := _QUOTE.match(line):
            flush()
            _add_inline(document.add_paragraph(style="Quote"), match.group(1))
        else:
            paragraph_lines.append(line)
        i += 1
    flush()


def _add_inline(paragraph: Any, text: str) -> None:
    """Add `text` to `paragraph`, **bold**, *italic* and `code` as run formatting."""
    for piece in _INLINE.split(text):
        if not piece:
            continue
        if (piece.startswith("**") and piece.endswith("**") and len(piece) > 4) or (
                piece.startswith("__") and piece.endswith("__") and len(piece) > 4):
            paragraph.add_run(piece[2:-2]).bold = True
        elif piece.startswith("`") and piece.endswith("`") and len(piece) > 2:
            paragraph.add_run(piece[1:-1]).font.name = "Courier New"
        elif piece[0] in "*_" and piece[-1] == piece[0] and len(piece) > 2:
            paragraph.add_run(piece[1:-1]).italic = True
        else:
            paragraph.add_run(piece)
