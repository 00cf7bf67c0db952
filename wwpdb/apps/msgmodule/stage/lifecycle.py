"""The stage lifecycle: the one place where a site moves from one stage to another.

The states are the five stages of `policy.STAGES`. Any stage may move to any
other in one step; what that step must prove first depends on which backend
answers reads before and after the move:

    reads before -> after   the move first ...
    CIF -> CIF              settles the journal
    DB  -> DB               settles the journal
    CIF -> DB               settles the journal; needs a passed validation of every
                            deposition and no archive or database change since it
    DB  -> CIF              settles the journal; writes every database document that
                            differs into the archive as a new version and verifies it

A move is one atomic step. It takes the site's move lock (one mover at a time),
marks the record "moving" (new writes wait), then takes the site lock
exclusively: running writes finish first, and while it is held no write runs,
so every unfinished journal intent belongs to a writer that is gone and is
reconciled at once. Then the guard above, then the new record with the next
epoch and a line of history. A guard that fails refuses the move and leaves
the site where it was; `force` goes on past it, says what it skipped, and the
record and history keep that.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import Settings, database_exists, remove_config_keys
from ..db.engine import get_engine, mask_url, run_with_retries
from ..equivalence import compare, differences
from ..errors import MessagingError, StorageError
from ..stores.authority import SITE_WRITER
from ..stores.cif import CifMessageStore
from ..stores.db import DbMessageStore
from ..stores.dual import copy_document
from . import evidence
from .earlier_state import adopt_journal, earlier_journal_problem
from .policy import CIF, DB, FLAG_NAMES, STAGES, ConfigurationError, Stage, stage_named
from .reconcile import reconcile
from .record import (
    SiteLock,
    SiteRecord,
    SiteRecordReader,
    append_history,
    move_lock,
    new_archive_id,
    read_history,
    site_dir,
    site_taken,
    write_record,
)
from .routing import edited_stage, pending_in, site_journals

CHANGED_SHOWN = 20  # changed depositions named in a refusal
# Depositions changed since the last validation that a move re-validates itself while writes wait
# (those that dual write kept in step, say); more than this, and it asks for `validate --changed` first.
REVALIDATE_IN_MOVE = int(os.environ.get("MSGMODULE_MOVE_REVALIDATE", "200"))
# The rollback's export: worker processes (0: one per core), depositions per batch, and seconds
# between progress lines when the output is not a terminal.
ROLLBACK_WORKERS = int(os.environ.get("MSGMODULE_ROLLBACK_WORKERS", "0"))
ROLLBACK_BATCH = int(os.environ.get("MSGMODULE_ROLLBACK_BATCH", "50"))
PROGRESS_SECONDS = float(os.environ.get("MSGMODULE_PROGRESS_SECONDS", "10"))


class StageMoveRefused(ConfigurationError):
    """A guard of a stage move failed; the message lists every reason, and the site did not move."""


def guards(old: Stage, new: Stage) -> list[str]:
    """What a move from `old` to `new` must do or prove, in order (pure: the table above)."""
    steps = ["settle the journal"]
    if old.read_from == CIF and new.read_from == DB:
        steps.append("fresh validation")
    if old.read_from == DB and new.read_from == CIF:
        steps.append("export database documents that differ")
    return steps


@dataclass
class StageMove:
    """What a move did: for the operator, and the history."""

    old: str
    new: str
    epoch: int
    forced: bool = False
    skipped: list[str] = field(default_factory=list)
    reconciled: int = 0
    exported: list[str] = field(default_factory=list)  # files written into the archive
    compared: int = 0  # database documents compared with the archive's, in both passes
    warnings: list[str] = field(default_factory=list)
    config_changes: dict[str, str] = field(default_factory=dict)

    @property
    def moved(self) -> bool:
        return self.old != self.new


def who_moves() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def read_site(settings: Settings) -> SiteRecord:
    """The site's record as it is now."""
    return SiteRecordReader(settings.cif_root).confirm()


