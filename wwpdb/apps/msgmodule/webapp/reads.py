"""One request's reads: each document (or its status rows) is read once per request, not once per question.

Opening the messages table asks MessagingIo several questions (the read,
no-action and for-release lists, the notes, the counts) that each read the
same files; a request sees one snapshot of them. Every call that is not a
read is passed on and forgets what was read, so a request never reads its
own writes stale. Nothing is kept across requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..model import Document, MessageStatus
from ..stores.base import FlagLists, MessagePage, MessageStore

_READS = {"describe", "list_depositions", "scan_depositions", "health", "current_file", "current_files"}


class RequestReads:
    """A store as one request uses it: `load`/`load_many` remembered until the request writes."""

    def __init__(self, store: Any) -> None:
        self.inner = store
        self._documents: dict[tuple[str, str], Document] = {}
        self._statuses: dict[tuple[str, str], tuple[list[MessageStatus], list[str | None]]] = {}
        self._flags: dict[tuple[str, str], FlagLists] = {}

    def load(self, deposition_id: str, content_type: str) -> Document:
        return self.load_many(deposition_id, [content_type])[content_type]

    def load_many(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        wanted = list(dict.fromkeys(content_types))
        missing = [ct for ct in wanted if (deposition_id, ct) not in self._documents]
        if missing:
            for content_type, document in self.inner.load_many(deposition_id, missing).items():
                self._documents[(deposition_id, content_type)] = document
        return {ct: self._documents[(deposition_id, ct)] for ct in wanted}

    def status_rows(self, deposition_id: str, content_type: str) -> tuple[list[MessageStatus], list[str | None]]:
        """From the document already read when there is one, else the store's own (a database reads the
        status rows and the message ids only)."""
        key = (deposition_id, content_type)
        document = self._documents.get(key)
        if document is not None:
            return document.statuses, [message.message_id for message in document.messages]
        if key not in self._statuses:
            self._statuses[key] = self.inner.status_rows(deposition_id, content_type)
        return self._statuses[key]

    def flag_lists(self, deposition_id: str, content_type: str) -> FlagLists:
        """From the document already read when there is one, else the store's own (kept by a CIF store, just
        those columns from a database)."""
        key = (deposition_id, content_type)
        document = self._documents.get(key)
        if document is not None:
            return FlagLists.of(document.statuses, [message.message_id for message in document.messages])
        if key not in self._flags:
            self._flags[key] = self.inner.flag_lists(deposition_id, content_type)
        return self._flags[key]

    def page_messages(self, deposition_id: str, content_types: Sequence[str], *args: Any, **kwargs: Any) -> MessagePage:
        """From the documents already read when there are any (the default paging over them), else the store's
        own paging (a database reads only the page)."""
        if any((deposition_id, ct) in self._documents for ct in content_types):
            return MessageStore.page_messages(self, deposition_id, content_types, *args, **kwargs)  # type: ignore[arg-type]
        return self.inner.page_messages(deposition_id, content_types, *args, **kwargs)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name in _READS or not callable(found):
            return found

        def passed_on(*args: Any, **kwargs: Any) -> Any:
            self._documents.clear()  # a write (or anything not known to be a read): read afresh after it
            self._statuses.clear()
            self._flags.clear()
            return found(*args, **kwargs)

        return passed_on
