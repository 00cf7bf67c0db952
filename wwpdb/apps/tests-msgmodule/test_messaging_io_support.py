"""Shared by the MessagingIo tests: a store for every stage, a deposition written for them, a real SMTP server.

Not tests itself. The stores are real: the CIF archive, SQLite, MariaDB
(when reachable), and the dual store composed of them, as each stage uses
them; the SMTP server is a real one on a local port, speaking SMTP.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeRequest

from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.io.MessagingIo import MessagingIo
from wwpdb.apps.msgmodule.model import Document, FileReference, Message, MessageStatus, OrigCommReference
from wwpdb.apps.msgmodule.stores import dual
from wwpdb.apps.msgmodule.stores.base import MessageStore
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

DEP = "D_1000000101"
ZONE = "Asia/Tokyo"  # GMT+9 all year: 09:00:00 GMT shows as 18:00:00

# (stage, database): every stage on SQLite, the database-reading ones on MariaDB too.
STAGE_PARAMS = [
    pytest.param(("cif-only", None), id="cif-only"),
    pytest.param(("dual-write", "sqlite"), id="dual-write-sqlite"),
    pytest.param(("shadow", "sqlite"), id="shadow-sqlite"),
    pytest.param(("db-primary", "sqlite"), id="db-primary-sqlite"),
    pytest.param(("db-only", "sqlite"), id="db-only-sqlite"),
    pytest.param(("db-primary", "mysql"), id="db-primary-mysql", marks=pytest.mark.mysql),
    pytest.param(("db-only", "mysql"), id="db-only-mysql", marks=pytest.mark.mysql),
]


@dataclass
class Site:
    """One stage's store over a scratch archive, and MessagingIo objects on it as OneDep makes them."""

    stage: str
    store: MessageStore
    archive: Path
    db: DbMessageStore | None = None  # the stage's database store, if it has one
    cif: CifMessageStore | None = None  # the stage's archive store, if it writes the archive
    extra: dict[str, Any] = field(default_factory=dict)

    def io(self, view: str = "msgs", deposition: str = DEP, **values: Any) -> MessagingIo:
        request = Request(identifier=deposition, content_type=view, WWPDB_SITE_ID="RCSB", **values)
        return MessagingIo(
            request,
            False,
            None,
            store=self.store,
            settings=None,
            archive_root=self.archive,
            display_timezone=ZONE,
            **self.extra,
        )

    def load(self, content_type: str, deposition: str = DEP) -> Document:
        return self.store.load(deposition, content_type)


class Request(FakeRequest):
    """OneDep's request object as its web app hands it over: values can be set on the way too."""

    def setValue(self, name: str, value: Any) -> None:  # noqa: N802 - OneDep's method name
        self.values[name] = value


def make_site(stage: str, database: str | None, tmp_path: Path, request: pytest.FixtureRequest) -> Site:
    archive = tmp_path / "archive"
    archive.mkdir(exist_ok=True)
    cif = CifMessageStore(archive)
    if stage == "cif-only":
        return Site(stage, cif, archive, cif=cif)
    url = request.getfixturevalue(f"{database}_url")
    schema_versions.upgrade(url)
    db = DbMessageStore(url)
    journal = dual.Journal(tmp_path / "journal.jsonl")
    store: MessageStore = {
        "dual-write": lambda: dual.DualStore(cif, db, journal),
        "shadow": lambda: dual.DualStore(cif, db, journal, dual.JsonLines(tmp_path / "shadow.jsonl")),
        "db-primary": lambda: dual.DualStore(db, cif, journal),
        "db-only": lambda: db,
    }[stage]()
    return Site(stage, store, archive, db=db, cif=None if stage == "db-only" else cif)


@pytest.fixture(params=STAGE_PARAMS)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    """An empty store of every stage (CIF, dual-write, shadow, db-primary, db-only)."""
    stage, database = request.param
    return make_site(stage, database, tmp_path, request)


@pytest.fixture(params=STAGE_PARAMS[:1] + STAGE_PARAMS[4:5] + STAGE_PARAMS[6:])
def two_site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    """cif-only and db-only (SQLite, MariaDB): for tests that need not run in every stage."""
    stage, database = request.param
    return make_site(stage, database, tmp_path, request)


@pytest.fixture
def filled(site: Site) -> Site:
    write_scenario(site.store)
    return site


@pytest.fixture
def filled_two(two_site: Site) -> Site:
    write_scenario(two_site.store)
    return two_site


