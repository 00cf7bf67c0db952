"""OneDep's `ExtractMessage`: dates of a deposition's last messages, reminders, release notice, unlock, validation.

OneDep's workflow manager (its reminder tracker) calls

    em = ExtractMessage(siteId=site_id, verbose=verbose, log=log)
    em.getLastReceivedMsgDatetime(dep_id)      # datetime or None
    em.getLastSentMsgDatetime(dep_id)
    em.getLastManualReminderDatetime(dep_id)
    em.getLastValidation(dep_id)               # (datetime or None, major issues: bool or None)

The messages are read through the site's messaging service, whichever stage
(CIF files, database, both) it is in; the rules are in `util/milestones.py`.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ..cifformat import parse_file
from ..io.MessagingFactory import create_messaging_service
from ..io.MessagingIo import MessagingIo
from ..model import STATUS_CONTENT_TYPE, Document
from ..stores.cif import file_name
from . import milestones

logger = logging.getLogger(__name__)

TO_DEPOSITOR = "messages-to-depositor"
FROM_DEPOSITOR = "messages-from-depositor"
NOTES = "notes-from-annotator"


class ExtractMessage:
    """Read-only answers about a deposition's correspondence, with OneDep's method names and return shapes.

    Every `get...(depid, ...)` method also takes OneDep's `test_folder`
    (read `<folder>/<depid>_<content type>_P1.cif.V1` instead of the site's
    store) and `b_use_cache`, which changes nothing: every call reads afresh,
    as OneDep's does (its cache never takes effect), so an answer is never stale.
    """

    def __init__(self, siteId: str | None = None, verbose: bool = False, log: TextIO | None = sys.stderr) -> None:  # noqa: N803
        self.siteId = siteId  # noqa: N815 - OneDep's name; None: WWPDB_SITE_ID, as OneDep's getSiteId()
        self.verbose = verbose
        self.log = log
        self._service: MessagingIo | None = None

    @property
    def service(self) -> MessagingIo:
        """The site's messaging service, opened on first use (the stage is followed as it moves)."""
        if self._service is None:
            self._service = create_messaging_service(None, self.verbose, self.log, site_id=self.siteId)
        return self._service

    def _documents(self, depid: str, content_type: str, test_folder: str | None) -> dict[str, Document]:
        """The deposition's document of `content_type`, and the one holding the status rows."""
        if test_folder:
            return {ct: _test_document(Path(test_folder), depid, ct) for ct in {content_type, STATUS_CONTENT_TYPE}}
        return self.service.documents(depid, content_type)

    def _document(self, depid: str, content_type: str, test_folder: str | None) -> Document:
        return self._documents(depid, content_type, test_folder)[content_type]

    # -- OneDep's methods ----------------------------------------------------------------------------

    def convertStrToDatetime(self, s_datetime: Any) -> datetime:  # noqa: N802
        """`YYYY-MM-DD HH:MM:SS` as a datetime; ValueError otherwise (as OneDep)."""
        parsed = milestones.parse_timestamp(s_datetime)
        if parsed is None:
            raise ValueError(f"time data {s_datetime!r} does not match format {milestones.TIMESTAMP_FORMAT!r}")
        return parsed

    def getLastMsgDatetime(  # noqa: N802
        self, depid: str, to_from: str = "both", b_use_cache: bool = True, test_folder: str | None = None
    ) -> datetime | None:
        """The last message sent to (`"to"`) or received from (`"from"`) the depositor, or the later (`"both"`)."""
        sent = received = None
        if to_from in ("to", "both"):
            sent = self.getLastSentMessageDate(depid, True, b_use_cache=b_use_cache, test_folder=test_folder)
        if to_from in ("from", "both"):
            received = self.getLastSentMessageDate(depid, False, b_use_cache=b_use_cache, test_folder=test_folder)
        return milestones.later(sent, received)  # any other to_from: None, as OneDep

    def getLastReceivedMsgDatetime(  # noqa: N802
        self, depid: str, b_use_cache: bool = True, test_folder: str | None = None
    ) -> datetime | None:
        """When the depositor's last message (send_status Y) was written, or None."""
        return self.getLastSentMessageDate(depid, False, b_use_cache=b_use_cache, test_folder=test_folder)

    def getLastSentMsgDatetime(
        self, depid: str, b_use_cache: bool = True, test_folder: str | None = None
    ) -> datetime | None:  # noqa: N802
        """When the last message to the depositor was sent (drafts and archived notes do not count), or None."""
        return self.getLastSentMessageDate(depid, True, b_use_cache=b_use_cache, test_folder=test_folder)

    def getLastSentMessageDate(  # noqa: N802
        self, depid: str, msgtodepositor: bool, b_use_cache: bool = True, test_folder: str | None = None
    ) -> datetime | None:
        """The latest sent message's time, to the depositor (`msgtodepositor`) or from them; None if none."""
        content_type = TO_DEPOSITOR if msgtodepositor else FROM_DEPOSITOR
        return milestones.last_sent(self._document(depid, content_type, test_folder).messages)

    def getLastAutoReminderDatetime(  # noqa: N802
        self, depid: str, b_use_cache: bool = True, test_folder: str | None = None
    ) -> datetime | None:
        """The last reminder the reminder programs archived in the notes, or None."""
        notes = self._document(depid, NOTES, test_folder).messages
        return milestones.last_of_kind(notes, milestones.AUTO_REMINDER_CONTEXT_TYPES, milestones.REMINDER_SUBJECT)

    def getLastManualReminderDatetime(  # noqa: N802
        self, depid: str, b_use_cache: bool = True, test_folder: str | None = None
    ) -> datetime | None:
        """The last reminder among the messages to the depositor, or None."""
        sent = self._document(depid, TO_DEPOSITOR, test_folder).messages
        return milestones.last_of_kind(sent, milestones.MANUAL_REMINDER_CONTEXT_TYPES, milestones.REMINDER_SUBJECT)

    def getLastReleaseNoticeDatetime(  # noqa: N802
        self, depid: str, b_use_cache: bool = True, test_folder: str | None = None
    ) -> datetime | None:
        """The last release notice to the depositor, or None."""
        sent = self._document(depid, TO_DEPOSITOR, test_folder).messages
        return milestones.last_of_kind(sent, milestones.RELEASE_CONTEXT_TYPES, milestones.RELEASE_SUBJECT)

    def getLastUnlocked(self, depid: str, b_use_cache: bool = True, test_folder: str | None = None) -> str | None:  # noqa: N802
        """The timestamp text of the last "system unlocked" message, or None."""
        found = milestones.last_unlock(self._document(depid, TO_DEPOSITOR, test_folder).messages)
        return found.timestamp if found else None

    def getLastUnlockDatetime(
        self, depid: str, b_use_cache: bool = True, test_folder: str | None = None
    ) -> datetime | None:  # noqa: N802
        """`getLastUnlocked` as a datetime, or None."""
        return milestones.parse_timestamp(self.getLastUnlocked(depid, b_use_cache=b_use_cache, test_folder=test_folder))

    def getLastValidation(  # noqa: N802
        self, depid: str, b_use_cache: bool = True, test_folder: str | None = None
    ) -> tuple[datetime | None, bool | None]:
        """(when, major issues) of the last validation report sent; always a pair, (None, None) if none."""
        document = self._document(depid, TO_DEPOSITOR, test_folder)
        return milestones.last_validation(document.messages, document.file_references)

    def getPendingDepositorMessages(  # noqa: N802
        self,
        depid: str,
        b_use_cache: bool = True,
        test_folder: str | None = None,
    ) -> list[dict[str, str | None]]:
        """The depositor's messages (dicts of their info items) with no status, or flagged as needing action."""
        documents = self._documents(depid, FROM_DEPOSITOR, test_folder)
        pending = milestones.pending_depositor_messages(
            documents[FROM_DEPOSITOR].messages, documents[STATUS_CONTENT_TYPE].statuses
        )
        return [message.as_dict() for message in pending]

    def getApprovalNoCorrectSubjects(self) -> list[str]:  # noqa: N802
        """The context types of a depositor's approval without corrections (OneDep's name says subjects)."""
        return list(self.service.site.approval_context_types)


def _test_document(folder: Path, depid: str, content_type: str) -> Document:
    """OneDep's test_folder layout: the files side by side, version 1; a missing file is an empty document."""
    path = folder / file_name(depid, content_type, 1)
    if not path.is_file():
        logger.warning("no %s file for %s in %s", content_type, depid, folder)
        return Document(depid, content_type)
    return parse_file(path, depid, content_type)
