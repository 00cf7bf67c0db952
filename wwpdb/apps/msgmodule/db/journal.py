"""The journal kept in the database, for dual writes in which the database is authoritative (db-primary).

There the archive is the second store, the one that may miss a write, so the
journal must not live in it. Same entries and meaning as `journal.Journal`:
an intent is a row written before the first write and deleted once the second
is in; a failure is a row until reconcile copies the document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import delete, select

from ..journal import INTENT_ERROR, Journal, JournalEntry, new_entry
from .engine import get_engine, mask_url, run_with_retries
from .schema import journal_entries


class DatabaseJournal(Journal):
    """`Journal`, in the table msgmodule_journal."""

    SYNCS_LATER = False  # a row is durable once its transaction commits

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = get_engine(url)

    @property
    def path(self) -> Path:
        return Path(f"{mask_url(self.url)}#msgmodule_journal")

    @property
    def where(self) -> str:
        return f"table msgmodule_journal of {mask_url(self.url)}"

    def record(self, deposition_id: str, content_type: str, failed: str, error: str, kind: str = "failure") -> str:
        entry = new_entry(deposition_id, content_type, failed, error, kind)

        def work() -> None:
            with self.engine.begin() as connection:
                connection.execute(journal_entries.insert().values(**asdict(entry)))

        run_with_retries(self.engine, f"journal {deposition_id} {content_type}", work)
        return entry.id

    def begin_pending(self, deposition_id: str, content_type: str, target: str) -> tuple[str, Callable[[], None]]:
        # A row is durable once its transaction commits: nothing is left to wait for.
        return self.record(deposition_id, content_type, target, INTENT_ERROR, kind="intent"), _durable_already

    def finish(self, entry_id: str) -> None:
        self.clear([entry_id])

    def entries(self, all_intents: bool = False) -> list[JournalEntry]:
        def work() -> list[JournalEntry]:
            with self.engine.connect() as connection:
                rows = connection.execute(select(journal_entries).order_by(journal_entries.c.time))
                return [JournalEntry(**row._asdict()) for row in rows]

        found = run_with_retries(self.engine, "read the journal", work)
        return [e for e in found if all_intents or e.kind != "intent" or not self.writer_may_run(e)]

    def clear(self, entry_ids: Iterable[str]) -> int:
        ids = list(entry_ids)
        if not ids:
            return 0

        def work() -> int:
            with self.engine.begin() as connection:
                done = 0
                for start in range(0, len(ids), 500):
                    result = connection.execute(
                        delete(journal_entries).where(journal_entries.c.id.in_(ids[start : start + 500]))
                    )
                    done += result.rowcount or 0
                return done

        return run_with_retries(self.engine, "clear journal entries", work)


def _durable_already() -> None:
    pass
