"""Mail delivery: telling the depositor's contact authors that a message was stored.

`MailDelivery` is the interface. The default comes from the environment:
`MSGMODULE_SMTP_HOST` (and `MSGMODULE_SMTP_PORT`, default 25) gives
`SmtpMailDelivery`, which sends through that server with the standard
library; without a host, `NoMailDelivery` logs what it would have sent.
`MSGMODULE_MAIL_FROM` is the sender (OneDep's default no-reply address
otherwise) and `MSGMODULE_MAIL_ARCHIVE_COPY` an address that receives a copy
of every notification, as OneDep's notification archive does.
"""

from __future__ import annotations

import logging
import os
import smtplib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from ..errors import MessagingError

log = logging.getLogger(__name__)

DEFAULT_SENDER = "noreply@mail.wwpdb.org"


class MailError(MessagingError):
    """A notification could not be handed to the mail server."""


@dataclass
class Notification:
    """One e-mail about one stored message."""

    sender: str
    recipients: list[str]
    subject: str
    body: str
    deposition_id: str
    message_id: str | None = None
    copies: list[str] = field(default_factory=list)  # also sent to these (e.g. an archive mailbox)

    def as_email(self, recipients: Sequence[str]) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = ", ".join(recipients)
        email["Subject"] = self.subject
        email.set_content(self.body)
        return email


class MailDelivery(ABC):
    """Sends notifications."""

    @abstractmethod
    def deliver(self, notification: Notification) -> None:
        """Send it, or raise MailError saying why not."""


class NoMailDelivery(MailDelivery):
    """No mail server configured: log the notification instead of sending it."""

    def deliver(self, notification: Notification) -> None:
        log.info(
            "no mail server configured (MSGMODULE_SMTP_HOST): not sending %r about %s to %s",
            notification.subject,
            notification.deposition_id,
            ", ".join(notification.recipients),
        )


class SmtpMailDelivery(MailDelivery):
    """Sends through an SMTP server (plain SMTP, as OneDep sends through its local relay)."""

    def __init__(self, host: str, port: int = 25, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def deliver(self, notification: Notification) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as server:
                server.send_message(notification.as_email(notification.recipients))
                for copy in notification.copies:
                    server.send_message(notification.as_email([copy]))
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(
                f"cannot send the notification about {notification.deposition_id} through "
                f"{self.host}:{self.port}: {exc}"
            ) from exc
        log.info(
            "sent %r about %s to %s",
            notification.subject,
            notification.deposition_id,
            ", ".join(notification.recipients),
        )


def mail_settings(environ: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """(sender, archive copies) from the environment."""
    env = os.environ if environ is None else environ
    copies = [address.strip() for address in env.get("MSGMODULE_MAIL_ARCHIVE_COPY", "").split(",") if address.strip()]
    return env.get("MSGMODULE_MAIL_FROM") or DEFAULT_SENDER, copies


def default_mail_delivery(environ: Mapping[str, str] | None = None) -> MailDelivery:
    """SMTP to MSGMODULE_SMTP_HOST[:MSGMODULE_SMTP_PORT] when set, else none (logged)."""
    env = os.environ if environ is None else environ
    host = env.get("MSGMODULE_SMTP_HOST", "").strip()
    if not host:
        return NoMailDelivery()
    port_text = env.get("MSGMODULE_SMTP_PORT", "25").strip() or "25"
    if not port_text.isdigit():
        raise MessagingError(f"MSGMODULE_SMTP_PORT={port_text!r} is not a port number")
    return SmtpMailDelivery(host, int(port_text))
