"""What counts as a reminder, a release notice, an unlock or a validation report, as OneDep decides it.

Pure functions over the data model's rows, used by `ExtractMessage`; no
store, no files. OneDep's rules (its `util/ExtractMessage.py`, 0.181.1):

- "last" of a kind is the matching message with the highest ordinal_id,
  whether sent or a draft; the last message sent or received is the one
  with the latest timestamp among those with send_status `Y`;
- a kind is recognised by its context type first; only when no message
  has one of those context types is the subject searched for a phrase;
- a validation report is a message with context type `vldtn` or
  `maponly-authstatus-em` (major issues: context value
  `major-issue-in-validation`), else a sent message that refers to a
  `validation-report-annotate` file and whose subject says the processed
  files are ready (major issues: its text says "some major issues").

A row whose ordinal_id is not a number, or whose timestamp is not
`YYYY-MM-DD HH:MM:SS`, is never "last" (OneDep skips such rows too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from ..model import FileReference, Message, MessageStatus

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

# Reminders the reminder programs archive as notes, and the ones annotators send.
AUTO_REMINDER_CONTEXT_TYPES = ("reminder", "reminder-auth-to-rel")
MANUAL_REMINDER_CONTEXT_TYPES = ("reminder",)
REMINDER_SUBJECT = "Still awaiting feedback for"
RELEASE_CONTEXT_TYPES = ("release-publ", "release-nopubl")
RELEASE_SUBJECT = "Release of"
UNLOCK_CONTEXT_TYPE = "system-unlocked"
UNLOCK_SUBJECT = "System Unlocked"  # the whole subject, not a phrase in it
VALIDATION_CONTEXT_TYPES = ("vldtn", "maponly-authstatus-em")
MAJOR_ISSUE_CONTEXT_VALUE = "major-issue-in-validation"
VALIDATION_REPORT_CONTENT_TYPE = "validation-report-annotate"  # a part of the file reference's content type
VALIDATION_SUBJECT = re.compile("processed files are ready for your review", re.IGNORECASE)
MAJOR_ISSUES_TEXT = re.compile("some major issues", re.IGNORECASE)


def parse_timestamp(text: str | None) -> datetime | None:
    """A stored timestamp as a datetime, or None when it is missing or not `YYYY-MM-DD HH:MM:SS`."""
    try:
        return datetime.strptime(str(text), TIMESTAMP_FORMAT)
    except ValueError:
        return None


def _ordinal(message: Message) -> int | None:
    try:
        return int(message.ordinal_id or "")
    except ValueError:
        return None


def last_by_ordinal(messages: Iterable[Message]) -> Message | None:
    """The message with the highest ordinal_id among those with a number there and a valid timestamp."""
    best: tuple[int, Message] | None = None
    for message in messages:
        ordinal = _ordinal(message)
        if ordinal is None or parse_timestamp(message.timestamp) is None:
            continue
        if best is None or ordinal > best[0]:
            best = (ordinal, message)
    return best[1] if best else None


def last_sent(messages: Iterable[Message]) -> datetime | None:
    """The latest timestamp of the messages whose send_status is `Y` (drafts do not count)."""
    times = [parse_timestamp(m.timestamp) for m in messages if m.send_status == "Y"]
    return max((t for t in times if t is not None), default=None)


def later(first: datetime | None, second: datetime | None) -> datetime | None:
    """The later of two optional times."""
    return max((t for t in (first, second) if t is not None), default=None)


def last_of_kind(messages: Sequence[Message], context_types: Iterable[str], subject_phrase: str) -> datetime | None:
    """When the last message of a kind was written: by context type, else by a phrase in the subject."""
    wanted = set(context_types)
    found = last_by_ordinal(m for m in messages if m.context_type in wanted)
    if found is None:
        found = last_by_ordinal(m for m in messages if subject_phrase in (m.message_subject or ""))
    return parse_timestamp(found.timestamp) if found else None


def last_unlock(messages: Iterable[Message]) -> Message | None:
    """The last "system unlocked" message: by context type or by its exact subject, in one search."""
    return last_by_ordinal(
        m for m in messages if m.context_type == UNLOCK_CONTEXT_TYPE or m.message_subject == UNLOCK_SUBJECT
    )


def last_validation(
    messages: Sequence[Message], file_references: Iterable[FileReference]
) -> tuple[datetime | None, bool | None]:
    """(when, major issues) of the last validation report sent; (None, None) when there is none."""
    found = last_by_ordinal(m for m in messages if m.context_type in VALIDATION_CONTEXT_TYPES)
    if found is not None:
        return parse_timestamp(found.timestamp), found.context_value == MAJOR_ISSUE_CONTEXT_VALUE
    with_report = {
        ref.message_id for ref in file_references if VALIDATION_REPORT_CONTENT_TYPE in (ref.content_type or "")
    }
    when: datetime | None = None
    major: bool | None = None
    for message in messages:
        sent = parse_timestamp(message.timestamp)
        if sent is None or message.send_status != "Y" or message.message_id not in with_report:
            continue
        # Release letters attach the report too: only the validation letter's subject counts.
        if not VALIDATION_SUBJECT.search(message.message_subject or ""):
            continue
        if when is None or sent > when:
            when, major = sent, MAJOR_ISSUES_TEXT.search(message.message_text or "") is not None
    return when, major


def pending_depositor_messages(from_depositor: Iterable[Message], statuses: Iterable[MessageStatus]) -> list[Message]:
    """The depositor's messages that have no status row, or whose first status row asks for action."""
    first: dict[str | None, MessageStatus] = {}
    for status in statuses:
        first.setdefault(status.message_id, status)
    pending = []
    for message in from_depositor:
        row = first.get(message.message_id)
        if row is None or row.action_reqd == "Y":
            pending.append(message)
    return pending
