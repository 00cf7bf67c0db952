"""Reading and writing one OneDep message file (mmCIF) as a `Document`.

Reading uses gemmi and accepts every form real files have: loops or
tag/value pairs, 0-byte files, categories with no rows, missing items, more
than one data block. Writing produces the layout OneDep's own tools write
(one `data_messages` block, categories in OneDep's order, single rows as pairs),
ASCII only, which gemmi and the `mmcif` package both parse.
"""

from __future__ import annotations

import errno
import os
import re
import stat

from gemmi import cif

from .codec import decode_text, encode_text
from .errors import ArchiveEntryError, CifParseError, InvalidInputError
from .model import CATEGORIES, Category, Document

BLOCK_NAME = "messages"
# Longer single-line values go into a text field: CIF 1.1 caps lines at 2048.
_MAX_INLINE = 2000
_GEMMI_LOCATION = re.compile(r":(\d+):\d*(?:\(\d+\))?: ?(.*)", re.DOTALL)


# Anything decode_text would change: a character reference, a \\u escape, a " ;" line start.
_SPACED_SEMICOLON = re.compile(r"\n +;")


def _needs_decoding(text: str) -> bool:
    """Whether decode_text could change anything in `text`.

    Each test starts with what is fastest to rule out: a one-character search
    runs at memory speed, and the regular expression below with its literal
    start runs faster than a substring search for "\\n " would.
    """
    if "&" in text and "&#" in text:
        return True
    if "\\" in text and ("\\u" in text or "\\U" in text):
        return True
    return _SPACED_SEMICOLON.search(text) is not None


_LIFTED = "\x01"  # marks a text field lifted out before parsing; never in a file we would lift from


def _lift_text_fields(text: str) -> tuple[str, list[str]] | None:
    """The text with each text field's content replaced by a short token, and the contents.

    gemmi parses long text fields a character at a time; message files are
    mostly text, so cutting the fields out first (a line starting with ";"
    opens a field, the next such line closes it) and parsing the remaining
    skeleton is much faster. None when the text has CRs or the token
    character, or a field is not closed: then the plain parse is used.
    """
    if _LIFTED in text or "\r" in text:
        return None
    # Every "\n;" opens or closes a field, in turn: split there, the odd parts are the fields' contents.
    lead = text.startswith(";")  # a field opening on the first line: as if a line end came before it
    parts = ("\n" + text if lead else text).split("\n;")
    if len(parts) % 2 == 0:
        return None  # the last field is not closed
    fields = parts[1::2]
    pieces = [parts[0]]
    for number, after in enumerate(parts[2::2]):
        pieces.append(f"\n;{_LIFTED}{number}\n;")  # the closing "\n;" stays in the skeleton
        pieces.append(after)
    skeleton = "".join(pieces)
    return (skeleton[1:] if lead else skeleton), fields


def _column(values: list[str | bool | None], decode: bool, lifted: dict[str, str]) -> list[str | None]:
    """One column from gemmi (quotes removed; None for `?`, False for `.`) to model values; the text
    fields put back are taken out of `lifted`."""
    column = [None if value is False else value for value in values] if False in values else values
    if lifted:  # text fields not yet put back (each token is in one column only)
        found = lifted.keys() & column
        if found:  # most columns hold no text field
            put_back = lifted.get  # a lifted text field's token is the key of its content
            column = [put_back(value, value) for value in column]  # type: ignore[arg-type,assignment]
            for token in found:
                del lifted[token]  # the columns after the last text field are not searched
    if decode:
        strings: list[str] = [value for value in column if value is not None]  # type: ignore[misc]
        if _needs_decoding("\x00".join(strings)):
            return [None if value is None else decode_text(value) for value in column]  # type: ignore[arg-type]
    return column  # type: ignore[return-value]


# A parsed file as the columns of each category's rows, in file order: what a Document is made of
# (`document_of`). Its lists are never changed, so they can be kept and made into documents again.
Columns = tuple[tuple[Category, tuple[list[str | None], ...]], ...]


