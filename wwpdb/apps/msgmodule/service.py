"""The messaging service: what OneDep code calls, whatever the backend."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InvalidInputError
from .model import (
    CONTENT_TYPES,
    STATUS_CONTENT_TYPE,
    Document,
    FileReference,
    Message,
    MessageStatus,
    OrigCommReference,
    time_order,
    validate_content_type,
    validate_deposition_id,
)
from .stores.base import MessageStore

# Content types whose new messages get a status row (N, N, N) by default.
_STATUS_BY_DEFAULT = ("messages-to-depositor", "messages-from-depositor")


def gmt_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def _flag(name: str, value: bool | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    if value in ("Y", "N"):
        return value
    raise InvalidInputError(f"{name} must be True/False or 'Y'/'N', not {value!r}")


class MessagingService:
    """Read and write deposition messages through one store (CIF, database, or both)."""

    def __init__(self, store: MessageStore, settings: Any = None) -> None:
        self.store = store
        self.settings = settings

    # -- writing -----------------------------------------------------------------

    def set(
        self,
        deposition_id: str,
        message_data: Mapping[str, Any],
        content_type: str = "messages-to-depositor",
        file_references: Iterable[Mapping[str, Any]] | None = None,
        status: Mapping[str, Any] | None = None,
        origcomm_references: Iterable[Mapping[str, Any]] | None = None,
    ) -> str:
        """Store a message and return its message_id.

        Missing values are filled as OneDep does: a new uuid4 message_id, the
        parent is the message itself, GMT timestamp, type `text`, send status
        `Y`, and a status row (N, N, N) in messages-to-depositor. A
        message_id that already exists in the document updates that message
        (draft editing) instead of adding one.
        """
        validate_deposition_id(deposition_id)
        validate_content_type(content_type)
        if not isinstance(message_data, Mapping):
            raise InvalidInputError("message_data must be a mapping of message items")
        message = Message.from_dict(dict(message_data))
        message.message_id = message.message_id or str(uuid.uuid4())
        message_id = message.message_id
        # Defaults apply to a new message only; an edited draft keeps what it had unless given.
        defaults = {
            "deposition_data_set_id": deposition_id,
            "parent_message_id": message_id,
            "timestamp": gmt_now(),
            "message_type": "text",
            "send_status": "Y",
        }
        row_id = message.deposition_data_set_id or deposition_id
        refs = (
            None
            if file_references is None
            else [self._child(FileReference, ref, message_id, row_id) for ref in file_references]
        )
        origs = (
            None
            if origcomm_references is None
            else [self._child(OrigCommReference, ref, message_id, row_id) for ref in origcomm_references]
        )
        status_row = None
        if status is not None or content_type in _STATUS_BY_DEFAULT:
            given = dict(status or {})
            unknown = set(given) - {"read_status", "action_reqd", "for_release"}
            if unknown:
                raise InvalidInputError(f"unknown status item(s): {', '.join(sorted(unknown))}")
            # Flags not given stay as they are; a missing row is created as (N, N, N).
            status_row = MessageStatus(
                message_id,
                message.deposition_data_set_id,
                _flag("read_status", given.get("read_status")),
                _flag("action_reqd", given.get("action_reqd")),
                _flag("for_release", given.get("for_release")),
            )
        return self.store.put_message(
            deposition_id,
            content_type,
            message,
            refs,
            origs,
            status=status_row,
            given={*message_data, "message_id"},
            defaults=defaults,
        )

    @staticmethod
    def _child(row_type: Any, data: Mapping[str, Any], message_id: str, deposition_id: str) -> Any:
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"each {row_type.CATEGORY} entry must be a mapping")
        row = row_type.from_dict({k: v for k, v in data.items() if k != "ordinal_id"})
        row.message_id = message_id
        row.deposition_data_set_id = row.deposition_data_set_id or deposition_id
        return row

    def mark_read(self, deposition_id: str, message_id: str, read: bool = True) -> None:
        """Set read_status of a message (its status row is created if missing)."""
        self.store.set_status(deposition_id, message_id, read_status=_flag("read", read))

    def tag(
        self,
        deposition_id: str,
        message_id: str,
        action_reqd: bool | str | None = None,
        for_release: bool | str | None = None,
    ) -> None:
        """Set action_reqd and/or for_release of a message."""
        self.store.set_status(
            deposition_id,
            message_id,
            action_reqd=_flag("action_reqd", action_reqd),
            for_release=_flag("for_release", for_release),
        )

    # -- reading -------------------------------------------------------------------

    def documents(self, deposition_id: str, content_type: str | None = None) -> dict[str, Document]:
        """The documents of a deposition: one content type, or all (statuses always loaded)."""
        validate_deposition_id(deposition_id)
        wanted = CONTENT_TYPES if content_type is None else (validate_content_type(content_type),)
        return self.store.load_many(deposition_id, list(dict.fromkeys((*wanted, STATUS_CONTENT_TYPE))))

    def get(self, deposition_id: str, content_type: str | None = None) -> list[dict[str, Any]]:
        """Every message (of one content type, or all), oldest first, as dicts.

        Each dict has the info items, `content_type`, `status` (dict or None)
        and `file_references` (list of dicts).
        """
        documents = self.documents(deposition_id, content_type)
        statuses: dict[str | None, MessageStatus] = {}
        for row in documents[STATUS_CONTENT_TYPE].statuses:
            statuses.setdefault(row.message_id, row)
        wanted = CONTENT_TYPES if content_type is None else (content_type,)
        found: list[tuple[str, int, int, dict[str, Any]]] = []
        for type_index, ct in enumerate(wanted):
            document = documents[ct]
            references: dict[str | None, list[dict[str, Any]]] = {}
            for ref in document.file_references:
                references.setdefault(ref.message_id, []).append(ref.as_dict())
            for position, message in enumerate(document.messages):
                item: dict[str, Any] = message.as_dict()
                item["content_type"] = ct
                status = statuses.get(message.message_id)
                item["status"] = status.as_dict() if status else None
                item["file_references"] = references.get(message.message_id, [])
                found.append((time_order(message.timestamp), type_index, position, item))
        found.sort(key=lambda entry: entry[:3])
        return [entry[3] for entry in found]

    def get_message(self, deposition_id: str, message_id: str) -> dict[str, Any] | None:
        """One message by id (any content type), or None."""
        for item in self.get(deposition_id):
            if item["message_id"] == message_id:
                return item
        return None
