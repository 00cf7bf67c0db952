"""OneDep's callers of this package, called as they call it: the workflow manager's reminder tracker
(ExtractMessage) and FTP-upload page (AutoMessage), the release module's letters (MessagingIo.autoMsg with
a wwpdb.utils.session InputRequest), their tests' import under a mocked ConfigInfo, and the version pin."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import test_messaging_io_support as support
from conftest import REPO_ROOT, TEST_DATA, stage_config
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from test_messaging_io_support import SmtpServer
from wwpdb.utils.session.WebRequest import InputRequest  # the [onedep] extra, part of dev

from wwpdb.apps.msgmodule import __version__
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
from wwpdb.apps.msgmodule.io.MessagingIo import MessagingIo
from wwpdb.apps.msgmodule.model import CONTENT_TYPES
from wwpdb.apps.msgmodule.stage.policy import CIF, DB, STAGES
from wwpdb.apps.msgmodule.stores.authority import SITE_WRITER
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore
from wwpdb.apps.msgmodule.util.AutoMessage import AutoMessage
from wwpdb.apps.msgmodule.util.ExtractMessage import ExtractMessage

pytestmark = pytest.mark.integration
smtp = support.smtp

SITE = "RCSB"
UTILITIES = TEST_DATA / "onedep-utilities"
MODEL = TEST_DATA / "messaging-io" / "model.cif"
WORKFLOW_MANAGER_PIN = "~=0.180"  # py-wwpdb_apps_workmanager setup.py: 'wwpdb.apps.msgmodule ~= 0.180'


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


@pytest.fixture(params=list(STAGES))
def stage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def onedep_site(
    tmp_path: Path, stage: str, db_url: str, monkeypatch: pytest.MonkeyPatch, archive: Path | None = None, **extra: str
) -> dict[str, str]:
    """A site in `stage` known only by its id: its settings are in its section of the config file.

    The messages of `archive` (<root>/<DEPID>/<files>) are in every store the stage writes (only the
    database in db-only), as they are after a migration.
    """
    schema_versions.upgrade(db_url)
    config = stage_config(tmp_path, stage, db_url, **extra)
    section = "\n".join(f"{key} = {value}" for key, value in config.items() if key != "MSGMODULE_CONFIG")
    Path(config["MSGMODULE_CONFIG"]).write_text(f"[site:{SITE}]\n{section}\n", encoding="utf-8")
    monkeypatch.setenv("MSGMODULE_CONFIG", config["MSGMODULE_CONFIG"])
    if archive is not None:
        source, writes = CifMessageStore(archive), STAGES[stage].write_order
        for deposition in source.list_depositions():
            if CIF in writes:
                shutil.copytree(archive / deposition, Path(config["MSGCIF_ROOT"]) / deposition)
            if DB in writes:
                for content_type in CONTENT_TYPES:
                    if source.current_file(deposition, content_type) is not None:
                        # As a migration fills it: the site's own path, whatever the stage.
                        DbMessageStore(db_url, site_writer=SITE_WRITER).save(source.load(deposition, content_type))
    return config


def tracked(extract: ExtractMessage, dep_id: str) -> dict[str, Any]:
    """What the workflow manager's reminder tracker (LoadRemindMessageTrack) asks, in its order."""
    return {
        "received": extract.getLastReceivedMsgDatetime(dep_id),
        "sent": extract.getLastSentMsgDatetime(dep_id),
        "reminder": extract.getLastManualReminderDatetime(dep_id),
        "validation": extract.getLastValidation(dep_id),
    }


def everything(extract: ExtractMessage, dep_id: str) -> dict[str, Any]:
    """tracked() plus the other public questions OneDep's ExtractMessage answers."""
    return {
        **tracked(extract, dep_id),
        "last": extract.getLastMsgDatetime(dep_id),
        "last to": extract.getLastMsgDatetime(dep_id, to_from="to"),
        "last from": extract.getLastMsgDatetime(dep_id, "from"),
        "auto reminder": extract.getLastAutoReminderDatetime(dep_id),
        "release": extract.getLastReleaseNoticeDatetime(dep_id),
        "unlocked": extract.getLastUnlocked(dep_id),
        "unlock": extract.getLastUnlockDatetime(dep_id),
        "pending": [m["message_id"] for m in extract.getPendingDepositorMessages(dep_id)],
    }