def parse_text(text: str, deposition_id: str, content_type: str, source: str = "<string>") -> Document:
    """Parse message-file text into a Document."""
    return document_of(deposition_id, content_type, parse_text_columns(text, source))


def parse_text_columns(text: str, source: str = "<string>") -> Columns:
    """Parse message-file text into its categories' columns (see `document_of`)."""
    if not text or text.isspace():
        return ()
    lifted = _lift_text_fields(text)
    fields: list[str] = []
    parsed_text = text
    try:
        if lifted is None:
            parsed = cif.read_string(text)
        else:
            skeleton, fields = lifted
            parsed = cif.read_string(skeleton)
            parsed_text = skeleton
    except (ValueError, RuntimeError) as exc:
        try:  # report the error as the original text has it (its lines, its wording)
            parsed = cif.read_string(text)
            fields = []
            parsed_text = text
        except (ValueError, RuntimeError) as original:
            raise _parse_error(source, original) from None
        if lifted is None:
            raise _parse_error(source, exc) from None
    # One scan of the file decides whether any value needs decoding at all (most need none).
    decode = _needs_decoding(text)
    if decode and fields and not _needs_decoding(parsed_text):
        # Only the lifted text fields hold anything to decode: each is decoded here, once, and the
        # columns are not searched for it (a file's references are mostly in its messages' text).
        fields = [decode_text(field) for field in fields]
        decode = False
    try:
        return _to_columns(parsed, decode, fields)
    except (RuntimeError, ValueError) as exc:  # valid CIF that is no message file (e.g. mixed loops)
        raise CifParseError(source, None, f"not a message file: {exc}") from None


def document_of(deposition_id: str, content_type: str, columns: Columns) -> Document:
    """A new Document of new rows from parsed columns (which it never changes)."""
    document = Document(deposition_id, content_type)
    for category, values in columns:
        # Every column of a loop has its length: the rows are the columns read across.
        document.rows(category).extend(map(category.row_type, *values))
    return document


def parse_file(path: str | os.PathLike[str], deposition_id: str, content_type: str) -> Document:
    """Parse a message file into a Document; an empty file is an empty Document."""
    text = decode_bytes(read_regular_file(path))
    return parse_text(text, deposition_id, content_type, source=str(path))


