"""OneDep's `AutoMessage`: the letters automatic programs send, and the status questions they ask.

OneDep's workflow manager calls

    AutoMessage(siteId=site_id).sendSingleMessage(dep_id, subject, text, p_tmpltType="instruction-ftp")

and its reminder programs the `send...` methods. Each call goes through a
new `MessagingIo` on the site's messaging service (whichever stage it is in),
which sends, archives and e-mails as OneDep does.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from ..errors import MessagingError
from ..io.attachments import Session
from ..io.MessagingIo import MessagingIo

logger = logging.getLogger(__name__)

EM_METHOD = "ELECTRON MICROSCOPY"


class AutoMessage:
    """OneDep's constructor and methods over `MessagingIo`."""

    def __init__(
        self,
        siteId: str | None = None,  # noqa: N803
        topSessionDir: str | os.PathLike[str] | None = None,  # noqa: N803
        verbose: bool = False,
        log: TextIO | None = sys.stderr,
    ) -> None:
        """`siteId` defaults to WWPDB_SITE_ID, as OneDep's getSiteId().

        `topSessionDir`: each call's files for the browser go to a new
        `<topSessionDir>/sessions/<id>` (OneDep's layout); without it, to a
        temporary directory. OneDep's default, the site's
        SITE_WEB_APPS_TOP_SESSIONS_PATH, is not read here.
        """
        self.siteId = siteId or os.environ.get("WWPDB_SITE_ID") or None  # noqa: N815 - OneDep's name
        self.topSessionDir = Path(topSessionDir) if topSessionDir else None  # noqa: N815
        self.verbose = verbose
        self.log = log

    def _messaging(self, identifier: str | None = None) -> MessagingIo:
        """A MessagingIo for one call, on the deposition `identifier` when given (OneDep's __getmsgio)."""
        values: dict[str, Any] = {"WWPDB_SITE_ID": self.siteId or ""}
        if identifier:
            values.update(identifier=identifier, content_type="msgs", filesource="archive")
        session = None
        if self.topSessionDir is not None:
            folder = self.topSessionDir / "sessions" / uuid.uuid4().hex
            folder.mkdir(parents=True)
            session = Session(folder, f"/sessions/{folder.name}")
        return MessagingIo(None, self.verbose, self.log, session=session, **values)

    # -- letters from templates, to many depositions ------------------------------------------------------

    def sendRemindUnlocked(self, depidlist: Iterable[str]) -> dict[str, dict[str, str]]:  # noqa: N802
        """The "remind-unlocked" letter to each deposition."""
        return self._sendReminderBulk(depidlist, p_tmplt="remind-unlocked")

    def sendRemindFeedback(self, depidlist: Iterable[str]) -> dict[str, dict[str, str]]:  # noqa: N802
        """The "reminder" letter: the depositor has not answered the validation report."""
        return self._sendReminderBulk(depidlist, p_tmplt="reminder")

    def sendRemindAuthToRel(self, depidlist: Iterable[str]) -> dict[str, dict[str, str]]:  # noqa: N802
        """The "reminder-auth-to-rel" letter: the same, for entries deposited to be released at once."""
        return self._sendReminderBulk(depidlist, p_tmplt="reminder-auth-to-rel")

    def sendImplicitApproved(self, depidlist: Iterable[str]) -> dict[str, dict[str, str]]:  # noqa: N802
        """The "approval-impl" letter."""
        return self._sendReminderBulk(depidlist, p_tmplt="approval-impl")

    def sendExplicitApproved(self, depidlist: Iterable[str]) -> dict[str, dict[str, str]]:  # noqa: N802
        """The "approval-expl" letter."""
        return self._sendReminderBulk(depidlist, p_tmplt="approval-expl")

    def _sendReminderBulk(self, depidlist: Iterable[str], p_tmplt: str) -> dict[str, dict[str, str]]:  # noqa: N802
        """autoMsg for the non-EM entries, then for the EM ones; OneDep returns None, this autoMsg's answers."""
        pdbents, ements = self._splitents(depidlist)
        messaging = self._messaging()
        answers: dict[str, dict[str, str]] = {}
        if pdbents:
            answers.update(messaging.autoMsg(pdbents, p_tmpltType=p_tmplt))
        if ements:
            answers.update(messaging.autoMsg(ements, p_tmpltType=p_tmplt, p_isEmdbEntry=True))
        return answers

    def _getExptl(self, depid: str, messaging: MessagingIo | None = None) -> list[str]:  # noqa: N802
        """The experimental methods in the deposition's archive model file; [] when it cannot be read (logged)."""
        try:
            return list((messaging or self._messaging()).site.model_data.facts(depid).methods)
        except MessagingError as exc:
            logger.error("experimental methods of %s are not known: %s", depid, exc)
            return []

    def _splitents(self, depidlist: Iterable[str]) -> tuple[list[str], list[str]]:
        """(non-EM entries, EM entries): EM when "ELECTRON MICROSCOPY" is among the methods."""
        pdbents: list[str] = []
        ements: list[str] = []
        messaging = self._messaging()
        for depid in depidlist:
            (ements if EM_METHOD in self._getExptl(depid, messaging) else pdbents).append(depid)
        return pdbents, ements

    # -- one composed message ---------------------------------------------------------------------------

    def sendSingleMessage(  # noqa: N802
        self,
        depid: str,
        subject: str,
        msg: str,
        testemail: str | None = None,
        p_tmpltType: str = "other",  # noqa: N803
    ) -> bool:
        """Send `msg` to the depositor without template or attachments; True when sent and archived.

        `testemail` sends the e-mail there instead of to the entry's contacts;
        `p_tmpltType` is recorded as the message's context type.
        """
        return self._messaging().sendSingle(depid, subject, msg, p_testemail=testemail, p_tmpltType=p_tmpltType)

    # -- status -------------------------------------------------------------------------------------------

    def tagMessageStatus(  # noqa: N802
        self,
        depId: str,  # noqa: N803
        msgidlist: Iterable[str],
        actionReqd: str = "N",  # noqa: N803
        forReleaseFlg: str = "N",  # noqa: N803
    ) -> bool:
        """Tag each message read, with these action and release flags; False if any tag failed."""
        messaging = self._messaging(depId)
        ok = True
        for msgId in msgidlist:  # noqa: N806
            flags = {
                "message_id": msgId,
                "deposition_data_set_id": depId,
                "read_status": "Y",
                "action_reqd": actionReqd,
                "for_release": forReleaseFlg,
            }
            ok = messaging.tagMsg(flags) and ok
        return ok

    def getAllMsgsActioned(self, depId: str) -> bool:  # noqa: N802, N803
        """Whether every depositor message has been actioned."""
        return self._messaging(depId).areAllMsgsActioned()

    def getAllMsgsRead(self, depId: str) -> bool:  # noqa: N802, N803
        """Whether every depositor message has been read."""
        return self._messaging(depId).areAllMsgsRead()
