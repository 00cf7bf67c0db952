"""End-to-end check of a configured installation (`msgmodule validate-integration`).

In order: the configuration parses; the site's stage is recorded and agrees
with this process's settings; the archive is readable and writable and the
database answers with the expected schema (each when the stage uses it); a
message written through the configured service reads back, from the service
and from every backend the stage writes, on the scratch deposition
`SCRATCH_DEPOSITION`, which is removed afterwards; the journal is empty.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings, load_settings
from ..errors import MessagingError
from ..stage.policy import Stage

# Reserved for this check: OneDep deposition ids start at D_1000000000, so it names no real deposition.
SCRATCH_DEPOSITION = "D_0000000000"
CONTENT_TYPE = "messages-to-depositor"


@dataclass
class Check:
    """One check: its name, whether it passed, what was seen (or what to do)."""

    name: str
    ok: bool
    detail: str


def run_checks(config: Mapping[str, Any] | None = None, site_id: str | None = None) -> list[Check]:
    """Every check, in order; those that need working settings are skipped when the settings fail."""
    checks: list[Check] = []
    try:
        settings = load_settings(config, site_id)
    except (MessagingError, ValueError) as exc:
        return [Check("configuration", False, str(exc))]
    checks.append(Check("configuration", True, f"settings resolved (config file {settings.config_file})"))

    def attempt(name: str, check: Callable[[], str]) -> bool:
        try:
            checks.append(Check(name, True, check()))
            return True
        except (MessagingError, OSError, ValueError) as exc:
            checks.append(Check(name, False, str(exc)))
            return False

    stage = settings.stage
    try:
        stage, detail = _check_stage(settings)
        checks.append(Check("stage", True, detail))
    except (MessagingError, OSError, ValueError) as exc:
        checks.append(Check("stage", False, str(exc)))
    uses = list(stage.write_order)
    reachable = True
    if "cif" in uses:
        reachable &= attempt("archive", lambda: _check_archive(settings))
    if "db" in uses:
        reachable &= attempt("database", lambda: _check_database(settings))
    if reachable:
        attempt("round trip", lambda: _round_trip(settings, uses, config, site_id))
    else:
        checks.append(Check("round trip", False, "skipped: a backend the stage uses is not usable (see above)"))
    attempt("journal", lambda: _check_journal(settings))
    return checks


def _check_stage(settings: Settings) -> tuple[Stage, str]:
    """The stage the site's record says is in force (the one every process follows)."""
    from ..stage.lifecycle import read_site
    from ..stage.policy import STAGES

    record = read_site(settings)
    if record.moving_to:
        raise MessagingError(f"a stage move from {record.stage} to {record.moving_to} has not finished")
    if getattr(settings, "stage_given", False) and settings.stage.name != record.stage:
        raise MessagingError(
            f"this process's settings say stage {settings.stage.name} but the site is in {record.stage}: "
            "remove MSGMODULE_STAGE and the flags from the environment and config, or move with msgmodule stage"
        )
    return STAGES[record.stage], f"site in stage {record.stage}, epoch {record.epoch}"


def _check_archive(settings: Settings) -> str:
    from ..stores.cif import CifMessageStore

    root = Path(settings.cif_root)
    count = len(CifMessageStore(root).list_depositions())
    fd, probe = tempfile.mkstemp(prefix=".msgmodule-integration-", dir=root)
    os.close(fd)
    os.unlink(probe)
    return f"archive root {root} readable ({count} deposition(s)) and writable"


def _check_database(settings: Settings) -> str:
    from ..db import schema_versions

    status = schema_versions.verify(settings.db_url)
    if not status.ok:
        raise MessagingError(f"the database at {status.url} is not ready: " + "; ".join(status.problems))
    return f"database at {status.url} answers; schema revision {status.current_revision}"


def _round_trip(settings: Settings, uses: list[str], config: Mapping[str, Any] | None, site_id: str | None) -> str:
    from ..io.MessagingFactory import MessagingFactory

    stores = _backend_stores(settings, uses)
    for name, store in stores.items():
        if any(document.messages for document in store.load_all(SCRATCH_DEPOSITION).values()):
            raise MessagingError(
                f"the scratch deposition {SCRATCH_DEPOSITION} already has messages in the {name} backend: "
                "it is reserved for this check; remove them and run the check again"
            )
    text = f"validate-integration {uuid.uuid4().hex}"
    try:
        service = MessagingFactory.create_messaging_service(site_id=site_id, config=config)
        message_id = service.set(
            deposition_id=SCRATCH_DEPOSITION,
            message_data={
                "sender": "validate-integration",
                "message_subject": "integration check",
                "message_text": text,
            },
            content_type=CONTENT_TYPE,
        )
        read = service.get_message(SCRATCH_DEPOSITION, message_id)
        if not read or read.get("message_text") != text:
            raise MessagingError(f"the message written to {SCRATCH_DEPOSITION} did not read back through the service")
        for name, store in stores.items():
            texts = [m.message_text for m in store.load(SCRATCH_DEPOSITION, CONTENT_TYPE).messages]
            if texts != [text]:
                raise MessagingError(
                    f"the {name} backend holds {texts!r} for {SCRATCH_DEPOSITION}, not the message written"
                )
    finally:
        _remove_scratch(settings, uses)
    return f"wrote and read back a message of {SCRATCH_DEPOSITION} in {' and '.join(uses)}; removed it"


def _backend_stores(settings: Settings, names: list[str]) -> dict[str, Any]:
    from ..stores.cif import CifMessageStore
    from ..stores.db import DbMessageStore

    stores: dict[str, Any] = {}
    if "cif" in names:
        stores["cif"] = CifMessageStore(settings.cif_root)
    if "db" in names:
        stores["db"] = DbMessageStore(settings.db_url)
    return stores


def _remove_scratch(settings: Settings, uses: list[str]) -> None:
    """Remove every trace of the scratch deposition: its archive folder, its rows, its journal lines."""
    from ..journal import Journal

    folder = Path(settings.cif_root) / SCRATCH_DEPOSITION
    if folder.is_dir():
        shutil.rmtree(folder)
    if "db" in uses:
        from sqlalchemy import delete

        from ..db.engine import get_engine
        from ..db.schema import metadata

        with get_engine(settings.db_url).begin() as connection:
            for table in metadata.sorted_tables:
                if "source_deposition_id" in table.c:
                    connection.execute(delete(table).where(table.c.source_deposition_id == SCRATCH_DEPOSITION))
    journal = Journal(settings.journal_path, within=settings.cif_root)
    if journal.path.exists():
        journal.lines.remove(lambda record: record.get("deposition_id") == SCRATCH_DEPOSITION)


def _check_journal(settings: Settings) -> str:
    from ..stage.routing import pending_in, site_journals

    journals = site_journals(settings)
    pending, problems = pending_in(journals)
    where = ", ".join(journal.where for journal in journals)
    if pending or problems:
        raise MessagingError(
            f"{pending} document(s) await reconcile in {where}: run msgmodule reconcile"
            + "".join(f"; {problem}" for problem in problems)
        )
    return f"journal {where} is empty"
