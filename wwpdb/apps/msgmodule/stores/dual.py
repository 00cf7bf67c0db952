"""Dual mode: two stores kept in step, composed from the ordinary ones.

The authoritative store (the one reads come from) is written first; if that
fails the call fails and the other store is not touched. Then the other
store is brought to the authoritative document's state; if that fails, the
call still succeeds and the document is recorded in the journal for
`reconcile`. In shadow mode reads also read the other store, compare them as
`equivalence` does (same rows, same order, same values), and log mismatches; the caller always gets the
authoritative answer. The second store's half of a write is given
MSGDB_SECOND_WRITE_TIMEOUT (see `timeouts`): a database that stops answering
costs the call that long, then the document is journaled.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from .. import timeouts
from ..equivalence import differences
from ..errors import BackendTimeoutError, MessagingError
from ..journal import Journal, JsonLines
from ..metrics import METRICS, Metrics
from ..model import Document, Message, MessageStatus
from .base import FlagLists, MessagePage, MessageStore
from .cif import AFTER_REPLACE, BEFORE_REPLACE

T = TypeVar("T")
log = logging.getLogger(__name__)


def copy_document(source: MessageStore, target: MessageStore, deposition_id: str, content_type: str) -> Document:
    """Make `target`'s document equal to `source`'s.

    The source is read while the target's document is locked, so when several
    processes copy the same document the last copy carries the latest state.
    """
    return target.overwrite(deposition_id, content_type, lambda: source.load(deposition_id, content_type))


class MeteredStore(MessageStore):
    """A store whose calls are counted and timed under its backend's name."""

    def __init__(self, inner: MessageStore, metrics: Metrics = METRICS) -> None:
        self.inner = inner
        self.name = inner.name
        self.metrics = metrics

    def describe(self) -> str:
        return self.inner.describe()

    def load(self, deposition_id: str, content_type: str) -> Document:
        with self.metrics.measure(self.name, "read"):
            return self.inner.load(deposition_id, content_type)

    def load_many(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        with self.metrics.measure(self.name, "read"):
            return self.inner.load_many(deposition_id, content_types)

    def status_rows(self, deposition_id: str, content_type: str) -> tuple[list[MessageStatus], list[str | None]]:
        with self.metrics.measure(self.name, "read"):
            return self.inner.status_rows(deposition_id, content_type)

    def flag_lists(self, deposition_id: str, content_type: str) -> FlagLists:
        with self.metrics.measure(self.name, "read"):
            return self.inner.flag_lists(deposition_id, content_type)

    def save(self, document: Document) -> None:
        with self.metrics.measure(self.name, "write"):
            self.inner.save(document)

    def update(self, deposition_id: str, content_type: str, change: Callable[[Document], T]) -> T:
        with self.metrics.measure(self.name, "write"):
            return self.inner.update(deposition_id, content_type, change)

    def overwrite(self, deposition_id: str, content_type: str, produce: Callable[[], Document]) -> Document:
        with self.metrics.measure(self.name, "write"):
            return self.inner.overwrite(deposition_id, content_type, produce)

    def document_lock(self, deposition_id: str, content_type: str) -> AbstractContextManager[None]:
        return self.inner.document_lock(deposition_id, content_type)

    def apply_change(self, deposition_id: str, content_type: str, before: Document | None, after: Document) -> None:
        with self.metrics.measure(self.name, "write"):
            self.inner.apply_change(deposition_id, content_type, before, after)

    @property
    def overlaps_changes(self) -> bool:  # type: ignore[override]
        return self.inner.overlaps_changes

    @property
    def calls_before_replace(self) -> bool:  # type: ignore[override]
        return self.inner.calls_before_replace

    def apply_change_when(
        self, deposition_id: str, content_type: str, before: Document | None, after: Document, go: Callable[[], bool]
    ) -> bool:
        with self.metrics.measure(self.name, "write"):
            return self.inner.apply_change_when(deposition_id, content_type, before, after, go)

    def page_messages(self, deposition_id: str, content_types: Sequence[str], *args: Any, **kwargs: Any) -> MessagePage:
        with self.metrics.measure(self.name, "read"):
            return self.inner.page_messages(deposition_id, content_types, *args, **kwargs)

    def put_message(self, deposition_id: str, content_type: str, message: Message, *args: Any, **kwargs: Any) -> str:
        with self.metrics.measure(self.name, "write"):
            return self.inner.put_message(deposition_id, content_type, message, *args, **kwargs)

    def set_status(self, deposition_id: str, message_id: str, *args: Any, **kwargs: Any) -> MessageStatus:
        with self.metrics.measure(self.name, "write"):
            return self.inner.set_status(deposition_id, message_id, *args, **kwargs)

    def list_depositions(self) -> list[str]:
        with self.metrics.measure(self.name, "list"):
            return self.inner.list_depositions()


class DualStore(MessageStore):
    """Two stores in step: `primary` is authoritative, `secondary` follows."""

    name = "dual"

    def __init__(
        self,
        primary: MessageStore,
        secondary: MessageStore,
        journal: Journal,
        shadow_log: JsonLines | None = None,
        shadow_sample: float = 1.0,
        second_write_timeout: float | None = None,
    ) -> None:
        """`second_write_timeout`: seconds the second store's half of a write may take.

        None reads MSGDB_SECOND_WRITE_TIMEOUT; 0 is no bound.
        """
        self.primary = primary
        self.secondary = secondary
        self.journal = journal
        self.shadow_log = shadow_log
        self.shadow_sample = shadow_sample
        self.second_write_timeout = (
            timeouts.setting("MSGDB_SECOND_WRITE_TIMEOUT") if second_write_timeout is None else second_write_timeout
        ) or None  # 0: no bound

    def describe(self) -> str:
        return f"{self.primary.describe()} (authoritative), then {self.secondary.describe()}"

    # -- reads ---------------------------------------------------------------

    def load(self, deposition_id: str, content_type: str) -> Document:
        return self.load_many(deposition_id, [content_type])[content_type]

    def load_many(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        documents = self.primary.load_many(deposition_id, content_types)
        if self.shadow_log is not None and random.random() < self.shadow_sample:
            self._compare(deposition_id, documents)
        return documents

    def list_depositions(self) -> list[str]:
        return self.primary.list_depositions()

    def page_messages(self, deposition_id: str, content_types: Sequence[str], *args: Any, **kwargs: Any) -> MessagePage:
        return self.primary.page_messages(deposition_id, content_types, *args, **kwargs)

    def status_rows(self, deposition_id: str, content_type: str) -> tuple[list[MessageStatus], list[str | None]]:
        return self.primary.status_rows(deposition_id, content_type)

    def flag_lists(self, deposition_id: str, content_type: str) -> FlagLists:
        return self.primary.flag_lists(deposition_id, content_type)

    def _compare(self, deposition_id: str, documents: dict[str, Document]) -> None:
        base = {
            "time": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "deposition_id": deposition_id,
            "authoritative": self.primary.name,
            "compared": self.secondary.name,
        }
        records: list[dict[str, Any]] = []
        try:
            others = self.secondary.load_many(deposition_id, list(documents))
        except MessagingError as exc:
            records.append({**base, "content_type": ", ".join(documents), "error": str(exc)})
        else:
            for content_type, document in documents.items():
                found = differences(document, others[content_type])
                if found:
                    records.append(
                        {
                            **base,
                            "content_type": content_type,
                            "differences": [difference.as_dict() for difference in found],
                        }
                    )
        assert self.shadow_log is not None
        for record in records:
            try:
                self.shadow_log.append(record)
            except MessagingError as exc:  # the caller's read must not fail over the comparison
                log.error("cannot log a shadow mismatch of %s: %s", deposition_id, exc)

    # -- writes --------------------------------------------------------------

    def save(self, document: Document) -> None:
        written: list[Document | None] = [None, document]

        def write_primary(intent: _Intent) -> None:
            intent.wait_durable()
            self.primary.save(document)

        self._write_both(document.deposition_id, document.content_type, write_primary, written)

    def update(self, deposition_id: str, content_type: str, change: Callable[[Document], T]) -> T:
        written: list[Document | None] = []
        second = _SecondWrite(self.secondary, deposition_id, content_type, self.second_write_timeout)
        # The intent must be on disk before anything of the first write is in place. The archive
        # store waits for it at the last moment (BEFORE_REPLACE: its new file written and synced,
        # nothing renamed yet), so the intent's sync runs beside the file's; any other store waits
        # before it starts writing.
        waits_late = self.primary.calls_before_replace

        def write_primary(intent: _Intent) -> T:
            def change_and_keep(document: Document) -> T:
                before = document.copy()
                result = change(document)
                written[:] = [before, document]  # a retried attempt replaces what an earlier one kept
                second.start(before, document)
                if not waits_late:
                    intent.wait_durable()  # the first store writes once this returns
                return result

            # Once the archive file is in place the database commits while the folder is synced: a
            # crash before both are done leaves the intent, and reconcile copies the archive's copy.
            landing = BEFORE_REPLACE.set(intent.wait_durable if waits_late else None)
            in_place = AFTER_REPLACE.set(second.release)
            try:
                return self.primary.update(deposition_id, content_type, change_and_keep)
            finally:
                AFTER_REPLACE.reset(in_place)
                BEFORE_REPLACE.reset(landing)

        return self._write_both(deposition_id, content_type, write_primary, written, second)

    def _write_both(
        self,
        deposition_id: str,
        content_type: str,
        write_primary: Callable[[_Intent], T],
        written: list[Document | None],
        second: _SecondWrite | None = None,
    ) -> T:
        # Both writes run under the document's lock (the archive's, whichever store is first), so
        # every writer of the document reaches the two stores in one order: a second store is never
        # handed a change that a later writer's change has already overtaken.
        with contextlib.ExitStack() as locks:
            locks.enter_context(self.primary.document_lock(deposition_id, content_type))
            try:
                locks.enter_context(self.secondary.document_lock(deposition_id, content_type))
            except MessagingError as exc:
                failed: Exception | None = exc  # the first write goes on; the second is journaled
                if second is not None:
                    second.enabled = False
            else:
                failed = None
            if second is not None:
                locks.callback(second.settle)  # runs before the locks are let go
            return self._write_locked(deposition_id, content_type, write_primary, written, failed, second)

    def _write_locked(
        self,
        deposition_id: str,
        content_type: str,
        write_primary: Callable[[_Intent], T],
        written: list[Document | None],
        failed: Exception | None,
        second: _SecondWrite | None = None,
    ) -> T:
        # Journaled before the first write lands, so a process killed between the two writes
        # still leaves the document for reconcile; marked done once the second write is in.
        intent = _Intent(self.journal, deposition_id, content_type, self.secondary.name)
        try:
            result = write_primary(intent)
            intent.wait_durable()  # waited for already, before the first write
        except BaseException as exc:
            # A store's own error comes before anything of its write is in place: the second write
            # does not happen either. Unless the first was released (its file is in place): then the
            # second commits. Anything else (an interrupt, a bug) may have come after the first write
            # landed: unless the second is in too, the document is journaled and reconcile copies it.
            first_in = second is not None and second.released
            try:
                second_in = second.withdraw() if second is not None else False
            finally:
                # Synced (and its descriptor closed) whatever happens; the caller hears of the
                # write's failure, not of this.
                with contextlib.suppress(BaseException):
                    intent.wait_durable()
            # A commit of the first store that went unanswered may be in: journaled like an interrupt.
            unsure = first_in or not isinstance(exc, MessagingError) or getattr(exc, "outcome_unknown", False)
            with contextlib.suppress(MessagingError):
                if unsure and not second_in:
                    self.journal.record(deposition_id, content_type, self.secondary.name, f"interrupted: {exc!r}")
            with contextlib.suppress(MessagingError):
                self.journal.finish(intent.id)
            raise
        try:
            if failed is not None:
                raise failed
            if second is not None and second.started:
                second.commit()  # its statements ran beside the first write; now it commits
            else:
                with timeouts.time_limit(self.second_write_timeout, SECOND_WRITE_SETTING):
                    if written and written[1] is not None:
                        # The document the first store just wrote, handed over as it is: no reading it back.
                        self.secondary.apply_change(deposition_id, content_type, written[0], written[1])
                    else:
                        copy_document(self.primary, self.secondary, deposition_id, content_type)
        except Exception as exc:  # noqa: BLE001 - the authoritative write stands; any failure here is journaled
            log.warning(
                "second write to %s failed for %s %s; journaled for reconcile: %s",
                self.secondary.name,
                deposition_id,
                content_type,
                exc,
            )
            try:
                self.journal.record(deposition_id, content_type, self.secondary.name, str(exc))
            except MessagingError as journal_error:
                # The intent recorded before the first write still stands for this document.
                log.error(
                    "cannot journal the failed second write of %s %s: %s", deposition_id, content_type, journal_error
                )
                return result
        try:
            self.journal.finish(intent.id)
        except MessagingError as exc:
            # Both writes are in (or the failure is journaled): the call succeeded, and a retry by
            # the caller would add the message twice. The open intent only costs a needless copy.
            log.error(
                "cannot mark the journal entry of %s %s done (%s); reconcile will re-copy it",
                deposition_id,
                content_type,
                exc,
            )
        return result


# The second write's half of a dual write runs in a thread while the first store writes: a database
# transaction does its statements, then waits to hear whether the first write went in.
SECOND_WRITE_THREADS = 16
SECOND_WRITE_SETTING = "MSGDB_SECOND_WRITE_TIMEOUT"
# How long past its bound the caller waits for a second write to report (its own round trips end at
# the bound; this covers the thread's scheduling), before journaling it without the report.
SECOND_WRITE_GRACE = 0.5
# The journal's syncs run in threads of their own: a job there only ever waits for the disk, never for
# a dual write (a second write's thread waits for its first write, which may wait for its intent's sync).
JOURNAL_SYNC_THREADS = 4


class _ProcessThreads:
    """A pool of threads made when this process first needs it; a forked child makes its own (it has
    none of its parent's threads, and may have copied the lock held)."""

    def __init__(self, threads: int, prefix: str) -> None:
        self.threads, self.prefix = threads, prefix
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)

    def __call__(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix=self.prefix)
            return self._executor

    def _forget(self) -> None:
        self._executor, self._lock = None, threading.Lock()


_second_writers = _ProcessThreads(SECOND_WRITE_THREADS, "msgmodule-second-write")
_journal_syncers = _ProcessThreads(JOURNAL_SYNC_THREADS, "msgmodule-journal-sync")


class _Intent:
    """The journal entry of one dual write, recorded before the first write.

    Written at once, and its sync started in another thread; `wait_durable`
    (called before anything of the first write is in place) waits for the sync
    to end, so the sync runs while the first store makes its new file and the
    second store sends its statements.
    """

    def __init__(self, journal: Journal, deposition_id: str, content_type: str, target: str) -> None:
        self.id, self._make_durable = journal.begin_pending(deposition_id, content_type, target)
        self._synced = False
        self._failed: BaseException | None = None
        self._sync: Future[None] | None = None
        if journal.SYNCS_LATER:
            # RuntimeError: the interpreter is shutting down; the caller's thread syncs it.
            with contextlib.suppress(RuntimeError):
                self._sync = _journal_syncers().submit(self._make_durable)

    def wait_durable(self) -> None:
        if self._failed is not None:
            raise self._failed
        if not self._synced:
            try:
                if self._sync is not None:
                    self._sync.result()
                else:
                    self._make_durable()
            except Exception as exc:
                self._failed = exc
                raise
            except BaseException as exc:
                # An interrupt of the wait leaves the sync running: a later call waits for it again. One
                # of a sync in this thread may have cut it short: it counts as failed.
                if self._sync is None:
                    self._failed = exc
                raise
            self._synced = True


class _Decision:
    """Whether the first write went in, told once; the second write waits for it."""

    def __init__(self) -> None:
        self._told = threading.Event()
        self._go = False

    def tell(self, go: bool) -> None:
        if not self._told.is_set():  # the first word stands: once the file is in, it commits
            self._go = go
            self._told.set()

    def wait(self) -> bool:
        self._told.wait()
        return self._go

    @property
    def go(self) -> bool:
        """Told to go (never true before it is told)."""
        return self._go


class _SecondWrite:
    """The second store's half of one dual write, run beside the first store's write.

    Used when the second store can hold its change unfinished (a database
    transaction): its statements run while the first store writes, and it
    commits only once the first write is in; if that fails it rolls back, so
    the second store is never ahead of the first.
    """

    def __init__(self, store: MessageStore, deposition_id: str, content_type: str, timeout: float | None) -> None:
        self.store = store
        self.deposition_id = deposition_id
        self.content_type = content_type
        self.timeout = timeout
        self.enabled = store.overlaps_changes
        self._decision: _Decision | None = None
        self._job: Future[bool] | None = None
        self._limit: timeouts.TimeLimit | None = None

    @property
    def started(self) -> bool:
        return self._job is not None

    def start(self, before: Document, after: Document) -> None:
        if not self.enabled:
            return
        self.withdraw()  # a retried first write replaces the change an earlier attempt started
        decision = _Decision()
        # The change runs in another thread, under the same time limit as the caller's wait for it.
        with timeouts.time_limit(self.timeout, SECOND_WRITE_SETTING) as limit:
            context = contextvars.copy_context()
        self._limit = limit
        try:
            job = _second_writers().submit(
                context.run,
                self.store.apply_change_when,
                self.deposition_id,
                self.content_type,
                before,
                after,
                decision.wait,
            )
        except RuntimeError:
            # The interpreter is shutting down, or no thread could be started: if the job was
            # queued, it finds the change withdrawn; the second write runs after the first.
            decision.tell(False)
            return
        self._decision, self._job = decision, job

    def release(self) -> None:
        """Let the change commit (the first write is in), without waiting for it."""
        if self._decision is not None and self._job is not None:
            self._decision.tell(True)

    def commit(self) -> None:
        """Let the change commit and wait for it; raises what the second store raised."""
        assert self._decision is not None and self._job is not None
        self._decision.tell(True)
        job, self._job = self._job, None
        try:
            job.result(timeout=self._wait())
        except concurrent.futures.TimeoutError:
            assert self._limit is not None
            raise BackendTimeoutError(
                f"the second write of {self.deposition_id} {self.content_type} to {self.store.describe()} did not "
                f"finish within {self._limit.describe()}; it was given up",
                outcome_unknown=True,
            ) from None

    def _wait(self) -> float | None:
        """How long the caller waits for the change to report: to its time limit, and a moment for the thread."""
        return None if self._limit is None else max(0.0, self._limit.remaining()) + SECOND_WRITE_GRACE

    def settle(self) -> None:
        """A change still waiting once the call is over (an interrupted caller) commits: the first write is in."""
        if self._job is not None:
            with contextlib.suppress(Exception):
                self.commit()

    @property
    def released(self) -> bool:
        """Whether the change was let commit (the first write is in)."""
        return self._decision is not None and self._decision.go

    def withdraw(self) -> bool:
        """Roll the change back, unless it was released, and wait until it is over.

        Returns whether the change committed.
        """
        if self._decision is None or self._job is None:
            return False
        self._decision.tell(False)
        job, self._job = self._job, None
        try:
            return bool(job.result(timeout=self._wait()))
        except concurrent.futures.TimeoutError:
            return False  # not known to be in: the caller journals the document when the first write may be
        except Exception:  # noqa: BLE001 - a failed change left nothing
            return False