def describe_site(settings: Settings) -> dict[str, Any]:
    """The stage in force, its epoch and history, the journal and the last validation."""
    record = read_site(settings)
    journals = site_journals(settings)
    pending, _ = pending_in(journals)
    open_intents = 0
    for journal in journals:
        with contextlib.suppress(MessagingError):
            open_intents += len(journal.pending(all_intents=True))
    info: dict[str, Any] = {
        "stage": record.stage,
        "epoch": record.epoch,
        "record": str(site_dir(settings.cif_root) / "stage.json"),
        "since": record.time,
        "by": record.who,
        "forced": record.forced,
        "skipped": record.skipped,
        "moving_to": record.moving_to,
        "archive_id": record.archive_id,
        "history": read_history(settings.cif_root),
        "journal_pending": pending,
        "journal_open_intents": open_intents,
        "validation": None,
        "validation_problems": [],
    }
    if database_exists(settings.db_url):  # never create an SQLite file just to look
        with contextlib.suppress(MessagingError):
            info["validation"] = evidence.last_validation(settings.db_url)
        if info["validation"] is not None and info["validation"].get("passed"):
            # What the move guard would find: a passed validation that no longer holds is not shown as passed.
            info["validation_problems"] = why_not_validated(settings)
    return info


def describe_validation(info: dict[str, Any]) -> tuple[bool, str]:
    """(holds, one line) for the last validation in `describe_site`'s answer, as the move guard sees it."""
    validation = info["validation"]
    if not validation:
        return False, "none recorded"
    when = f"at {validation.get('time')} GMT, {validation.get('depositions')} deposition(s)" + (
        ", changed ones only" if validation.get("changed_only") else ""
    )
    if not validation.get("passed"):
        return False, (
            f"FAILED {when}: {validation.get('failed')} differ or failed "
            "(fix them, then run: msgmodule validate --changed)"
        )
    problems = info.get("validation_problems") or []
    if problems:
        return False, f"NOT CURRENT: passed {when}, but " + "; ".join(problems)
    return True, f"passed {when}; nothing changed since"


@contextlib.contextmanager
def _one_mover(cif_root: str) -> Iterator[None]:
    """The site's move lock; a site folder that cannot be written (a read-only archive) is a StorageError."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(move_lock(cif_root))
        except OSError as exc:
            raise StorageError(
                f"cannot take the site's move lock in {site_dir(cif_root)}: {exc.strerror or exc}. A stage move "
                "writes the site's record there: run it where the archive root is writable (is it mounted read-only?)"
            ) from exc
        yield


def ensure_archive_id(settings: Settings) -> SiteRecord:
    """The site's record, given an archive id (and so a record file) if it had none."""
    record = read_site(settings)
    if record.archive_id:
        return record
    with _one_mover(settings.cif_root), SiteLock(settings.cif_root).exclusive():
        record = read_site(settings)
        if not record.archive_id:
            record = replace(record, archive_id=new_archive_id())
            write_record(settings.cif_root, record)
    return record


