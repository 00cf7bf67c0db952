"""Routing: the store for the stage the site is in, health checks, and the description of it all.

The only place that turns settings into stores. `SiteStore` is what services
use: on every call it asks the site's record which stage is in force (writes
confirm it under the site lock, reads trust a look at most
`READ_CHECK_SECONDS` old) and hands the call to that stage's store, so a
running process follows a move without a restart. Backends are opened through
the registry, so a CIF-only configuration never imports a database driver.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..config import Settings, database_exists
from ..errors import MessagingError
from ..journal import Journal, JsonLines
from ..metrics import METRICS, STAGE_WRITES, combined
from ..model import Document, FileReference, Message, MessageStatus, OrigCommReference
from ..stores import open_store
from ..stores.authority import SITE_WRITER
from ..stores.base import FlagLists, MessagePage, MessageStore
from ..stores.breaker import BreakerStore, CircuitBreaker, breaker_state_path
from ..stores.dual import DualStore, MeteredStore
from ..timeouts import connect_timeout, time_limit
from .policy import CIF, DB, STAGES, ConfigurationError, Stage
from .record import (
    MOVE_WAIT_SECONDS,
    SiteLock,
    SiteRecord,
    SiteRecordReader,
    StageMoveInProgress,
    mover_alive,
    read_history,
)

T = TypeVar("T")
log = logging.getLogger(__name__)


class StageConflictError(ConfigurationError):
    """This process's own settings name a stage other than the site's: it refuses to serve."""


class UnvalidatedDatabaseError(ConfigurationError):
    """The stage reads from a database that holds no validated migration of this archive."""


def open_backend(name: str, settings: Settings) -> MessageStore:
    """The plain store of one backend ("cif" or "db") as configured, for the site's own layers: it writes
    whatever the stage (routing puts it in the stage's order; reconcile copies from the authority)."""
    if name == CIF:
        return open_store(CIF, root=settings.cif_root, site_writer=SITE_WRITER)
    return open_store(DB, url=settings.db_url, site_writer=SITE_WRITER)


def build_store(settings: Settings, stage: Stage) -> MessageStore:
    """The store of one stage: one backend, or two in step."""
    try:
        settings.prepare_state_dir()  # the site's own, made as the site folder is; its files are advisory
    except (MessagingError, OSError) as exc:
        log.warning("cannot make the state folder %s (%s): breakers, counters unrecorded", settings.state_dir, exc)
    METRICS.persist_to(settings.stats_path)
    stores: list[MessageStore] = [MeteredStore(open_backend(name, settings)) for name in stage.write_order]
    if len(stores) == 1:
        return stores[0]
    primary, secondary = stores
    if settings.circuit_breaker:
        # A second store that keeps failing is skipped (and journaled) at once for a cool-down,
        # instead of every call waiting out its timeouts.
        secondary = BreakerStore(secondary, breaker_for(settings, secondary.name))
    # The differences quote message text: the log is its owner's alone.
    shadow_log = JsonLines(settings.mismatch_log_path, private=True) if stage.shadow else None
    return DualStore(primary, secondary, journal_outside(settings, secondary.name), shadow_log, settings.shadow_sample)


_BREAKERS: dict[tuple[str, str], CircuitBreaker] = {}


def breaker_for(settings: Settings, backend: str) -> CircuitBreaker:
    """The process's one breaker of a backend (a new one per store would forget the failures)."""
    key = (os.path.realpath(settings.state_dir), backend)
    if key not in _BREAKERS:
        _BREAKERS[key] = CircuitBreaker(backend, state_file=breaker_state_path(settings.state_dir, backend))
    return _BREAKERS[key]


def journal_outside(settings: Settings, backend: str) -> Journal:
    """The journal for writes that `backend` may miss: kept outside it, so its failure cannot lose the record."""
    if backend == DB:
        return Journal(settings.journal_path, within=settings.cif_root)  # in the archive root, beside the site's record
    from ..db.journal import DatabaseJournal

    return DatabaseJournal(settings.db_url)


def site_journals(settings: Settings) -> list[Journal]:
    """Every journal of the site: the archive's, and the database's when there is a database to look in."""
    journals = [Journal(settings.journal_path, within=settings.cif_root)]
    if database_exists(settings.db_url):
        from ..db.journal import DatabaseJournal

        journals.append(DatabaseJournal(settings.db_url))
    return journals


def pending_in(journals: list[Journal]) -> tuple[int, list[str]]:
    """How many documents the journals hold for reconcile, and why any could not be read."""
    pending, problems = 0, []
    for journal in journals:
        try:
            pending += len(journal.pending())
        except MessagingError as exc:
            problems.append(f"{journal.where}: {exc}")
    return pending, problems


def all_backends(settings: Settings) -> dict[str, MessageStore]:
    """Both backends, whatever the stage (reconcile and validation need both)."""
    return {name: open_backend(name, settings) for name in (CIF, DB)}


def check_stage_agrees(settings: Settings, record: SiteRecord) -> None:
    """Refuse when this process's settings name a stage, or flags, other than the site's."""
    wrong = settings.stage_disagreement(STAGES[record.stage])
    if wrong:
        named = (
            f"set to stage {settings.stage.name}"
            if "MSGMODULE_STAGE" in settings.sources
            else "set to flags of another stage"
        )
        raise StageConflictError(
            f"this process is {named} ({', '.join(wrong)}; {settings.stage_setting()}), but the site is in "
            f"stage {record.stage} (epoch {record.epoch}, recorded in {Path(settings.cif_root) / '.msgmodule'}): "
            "refusing to serve. Remove the stage setting so the process follows the site, and change the "
            "site's stage only with `msgmodule stage NAME`."
        )


def check_database_copy(settings: Settings, record: SiteRecord) -> None:
    """Refuse when the database shows a later or another site's stage than the archive's record.

    The archive's record rules, but an archive root that is not the site's (a
    share not mounted, a mistyped MSGCIF_ROOT, a record put back from a backup)
    shows as a record older than the database's copy. A database that cannot be
    read, or shows nothing, proves nothing either way.
    """
    from ..db.engine import get_engine, mask_url
    from .evidence import read_site_value

    if not database_exists(settings.db_url):
        return
    try:
        shown = read_site_value(get_engine(settings.db_url), "stage")
    except MessagingError:
        return
    if shown is None:
        return
    edited = edited_stage(settings, record, shown)
    if edited is not None:
        raise edited
    if shown.get("epoch", 0) > record.epoch or (record.archive_id and shown.get("archive_id") != record.archive_id):
        raise StageConflictError(
            f"the database at {mask_url(settings.db_url)} shows stage {shown.get('stage')} at epoch "
            f"{shown.get('epoch')} of archive {shown.get('archive_id')}, but the archive root {settings.cif_root} "
            f"records {record.stage} at epoch {record.epoch}"
            + ("" if record.archive_id else " (no record there)")
            + ": refusing to serve. Check that MSGCIF_ROOT is the site's archive and its share is mounted; if a "
            "stage move was interrupted, run `msgmodule stage NAME` again."
        )


def edited_stage(settings: Settings, record: SiteRecord, shown: Mapping[str, Any]) -> StageConflictError | None:
    """The refusal when the record and the database's copy name two stages at one epoch of one archive.

    A move writes both copies with the same stage and epoch, so one of them was
    edited by hand. Neither is served: the stage decides which store is read,
    and a guess the wrong way reads messages from a store that lacks them.
    """
    from ..db.engine import mask_url

    if shown.get("epoch") != record.epoch or shown.get("archive_id") != record.archive_id:
        return None
    if shown.get("stage") == record.stage:
        return None
    path = Path(settings.cif_root) / ".msgmodule" / "stage.json"
    moved_to = [line.get("to") for line in read_history(settings.cif_root) if line.get("epoch") == record.epoch]
    right = moved_to[-1] if moved_to and moved_to[-1] in STAGES else shown.get("stage")
    witness = f"; {path.with_name('stage-history.jsonl')} records the move to {moved_to[-1]}" if moved_to else ""
    return StageConflictError(
        f"the site's stage record {path} says stage {record.stage} at epoch {record.epoch}, but the database at "
        f"{mask_url(settings.db_url)} shows stage {shown.get('stage')} at that epoch{witness}: one of them was edited "
        f'by hand, so this process refuses to serve. Put "stage": "{right}" back into {path}, and change the '
        "stage only with `msgmodule stage NAME`."
    )


def check_database_allowed(settings: Settings, stage: Stage) -> None:
    """Refuse a stage that uses the database where MSGDB_ENABLED is false."""
    if not settings.db_enabled and DB in stage.write_order:
        raise ConfigurationError(
            f"MSGDB_ENABLED is false ({settings.sources.get('MSGDB_ENABLED', 'set')}), which forbids every stage that "
            f"uses the database, and stage {stage.name} does: refusing to serve. Set MSGDB_ENABLED=true, or move "
            "the site to cif-only (msgmodule stage cif-only)."
        )


def check_database_validated(settings: Settings, record: SiteRecord) -> None:
    """Refuse to read from a database that holds no validated migration of this archive.

    A move forced into a stage that reads the database marks the database it
    was given as the site's, so only that one is read.
    """
    from ..db.engine import get_engine, mask_url
    from .evidence import read_site_value

    migration = read_site_value(get_engine(settings.db_url), "migration")
    if migration is None or migration.get("archive_id") != record.archive_id:
        raise UnvalidatedDatabaseError(
            f"stage {record.stage} reads from the database at {mask_url(settings.db_url)}, which holds no validated "
            f"migration of the archive at {settings.cif_root}: refusing to read from it. Migrate and validate "
            "(msgmodule migrate, msgmodule validate), or check MSGDB_URL."
        )


_COPIES_CHECKED: dict[tuple[str, str, int, str | None, str], float] = {}
COPY_RECHECK_SECONDS = 60.0
_HIGHEST_EPOCH: dict[str, int] = {}  # per archive root: the highest epoch this process has seen


class SiteStore(MessageStore):
    """The store of whatever stage the site's record says, checked on every call.

    Writes hold the site lock shared while they run and confirm the record under
    it, so no write commits under a stage other than the recorded one, and a
    move waits for them. Reads trust the stage seen at most READ_CHECK_SECONDS
    ago. A process whose settings name a stage serves only while the site is in
    that stage.
    """

    name = "site"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader = SiteRecordReader.of(settings.cif_root)  # shared with the stores' own checks
        self.lock = SiteLock.of(settings.cif_root)
        self._stores: dict[str, MessageStore] = {}
        self._database_checked: tuple[str, int] | None = None
        self._depth = threading.local()
        self._root = os.path.realpath(settings.cif_root)
        self._routed: tuple[SiteRecord, MessageStore] | None = None  # the last record checked, and its store
        self._route(self.reader.confirm())  # a process that must refuse, refuses at once

    def describe(self) -> str:
        return f"the site's stage ({self.stage.name}): {self._route(self.reader.current()).describe()}"

    def follow(self) -> None:
        """Look at the site's record now (an open and a stat): a store kept across requests calls this at the
        start of each, so a stage move made meanwhile by another process is followed from that request on."""
        self._route(self.reader.confirm())

    @property
    def stage(self) -> Stage:
        return STAGES[self.reader.current().stage]

    def _route(self, record: SiteRecord) -> MessageStore:
        routed = self._routed
        if routed is not None and routed[0] is record and record.archive_id is not None:
            return routed[1]  # the reader hands back the same record until the file changes: checked already
        check_stage_agrees(self.settings, record)
        stage = STAGES[record.stage]
        check_database_allowed(self.settings, stage)
        root = self._root
        seen = _HIGHEST_EPOCH.get(root, 0)
        if record.epoch < seen:  # epochs only grow: a record put back, lost, or another root mounted there
            raise StageConflictError(
                f"the site's stage record at {root} went back from epoch {seen} to {record.epoch} ({record.stage}"
                + ("" if record.archive_id else ", no record there")
                + "): refusing to serve. Check that the "
                "archive's share is mounted and the record was not restored or removed; `msgmodule stage` shows it."
            )
        _HIGHEST_EPOCH[root] = record.epoch
        # Once per process and epoch, as services come and go with requests; a site with no record (new, or
        # an archive that is not the site's) is looked at again after COPY_RECHECK_SECONDS.
        key = (root, self.settings.db_url, record.epoch, record.archive_id, record.stage)
        checked = _COPIES_CHECKED.get(key)
        if checked is None or (record.archive_id is None and time.monotonic() - checked > COPY_RECHECK_SECONDS):
            check_database_copy(self.settings, record)
            _COPIES_CHECKED[key] = time.monotonic()
        if stage.reads_from_database and self._database_checked != (record.stage, record.epoch):
            check_database_validated(self.settings, record)
            self._database_checked = (record.stage, record.epoch)
        store = self._stores.get(stage.name)
        if store is None:
            store = self._stores[stage.name] = build_store(self.settings, stage)
        self._routed = (record, store)
        return store

    @contextmanager
    def _writing(self) -> Iterator[MessageStore]:
        """The stage's store, with the site lock held shared and the record confirmed under it."""
        depth = getattr(self._depth, "value", 0)
        deadline = time.monotonic() + MOVE_WAIT_SECONDS
        while True:
            with self.lock.shared():
                record = self.reader.confirm()
                # A move marks the record before it waits for the lock; let it in. (A nested call
                # already holds the lock and so must go on, or it would wait on its own hold.)
                if record.moving_to is None or depth > 0 or not mover_alive(self.settings.cif_root):
                    self._depth.value = depth + 1
                    try:
                        if depth:
                            yield self._route(record)
                        else:  # one site write, counted once under the stage it ran in
                            with METRICS.measure(STAGE_WRITES, record.stage):
                                yield self._route(record)
                    finally:
                        self._depth.value = depth
                    return
            if time.monotonic() > deadline:
                raise StageMoveInProgress(
                    f"the site is moving from {record.stage} to {record.moving_to}; waited {MOVE_WAIT_SECONDS:.0f}s "
                    "for it to finish: retry later"
                )
            time.sleep(0.05)

    # -- reads ---------------------------------------------------------------------

    def load(self, deposition_id: str, content_type: str) -> Document:
        return self._route(self.reader.current()).load(deposition_id, content_type)

    def load_many(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        return self._route(self.reader.current()).load_many(deposition_id, content_types)

    def list_depositions(self) -> list[str]:
        return self._route(self.reader.current()).list_depositions()

    def page_messages(self, deposition_id: str, content_types: Sequence[str], *args: Any, **kwargs: Any) -> MessagePage:
        return self._route(self.reader.current()).page_messages(deposition_id, content_types, *args, **kwargs)

    def status_rows(self, deposition_id: str, content_type: str) -> tuple[list[MessageStatus], list[str | None]]:
        return self._route(self.reader.current()).status_rows(deposition_id, content_type)

    def flag_lists(self, deposition_id: str, content_type: str) -> FlagLists:
        return self._route(self.reader.current()).flag_lists(deposition_id, content_type)

    # -- writes --------------------------------------------------------------------

    def save(self, document: Document) -> None:
        with self._writing() as store:
            store.save(document)

    def update(self, deposition_id: str, content_type: str, change: Callable[[Document], T]) -> T:
        with self._writing() as store:
            return store.update(deposition_id, content_type, change)

    def overwrite(self, deposition_id: str, content_type: str, produce: Callable[[], Document]) -> Document:
        with self._writing() as store:
            return store.overwrite(deposition_id, content_type, produce)

    def put_message(
        self,
        deposition_id: str,
        content_type: str,
        message: Message,
        file_references: Iterable[FileReference] | None = (),
        origcomm_references: Iterable[OrigCommReference] | None = (),
        status: MessageStatus | None = None,
        given: Iterable[str] | None = None,
        defaults: Mapping[str, str] | None = None,
    ) -> str:
        with self._writing() as store:  # a message and its status row, both under one stage
            return store.put_message(
                deposition_id, content_type, message, file_references, origcomm_references, status, given, defaults
            )

    def set_status(
        self,
        deposition_id: str,
        message_id: str,
        deposition_data_set_id: str | None = None,
        *,
        read_status: str | None = None,
        action_reqd: str | None = None,
        for_release: str | None = None,
    ) -> MessageStatus:
        with self._writing() as store:
            return store.set_status(
                deposition_id,
                message_id,
                deposition_data_set_id,
                read_status=read_status,
                action_reqd=action_reqd,
                for_release=for_release,
            )


def open_site_store(settings: Settings) -> SiteStore:
    """The store services use: it follows the site's stage (raises if this process must refuse)."""
    return SiteStore(settings)


@dataclass
class HealthCheck:
    backend: str
    ok: bool
    detail: str


def check_health(settings: Settings) -> list[HealthCheck]:
    """Really talk to every backend the site's stage uses, and check this process may serve.

    All of it waits for the database at most MSGDB_CONNECT_TIMEOUT: a server that
    does not answer costs one connect timeout, not one per check.
    """
    with time_limit(connect_timeout(), "MSGDB_CONNECT_TIMEOUT, for all of health"):
        return _check_health(settings)


def _check_health(settings: Settings) -> list[HealthCheck]:
    checks = []
    try:
        record = SiteRecordReader(settings.cif_root).confirm()
        stage = STAGES[record.stage]
        check_stage_agrees(settings, record)
        check_database_allowed(settings, stage)
        check_database_copy(settings, record)
        detail = f"stage {record.stage}, epoch {record.epoch}" + (", FORCED" if record.forced else "")
        if record.moving_to:
            detail += f"; moving to {record.moving_to}" + (
                "" if mover_alive(settings.cif_root) else " (the mover is gone: move again to finish)"
            )
        checks.append(HealthCheck("stage", not record.moving_to or mover_alive(settings.cif_root), detail))
    except MessagingError as exc:
        checks.append(HealthCheck("stage", False, str(exc)))
        stage, record = settings.stage, None
    for name in stage.write_order:
        try:
            detail = _check_cif(settings) if name == CIF else _check_db(settings)
            checks.append(HealthCheck(name, True, detail))
        except (MessagingError, OSError) as exc:
            checks.append(HealthCheck(name, False, str(exc)))
    if DB not in stage.write_order:
        onedep = _check_onedep_database_untaken(settings)
        if onedep is not None:
            checks.append(onedep)
    if record is not None and stage.reads_from_database:
        try:
            check_database_validated(settings, record)
            checks.append(HealthCheck("migration", True, "the database holds a validated migration of this archive"))
        except MessagingError as exc:
            checks.append(HealthCheck("migration", False, str(exc)))
    if len(stage.write_order) > 1:
        from ..stores.breaker import describe_breaker, read_breaker_states

        # This site's, as its running processes left them: one left by a process that has ended is stale.
        states = read_breaker_states(settings.state_dir)
        mine = os.path.realpath(settings.state_dir)
        states.update({name: breaker.snapshot() for (where, name), breaker in _BREAKERS.items() if where == mine})
        for name, state in sorted(states.items()):
            ok = state.get("state") == "closed" or bool(state.get("stale"))
            checks.append(HealthCheck(f"breaker {name}", ok, describe_breaker(name, state)))
    from .earlier_state import earlier_journal_problem

    earlier = earlier_journal_problem(settings)
    if earlier:
        checks.append(HealthCheck("earlier journal", False, earlier))
    journals = site_journals(settings)
    pending, problems = pending_in(journals)
    if problems and DB not in stage.write_order:
        problems = []  # a stage without the database: its journal is not this stage's concern
    checks.append(
        HealthCheck(
            "journal",
            pending == 0 and not problems,
            f"{pending} document(s) awaiting reconcile in "
            + ", ".join(j.where for j in journals)
            + "".join(f"; {p}" for p in problems),
        )
    )
    return checks


def _check_onedep_database_untaken(settings: Settings) -> HealthCheck | None:
    """A failed check if OneDep's site database still holds its module's tables, not taken over.

    OneDep's module in database mode wrote messages there that the archive lacks, so a stage that
    reads only the archive would serve without them. Only a database named by OneDep's site
    configuration is looked at; one that cannot be reached is not this stage's concern.
    """
    if not settings.db_enabled or not settings.sources.get("MSGDB_NAME", "").startswith("OneDep site config"):
        return None
    from ..db.engine import get_engine, mask_url
    from ..db.onedep import OneDepSchemaError, check_not_onedep

    try:
        check_not_onedep(get_engine(settings.db_url), settings.db_url, "serve messages from it")
    except OneDepSchemaError:
        return HealthCheck(
            "onedep",
            False,
            f"OneDep's site database {mask_url(settings.db_url)} (SITE_MESSAGE_DB_NAME) holds the messages its "
            "module wrote in database mode, which the archive lacks; this stage reads only the archive. Take them "
            "over: msgmodule adopt-onedep, then msgmodule stage db-only --force (README, 'Taking over a database "
            "written by OneDep's module')",
        )
    except MessagingError:
        return None
    return None


def _check_cif(settings: Settings) -> str:
    root = Path(settings.cif_root)
    if not root.is_dir():
        raise MessagingError(f"archive root {root} does not exist or is not a directory (MSGCIF_ROOT)")
    with os.scandir(root) as entries:
        next(entries, None)
    fd, probe = tempfile.mkstemp(prefix=".msgmodule-health-", dir=root)
    os.close(fd)
    os.unlink(probe)
    return f"archive root {root} is readable and writable"


def _check_db(settings: Settings) -> str:
    from ..db.engine import get_engine
    from ..db.onedep import check_not_onedep

    check_not_onedep(get_engine(settings.db_url), settings.db_url, "serve messages from it")  # say why, not "no table"
    store = open_backend(DB, settings)
    store.ping()  # type: ignore[attr-defined]
    from ..db import schema_versions

    status = schema_versions.verify(settings.db_url)
    if not status.ok:
        raise MessagingError("; ".join(status.problems))
    return f"{store.describe()} answered; schema revision {status.current_revision}"


def setting_sources(settings: Settings) -> dict[str, dict[str, str]]:
    """Each setting in force, its value (passwords masked) and where it came from.

    Sources: argument, environment, config file and section, OneDep site config
    and key, default (or, for the database URL, the MSGDB_* parts it is made of).
    """
    from ..db.engine import mask_url

    report = {key: {"value": value, "source": settings.sources[key]} for key, value in settings.values.items()}
    in_force = {
        "MSGCIF_ROOT": settings.cif_root,
        "MSGDB_URL": settings.db_url,
        "MSGMODULE_STATE_DIR": settings.state_dir,
        "MSGMODULE_SHADOW_SAMPLE": str(settings.shadow_sample),
        "MSGMODULE_RELEASE_SUBJECTS": "|".join(settings.release_subjects),
        "MSGDB_ENABLED": "true" if settings.db_enabled else "false",
        "MSGMODULE_CIRCUIT_BREAKER": "true" if settings.circuit_breaker else "false",
    }
    # Without MSGDB_URL, MSGDB_HOST or MSGDB_SOCKET make the URL of the MSGDB_* parts given.
    parts = [key for key in (f"MSGDB_{p}" for p in ("HOST", "PORT", "NAME", "USER", "PASS", "SOCKET")) if key in report]
    composed = any(key in parts for key in ("MSGDB_HOST", "MSGDB_SOCKET"))
    for key, value in in_force.items():
        if key not in report:
            source = f"made of {', '.join(parts)}" if key == "MSGDB_URL" and composed else "default"
            report[key] = {"value": value, "source": source}
    for key in ("MSGDB_URL", "MSGDB_PASS"):
        if key in report:
            report[key]["value"] = mask_url(report[key]["value"]) if key == "MSGDB_URL" else "***"
    return dict(sorted(report.items()))


def backend_info(settings: Settings) -> dict[str, Any]:
    """Stage (from the site's record), flags, backends, where the data is (password masked), counters."""
    from ..db.engine import mask_url

    record = SiteRecordReader(settings.cif_root).confirm()
    stage = STAGES[record.stage]
    journals = site_journals(settings)
    pending, _ = pending_in(journals)
    return {
        "stage": stage.name,
        "epoch": record.epoch,
        "process_stage_setting": settings.stage.name if settings.stage_given else None,
        "site_id": settings.site_id,
        "flags": stage.flags.as_env(),
        "read_backend": stage.read_from,
        "write_backends": list(stage.write_order),
        "shadow": stage.shadow,
        "shadow_sample": settings.shadow_sample if stage.shadow else None,
        "cif_root": str(Path(settings.cif_root)),
        "db_url": mask_url(settings.db_url),
        # The file read, or a note that there was none (./msgmodule.cfg is optional).
        "config_file": str(settings.config_file)
        if settings.config_file.is_file()
        else f"none ({settings.config_file} absent)",
        "sources": settings.sources,
        "settings": setting_sources(settings),
        "onedep_site_config": settings.onedep.status if settings.onedep else None,
        "journal": {"path": ", ".join(j.where for j in journals), "pending": pending},
        "counters": combined(settings.stats_path, METRICS),
    }