def answers(
    received: str | None = None,
    sent: str | None = None,
    reminder: str | None = None,
    validation: tuple[str | None, bool | None] = (None, None),
    auto_reminder: str | None = None,
    release: str | None = None,
    unlocked: str | None = None,
    pending: tuple[str, ...] = (),
) -> dict[str, Any]:
    both = max((t for t in (at(sent), at(received)) if t is not None), default=None)
    return {
        "received": at(received),
        "sent": at(sent),
        "reminder": at(reminder),
        "validation": (at(validation[0]), validation[1]),
        "last": both,
        "last to": at(sent),
        "last from": at(received),
        "auto reminder": at(auto_reminder),
        "release": at(release),
        "unlocked": unlocked,
        "unlock": at(unlocked),
        "pending": list(pending),
    }


# What OneDep's ExtractMessage (0.181.1) answers for test_data/onedep-utilities (see its README).
EXPECTED = {
    # Context types decide: later messages whose subjects would match are not reminders or release notices.
    "D_1000000201": answers(
        received="2024-05-04 07:00:00",
        sent="2024-05-02 09:30:00",  # the later draft does not count
        reminder="2024-03-20 09:00:00",
        validation=("2024-04-10 08:30:00", True),
        auto_reminder="2024-06-01 06:00:00",
        release="2024-05-01 15:00:00",
        unlocked="2024-04-02 12:00:00",
        pending=("20100000-0000-4000-8000-000000000102", "20100000-0000-4000-8000-000000000103"),
    ),
    # No context types: subjects, the validation report attached and the letter's text decide.
    "D_1000000202": answers(
        sent="2024-04-01 15:00:00",
        reminder="2024-02-20 09:00:00",
        validation=("2024-02-01 10:00:00", True),
        auto_reminder="2024-06-05 06:00:00",
        release="2024-04-01 15:00:00",
        unlocked="2024-03-01 12:00:00",
    ),
    "D_1000000203": answers(sent="2024-02-10 10:00:00", validation=("2024-02-10 10:00:00", False)),
    "D_1000000204": answers(sent="2024-01-20 10:00:00", validation=("2024-01-15 10:00:00", False)),
    "D_1000000299": answers(),  # no messages at all
}

# What OneDep's ExtractMessage (0.181.1) answers for the real samples. Each D_8/D_9 file is its D_0 twin
# written before OneDep recorded context types: the subject rules find the same messages.
SAMPLES_EXPECTED = {
    "D_000219": answers(
        sent="2022-06-30 03:08:56", validation=("2021-09-30 21:09:27", True), release="2022-06-30 03:08:56"
    ),
    "D_0000265933": answers(
        received="2022-12-18 07:30:00",
        sent="2023-07-03 14:30:21",
        validation=("2022-12-22 16:50:33", False),
        auto_reminder="2023-11-12 14:53:21",
        release="2023-07-03 14:30:21",
        unlocked="2022-12-19 13:33:27",
    ),
    "D_0000277853": answers(
        received="2023-11-07 00:24:22",
        sent="2023-11-06 21:28:38",
        reminder="2023-10-25 21:51:35",
        validation=("2023-10-09 20:16:32", True),
    ),
}
SAMPLES_EXPECTED.update({"D_800219": SAMPLES_EXPECTED["D_000219"], "D_9000265933": SAMPLES_EXPECTED["D_0000265933"]})
SAMPLES_EXPECTED["D_9000277853"] = SAMPLES_EXPECTED["D_0000277853"]


# -- ExtractMessage, as the workflow manager's reminder tracker calls it ------------------------------------------


def test_extract_message_answers_as_onedep_in_every_stage(tmp_path, stage, db_url, monkeypatch):
    onedep_site(tmp_path, stage, db_url, monkeypatch, UTILITIES)
    extract = ExtractMessage(siteId=SITE, verbose=False, log=sys.stderr)
    assert {dep_id: everything(extract, dep_id) for dep_id in EXPECTED} == EXPECTED
    # The tracker writes each date with strftime and reads "major issue" from the pair's second item.
    found = tracked(extract, "D_1000000201")
    assert [found[k].strftime("%Y-%m-%d") for k in ("received", "sent", "reminder")] == [
        "2024-05-04",
        "2024-05-02",
        "2024-03-20",
    ]
    assert found["validation"][0].strftime("%Y-%m-%d") == "2024-04-10" and found["validation"][1] is True
    assert extract.getApprovalNoCorrectSubjects() == ["approval-without-changes", "approval-no-correction"]