def move_stage(
    settings: Settings,
    target: str,
    force: bool = False,
    who: str | None = None,
    say: Callable[[str], None] = lambda _line: None,
    compare_all: bool = False,
    progress: bool | None = None,
) -> StageMove:
    """Move the site to `target` in one guarded step (see the module's docstring); `say` hears progress.

    A move back to the archive compares only what the validation evidence cannot
    vouch for, unless `compare_all`; `progress`: a bar on standard error (None: when
    it is a terminal; otherwise `say` hears a line now and then).
    """
    new = stage_named(target)
    if not settings.db_enabled and DB in new.write_order:
        raise StageMoveRefused(
            f"stage {new.name} uses the database, and MSGDB_ENABLED is false here "
            f"({settings.sources.get('MSGDB_ENABLED', 'set')}): name the database (at a OneDep site: "
            "SITE_MESSAGE_DB_NAME and its SITE_MESSAGE_DB_* keys) or set MSGDB_ENABLED=true to move the site to it "
            "(--force does not override this)"
        )
    if not os.path.isdir(settings.cif_root):
        raise ConfigurationError(
            f"the archive root {settings.cif_root} does not exist: the site's stage is recorded there (set MSGCIF_ROOT)"
        )
    who = who or who_moves()
    with _one_mover(settings.cif_root):
        start = read_site(settings)
        if start.moving_to:  # we hold the move lock: a mark left by a mover that died
            start = replace(start, moving_to=None)
            write_record(settings.cif_root, start)
        shown = _database_copy(settings)
        # A move from a stage the record was edited to would run the wrong guards (no export, say).
        edited = edited_stage(settings, start, shown) if shown else None
        if edited is not None:
            raise edited
        old = stage_named(start.stage)
        move = StageMove(old.name, new.name, start.epoch)
        if old.name == new.name:
            return move
        # Documents exported before taking the site lock, with the database revisions seen first:
        # under the lock only those written since, and those that failed, are exported again.
        early: _Export | None = None
        if "export database documents that differ" in guards(old, new):
            say(f"Ctrl-C stops the move at any point and leaves the site in stage {old.name}, as it is")
            say("exporting database documents that differ from the archive (writes continue meanwhile)")
            early = _export_differing(settings, None, move, say, compare_all, progress)
            if early.problems:
                say(f"{len(early.problems)} document(s) could not be exported yet; they are retried under the lock")
        marked = replace(start, moving_to=new.name, archive_id=start.archive_id or new_archive_id())
        say(f"moving {old.name} -> {new.name}: waiting for running writes to finish")
        with site_taken(settings.cif_root, marked):
            reasons = _guard(settings, old, new, move, early, say, progress)
            if reasons and not force:
                raise StageMoveRefused(
                    f"refusing to move from {old.name} to {new.name}: "
                    + "; ".join(reasons)
                    + ". Fix these, or use --force to move anyway (this skips the checks above and is recorded)."
                )
            move.forced, move.skipped = bool(reasons), reasons
            # Past any epoch the database shows, so a record put back from an old copy never looks current.
            move.epoch = max(start.epoch, shown.get("epoch", 0) if shown else 0) + 1
            final = SiteRecord(
                new.name,
                move.epoch,
                marked.archive_id,
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                who,
                move.forced,
                reasons,
            )
            _record_in_database(settings, final, new, move)
            write_record(settings.cif_root, final)
            history = {
                "epoch": move.epoch,
                "time": final.time,
                "who": who,
                "from": old.name,
                "to": new.name,
                "forced": move.forced,
                "skipped": move.skipped,
                "reconciled": move.reconciled,
                "exported": len(move.exported),
                "compared": move.compared,
            }
            try:
                append_history(settings.cif_root, history)
            except StorageError as exc:
                move.warnings.append(f"the move is recorded, but its history line is not: {exc}")
    _tidy_config(settings, move)
    return move


def _database_copy(settings: Settings) -> dict[str, Any] | None:
    """The stage as the database shows it, or None (none recorded, or the database cannot be read)."""
    if not database_exists(settings.db_url):
        return None
    try:
        return evidence.read_site_value(get_engine(settings.db_url), "stage")
    except MessagingError:
        return None


def _record_in_database(settings: Settings, record: SiteRecord, new: Stage, move: StageMove) -> None:
    """Show the new stage in the database, before the archive's record changes; processes cross-check the two.

    A stage that reads the database needs this (and a forced move into one
    marks the database as the site's, so processes read it); one that reads the
    archive moves without it, with a warning.
    """
    try:
        engine = get_engine(settings.db_url)
        if new.reads_from_database and move.forced:
            marker = evidence.read_site_value(engine, "migration")
            if marker is None or marker.get("archive_id") != record.archive_id:
                evidence.write_site_value(
                    engine,
                    "migration",
                    {"archive_id": record.archive_id, "forced": True, "epoch": record.epoch, "by": record.who},
                )
        evidence.write_site_value(engine, "stage", record.as_dict())
    except MessagingError as exc:
        if new.reads_from_database:
            raise StageMoveRefused(
                f"cannot record stage {new.name} in the database it uses ({exc}); the site stays in {move.old}"
            ) from exc
        move.warnings.append(
            f"could not show the stage in the database ({exc}); processes there will see it "
            "once a later move reaches it"
        )


