"""The site parts of OneDep's MessagingIo and the methods that use them: templates, model-file data,
available files, the starter text, autoMsg and sendSingle, mail delivery, and construction as OneDep does it."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import test_messaging_io_support as support
from conftest import EXAMPLE_ARCHIVE, TEST_DATA, FakeRequest
from test_messaging_io_support import DEP, Site, SmtpServer, write_scenario

from wwpdb.apps.msgmodule.errors import MessagingError
from wwpdb.apps.msgmodule.io.mail import NoMailDelivery, Notification, SmtpMailDelivery, default_mail_delivery
from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
from wwpdb.apps.msgmodule.io.MessagingIo import MessagingIo
from wwpdb.apps.msgmodule.io.model_data import ModelFacts, TemplateContext, release_wednesday, template_values
from wwpdb.apps.msgmodule.io.site import SiteServices
from wwpdb.apps.msgmodule.io.templates import DirectoryTemplates, write_examples
from wwpdb.apps.msgmodule.model import Message

site, two_site, filled, filled_two = support.site, support.two_site, support.filled, support.filled_two
smtp = support.smtp
MODEL = TEST_DATA / "messaging-io" / "model.cif"
ACCESSION = "pdb_00009zzz (PDB ID 9ZZZ)"


def put(site: Site, name: str, content: str = "x", source: Path | None = None) -> Path:
    folder = site.archive / DEP
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{DEP}_{name}"
    if source is not None:
        shutil.copyfile(source, path)
    else:
        path.write_text(content)
    return path


def with_mail(site: Site, server: SmtpServer, **changes: Any) -> SiteServices:
    services = SiteServices.defaults(site.archive, {})
    services.mail = SmtpMailDelivery("127.0.0.1", server.port, timeout=10)
    for name, value in changes.items():
        setattr(services, name, value)
    site.extra["site"] = services
    return services


# -- template data from the model file --------------------------------------------------------------------


def test_template_data_from_the_model_file(filled_two: Site):
    put(filled_two, "model_P1.cif.V1", source=MODEL)
    filled_two.extra["site"] = SiteServices.defaults(filled_two.archive, {})
    filled_two.extra["site"].annotator_names = {("RCSB", "AB"): "Ann Bee"}
    io = filled_two.io(sender="ab")
    io.initializeDataStore()
    values: dict[str, Any] = {"identifier": DEP}
    assert io.getMsgTmpltDataItems(values) is None  # fills the dict in place, as OneDep
    expected = {
        "pdb_id": "9ZZZ",
        "pdb_ext_id": "pdb_00009zzz",
        "emdb_id": "[EMDBID NOT AVAIL]",
        "accession_ids": ACCESSION,
        "title": "Crystal structure of a test protein made for the messaging tests",
        "entry_authors_list": ["Doe, Jane", "Smith, Ole"],
        "entry_authors_newline_list": "Doe, Jane\nSmith, Ole",
        "entry_authors_csv_list": "Doe, Jane, Smith, Ole",
        "contact_authors_list": [
            ("jane.doe@example.org", "principal investigator/group leader", "Doe"),
            ("ole@example.org", "responsible scientist", "Smith"),
        ],
        "status_code": "HOLD",
        "entry_status": "Hold until 1 June 2025",
        "auth_rel_status_code": "HOLD",
        "expire_date": "1 June 2025",
        "recvd_date": "29 February 2024",
        "processing_site": "RCSB",
        "citation_authors": "Doe, J.,Smith, O.",
        "citation_title": "A test citation",
        "citation_journal_abbrev": "J. Tests",
        "citation_journal_volume": "\nVolume:   12",
        "citation_pages": "\nPages:   100 - 110",
        "citation_year": "\nYear:   2024",
        "citation_doi": "\nDOI:   10.1000/test.1",
        "citation_pubmedid": "",
        "default_msg_tmplt": "approval-impl",
        "em_entry": "false",
        "maponly": "false",
        "full_name_annotator": "Ann Bee",
        "horiz_line": "=" * 64,
        "unlock_date": "[NOT AVAILBLE]",
        "outbound_rprt_date": "[NO DATE AVAIL]",
        "site_contact_details": "RCSB PDB, deposit-help@rcsb.org",
        "identifier": DEP,
    }
    assert {key: values.get(key) for key in expected} == expected
    assert "pdb9ZZZ" in values["doinotice"] and "Ann Bee" in values["msg_closing"]
    assert "cif" in values["known_file_extensions"].split(", ")
    release = datetime.strptime(values["release_date"], "%d %B %Y").date()
    assert release.weekday() == 2 and release > date.today()


def test_template_data_without_a_model_file_uses_onedeps_placeholders(filled_two: Site):
    values: dict[str, Any] = {}
    filled_two.io().getMsgTmpltDataItems(values)
    assert (values["pdb_id"], values["title"], values["status_code"], values["contact_authors_list"]) == (
        "[PDBID NOT AVAIL]",
        "[NOT AVAILABLE]",
        "[NOT AVAILABLE]",
        [],
    )
    assert values["expire_date"] is None
    assert values["accession_ids"] == "[PDBEXTID NOT AVAIL] (PDB ID [PDBID NOT AVAIL])"


def test_unlock_and_report_dates(filled_two: Site):
    unlocked = Message(
        "9", "u1", DEP, "2024-04-02 10:00:00", "annotator", None, None, "u1", "System Unlocked", "unlocked", "text", "Y"
    )
    filled_two.store.put_message(DEP, "messages-to-depositor", unlocked)
    report = put(filled_two, "validation-report-full-annotate_P1.pdf.V1")
    stamp = datetime(2024, 5, 6, 12, 0).timestamp()
    os.utime(report, (stamp, stamp))
    values: dict[str, Any] = {}
    filled_two.io().getMsgTmpltDataItems(values)
    assert (values["unlock_date"], values["outbound_rprt_date"]) == ("2 April 2024", "6 May 2024")


@pytest.mark.parametrize(
    "today, wednesday",
    [
        (date(2024, 6, 3), date(2024, 6, 12)),  # Monday: the Wednesday of next week
        (date(2024, 6, 5), date(2024, 6, 12)),
        (date(2024, 6, 8), date(2024, 6, 19)),  # Saturday counts as next week
        (date(2024, 6, 9), date(2024, 6, 19)),
    ],
)
def test_release_day(today: date, wednesday: date):
    assert release_wednesday(today) == wednesday


def test_thursday_clauses_follow_the_cut_off():
    templates = DirectoryTemplates()
    facts = ModelFacts(status={"process_site": "PDBE"})

    def clause(now: datetime) -> str:
        return template_values(facts, TemplateContext(DEP, now=now), templates)["thurs_prerelease_clause"]

    assert clause(datetime(2024, 6, 3, 9)) == (
        "Changes to the entry can still be made until noon at PDBE on Thursday 6 June 2024."
    )
    assert "today" in clause(datetime(2024, 6, 6, 10))
    assert clause(datetime(2024, 6, 6, 11)) == clause(datetime(2024, 6, 7, 9)) == ""


# -- templates ------------------------------------------------------------------------------------------------


def test_site_templates_override_the_examples(tmp_path: Path):
    written = write_examples(tmp_path / "seeded")
    assert {p.name for p in written} >= {"release-publ.txt", "reminder.txt", "closing.txt"}
    assert DirectoryTemplates(tmp_path / "seeded", examples=False).text("obsolete") is not None
    assert DirectoryTemplates(tmp_path / "empty", examples=False).text("obsolete") is None
    letters = tmp_path / "letters"
    letters.mkdir()
    (letters / "release-publ.txt").write_text("Subject: Out: %(pdb_id)s\nReleased. %(unknown_key)s")
    templates = DirectoryTemplates(letters)
    # The site's general letter wins over the example of a more specific one.
    assert templates.render(["release-publ-em", "release-publ"], {"pdb_id": "9ZZZ"}) == (
        "Out: 9ZZZ",
        "Released. [NOT AVAILABLE]",
    )
    assert templates.render(["reminder"], {})[0] == "REMINDER: Still awaiting feedback for [NOT AVAILABLE]"  # type: ignore[index]
    assert templates.render(["no-such-letter"], {}) is None


# -- files ---------------------------------------------------------------------------------------------------


def test_available_files(filled_two: Site):
    io = filled_two.io()
    assert io.checkAvailFiles(DEP) == []
    put(filled_two, "model_P1.cif.V1", source=MODEL)
    put(filled_two, "model_P1.pdb.V1")
    put(filled_two, "validation-report_P1.pdf.V2")
    put(filled_two, "nmr-restraints_P1.dat.V1")
    put(filled_two, "structure-factors_P1.cif.V1.PREV0")  # a snapshot is not a file
    assert filled_two.io().checkAvailFiles(DEP) == ["model", "model_pdb", "val-report", "mr", "val-report-batch"]
    put(
        filled_two,
        "model_P1.cif.V2",
        content=MODEL.read_text().replace("pdb_format_compatible           Y", "pdb_format_compatible           N"),
    )
    assert filled_two.io().checkAvailFiles(DEP) == ["model", "val-report", "mr", "val-report-batch"]


def test_the_starter_text(filled_two: Site, tmp_path: Path):
    assert filled_two.io().getStarterMsgBody() is None
    letters = tmp_path / "letters"
    letters.mkdir()
    (letters / "starter-msg-body.txt").write_text("Dear author of %(pdb_id)s,\n")
    filled_two.extra["site"] = SiteServices.defaults(filled_two.archive, {"MSGMODULE_TEMPLATE_DIR": str(letters)})
    assert filled_two.io().getStarterMsgBody() == "Dear author of [PDBID NOT AVAIL],\n"
    put(filled_two, "correspondence-to-depositor_P1.txt.V1", "old")
    put(filled_two, "correspondence-to-depositor_P1.txt.V2", "Issues found:\n1. clash\n")
    assert filled_two.io().getStarterMsgBody() == "Issues found:\n1. clash\n"


# -- programs that send messages ---------------------------------------------------------------------------------


def test_auto_msg_sends_a_release_letter_with_the_entry_files(site: Site, smtp: SmtpServer):
    write_scenario(site.store)
    put(site, "model_P1.cif.V1", source=MODEL)
    put(site, "validation-report_P1.pdf.V1")
    with_mail(site, smtp)
    request = support.Request(WWPDB_SITE_ID="RCSB")  # as OneDep's AutoMessage makes it: no identifier yet
    io = MessagingIo(request, False, sys.stderr, store=site.store, archive_root=site.archive, site=site.extra["site"])
    assert io.autoMsg([DEP], p_tmpltType="release-publ") == {
        DEP: {"success": "true", "pdbx_model_updated": "true", "append_msg": ""}
    }
    assert (request.values["identifier"], request.values["content_type"]) == (DEP, "msgs")
    letter = site.load("messages-to-depositor").messages[-1]
    assert (letter.message_subject, letter.sender, letter.context_type, letter.message_type) == (
        f"Release of {ACCESSION}",
        "auto",
        "release-publ",
        "text",
    )
    assert '"Crystal structure of a test protein made for the messaging tests"' in (letter.message_text or "")
    references = site.load("messages-to-depositor").references_of(letter.message_id or "")
    assert {r.content_type for r in references} == {"model-annotate", "validation-report-annotate"}
    ((_, recipients, email),) = smtp.received
    assert recipients == ["jane.doe@example.org", "ole@example.org"]
    assert email["Subject"] == f"Release of {ACCESSION}"  # a program's message keeps its subject


def test_auto_msg_reminders_are_archived_notes_and_unknown_letters_send_nothing(filled_two: Site, smtp: SmtpServer):
    put(filled_two, "model_P1.cif.V1", source=MODEL)
    with_mail(filled_two, smtp)
    io = filled_two.io()
    assert io.autoMsg([DEP], p_tmpltType="reminder")[DEP]["success"] == "true"
    note = filled_two.load("notes-from-annotator").messages[-1]
    assert (note.message_subject, note.message_type, note.context_type) == (
        f"REMINDER: Still awaiting feedback for {ACCESSION}",
        "archive_auto_noorig",
        "reminder",
    )
    assert len(smtp.received) == 1
    assert filled_two.load("notes-from-annotator").references_of(note.message_id or "") == []
    before = filled_two.load("messages-to-depositor")
    answer = io.autoMsg([DEP, "not-an-id"], p_tmpltType="no-such-letter")
    assert answer[DEP]["success"] == "false" and "no-such-letter" in answer[DEP]["append_msg"]
    assert answer["not-an-id"]["success"] == "false"
    assert filled_two.load("messages-to-depositor") == before and len(smtp.received) == 1


def test_send_single_archives_a_note_and_mails_the_test_address(filled_two: Site, smtp: SmtpServer):
    put(filled_two, "model_P1.cif.V1", source=MODEL)
    with_mail(filled_two, smtp)
    assert (
        filled_two.io().sendSingle(
            DEP, "Session expiring", "Your session ends \u00e0 minuit.", p_testemail="test@example.org"
        )
        is True
    )
    note = filled_two.load("notes-from-annotator").messages[-1]
    assert (note.message_subject, note.message_text, note.context_type, note.sender, note.message_type) == (
        "Session expiring",
        "Your session ends \u00e0 minuit.",
        "other",
        "auto",
        "archive_auto_noorig",
    )
    ((_, recipients, email),) = smtp.received
    assert recipients == ["test@example.org"]
    assert "Your session ends \u00e0 minuit." in email.get_content()


# -- mail delivery -----------------------------------------------------------------------------------------------


def test_default_mail_delivery_from_the_environment(smtp: SmtpServer, caplog: pytest.LogCaptureFixture):
    notification = Notification(
        "noreply@example.org", ["a@example.org"], "S\u00fcbject", "B\u00f6dy", DEP, copies=["archive@example.org"]
    )
    delivery = default_mail_delivery({"MSGMODULE_SMTP_HOST": "127.0.0.1", "MSGMODULE_SMTP_PORT": str(smtp.port)})
    delivery.deliver(notification)
    assert [(r, e["Subject"], e.get_content().strip()) for _, r, e in smtp.received] == [
        (["a@example.org"], "S\u00fcbject", "B\u00f6dy"),
        (["archive@example.org"], "S\u00fcbject", "B\u00f6dy"),
    ]
    quiet = default_mail_delivery({})
    assert isinstance(quiet, NoMailDelivery)
    with caplog.at_level(logging.INFO, logger="wwpdb.apps.msgmodule.io.mail"):
        quiet.deliver(notification)
    assert "not sending" in caplog.text and "a@example.org" in caplog.text
    with pytest.raises(MessagingError, match="MSGMODULE_SMTP_PORT"):
        default_mail_delivery({"MSGMODULE_SMTP_HOST": "localhost", "MSGMODULE_SMTP_PORT": "smtp"})
    smtp.__exit__()
    with pytest.raises(MessagingError, match="cannot send"):
        delivery.deliver(notification)


def test_mail_is_plain_text_the_standard_library_can_read(smtp: SmtpServer):
    SmtpMailDelivery("127.0.0.1", smtp.port).deliver(Notification("x@example.org", ["y@example.org"], "s", "b", DEP))
    email = smtp.received[0][2]
    assert isinstance(email, EmailMessage) and email.get_content_type() == "text/plain"


# -- constructed as OneDep constructs it -------------------------------------------------------------------------


def test_constructed_as_onedep_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    archive = tmp_path / "archive"
    shutil.copytree(EXAMPLE_ARCHIVE, archive)
    monkeypatch.setenv("MSGCIF_ROOT", str(archive))
    request = FakeRequest(identifier="D_1000000001", content_type="msgs", WWPDB_SITE_ID="RCSB")
    by_factory = create_messaging_service(request, verbose=True)
    direct = MessagingIo(request, True, sys.stderr)  # the store: whatever the factory decides
    assert by_factory.verbose is True and direct.verbose is True
    rows = by_factory.getMsgRowList("D_1000000001")["RECORD_LIST"]
    assert rows and all(isinstance(row, list) for row in rows)
    assert direct.getMsgRowList("D_1000000001") == by_factory.getMsgRowList("D_1000000001")
    assert direct.archive_root == archive