def test_extract_message_answers_for_the_real_samples_in_every_stage(
    tmp_path, stage, db_url, monkeypatch, sample_archive
):
    onedep_site(tmp_path, stage, db_url, monkeypatch, sample_archive)
    extract = ExtractMessage(siteId=SITE, verbose=False, log=sys.stderr)
    assert {dep_id: everything(extract, dep_id) for dep_id in SAMPLES_EXPECTED} == SAMPLES_EXPECTED


def test_extract_message_reads_what_was_written_since_and_onedeps_test_folder(tmp_path, sqlite_url, monkeypatch):
    onedep_site(tmp_path, "dual-write", sqlite_url, monkeypatch, UTILITIES)
    extract = ExtractMessage(siteId=SITE, verbose=False, log=sys.stderr)
    assert extract.getLastManualReminderDatetime("D_1000000201") == at("2024-03-20 09:00:00")
    create_messaging_service(site_id=SITE).set(
        "D_1000000201",
        {"timestamp": "2024-07-01 08:00:00", "context_type": "reminder", "message_subject": "Any news?"},
    )
    # Every call reads afresh, whatever b_use_cache says (OneDep's cache never takes effect either).
    assert extract.getLastManualReminderDatetime("D_1000000201", b_use_cache=True) == at("2024-07-01 08:00:00")
    # OneDep's test_folder: the files side by side, read instead of the site's messages.
    folder = tmp_path / "side-by-side"
    folder.mkdir()
    for path in (UTILITIES / "D_1000000202").iterdir():
        shutil.copyfile(path, folder / path.name)
    assert everything_in(extract, "D_1000000202", str(folder)) == EXPECTED["D_1000000202"]
    assert extract.getLastValidation("D_1000000201", test_folder=str(folder)) == (None, None)


def everything_in(extract: ExtractMessage, dep_id: str, folder: str) -> dict[str, Any]:
    calls = {
        "received": lambda: extract.getLastReceivedMsgDatetime(dep_id, test_folder=folder),
        "sent": lambda: extract.getLastSentMsgDatetime(dep_id, test_folder=folder),
        "reminder": lambda: extract.getLastManualReminderDatetime(dep_id, test_folder=folder),
        "validation": lambda: extract.getLastValidation(dep_id, test_folder=folder),
        "last": lambda: extract.getLastMsgDatetime(dep_id, test_folder=folder),
        "last to": lambda: extract.getLastMsgDatetime(dep_id, "to", test_folder=folder),
        "last from": lambda: extract.getLastMsgDatetime(dep_id, "from", test_folder=folder),
        "auto reminder": lambda: extract.getLastAutoReminderDatetime(dep_id, test_folder=folder),
        "release": lambda: extract.getLastReleaseNoticeDatetime(dep_id, test_folder=folder),
        "unlocked": lambda: extract.getLastUnlocked(dep_id, test_folder=folder),
        "unlock": lambda: extract.getLastUnlockDatetime(dep_id, test_folder=folder),
        "pending": lambda: [m["message_id"] for m in extract.getPendingDepositorMessages(dep_id, test_folder=folder)],
    }
    return {name: call() for name, call in calls.items()}


def test_extract_message_has_onedeps_public_methods_and_conversions():
    public = {
        name for name in dir(ExtractMessage) if not name.startswith("_") and callable(getattr(ExtractMessage, name))
    }
    assert public >= {
        "convertStrToDatetime",
        "getLastMsgDatetime",
        "getLastReceivedMsgDatetime",
        "getLastSentMsgDatetime",
        "getLastAutoReminderDatetime",
        "getLastManualReminderDatetime",
        "getLastReleaseNoticeDatetime",
        "getLastUnlockDatetime",
        "getLastUnlocked",
        "getLastValidation",
        "getLastSentMessageDate",
        "getPendingDepositorMessages",
        "getApprovalNoCorrectSubjects",
    }
    extract = ExtractMessage()
    assert extract.convertStrToDatetime("2024-05-01 15:00:00") == datetime(2024, 5, 1, 15)
    with pytest.raises(ValueError):
        extract.convertStrToDatetime("2024-05-01")
    assert extract.getLastMsgDatetime("D_1000000201", to_from="sideways") is None


# -- AutoMessage, as the workflow manager and OneDep's reminder programs call it ----------------------------------