# Never follow a link, never wait on a FIFO (a non-blocking open of one returns at once and
# fstat then refuses it), never take a terminal. O_NONBLOCK changes nothing for regular files.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def read_regular_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a message file, which must be a regular file: a symbolic link, FIFO,
    device or folder raises ArchiveEntryError naming the path and is never read."""
    return read_regular_file_status(path)[0]


def read_regular_file_status(path: str | os.PathLike[str]) -> tuple[bytes, os.stat_result]:
    """`read_regular_file`, with the file's status as it was when it was opened (what was read came from it)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            raise ArchiveEntryError(str(path), f"is {describe_entry(path)}; symbolic links are not followed") from None
        raise CifParseError(str(path), None, f"cannot read: {exc.strerror or exc}") from exc
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise ArchiveEntryError(str(path), f"is {_kind(status.st_mode)}, not a regular file; not read")
        # Read to the end, however the size changed since fstat (a file being replaced).
        chunks = [os.read(fd, status.st_size + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 20))
        return (chunks[0] if len(chunks) == 2 else b"".join(chunks)), status
    except OSError as exc:
        raise CifParseError(str(path), None, f"cannot read: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def describe_entry(path: str | os.PathLike[str]) -> str:
    """What a directory entry is, without following it: 'a symbolic link to X', 'a FIFO', ..."""
    try:
        mode = os.lstat(path).st_mode
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link to {os.readlink(path)}"
        except OSError:
            return "a symbolic link"
    return _kind(mode)


def _kind(mode: int) -> str:
    kinds = [
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "a special file")


def decode_bytes(data: bytes) -> str:
    """File bytes to text: UTF-8, with any stray byte that is not UTF-8 read as Latin-1.

    Old files hold the odd Latin-1 byte; only those bytes are read that way, so the
    file's valid UTF-8 characters are not turned into mojibake.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="surrogateescape")
        return _STRAY_BYTE.sub(lambda m: chr(ord(m.group(0)) - 0xDC00), text)


_STRAY_BYTE = re.compile("[\udc80-\udcff]")


def _parse_error(source: str, exc: Exception) -> CifParseError:
    message = str(exc)
    match = _GEMMI_LOCATION.search(message)
    if match:
        return CifParseError(source, int(match.group(1)), match.group(2).strip() or "syntax error")
    return CifParseError(source, None, message)


_PREFIXES = tuple((category, f"_{category.name}.") for category in CATEGORIES)


def _to_columns(parsed: cif.Document, decode: bool, fields: list[str]) -> Columns:
    columns: list[tuple[Category, tuple[list[str | None], ...]]] = []
    lifted = {f"{_LIFTED}{number}": field for number, field in enumerate(fields)}
    for block in parsed:
        for category, prefix in _PREFIXES:
            # One call per category: gemmi unquotes and maps nulls in C++.
            found = block.get_mmcif_category(prefix, raw=False)
            if not found:
                continue
            lowered = {tag.lower(): values for tag, values in found.items()}
            length = len(next(iter(lowered.values())))
            if length == 0:
                continue
            missing: list[str | None] = [None] * length
            values = [_column(lowered[item], decode, lifted) if item in lowered else missing for item in category.items]
            columns.append((category, tuple(values)))
    return tuple(columns)


# -- writing ---------------------------------------------------------------


def _token(value: str | None) -> tuple[str, bool]:
    """The CIF token for a value and whether it is a multi-line text field."""
    if value is None:
        return "?", False
    if value.__class__ is not str:
        raise InvalidInputError(f"is a {type(value).__name__} value, not text")
    text = encode_text(value)
    if "\n" in text or "\r" in text or len(text) > _MAX_INLINE:
        return ";" + text + "\n;", True
    quoted = cif.quote(text)
    if quoted.startswith(";"):  # gemmi could not quote it on one line
        return ";" + text + "\n;", True
    return quoted, False


def as_onedep_reads(value: str) -> str:
    """The value as OneDep's reader (mmcif's PdbxReader) gives it back from the file this module writes.

    PdbxReader takes the whitespace at the end of a `;` text field's last line
    for part of the closing delimiter and drops it (`str.rstrip`). Written
    values hold no whitespace there but spaces and tabs (others are
    references), so those go; a value written on one line comes back whole.
    """
    if not value or value[-1] not in " \t":
        return value  # nothing to drop, whatever token it is written as
    try:
        _, is_text = _token(value)
    except InvalidInputError:
        return value  # never written: nothing for OneDep to read either
    if not is_text:
        return value
    last_line = value.rfind("\n") + 1
    return value[:last_line] + value[last_line:].rstrip(" \t")


def _row_tokens(document: Document, category: Category, values: tuple[str | None, ...]) -> list[tuple[str, bool]]:
    try:
        return [_token(value) for value in values]
    except InvalidInputError:
        pass
    for item, value in zip(category.items, values, strict=True):  # name the value that cannot be written
        try:
            _token(value)
        except InvalidInputError as exc:
            message_id = values[category.items.index("message_id")]
            raise InvalidInputError(
                f"{document.deposition_id} {document.content_type}: {category.name}.{item} of message "
                f"{message_id!r} {exc}; nothing was written"
            ) from None
    raise AssertionError("unreachable")


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
            for tag, (token, is_text) in zip(tags, _row_tokens(document, category, rows[0].values()), strict=True):
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
                for token, is_text in _row_tokens(document, category, row.values()):
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
