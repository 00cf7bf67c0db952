"""Reading and writing one OneDep message file (mmCIF) as a `Document`.

Reading uses gemmi and accepts every form real files have: loops or
tag/value pairs, 0-byte files, categories with no rows, missing items, more
than one data block. Writing produces the layout OneDep's own tools write
(one `data_messages` block, categories in SPEC order, single rows as pairs),
ASCII only, which gemmi and the `mmcif` package both parse.
"""

from __future__ import annotations

import re
from pathlib import Path

from gemmi import cif

from .codec import decode_text, encode_text
from .errors import CifParseError
from .model import CATEGORIES, Document

BLOCK_NAME = "messages"
# Longer single-line values go into a text field: CIF 1.1 caps lines at 2048.
_MAX_INLINE = 2000
_GEMMI_LOCATION = re.compile(r":(\d+):\d*(?:\(\d+\))?: ?(.*)", re.DOTALL)


def _value(raw: str) -> str | None:
    """A raw CIF token to the model's value: null, or decoded Unicode text."""
    if raw == "?" or raw == ".":
        return None
    first = raw[0]
    text = cif.as_string(raw) if first == "'" or first == '"' or first == ";" else raw
    if "&#" in text or "\\u" in text or "\\U" in text or "\n " in text:
        return decode_text(text)
    return text


def parse_text(text: str, deposition_id: str, content_type: str, source: str = "<string>") -> Document:
    """Parse message-file text into a Document."""
    if not text.strip():
        return Document(deposition_id, content_type)
    try:
        parsed = cif.read_string(text)
    except (ValueError, RuntimeError) as exc:
        raise _parse_error(source, exc) from None
    return _to_document(parsed, deposition_id, content_type)


def parse_file(path: Path, deposition_id: str, content_type: str) -> Document:
    """Parse a message file into a Document; an empty file is an empty Document."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CifParseError(str(path), None, f"cannot read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        # Stray Latin-1 bytes occur in old files; keep the characters, don't drop the file.
        text = data.decode("latin-1")
        if not text.strip():
            raise CifParseError(str(path), line, "not text") from exc
    return parse_text(text, deposition_id, content_type, source=str(path))


def _parse_error(source: str, exc: Exception) -> CifParseError:
    message = str(exc)
    match = _GEMMI_LOCATION.search(message)
    if match:
        return CifParseError(source, int(match.group(1)), match.group(2).strip() or "syntax error")
    return CifParseError(source, None, message)


def _to_document(parsed: cif.Document, deposition_id: str, content_type: str) -> Document:
    document = Document(deposition_id, content_type)
    for block in parsed:
        for category in CATEGORIES:
            table = block.find_mmcif_category("_" + category.name + ".")
            if len(table) == 0:
                continue
            prefix_length = len(category.name) + 2
            columns = {tag[prefix_length:].lower(): index for index, tag in enumerate(table.tags)}
            positions = [columns.get(item) for item in category.items]
            row_type = category.row_type
            rows = document.rows(category)
            for row in table:
                values = [None if pos is None else _value(row[pos]) for pos in positions]
                rows.append(row_type(*values))
    return document


# -- writing ---------------------------------------------------------------


def _token(value: str | None) -> tuple[str, bool]:
    """The CIF token for a value and whether it is a multi-line text field."""
    if value is None:
        return "?", False
    text = encode_text(value)
    if "\n" in text or "\r" in text or len(text) > _MAX_INLINE:
        return ";" + text + "\n;", True
    quoted = cif.quote(text)
    if quoted.startswith(";"):  # gemmi could not quote it on one line
        return ";" + text + "\n;", True
    return quoted, False


def format_document(document: Document) -> str:
    """The file text of a document (ASCII)."""
    out = ["data_" + BLOCK_NAME, "#"]
    for category in CATEGORIES:
        rows = document.rows(category)
        if not rows:
            continue
        tags = ["_" + category.name + "." + item for item in category.items]
        if len(rows) == 1:
            width = max(len(tag) for tag in tags) + 3
            for tag, value in zip(tags, rows[0].values(), strict=True):
                token, is_text = _token(value)
                if is_text:
                    out.append(tag)
                    out.append(token)
                else:
                    out.append(tag.ljust(width) + token)
        else:
            out.append("loop_")
            out.extend(tags)
            for row in rows:
                line: list[str] = []
                for value in row.values():
                    token, is_text = _token(value)
                    if is_text:
                        if line:
                            out.append(" ".join(line))
                            line = []
                        out.append(token)
                    else:
                        line.append(token)
                if line:
                    out.append(" ".join(line))
        out.append("#")
    return "\n".join(out) + "\n"
