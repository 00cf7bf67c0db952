"""Copying and comparing documents between two stores.

Dual-mode writes, reconcile, and (later) migration, validation and export
are all "copy or compare a deposition's documents between two stores".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import MessagingError
from .journal import Journal
from .model import Document
from .stores.base import MessageStore


def copy_document(source: MessageStore, target: MessageStore, deposition_id: str, content_type: str) -> Document:
    """Make `target`'s document equal to `source`'s.

    The source is read while the target's document is locked, so when several
    processes copy the same document the last copy carries the latest state.
    """
    return target.overwrite(deposition_id, content_type, lambda: source.load(deposition_id, content_type))


@dataclass
class ReconcileResult:
    copied: list[tuple[str, str, str]] = field(default_factory=list)  # (deposition, content type, into)
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)  # ... plus the error


def reconcile(stores: dict[str, MessageStore], journal: Journal) -> ReconcileResult:
    """Re-copy every journaled document into the backend that missed it, then clear its entries.

    `stores` maps backend names ("cif", "db") to stores. The document is copied
    from the other backend, which holds the authoritative version. Entries
    journaled while this runs are kept for the next run.
    """
    result = ReconcileResult()
    for (deposition_id, content_type, failed), entry_ids in journal.pending().items():
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