def message(
    mid: str,
    when: str,
    subject: str,
    text: str,
    *,
    parent: str | None = None,
    sender: str = "annotator",
    send: str | None = "Y",
    kind: str | None = "text",
    ordinal: int = 0,
    context: str | None = None,
) -> Message:
    return Message(str(ordinal), mid, DEP, when, sender, context, None, parent or mid, subject, text, kind, send)


def write_scenario(store: MessageStore) -> None:
    """A deposition with threads, a draft, statuses, references, notes and archived mail (times are GMT).

    Threads: a1 <- d1 <- a2, a1 <- d2 <- a4; d3 answers a message that is in no file.
    """
    to = Document(DEP, "messages-to-depositor")
    to.messages = [
        message(
            "a1",
            "2024-03-01 09:00:00",
            "Validation <report>",
            "Dear depositor,\nsee <b>this</b> & \u00c5",
            sender="Ann <ann@example.org>",
            ordinal=1,
        ),
        message("a2", "2024-03-05 10:00:00", "RE: ligand", "Fixed.", parent="d1", ordinal=2),
        message("a3", "2024-03-06 11:00:00", "Draft letter", "not sent yet", send="N", ordinal=3),
        message("a4", "2024-03-07 12:00:00", "RE: approval", "Noted.", parent="d2", ordinal=4),
    ]
    to.file_references = [
        FileReference("1", "a1", DEP, "model-annotate", "pdbx", "1", "1", "archive", None),
        FileReference("2", "a1", DEP, "validation-report-annotate", "pdf", "1", "1", "archive", None),
        FileReference("3", "a1", DEP, "structure-factors-annotate", "pdbx", "1", "9", "archive", None),
        FileReference("4", "a4", DEP, "auxiliary-file-annotate", "pdf", "2", "1", "archive", "notes.pdf"),
    ]
    to.statuses = [
        MessageStatus("d1", DEP, "Y", "N", "N"),
        MessageStatus("d2", DEP, "N", "Y", "N"),
        MessageStatus("a1", DEP, "N", "N", "Y"),
        MessageStatus("ghost", DEP, "Y", "N", "N"),  # a message that is in no file
    ]
    store.save(to)
    from_depositor = Document(DEP, "messages-from-depositor")
    from_depositor.messages = [
        message(
            "d1",
            "2024-03-02 08:00:00",
            "Question about the ligand",
            "Is it ATP?\n;really",
            parent="a1",
            sender="depositor <dep@example.org>",
            ordinal=1,
        ),
        message(
            "d2",
            "2024-03-04 08:00:00",
            "Approval",
            "Looks fine",
            parent="a1",
            sender="depositor",
            ordinal=2,
            context="approval-without-changes",
        ),
        message(
            "d3", "2024-03-08 08:00:00", "Release now", "Please release", parent="gone", sender="depositor", ordinal=3
        ),
    ]
    store.save(from_depositor)
    notes = Document(DEP, "notes-from-annotator")
    notes.messages = [
        message("n1", "2024-03-03 09:00:00", "internal", "check <i>this</i>", ordinal=1),
        message("n2", "2024-03-09 09:00:00", "ARCHIVED: fwd", "mail body", kind="archive_auto", ordinal=2),
    ]
    notes.origcomm_references = [
        OrigCommReference(
            "1", "n2", DEP, "orig-1", DEP, "2024-03-09 08:00:00", "Ann <a@b.org>", "x@y.org", "Hello", None
        ),
    ]
    store.save(notes)


# -- a real SMTP server -----------------------------------------------------------------------------


class SmtpServer:
    """A small SMTP server on 127.0.0.1 (a free port) that keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode("ascii") + b"\r\n")

            def handle(self) -> None:
                self.reply("220 msgmodule test SMTP")
                sender, recipients = "", []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    command = raw.decode("ascii", "replace").strip()
                    verb = command.upper()
                    if verb.startswith(("EHLO", "HELO")):
                        self.reply("250 msgmodule test SMTP")
                    elif verb.startswith("MAIL FROM:"):
                        sender, recipients = command[10:].strip().strip("<>"), []
                        self.reply("250 OK")
                    elif verb.startswith("RCPT TO:"):
                        recipients.append(command[8:].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        lines = []
                        while (line := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(line[1:] if line.startswith(b"..") else line)
                        email = message_from_bytes(b"".join(lines), policy=policy.default)
                        outer.received.append((sender, recipients, email))  # type: ignore[arg-type]
                        self.reply("250 queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server