def _guard(
    settings: Settings,
    old: Stage,
    new: Stage,
    move: StageMove,
    early: _Export | None,
    say: Callable[[str], None],
    progress: bool | None = None,
) -> list[str]:
    """Run the guards of this move under the exclusive lock; the reasons it must not happen."""
    reasons: list[str] = []
    adopted = adopt_legacy_journal(settings)
    if adopted:
        say(f"took over {adopted} entry(ies) of the journal that earlier versions kept in the state directory")
    earlier = earlier_journal_problem(settings)
    if earlier:
        reasons.append(earlier)
    stores = {
        CIF: CifMessageStore(settings.cif_root, site_writer=SITE_WRITER),
        DB: DbMessageStore(settings.db_url, site_writer=SITE_WRITER),
    }
    for journal in site_journals(settings):
        try:
            open_entries = journal.pending(all_intents=True)
        except MessagingError as exc:
            if DB in old.write_order:  # the stage wrote the database: its journal there must be read
                reasons.append(f"cannot read the journal {journal.where}: {exc}")
            continue
        if not open_entries:
            continue
        say(
            f"settling the journal {journal.where}: every unfinished dual write is re-copied from the authoritative "
            "store"
        )
        result = reconcile(stores, journal, authoritative=old.read_from, all_intents=True)
        move.reconciled += len(result.copied)
        if result.failed:
            reasons.append(
                f"{len(result.failed)} journaled document(s) could not be reconciled: "
                + "; ".join(result.describe_failures()[:5])
            )
    steps = guards(old, new)
    if "fresh validation" in steps:
        reasons.extend(why_not_validated(settings, revalidate=True))
    if "export database documents that differ" in steps:
        say("exporting documents written since the first pass")
        problems = _export_differing(settings, early or _Export(), move, say, progress=progress).problems
        if problems:
            reasons.append(
                f"{len(problems)} database document(s) could not be written into the archive: "
                + "; ".join(problems[:5])
            )
    return reasons


def adopt_legacy_journal(settings: Settings) -> int:
    """Move unfinished entries of a journal kept where earlier versions kept it (the state directory).

    The journal is site-wide now, beside the stage record; entries left in the
    old place would otherwise never be reconciled. Returns how many were moved.
    """
    return adopt_journal(settings, Path(settings.state_dir) / "journal.jsonl")


def why_not_validated(settings: Settings, revalidate: bool = False) -> list[str]:
    """Why the database cannot be trusted to answer reads yet (empty when it can).

    With `revalidate` (a move, holding the site lock), up to REVALIDATE_IN_MOVE
    depositions changed since the last validation are validated on the spot.
    """
    record = read_site(settings)
    try:
        validation = evidence.last_validation(settings.db_url)
    except MessagingError as exc:
        return [f"cannot read the last validation from the database at {mask_url(settings.db_url)}: {exc}"]
    if validation is None:
        return [
            f"the archive has never been validated against the database at {mask_url(settings.db_url)} "
            "(run: msgmodule validate)"
        ]
    if not record.archive_id or validation.get("archive_id") != record.archive_id:
        return [
            f"the last validation in {mask_url(settings.db_url)} was of another archive "
            f"({validation.get('cif_root')}), not {os.path.abspath(settings.cif_root)} (run: msgmodule validate)"
        ]
    if not validation.get("passed"):
        return [
            f"the last validation ({validation.get('time')}) found {validation.get('failed')} deposition(s) that "
            "differ or failed (fix them, then run: msgmodule validate --changed)"
        ]
    changed = evidence.changed_depositions(settings.cif_root, settings.db_url)
    if changed and revalidate and len(changed) <= REVALIDATE_IN_MOVE:
        # Writes are held off: what is equal now stays equal until the move is done.
        changed = _still_different(settings, changed)
    if changed:
        return [
            f"{len(changed)} deposition(s) changed since the last validation and not shown equal: "
            f"{_names(changed)} (bring them in step with: msgmodule resync ID..., then re-validate them "
            "with: msgmodule validate --changed)"
        ]
    return []