def put_model(config: dict[str, str], dep_id: str, method: str = "X-RAY DIFFRACTION") -> None:
    folder = Path(config["MSGCIF_ROOT"]) / dep_id
    folder.mkdir(parents=True, exist_ok=True)
    text = MODEL.read_text(encoding="utf-8").replace("'X-RAY DIFFRACTION'", f"'{method}'")
    (folder / f"{dep_id}_model_P1.cif.V1").write_text(text, encoding="utf-8")


def mail_site(tmp_path, stage, db_url, monkeypatch, server: SmtpServer) -> dict[str, str]:
    return onedep_site(
        tmp_path,
        stage,
        db_url,
        monkeypatch,
        UTILITIES,
        MSGMODULE_SMTP_HOST="127.0.0.1",
        MSGMODULE_SMTP_PORT=str(server.port),
    )


def test_send_single_message_as_the_workflow_manager_enables_ftp_upload(tmp_path, stage, db_url, monkeypatch, smtp):
    config = mail_site(tmp_path, stage, db_url, monkeypatch, smtp)
    put_model(config, "D_1000000201")
    subject, message = "FTP upload enabled", "You can now upload large files by FTP.\n\u00c5ngstr\u00f6m"
    am = AutoMessage(siteId=SITE)
    ret = am.sendSingleMessage("D_1000000201", subject, message, p_tmpltType="instruction-ftp")
    assert ret is True
    note = create_messaging_service(site_id=SITE).get("D_1000000201", "notes-from-annotator")[-1]
    assert (note["message_subject"], note["message_text"], note["context_type"], note["sender"]) == (
        subject,
        message,
        "instruction-ftp",
        "auto",
    )
    ((_, recipients, email),) = smtp.received
    assert recipients == ["jane.doe@example.org", "ole@example.org"]
    assert email["Subject"] == subject


def test_reminder_programs_send_letters_that_extract_message_then_finds(tmp_path, stage, db_url, monkeypatch, smtp):
    config = mail_site(tmp_path, stage, db_url, monkeypatch, smtp)
    put_model(config, "D_1000000202")
    put_model(config, "D_1000000203", "ELECTRON MICROSCOPY")
    am = AutoMessage(siteId=SITE, topSessionDir=str(tmp_path / "sessions-top"), verbose=False, log=sys.stderr)
    assert am._splitents(["D_1000000202", "D_1000000203", "D_1000000204"]) == (
        ["D_1000000202", "D_1000000204"],  # D_1000000204 has no model file: not EM, as OneDep decides
        ["D_1000000203"],
    )
    sent = am.sendRemindFeedback(["D_1000000202", "D_1000000203"])
    assert {dep_id: answer["success"] for dep_id, answer in sent.items()} == {
        "D_1000000202": "true",
        "D_1000000203": "true",
    }
    assert len(smtp.received) == 2
    extract = ExtractMessage(siteId=SITE, verbose=False, log=sys.stderr)
    for dep_id in sent:
        (reminder,) = [
            n
            for n in create_messaging_service(site_id=SITE).get(dep_id, "notes-from-annotator")
            if n["context_type"] == "reminder"
        ]
        assert extract.getLastAutoReminderDatetime(dep_id) == at(reminder["timestamp"]) > datetime(2025, 1, 1)
    # Each call had a session of its own in OneDep's layout: <topSessionDir>/sessions/<id>.
    sessions = list((tmp_path / "sessions-top" / "sessions").iterdir())
    assert len(sessions) >= 2 and all(path.is_dir() for path in sessions)


def test_tagging_and_the_status_questions_of_the_reminder_programs(tmp_path, stage, db_url, monkeypatch):
    onedep_site(tmp_path, stage, db_url, monkeypatch, UTILITIES)
    am = AutoMessage(siteId=SITE)
    pending = EXPECTED["D_1000000201"]["pending"]
    assert (am.getAllMsgsActioned("D_1000000201"), am.getAllMsgsRead("D_1000000201")) == (False, False)
    assert am.tagMessageStatus("D_1000000201", pending) is True
    assert (am.getAllMsgsActioned("D_1000000201"), am.getAllMsgsRead("D_1000000201")) == (True, True)
    assert ExtractMessage(siteId=SITE).getPendingDepositorMessages("D_1000000201") == []
    assert am.tagMessageStatus("D_1000000201", pending, actionReqd="maybe") is False


# -- MessagingIo, as the release module's letters build it ------------------------------------------------------


