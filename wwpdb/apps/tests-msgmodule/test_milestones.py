"""OneDep's rules for a deposition's last reminder, release notice, unlock and validation report (util/milestones)."""

from __future__ import annotations

from datetime import datetime

from wwpdb.apps.msgmodule.model import FileReference, Message, MessageStatus
from wwpdb.apps.msgmodule.util import milestones as m

VALIDATION_LETTER = "PDB ID 9XYZ - Validation report and processed files are ready for your review"


def message(ordinal: str | None, when: str | None, subject: str = "", **items: str | None) -> Message:
    mid = items.pop("message_id", None) or f"m{ordinal}"
    return Message.from_dict(
        {"ordinal_id": ordinal, "message_id": mid, "timestamp": when, "message_subject": subject, **items}
    )


def report(message_id: str, content_type: str = "validation-report-annotate") -> FileReference:
    return FileReference.from_dict({"message_id": message_id, "content_type": content_type})


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def test_timestamps_parse_only_in_onedeps_format():
    assert m.parse_timestamp("2024-05-01 15:00:00") == datetime(2024, 5, 1, 15)
    assert [m.parse_timestamp(t) for t in (None, "", "2024-05-01", "2024-05-01T15:00:00", "?")] == [None] * 5


def test_last_sent_is_the_latest_time_of_the_sent_messages_only():
    messages = [
        message("1", "2024-01-02 00:00:00", send_status="Y"),
        message("2", "2024-01-01 00:00:00", send_status="Y"),  # earlier though written later
        message("3", "2024-02-01 00:00:00", send_status="N"),  # a draft
        message("4", "2024-03-01 00:00:00", send_status=None),  # no send status: not sent, as OneDep reads it
        message("5", "not a time", send_status="Y"),
    ]
    assert m.last_sent(messages) == at("2024-01-02 00:00:00")
    assert m.last_sent([]) is None
    assert m.later(None, None) is None and m.later(at("2024-01-01 00:00:00"), None) == at("2024-01-01 00:00:00")
    assert m.later(at("2024-01-01 00:00:00"), at("2024-01-03 00:00:00")) == at("2024-01-03 00:00:00")


def test_last_of_a_kind_is_the_highest_ordinal_not_the_latest_time():
    reminders = [
        message("2", "2024-01-05 00:00:00", context_type="reminder"),
        message("10", "2024-01-01 00:00:00", context_type="reminder"),  # 10 > 2 as numbers, not as text
        message("x", "2024-09-01 00:00:00", context_type="reminder"),  # no number: never last
        message("11", "bad time", context_type="reminder"),  # no time: never last
    ]
    assert m.last_of_kind(reminders, ["reminder"], m.REMINDER_SUBJECT) == at("2024-01-01 00:00:00")


def test_context_types_decide_first_then_a_phrase_in_the_subject():
    by_context = [
        message("1", "2024-01-01 00:00:00", "Release of PDB ID 9XYZ", context_type="release-nopubl"),
        message("2", "2024-02-01 00:00:00", "Re: Release of PDB ID 9XYZ", context_type="default"),
    ]
    assert m.last_of_kind(by_context, m.RELEASE_CONTEXT_TYPES, m.RELEASE_SUBJECT) == at("2024-01-01 00:00:00")
    by_subject = [
        message("1", "2024-01-01 00:00:00", "Release of PDB ID 9XYZ"),
        message("2", "2024-02-01 00:00:00", "Re: Release of PDB ID 9XYZ", context_type="default"),
        message("3", "2024-03-01 00:00:00", "release of PDB ID 9XYZ"),  # the phrase is case-sensitive
        message("4", "2024-04-01 00:00:00", None),
    ]
    assert m.last_of_kind(by_subject, m.RELEASE_CONTEXT_TYPES, m.RELEASE_SUBJECT) == at("2024-02-01 00:00:00")
    assert m.last_of_kind([], m.RELEASE_CONTEXT_TYPES, m.RELEASE_SUBJECT) is None


def test_reminders_of_the_programs_include_reminders_before_an_authorised_release():
    notes = [
        message("1", "2024-01-01 00:00:00", context_type="reminder"),
        message("2", "2024-02-01 00:00:00", context_type="reminder-auth-to-rel"),
    ]
    assert m.last_of_kind(notes, m.AUTO_REMINDER_CONTEXT_TYPES, m.REMINDER_SUBJECT) == at("2024-02-01 00:00:00")
    assert m.last_of_kind(notes, m.MANUAL_REMINDER_CONTEXT_TYPES, m.REMINDER_SUBJECT) == at("2024-01-01 00:00:00")


def test_an_unlock_is_its_context_type_or_exactly_its_subject_in_one_search():
    messages = [
        message("1", "2024-01-01 00:00:00", "System Unlocked"),
        message("2", "2024-02-01 00:00:00", "Unlocked", context_type="system-unlocked"),
        message("3", "2024-03-01 00:00:00", "Re: System Unlocked"),
    ]
    found = m.last_unlock(messages)
    assert found is not None and found.timestamp == "2024-02-01 00:00:00"
    assert m.last_unlock(messages[:1] + messages[2:]) == messages[0]
    assert m.last_unlock(messages[2:]) is None


def test_a_validation_report_by_context_type_and_its_major_issues_by_context_value():
    messages = [
        message("1", "2024-01-01 00:00:00", context_type="vldtn", context_value="major-issue-in-validation"),
        message("2", "2024-02-01 00:00:00", context_type="maponly-authstatus-em", send_status="N"),  # drafts count
        message("3", "2024-03-01 00:00:00", VALIDATION_LETTER, send_status="Y"),  # ignored: context types exist
    ]
    refs = [report("m3")]
    assert m.last_validation(messages, refs) == (at("2024-02-01 00:00:00"), False)
    assert m.last_validation(messages[:1], refs) == (at("2024-01-01 00:00:00"), True)


def test_without_context_types_a_sent_letter_with_the_report_and_the_subject_is_a_validation_report():
    letter = {"send_status": "Y", "message_text": "We found Some Major Issues."}
    messages = [
        message("1", "2024-01-01 00:00:00", VALIDATION_LETTER, **letter),
        message("2", "2024-02-01 00:00:00", "Release of PDB ID 9XYZ", send_status="Y"),  # attaches the report too
        message("3", "2024-03-01 00:00:00", VALIDATION_LETTER, send_status="N"),  # a draft
        message("4", "2024-04-01 00:00:00", VALIDATION_LETTER, send_status="Y"),  # no report attached
        message("5", "2023-12-01 00:00:00", VALIDATION_LETTER, send_status="Y", message_text="No major issues"),
    ]
    refs = [report("m1"), report("m2"), report("m3"), report("m5"), report("m4", "validation-report-full-annotate")]
    assert m.last_validation(messages, refs) == (at("2024-01-01 00:00:00"), True)  # the latest time wins here
    assert m.last_validation(messages[1:], refs) == (at("2023-12-01 00:00:00"), False)
    assert m.last_validation(messages, []) == (None, None)
    assert m.last_validation([], []) == (None, None)


def test_pending_depositor_messages_have_no_status_or_a_first_status_asking_for_action():
    messages = [message(str(n), "2024-01-01 00:00:00") for n in range(1, 5)]
    statuses = [
        MessageStatus("m1", None, "Y", "N", "N"),
        MessageStatus("m2", None, "Y", "Y", "N"),
        MessageStatus("m3", None, "Y", "N", "N"),
        MessageStatus("m3", None, "Y", "Y", "N"),  # only the first row of a message counts
    ]
    assert [p.message_id for p in m.pending_depositor_messages(messages, statuses)] == ["m2", "m4"]