def _names(ids: list[str]) -> str:
    return ", ".join(ids[:CHANGED_SHOWN]) + (
        f" and {len(ids) - CHANGED_SHOWN} more" if len(ids) > CHANGED_SHOWN else ""
    )


def _still_different(settings: Settings, ids: list[str]) -> list[str]:
    """Validate these depositions now, recording evidence; the ones that are not equal."""
    from ..archive_tools import ValidationOptions, validate_batch

    outcomes = validate_batch(ValidationOptions(settings.cif_root, settings.db_url, record_evidence=True), ids)
    return [outcome.deposition_id for outcome in outcomes if outcome.status != "equal"]


@dataclass
class ResyncResult:
    copied: list[tuple[str, str]] = field(default_factory=list)  # (deposition, content type), replaced and verified
    equal: list[tuple[str, str]] = field(default_factory=list)  # already equal: nothing written
    failed: list[tuple[str, str]] = field(default_factory=list)  # (deposition, why: content type and reason)


def resync(settings: Settings, deposition_ids: list[str]) -> ResyncResult:
    """Replace each document of these depositions that differs from the stage's authoritative store, whole.

    A write like any other: it runs under the site lock, in the stage in force.
    Each copy is read back and compared with the authoritative document (the
    equivalence validate uses), both stores' document locks held, before it
    counts as copied; one that does not compare equal is failed, with what differs.
    """
    from .record import SiteLock

    result = ResyncResult()
    with SiteLock.of(settings.cif_root).shared():
        stage = STAGES[read_site(settings).stage]
        stores = {
            CIF: CifMessageStore(settings.cif_root, site_writer=SITE_WRITER),
            DB: DbMessageStore(settings.db_url, site_writer=SITE_WRITER),
        }
        source_name, target_name = stage.read_from, DB if stage.read_from == CIF else CIF
        source, target = stores[source_name], stores[target_name]
        names = {CIF: "archive", DB: "database"}
        for deposition_id in deposition_ids:
            try:
                documents = source.load_all(deposition_id)
            except MessagingError as exc:
                result.failed.append((deposition_id, f"cannot read the {names[source_name]}: {exc}"))
                continue
            for content_type, document in documents.items():
                key = (deposition_id, content_type)
                try:
                    try:
                        same = not differences(target.load(deposition_id, content_type), document)
                    except MessagingError:
                        same = False  # an unreadable copy differs
                    if same:
                        result.equal.append(key)
                        continue
                    # Dual writers take these locks too: neither store changes between the copy and its check.
                    with source.document_lock(*key), target.document_lock(*key):
                        copy_document(source, target, deposition_id, content_type)
                        found = compare(
                            [(source.load(*key), target.load(*key))], names[source_name], names[target_name]
                        )
                    if found:
                        result.failed.append(
                            (
                                deposition_id,
                                f"{content_type}: the {names[target_name]} copy reads back different from the "
                                f"{names[source_name]} after the copy: {found.summary()}",
                            )
                        )
                    else:
                        result.copied.append(key)
                except MessagingError as exc:
                    result.failed.append((deposition_id, f"{content_type}: {exc}"))
    return result


@dataclass
class _Export:
    """What the rollback's export passes saw and did."""

    seen: dict[tuple[str, str], int] = field(default_factory=dict)  # revisions read before the first pass
    failed: set[str] = field(default_factory=set)  # depositions to look at again under the lock
    problems: list[str] = field(default_factory=list)