def test_release_letters_with_a_onedep_input_request_carrying_only_the_site(tmp_path, sqlite_url, monkeypatch):
    config = onedep_site(tmp_path, "dual-write", sqlite_url, monkeypatch, UTILITIES)
    put_model(config, "D_1000000202")
    put_model(config, "D_1000000203", "ELECTRON MICROSCOPY")
    # As AutoReRelease.ReleaseProcess builds it for MultiUpdateProcess.
    req = InputRequest({}, verbose=False)
    req.setValue("TopSessionPath", str(tmp_path / "web-top"))
    req.setValue("TopPath", str(tmp_path / "web-top"))
    req.setValue("TemplatePath", str(tmp_path / "templates"))
    req.setValue("WWPDB_SITE_ID", SITE)
    req.setValue("option", "citation_update")
    req.setValue("task", "Entries with new citation")
    msgIo = MessagingIo(req, False, sys.stderr)  # noqa: N806 - the release module's name
    pdb = msgIo.autoMsg(["D_1000000202"], "release-publ")
    em = msgIo.autoMsg(["D_1000000203"], "release-publ", p_isEmdbEntry=True)
    assert set(pdb) == {"D_1000000202"} and set(em) == {"D_1000000203"}
    for answer in (pdb["D_1000000202"], em["D_1000000203"]):
        assert answer["success"] == "true" and set(answer) == {"success", "pdbx_model_updated", "append_msg"}
    assert (req.getValue("identifier"), req.getValue("content_type"), req.getValue("expmethod")) == (
        "D_1000000203",
        "msgs",
        "ELECTRON MICROSCOPY",
    )
    extract = ExtractMessage(siteId=SITE)
    assert extract.getLastReleaseNoticeDatetime("D_1000000202") > at("2024-04-01 15:00:00")
    assert extract.getLastReleaseNoticeDatetime("D_1000000203") is not None
    letters = {
        dep_id: create_messaging_service(site_id=SITE).get(dep_id, "messages-to-depositor")[-1]
        for dep_id in ("D_1000000202", "D_1000000203")
    }
    assert {dep_id: (letter["message_subject"], letter["context_type"]) for dep_id, letter in letters.items()} == {
        "D_1000000202": ("Release of pdb_00009zzz (PDB ID 9ZZZ)", "release-publ"),
        "D_1000000203": ("Release of PDB entry pdb_00009zzz (PDB ID 9ZZZ)", "release-publ"),  # the EM letter
    }
    obsolete = MessagingIo(req, False, sys.stderr).autoMsg(["D_1000000202"], "obsolete")
    assert set(obsolete["D_1000000202"]) == {"success", "pdbx_model_updated", "append_msg"}


# -- importing under OneDep's test set-up, and the version OneDep requires ------------------------------------------

MOCKED_IMPORT = """
import sys
from unittest.mock import MagicMock, Mock

# What the workflow manager's commonsetup.py does before its tests import our modules.
sys.modules["wwpdb.utils.config.ConfigInfo"] = Mock(ConfigInfo=MagicMock(return_value={}))
sys.modules["wwpdb.utils.wf.dbapi.dbAPI"] = MagicMock()

from wwpdb.apps.msgmodule.util.ExtractMessage import ExtractMessage
from wwpdb.apps.msgmodule.util.AutoMessage import AutoMessage
from wwpdb.apps.msgmodule.io.MessagingIo import MessagingIo

print(ExtractMessage(siteId="RCSB", verbose=False, log=sys.stderr).getLastValidation("D_1000000299"))
print(AutoMessage(siteId="RCSB").siteId, MessagingIo.__name__)
"""


def test_the_modules_import_and_answer_while_configinfo_is_a_mock(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    environment = {"PATH": "/usr/bin:/bin", "MSGCIF_ROOT": str(archive), "MSGMODULE_STATE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MOCKED_IMPORT)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["(None, None)", "RCSB MessagingIo"]


def test_the_workflow_managers_version_pin_accepts_this_package():
    pin = SpecifierSet(WORKFLOW_MANAGER_PIN)
    installed = importlib.metadata.version("wwpdb.apps.msgmodule")
    assert installed == __version__
    assert Version(__version__) in pin and Version(installed) in pin
    assert "0.1.0" not in pin and "1.0.0" not in pin  # what the pin means: >= 0.180, < 1.0
    assert f'__version__ = "{__version__}"' in (REPO_ROOT / "wwpdb/apps/msgmodule/__init__.py").read_text()
