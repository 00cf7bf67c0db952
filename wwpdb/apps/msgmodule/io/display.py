"""OneDep's text conventions at the web edge: what its request objects send, what its pages show.

Two directions:

- In: OneDep's `Message.fromReqObj` entity-encodes the subject and text it
  takes from the browser (non-ASCII as `&#246;`, a line starting with `;`
  as ` ;`), which is exactly the form its files hold. `decode_request_text`
  undoes that once, so the store (which speaks Unicode and writes the same
  references to the file) keeps it once-encoded, never `&#38;#246;`.
- Out: the values OneDep's `MessagingIo` returns for display: as OneDep's
  CIF reader gives them back (a text field loses the blanks ending its last
  line; the stored value keeps them), GMT timestamps in the site's local
  time, `<` and `>` escaped, newlines as `<br />` in subjects and texts, and
  nulls as empty strings (`display_value`).
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone, tzinfo
from typing import Any

from ..cifformat import as_onedep_reads

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
# Message types whose subject and text OneDep leaves without line breaks (annotators
# pasted them as they were); their `<` and `>` are still escaped here (see display_value).
MANUAL_TYPES = ("archive_manual", "forward_manual")
# Columns with OneDep's transforms; every other column is shown as stored.
TIME_COLUMNS = ("timestamp", "orig_timestamp")
# OneDep meant its original subjects to be shown like subjects (it names them "orig_subject").
TEXT_COLUMNS = ("message_text", "message_subject", "orig_message_subject")

# The one shape stored timestamps have: read without strptime (which accepts more, and is slow).
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
_CHARACTER_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,6})|([0-9]{1,7}));")
_SHIFTED_SEMICOLON = re.compile(r"(^|\n) ;")


def _character(match: re.Match[str]) -> str:
    hex_digits, decimal = match.groups()
    code = int(hex_digits, 16) if hex_digits else int(decimal)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return match.group(0)  # not a character: keep the text as written
    return chr(code)


def decode_request_text(value: Any) -> Any:
    """Undo `Message.encodeUtf8ToCif` once: `&#NNN;`/`&#xHH;` to characters, ` ;` line starts to `;`.

    Anything that is not a string is returned unchanged.
    """
    if not isinstance(value, str):
        return value
    if "&#" in value:
        value = _CHARACTER_REFERENCE.sub(_character, value)
    if " ;" in value:
        value = _SHIFTED_SEMICOLON.sub(r"\1;", value)
    return value


def escape_angles(value: str) -> str:
    """`<` and `>` as entities, so stored text cannot put markup into the page."""
    return value.replace("<", "&lt;").replace(">", "&gt;")


def line_breaks(value: str) -> str:
    return value.replace("\r\n", "<br />").replace("\n", "<br />")


def unescape(value: str) -> str:
    """Entities to characters, as OneDep does to subjects and texts it shows (its files hold `&#NNN;`)."""
    return html.unescape(value).replace("\\xa0", " ")


def local_time(timestamp: str, zone: tzinfo | None = None, fmt: str = TIMESTAMP_FORMAT) -> str:
    """A GMT `YYYY-MM-DD HH:MM:SS` in `zone` (None: this machine's local time); other text unchanged."""
    try:
        moment = _parse_time(timestamp).replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return timestamp
    return moment.astimezone(zone).strftime(fmt)


def _parse_time(timestamp: str) -> datetime:
    """`datetime.strptime(timestamp, TIMESTAMP_FORMAT)`, quicker for the usual shape."""
    found = _TIMESTAMP.fullmatch(timestamp) if isinstance(timestamp, str) else None
    if found is None:
        return datetime.strptime(timestamp, TIMESTAMP_FORMAT)
    year, month, day, hour, minute, second = map(int, found.groups())
    return datetime(year, month, day, hour, minute, second)


def gmt_time(timestamp: str, zone: tzinfo | None = None) -> str:
    """A local `YYYY-MM-DD HH:MM:SS` (in `zone`, None: this machine's) as GMT; other text unchanged."""
    try:
        moment = datetime.strptime(timestamp, TIMESTAMP_FORMAT)
    except (TypeError, ValueError):
        return timestamp
    # Naive, astimezone() reads it as this machine's local time.
    moment = moment.astimezone() if zone is None else moment.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT)


def shown_text(value: str, message_type: str | None, break_lines: bool | None = None) -> str:
    """A subject or text as OneDep shows it: entities resolved, `<`/`>` escaped, newlines as `<br />`.

    `break_lines` None: as OneDep's table does, not for manually archived or
    forwarded mail (whose line breaks OneDep leaves alone).
    """
    text = escape_angles(unescape(value))
    if break_lines is None:
        break_lines = message_type not in MANUAL_TYPES
    return line_breaks(text) if break_lines else text


def display_value(
    column: str,
    value: str | None,
    message_type: str | None,
    zone: tzinfo | None = None,
    fmt: str = TIMESTAMP_FORMAT,
) -> str:
    """One cell as OneDep's message table shows it.

    Each value as OneDep's reader gives it back from the file (a text
    field's last line without its trailing blanks, `as_onedep_reads`), then:
    timestamps in local time; subjects and texts through `shown_text`; every
    other value with `<`/`>` escaped (OneDep escapes the addresses; the ids
    and codes never contain them); a null or `?` as ''.
    """
    if value is None or value == "?":
        return ""
    value = as_onedep_reads(value)
    if column in TIME_COLUMNS:
        return local_time(value, zone, fmt)
    if column in TEXT_COLUMNS:
        return shown_text(value, message_type)
    return escape_angles(value)


class DisplayRows:
    """Table rows as `display_value` shows them, kept by everything they are made from.

    A row is a pure function of its values, its message type and the zone
    (this machine's zone, when none is given, as it is now), so a kept row is
    never stale: a changed message is another key. Opening a page shows the
    same rows again and again; they are made once. Bounded by rows and by
    characters (a row far larger than the rest is not kept).
    """

    def __init__(self, max_rows: int = 4096, max_chars: int = 16_000_000) -> None:
        self.max_rows = max_rows
        self.max_chars = max_chars
        self._rows: OrderedDict[tuple[Any, ...], tuple[list[str], int]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def row(self, record: Mapping[str, Any], columns: Sequence[str], zone: tzinfo | None = None) -> list[str]:
        """The record's cells in `columns` order (a new list, the caller's)."""
        values = tuple(map(record.get, columns))
        message_type = record.get("message_type")
        local = (time.timezone, time.altzone, time.daylight, time.tzname) if zone is None else None
        key = (tuple(columns), values, message_type, zone, local)
        with self._lock:
            found = self._rows.get(key)
            if found is not None:
                self._rows.move_to_end(key)
                return list(found[0])
        pairs = zip(columns, values, strict=True)
        shown = [display_value(column, value, message_type, zone) for column, value in pairs]
        size = sum(len(value) for value in values if value is not None) + sum(map(len, shown))
        if size <= self.max_chars // 64:
            with self._lock:
                if key not in self._rows:
                    self._rows[key] = (shown, size)
                    self._chars += size
                    while len(self._rows) > self.max_rows or self._chars > self.max_chars:
                        _, (_, dropped) = self._rows.popitem(last=False)
                        self._chars -= dropped
        return list(shown)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._chars = 0


# One per process: every request's tables share it.
DISPLAY_ROWS = DisplayRows()