def _export_differing(
    settings: Settings,
    early: _Export | None,
    move: StageMove,
    say: Callable[[str], None],
    compare_all: bool = False,
    progress: bool | None = None,
) -> _Export:
    """Write each database document that may differ from the archive's into the archive, if it does.

    The first pass (`early` None) compares the depositions the validation
    evidence cannot vouch for (every one, without evidence); the second, under
    the lock, those written since the first read its revisions, and those that
    failed. Each new file is read back and compared. Depositions run in batches
    in worker processes, as migration's do.
    """
    from ..archive_tools import RollbackOptions, default_workers, export_differing_batch, run_batches

    done = _Export()
    if early is None:
        record = read_site(settings)
        found = evidence.unsettled_depositions(settings.cif_root, settings.db_url, record.archive_id, compare_all)
        ids, done.seen = found.depositions, found.revisions
        if found.full_compare:
            say(f"comparing all {found.documents} database document(s) with the archive: {found.full_compare}")
        else:
            say(
                f"{len(ids)} of {len({d for d, _ in found.revisions})} deposition(s) changed since the archive was "
                "last validated equal; only those are compared"
            )
    else:
        engine = get_engine(settings.db_url)

        def read_revisions() -> dict[tuple[str, str], int]:
            with engine.connect() as connection:
                return evidence.document_revisions(connection)

        now = run_with_retries(engine, "read document revisions", read_revisions)
        ids = sorted({d for (d, c), r in now.items() if early.seen.get((d, c)) != r} | early.failed)
        done.seen = now
    show = sys.stderr.isatty() if progress is None else progress
    lines = _ProgressLines(say, len(ids), "deposition(s) compared") if not show else None

    def heard(outcome: Any) -> None:
        move.compared += len(outcome.files)
        for entry in outcome.files:
            if entry["action"] == "migrated":
                move.exported.append(entry["file"])
        if outcome.errors:
            done.failed.add(outcome.deposition_id)
            done.problems.extend(outcome.errors)
        if lines is not None:
            lines.one_more(len(move.exported))

    if ids:
        run_batches(
            export_differing_batch,
            RollbackOptions(settings.cif_root, settings.db_url),
            ids,
            ROLLBACK_WORKERS or default_workers(),
            ROLLBACK_BATCH,
            progress=show,
            on_outcome=heard,
        )
    if lines is not None:
        lines.finish(len(move.exported))
    return done


class _ProgressLines:
    """Progress as a line every PROGRESS_SECONDS (output that is not a terminal: logs, pipes, cron)."""

    def __init__(self, say: Callable[[str], None], total: int, what: str) -> None:
        self.say, self.total, self.what = say, total, what
        self.count = 0
        self.start = self.last = time.monotonic()

    def one_more(self, exported: int) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= PROGRESS_SECONDS and self.count < self.total:
            self.last = now
            self._line(exported, now)

    def finish(self, exported: int) -> None:
        if self.total:
            self._line(exported, time.monotonic())

    def _line(self, exported: int, now: float) -> None:
        rate = self.count / max(now - self.start, 1e-9)
        self.say(f"{self.count}/{self.total} {self.what}, {exported} document(s) exported ({rate:.0f}/s)")


def _tidy_config(settings: Settings, move: StageMove) -> None:
    """Drop stage settings from the config file (they would now disagree) and warn of others."""
    keys = ("MSGMODULE_STAGE", *FLAG_NAMES)
    try:
        move.config_changes = remove_config_keys(settings.config_file, keys)
    except OSError as exc:
        move.warnings.append(f"cannot update {settings.config_file}: {exc}")
    overriding = [key for key in keys if settings.sources.get(key) in ("environment", "argument")]
    if overriding:
        move.warnings.append(
            f"{', '.join(overriding)} set in this environment: processes that set a stage of their own refuse to "
            f"serve unless it is {move.new}; unset them and let processes follow the site's record"
        )
    if move.config_changes:
        move.warnings.append(
            f"removed {', '.join(move.config_changes)} from {settings.config_file}: the stage comes "
            "from the site's record now"
        )


__all__ = [
    "StageMove",
    "StageMoveRefused",
    "describe_site",
    "describe_validation",
    "ensure_archive_id",
    "guards",
    "move_stage",
    "read_site",
    "why_not_validated",
]
