"""Message objects with the shape `processMsg` takes (OneDep's `models.Message` and its subclasses).

OneDep's web app builds its own `Message.fromReqObj(...)`; `autoMsg` and
`sendSingle` here build `OutgoingMessage`s, which answer the same questions
(`isLive`, `isDraft`, `contentType`, `fileReferences`, `getMsgDict()`, ...),
so `processMsg` treats both alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class OutgoingMessage:
    """A message or note to store: OneDep's Message, AutoMessage, AutoNote, ReminderMessage in one class."""

    def __init__(
        self,
        msg_dict: Mapping[str, Any],
        file_references: Iterable[Any] = (),
        content_type: str = "msgs",
        *,
        auto: bool = False,
        reminder: bool = False,
        note_email: bool = False,
    ) -> None:
        self._msg = dict(msg_dict)
        self.fileReferences = list(file_references)  # noqa: N815 - OneDep's attribute name
        self._content_type = content_type
        self._auto = auto
        self._reminder = reminder
        self._note_email = note_email

    @classmethod
    def auto_message(cls, msg_dict: Mapping[str, Any], file_references: Iterable[Any] = ()) -> OutgoingMessage:
        """A live message to the depositor sent by a program (OneDep's AutoMessage)."""
        return cls({**msg_dict, "message_state": "livemsg"}, file_references, "msgs", auto=True)

    @classmethod
    def auto_note(
        cls, msg_dict: Mapping[str, Any], file_references: Iterable[Any] = (), email: bool = True
    ) -> OutgoingMessage:
        """A note archiving what a program told the depositor, e-mailed to them (OneDep's AutoNote)."""
        data = {**msg_dict, "message_state": "livemsg", "message_type": "archive_auto_noorig"}
        return cls(data, file_references, "notes", auto=True, note_email=email)

    def getMsgDict(self) -> dict[str, Any]:  # noqa: N802 - OneDep's method name
        return dict(self._msg)

    @property
    def isLive(self) -> bool:  # noqa: N802
        return self._msg.get("message_state") == "livemsg"

    @property
    def isDraft(self) -> bool:  # noqa: N802
        return self._msg.get("message_state") == "draft"

    @property
    def isAutoMsg(self) -> bool:  # noqa: N802
        return self._auto

    @property
    def isReminderMsg(self) -> bool:  # noqa: N802
        return self._reminder

    @property
    def isNoteEmail(self) -> bool:  # noqa: N802
        return self._note_email

    @property
    def isBeingSent(self) -> bool:  # noqa: N802
        return self._msg.get("send_status") == "Y"

    @property
    def contentType(self) -> str:  # noqa: N802
        return self._content_type

    @property
    def messageId(self) -> str | None:  # noqa: N802
        return self._msg.get("message_id")

    @messageId.setter
    def messageId(self, value: str) -> None:  # noqa: N802
        self._msg["message_id"] = value

    @property
    def depositionId(self) -> str | None:  # noqa: N802
        return self._msg.get("deposition_data_set_id")

    @property
    def messageType(self) -> str:  # noqa: N802
        return str(self._msg.get("message_type") or "text")

    @property
    def messageSubject(self) -> str | None:  # noqa: N802
        return self._msg.get("message_subject")

    @property
    def messageText(self) -> str | None:  # noqa: N802
        return self._msg.get("message_text")

    @property
    def sendStatus(self) -> str | None:  # noqa: N802
        return self._msg.get("send_status")
