"""The one data model: the four message categories and a deposition's document.

A `Document` is what one message file holds: the rows of one deposition's
messages of one content type, in file order. Every backend, tool and test uses
these classes; backends convert at their edge. Values are `str` or `None`
(a CIF null), exactly as stored, so nothing is lost in conversion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import ClassVar, TypeVar

from .errors import InvalidDepositionIdError, InvalidInputError

CONTENT_TYPES: tuple[str, ...] = (
    "messages-to-depositor",
    "messages-from-depositor",
    "notes-from-annotator",
)
# Holds the status rows of every message of the deposition, depositor messages included.
STATUS_CONTENT_TYPE = "messages-to-depositor"

# The one rule for deposition ids: folder names, file names, API arguments and the
# database's 32-character `source_deposition_id` columns all use it.
MAX_DEPOSITION_ID_LENGTH = 32
DEPOSITION_ID_PATTERN = rf"[DG]_[0-9]{{1,{MAX_DEPOSITION_ID_LENGTH - 2}}}"
_DEPOSITION_ID = re.compile(DEPOSITION_ID_PATTERN)


def time_order(timestamp: str | None) -> str:
    """What messages are ordered by, oldest first: the timestamp compared as text, character by character
    (code points, no padding: "a" before "a " before "b"), a missing one as ''. Stores that order in SQL
    order the same (stores/db.py compares the text's UTF-8 bytes, which sort as its code points)."""
    return timestamp or ""


def validate_deposition_id(deposition_id: object) -> str:
    """Return `deposition_id` if it is `D_`/`G_` + digits, at most 32 characters, else raise ValueError.

    Called before any path or query is built from the id.
    """
    if not isinstance(deposition_id, str) or not _DEPOSITION_ID.fullmatch(deposition_id):
        shown = (
            deposition_id
            if not isinstance(deposition_id, str) or len(deposition_id) <= 60
            else (deposition_id[:40] + f"... ({len(deposition_id)} characters)")
        )
        raise InvalidDepositionIdError(
            f"invalid deposition id {shown!r}: expected 'D_' or 'G_' followed by digits, "
            f"at most {MAX_DEPOSITION_ID_LENGTH} characters in all"
        )
    return deposition_id


def validate_content_type(content_type: object) -> str:
    """Return `content_type` if it is one of CONTENT_TYPES, else raise ValueError."""
    if content_type not in CONTENT_TYPES:
        raise InvalidInputError(f"invalid content type {content_type!r}: expected one of {', '.join(CONTENT_TYPES)}")
    return content_type  # type: ignore[return-value]


_SURROGATE = re.compile("[\ud800-\udfff]")


def checked_value(category: str, item: str, value: object) -> str | None:
    """A value fit to store in `category.item`: text or None, else InvalidInputError naming the item.

    Integers (not bools) are taken as their decimal text, as OneDep passes version and
    partition numbers; anything else (bytes, dicts, lists, bools, floats) would be stored
    as its repr, and text holding a lone surrogate is not Unicode: both are refused.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, int) and not isinstance(value, bool):
            return str(int(value))
        raise InvalidInputError(
            f"{category}.{item} must be text (str) or None, not {type(value).__name__}; nothing was stored"
        )
    found = _SURROGATE.search(value)
    if found:
        raise InvalidInputError(
            f"{category}.{item} holds a lone surrogate (U+{ord(found.group(0)):04X}) at position {found.start()}, "
            "which is not Unicode text; nothing was stored"
        )
    return str(value)  # a str subclass becomes a plain str


R = TypeVar("R", bound="Row")

_GETTERS: dict[type, attrgetter[tuple[str | None, ...]]] = {}


def _getter(row_type: type[Row]) -> attrgetter[tuple[str | None, ...]]:
    getter = _GETTERS.get(row_type)
    if getter is None:
        getter = _GETTERS[row_type] = attrgetter(*row_type.ITEMS)
    return getter


class Row:
    """A row of one category; subclasses list their items in file order."""

    __slots__ = ()
    CATEGORY: ClassVar[str]
    ITEMS: ClassVar[tuple[str, ...]]

    def values(self) -> tuple[str | None, ...]:
        return tuple(getattr(self, item) for item in self.ITEMS)

    def copy(self):  # type: ignore[no-untyped-def]
        """A new row with the same values (items are the fields, in order)."""
        return self.__class__(*_getter(self.__class__)(self))

    def as_dict(self) -> dict[str, str | None]:
        return dict(zip(self.ITEMS, _getter(self.__class__)(self), strict=True))

    def check_values(self) -> None:
        """Refuse (InvalidInputError naming the item) any value that is not text or None; see `checked_value`."""
        for item in self.ITEMS:
            value = getattr(self, item)
            if value is not None and (value.__class__ is not str or _SURROGATE.search(value)):
                setattr(self, item, checked_value(self.CATEGORY, item, value))

    @classmethod
    def from_dict(cls, data: dict[str, object]):  # type: ignore[no-untyped-def]
        """Build a row from a mapping; unknown keys are an error, missing items are null.

        Values must be text or None (integers are taken as their decimal text); anything
        else raises InvalidInputError naming the item.
        """
        unknown = set(data) - set(cls.ITEMS)
        if unknown:
            raise InvalidInputError(f"unknown item(s) for {cls.CATEGORY}: {', '.join(sorted(map(str, unknown)))}")
        return cls(**{key: checked_value(cls.CATEGORY, key, value) for key, value in data.items()})


@dataclass(slots=True)
class Message(Row):
    """A row of `_pdbx_deposition_message_info`."""

    CATEGORY: ClassVar[str] = "pdbx_deposition_message_info"
    ITEMS: ClassVar[tuple[str, ...]] = (
        "ordinal_id",
        "message_id",
        "deposition_data_set_id",
        "timestamp",
        "sender",
        "context_type",
        "context_value",
        "parent_message_id",
        "message_subject",
        "message_text",
        "message_type",
        "send_status",
    )
    ordinal_id: str | None = None
    message_id: str | None = None
    deposition_data_set_id: str | None = None
    timestamp: str | None = None
    sender: str | None = None
    context_type: str | None = None
    context_value: str | None = None
    parent_message_id: str | None = None
    message_subject: str | None = None
    message_text: str | None = None
    message_type: str | None = None
    send_status: str | None = None


@dataclass(slots=True)
class FileReference(Row):
    """A row of `_pdbx_deposition_message_file_reference`."""

    CATEGORY: ClassVar[str] = "pdbx_deposition_message_file_reference"
    ITEMS: ClassVar[tuple[str, ...]] = (
        "ordinal_id",
        "message_id",
        "deposition_data_set_id",
        "content_type",
        "content_format",
        "partition_number",
        "version_id",
        "storage_type",
        "upload_file_name",
    )
    ordinal_id: str | None = None
    message_id: str | None = None
    deposition_data_set_id: str | None = None
    content_type: str | None = None
    content_format: str | None = None
    partition_number: str | None = None
    version_id: str | None = None
    storage_type: str | None = None
    upload_file_name: str | None = None


@dataclass(slots=True)
class MessageStatus(Row):
    """A row of `_pdbx_deposition_message_status` (no ordinal: kept in stored order)."""

    CATEGORY: ClassVar[str] = "pdbx_deposition_message_status"
    ITEMS: ClassVar[tuple[str, ...]] = (
        "message_id",
        "deposition_data_set_id",
        "read_status",
        "action_reqd",
        "for_release",
    )
    message_id: str | None = None
    deposition_data_set_id: str | None = None
    read_status: str | None = None
    action_reqd: str | None = None
    for_release: str | None = None


@dataclass(slots=True)
class OrigCommReference(Row):
    """A row of `_pdbx_deposition_message_origcomm_reference` (archived e-mail)."""

    CATEGORY: ClassVar[str] = "pdbx_deposition_message_origcomm_reference"
    ITEMS: ClassVar[tuple[str, ...]] = (
        "ordinal_id",
        "message_id",
        "deposition_data_set_id",
        "orig_message_id",
        "orig_deposition_data_set_id",
        "orig_timestamp",
        "orig_sender",
        "orig_recipient",
        "orig_message_subject",
        "orig_attachments",
    )
    ordinal_id: str | None = None
    message_id: str | None = None
    deposition_data_set_id: str | None = None
    orig_message_id: str | None = None
    orig_deposition_data_set_id: str | None = None
    orig_timestamp: str | None = None
    orig_sender: str | None = None
    orig_recipient: str | None = None
    orig_message_subject: str | None = None
    orig_attachments: str | None = None


@dataclass(frozen=True)
class Category:
    """One mmCIF category: its name, row class and the Document attribute holding it."""

    name: str
    row_type: type[Row]
    attribute: str

    @property
    def items(self) -> tuple[str, ...]:
        return self.row_type.ITEMS


# In the order OneDep's files hold them: info, file references, statuses, original-communication references.
CATEGORIES: tuple[Category, ...] = (
    Category(Message.CATEGORY, Message, "messages"),
    Category(FileReference.CATEGORY, FileReference, "file_references"),
    Category(MessageStatus.CATEGORY, MessageStatus, "statuses"),
    Category(OrigCommReference.CATEGORY, OrigCommReference, "origcomm_references"),
)
CATEGORY_BY_NAME = {category.name: category for category in CATEGORIES}


def _next_ordinal(rows: Iterable[Row]) -> str:
    """One more than the highest ordinal_id made of ASCII digits only (dirty ones are skipped)."""
    highest = 0
    for row in rows:
        ordinal = getattr(row, "ordinal_id", None)
        if ordinal is not None and ordinal.isascii() and ordinal.isdigit():
            highest = max(highest, int(ordinal))
    return str(highest + 1)


def check_flags(**flags: str | None) -> None:
    """Status flags are 'Y' or 'N' (None: not given)."""
    for name, value in flags.items():
        if value is not None and value not in ("Y", "N"):
            raise InvalidInputError(f"{name} must be 'Y' or 'N', not {value!r}")


def copy_rows(rows: list[R]) -> list[R]:
    """`row.copy()` of each row, the getter looked up once per run of one class (every read copies)."""
    copies: list[R] = []
    cls: type[R] | None = None
    getter = None
    for row in rows:
        if row.__class__ is not cls:
            cls = row.__class__
            getter = _getter(cls)
        copies.append(cls(*getter(row)))  # type: ignore[misc]
    return copies


@dataclass
class Document:
    """One deposition's message file of one content type, rows in file order.

    `deposition_id` is the deposition the document lives under (the archive
    folder); the `deposition_data_set_id` inside rows is data and may differ.
    """

    deposition_id: str
    content_type: str
    messages: list[Message] = field(default_factory=list)
    file_references: list[FileReference] = field(default_factory=list)
    statuses: list[MessageStatus] = field(default_factory=list)
    origcomm_references: list[OrigCommReference] = field(default_factory=list)

    def rows(self, category: Category) -> list[Row]:
        return getattr(self, category.attribute)

    def is_empty(self) -> bool:
        return not any(self.rows(category) for category in CATEGORIES)

    def row_counts(self) -> dict[str, int]:
        return {category.name: len(self.rows(category)) for category in CATEGORIES}

    def copy(self) -> Document:
        """A deep enough copy: new lists of new rows."""
        return Document(
            self.deposition_id,
            self.content_type,
            messages=copy_rows(self.messages),
            file_references=copy_rows(self.file_references),
            statuses=copy_rows(self.statuses),
            origcomm_references=copy_rows(self.origcomm_references),
        )

    # -- lookups ---------------------------------------------------------

    def find_message(self, message_id: str) -> Message | None:
        for message in self.messages:
            if message.message_id == message_id:
                return message
        return None

    def find_status(self, message_id: str) -> MessageStatus | None:
        for status in self.statuses:
            if status.message_id == message_id:
                return status
        return None

    def references_of(self, message_id: str) -> list[FileReference]:
        return [ref for ref in self.file_references if ref.message_id == message_id]

    def origcomm_of(self, message_id: str) -> list[OrigCommReference]:
        return [ref for ref in self.origcomm_references if ref.message_id == message_id]

    # -- changes (pure; stores make them atomic) -------------------------

    def put_message(
        self,
        message: Message,
        file_references: Iterable[FileReference] | None = (),
        origcomm_references: Iterable[OrigCommReference] | None = (),
        given: Iterable[str] | None = None,
        defaults: Mapping[str, str] | None = None,
    ) -> Message:
        """Append a message, or update the one with the same message_id (draft editing).

        For an update, items not in `given` (when given) keep their stored
        values, and references passed as None keep the stored ones; passed
        lists replace them. A new message gets `defaults` for its null items.
        Ordinal ids of new rows continue the existing numbering; an updated
        message keeps its ordinal. Returns the stored message.
        """
        if not message.message_id:
            raise InvalidInputError("a message needs a message_id")
        file_references = None if file_references is None else list(file_references)
        origcomm_references = None if origcomm_references is None else list(origcomm_references)
        # Checked before the document changes: a value no backend can store changes nothing.
        for row in (message, *(file_references or ()), *(origcomm_references or ())):
            row.check_values()
        existing = self.find_message(message.message_id)
        if existing is not None:
            if given is not None:
                kept = set(Message.ITEMS) - set(given)
                for item in kept:
                    setattr(message, item, getattr(existing, item))
            message.ordinal_id = existing.ordinal_id
            self.messages[self.messages.index(existing)] = message
            if file_references is not None:
                self.file_references = [r for r in self.file_references if r.message_id != message.message_id]
            if origcomm_references is not None:
                self.origcomm_references = [r for r in self.origcomm_references if r.message_id != message.message_id]
        else:
            for item, value in (defaults or {}).items():
                if not getattr(message, item):  # None or "": OneDep's forms send empty strings
                    setattr(message, item, value)
            message.ordinal_id = _next_ordinal(self.messages)
            self.messages.append(message)
        for ref in file_references or ():
            ref.ordinal_id = _next_ordinal(self.file_references)
            self.file_references.append(ref)
        for orig in origcomm_references or ():
            orig.ordinal_id = _next_ordinal(self.origcomm_references)
            self.origcomm_references.append(orig)
        return message

    def set_status(
        self,
        message_id: str,
        deposition_data_set_id: str,
        *,
        read_status: str | None = None,
        action_reqd: str | None = None,
        for_release: str | None = None,
    ) -> MessageStatus:
        """Update the first status row of `message_id`, creating it (N, N, N) if missing.

        Only the flags given (not None) change.
        """
        changes = {"read_status": read_status, "action_reqd": action_reqd, "for_release": for_release}
        check_flags(**changes)
        status = self.find_status(message_id)
        if status is None:
            status = MessageStatus(message_id, deposition_data_set_id, "N", "N", "N")
            self.statuses.append(status)
        for name, value in changes.items():
            if value is not None:
                setattr(status, name, value)
        return status


def row_fields(row_type: type[Row]) -> tuple[str, ...]:
    """Field names of a row class (the same as its ITEMS; checked in tests)."""
    return tuple(f.name for f in fields(row_type))  # type: ignore[arg-type]
