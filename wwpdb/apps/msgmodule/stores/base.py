"""The store interface every backend implements.

A store keeps documents (one deposition's rows of one content type). The
required core is `load`, `save`, `update` and `list_depositions`; the
incremental operations a messaging service needs are built on `update`, which
each store makes atomic its own way (a file lock, a database transaction).
A store may override them with something faster.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import TypeVar

from ..model import (
    CATEGORIES,
    CONTENT_TYPES,
    STATUS_CONTENT_TYPE,
    Document,
    FileReference,
    Message,
    MessageStatus,
    OrigCommReference,
    time_order,
    validate_content_type,
    validate_deposition_id,
)

T = TypeVar("T")


@dataclass
class MessagePage:
    """A page of messages (`MessageStore.page_messages`) and the counts around it."""

    messages: list[tuple[str, Message]]  # (content type, message), in page order
    total: int  # messages that pass the filters, on every page
    counts: dict[str, int]  # every message of each content type, unfiltered
    origcomm: dict[str, OrigCommReference] = field(default_factory=dict)  # first row of each page message


@dataclass(frozen=True)
class FlagLists:
    """A document's message ids and the ids of its status rows with each flag set (`MessageStore.flag_lists`).

    All in stored order; a status row without a message id is in none of the flag lists.
    """

    message_ids: tuple[str | None, ...]
    read: tuple[str, ...]  # status rows with read_status Y
    no_action: tuple[str, ...]  # status rows with action_reqd N
    for_release: tuple[str, ...]  # status rows with for_release Y

    @classmethod
    def of(cls, statuses: Iterable[MessageStatus], message_ids: Iterable[str | None]) -> FlagLists:
        rows = [(s.message_id, s.read_status, s.action_reqd, s.for_release) for s in statuses if s.message_id]
        return cls(
            tuple(message_ids),
            tuple(m for m, read, _, _ in rows if read == "Y"),  # type: ignore[misc]
            tuple(m for m, _, action, _ in rows if action == "N"),  # type: ignore[misc]
            tuple(m for m, _, _, release in rows if release == "Y"),  # type: ignore[misc]
        )


def messages_in_order(
    documents: Mapping[str, Document],
    content_types: Sequence[str],
    send_status: str | None = None,
    archived_only: Collection[str] = (),
) -> list[tuple[str, Message]]:
    """The messages `MessageStore.page_messages` pages through, in its order (the documents' own rows)."""
    found: list[tuple[str, Message]] = []
    for content_type in content_types:
        for message in documents[content_type].messages:
            if content_type in archived_only and "archive" not in (message.message_type or ""):
                continue
            if send_status is not None and (message.send_status or "Y") != send_status:
                continue
            found.append((content_type, message))
    found.sort(key=lambda pair: time_order(pair[1].timestamp))
    return found


def first_origcomm(documents: Mapping[str, Document], content_types: Sequence[str]) -> dict[str, OrigCommReference]:
    """Each message id's first orig-comm row, content type by content type (the documents' own rows)."""
    found: dict[str, OrigCommReference] = {}
    for content_type in content_types:
        for reference in documents[content_type].origcomm_references:
            if reference.message_id is not None:
                found.setdefault(reference.message_id, reference)
    return found


def page_of(
    documents: Mapping[str, Document],
    content_types: Sequence[str],
    send_status: str | None = None,
    archived_only: Collection[str] = (),
    offset: int = 0,
    limit: int | None = None,
    with_origcomm: bool = False,
    ordered: list[tuple[str, Message]] | None = None,
    origcomm_of: Mapping[str, OrigCommReference] | None = None,
) -> MessagePage:
    """`MessageStore.page_messages` over documents already read.

    `ordered` and `origcomm_of`, when given, are `messages_in_order` and
    `first_origcomm` of these documents, made before (a store keeps them).
    The page holds the documents' own rows: copy them before handing them out.
    """
    found = ordered if ordered is not None else messages_in_order(documents, content_types, send_status, archived_only)
    shown = found[offset:] if limit is None else found[offset : offset + limit]
    origcomm: dict[str, OrigCommReference] = {}
    if with_origcomm:
        references = origcomm_of if origcomm_of is not None else first_origcomm(documents, content_types)
        for _, message in shown:
            if message.message_id is not None and message.message_id in references:
                origcomm.setdefault(message.message_id, references[message.message_id])
    counts = {content_type: len(documents[content_type].messages) for content_type in content_types}
    return MessagePage(list(shown), len(found), counts, origcomm)


class MessageStore(ABC):
    """Abstract store of message documents."""

    #: short backend name used in configuration, logs and errors ("cif", "db")
    name: str = "abstract"

    @abstractmethod
    def load(self, deposition_id: str, content_type: str) -> Document:
        """The document, or an empty one when the deposition has none."""

    @abstractmethod
    def save(self, document: Document) -> None:
        """Replace the stored document with this one, atomically."""

    @abstractmethod
    def update(self, deposition_id: str, content_type: str, change: Callable[[Document], T]) -> T:
        """Load, apply `change` to the document in place, and save, as one atomic step.

        No other writer can interleave between the load and the save. Returns
        what `change` returned. If `change` raises, nothing is stored.
        """

    @abstractmethod
    def list_depositions(self) -> list[str]:
        """Ids of every deposition that has at least one document, sorted."""

    def describe(self) -> str:
        """Where this store keeps its data, safe to print (no passwords)."""
        return self.name

    def overwrite(self, deposition_id: str, content_type: str, produce: Callable[[], Document]) -> Document:
        """Replace the document with what `produce` returns, called while the document is locked.

        Unlike `update`, the stored version need not be readable: this is how a
        damaged copy is repaired from the authoritative one.
        """

        def replace_all(document: Document) -> Document:
            fresh = produce()
            for category in CATEGORIES:
                document.rows(category)[:] = fresh.rows(category)
            return fresh

        return self.update(deposition_id, content_type, replace_all)

    def document_lock(self, deposition_id: str, content_type: str) -> AbstractContextManager[None]:
        """Hold this store's lock on one document across several calls (none here; the archive has one).

        A dual write holds it over both of its writes, so every writer of a
        document reaches both stores in the same order.
        """
        return contextlib.nullcontext()

    def apply_change(self, deposition_id: str, content_type: str, before: Document | None, after: Document) -> None:
        """Bring the document from `before` (what another store held) to `after`, as one atomic step.

        This is how a dual write hands the second store the change the first one
        just made, without reading it back. A store may write only what differs
        between the two when its own copy is `before`; it must write all of
        `after` when it is not (or `before` is None). This default writes all.
        """
        self.overwrite(deposition_id, content_type, lambda: after)

    #: Whether `apply_change_when` does its work before it asks, overlapping the caller's other write.
    overlaps_changes = False
    #: Whether every write of `update` calls stores.cif.BEFORE_REPLACE before anything of it is in place.
    calls_before_replace = False

    def apply_change_when(
        self, deposition_id: str, content_type: str, before: Document | None, after: Document, go: Callable[[], bool]
    ) -> bool:
        """`apply_change`, made only if `go()` is true; returns whether it was made.

        `go` may wait (for the caller's write to another store). A store that can
        hold a change unfinished (a database transaction) writes first, then asks
        and commits or rolls back, so its work runs while the caller's does; this
        default asks first.
        """
        if not go():
            return False
        self.apply_change(deposition_id, content_type, before, after)
        return True

    def page_messages(
        self,
        deposition_id: str,
        content_types: Sequence[str],
        send_status: str | None = None,
        archived_only: Collection[str] = (),
        offset: int = 0,
        limit: int | None = None,
        with_origcomm: bool = False,
    ) -> MessagePage:
        """One page of the messages of these content types, oldest first, and the counts around it.

        Messages are taken content type by content type (in the order given),
        each in file order, then ordered by timestamp (ties keep that order; a
        missing timestamp sorts first). `send_status` keeps the messages with
        that status (a missing one counts as "Y"); for the content types in
        `archived_only`, only messages whose type mentions "archive" count.
        This default reads the documents; a store may answer from an index.
        """
        documents = self.load_many(deposition_id, content_types)
        return page_of(documents, content_types, send_status, archived_only, offset, limit, with_origcomm)

    # -- built on the core ---------------------------------------------------

    def load_many(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        """Several content types' documents of a deposition (a store may read them in one go)."""
        validate_deposition_id(deposition_id)
        return {content_type: self.load(deposition_id, content_type) for content_type in content_types}

    def status_rows(self, deposition_id: str, content_type: str) -> tuple[list[MessageStatus], list[str | None]]:
        """The document's status rows and its messages' ids, both in stored order: what the read, no-action
        and for-release lists need. This default reads the document; a database answers from those columns."""
        document = self.load(deposition_id, content_type)
        return document.statuses, [message.message_id for message in document.messages]

    def flag_lists(self, deposition_id: str, content_type: str) -> FlagLists:
        """The document's message ids and the ids of its status rows with each flag set (the read, no-action
        and for-release lists). This default reads the status rows; a store may keep or select just these."""
        return FlagLists.of(*self.status_rows(deposition_id, content_type))

    def load_all(self, deposition_id: str) -> dict[str, Document]:
        """Every content type's document of a deposition."""
        return self.load_many(deposition_id, CONTENT_TYPES)

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
        """Append a message (or update a draft with the same id) with its references.

        See `Document.put_message` for `given`, `defaults` and references passed
        as None. A status row, when given, goes to the deposition's
        messages-to-depositor document; when that is another document it is a
        second atomic step.
        """
        validate_deposition_id(deposition_id)
        validate_content_type(content_type)
        refs = None if file_references is None else list(file_references)
        origs = None if origcomm_references is None else list(origcomm_references)
        given_items = None if given is None else list(given)

        def change(document: Document) -> None:
            # Work on copies: a retried transaction must start from the caller's values.
            stored = document.put_message(
                replace(message),
                None if refs is None else [replace(r) for r in refs],
                None if origs is None else [replace(o) for o in origs],
                given_items,
                defaults,
            )
            if status is not None and content_type == STATUS_CONTENT_TYPE:
                _apply_status(
                    document,
                    replace(
                        status, deposition_data_set_id=status.deposition_data_set_id or stored.deposition_data_set_id
                    ),
                )

        self.update(deposition_id, content_type, change)
        if status is not None and content_type != STATUS_CONTENT_TYPE:
            self.update(deposition_id, STATUS_CONTENT_TYPE, lambda doc: _apply_status(doc, status))
        assert message.message_id is not None
        return message.message_id

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
        """Change flags of a message's status row, creating the row if it is missing."""
        validate_deposition_id(deposition_id)
        return self.update(
            deposition_id,
            STATUS_CONTENT_TYPE,
            lambda doc: doc.set_status(
                message_id,
                deposition_data_set_id or deposition_id,
                read_status=read_status,
                action_reqd=action_reqd,
                for_release=for_release,
            ),
        )


def _apply_status(document: Document, status: MessageStatus) -> None:
    assert status.message_id is not None
    document.set_status(
        status.message_id,
        status.deposition_data_set_id or document.deposition_id,
        read_status=status.read_status,
        action_reqd=status.action_reqd,
        for_release=status.for_release,
    )
