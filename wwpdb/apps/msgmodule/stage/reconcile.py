"""Reconcile: bring the backend that missed a dual write up to date from the other one.

Each journal entry names a document and the backend that may lack its latest
state; the document is copied from the other backend, which was authoritative
when the entry was made. Stage moves settle the journal first, so the entries
found belong to the stage in force; one that would overwrite the backend the
stage reads from is left alone and reported instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import MessagingError
from ..journal import Journal
from ..stores.base import MessageStore
from ..stores.dual import copy_document


@dataclass
class ReconcileResult:
    copied: list[tuple[str, str, str]] = field(default_factory=list)  # (deposition, content type, into)
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)  # ... plus the error

    def describe_failures(self) -> list[str]:
        return [f"{d} {c} into {into}: {error}" for d, c, into, error in self.failed]


def reconcile(
    stores: dict[str, MessageStore], journal: Journal, authoritative: str | None = None, all_intents: bool = False
) -> ReconcileResult:
    """Re-copy every journaled document into the backend that missed it, then clear its entries.

    `stores` maps backend names ("cif", "db") to plain stores; `authoritative`
    is the backend the stage reads from, never overwritten here. With
    `all_intents`, unfinished intents count even if their writer may run
    (a stage move holds the site lock, so no writer can). Entries journaled
    while this runs are kept for the next run.
    """
    result = ReconcileResult()
    for (deposition_id, content_type, failed), entry_ids in journal.pending(all_intents).items():
        if failed == authoritative:
            result.failed.append(
                (
                    deposition_id,
                    content_type,
                    failed,
                    f"the entry would overwrite {failed}, which this stage reads from: it was left by "
                    "an earlier stage; compare the two stores (msgmodule validate) before clearing it",
                )
            )
            continue
        target = stores[failed]
        (source,) = [store for name, store in stores.items() if name != failed]
        try:
            copy_document(source, target, deposition_id, content_type)
        except MessagingError as exc:
            result.failed.append((deposition_id, content_type, failed, str(exc)))
            continue
        journal.clear(entry_ids)
        result.copied.append((deposition_id, content_type, failed))
    return result
