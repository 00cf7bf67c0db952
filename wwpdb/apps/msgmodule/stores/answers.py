"""Answers a database store keeps in its process while the documents they were read from stay the same.

Opening the messages table asks for a document's flag lists and the order of
its messages; on a long history reading those costs more than all the rest of
the view. An answer is kept with the version it was read at: the database's
incarnation and each document's revision, read in the same snapshot as the
answer. The next request reads the version again (one small query) and uses
the kept answer only when it is the same, so a write by any process that uses
this library (each bumps the revision) or a restore (which renews the
incarnation) is seen by the next request.

Not seen: rows changed by hand in SQL, which bump no revision. After such an
edit, bump the document's revision in the same transaction
(`UPDATE msgmodule_document SET revision = revision + 1 WHERE ...`), or
restart the web service. The same bump makes the next new message count the
document's ordinals afresh instead of taking the ones its row keeps (stores.db).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

# (incarnation, ((content type, revision), ...)); None: the database has no incarnation, nothing is kept.
Version = tuple[str, tuple[tuple[str, int], ...]] | None


class KeptAnswers:
    """At most `capacity` answers, the least recently used dropped first; thread-safe."""

    def __init__(self, capacity: int = 128) -> None:
        self.capacity = capacity
        self._answers: OrderedDict[Hashable, tuple[Version, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Version) -> Any | None:
        """The answer kept for `key` at `version`, or None."""
        if version is None:
            return None
        with self._lock:
            found = self._answers.get(key)
            if found is None or found[0] != version:
                return None
            self._answers.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, version: Version, answer: Any) -> None:
        if version is None:
            return
        with self._lock:
            self._answers[key] = (version, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self.capacity:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


# One per process, shared by every database store in it (keys start with the database's URL).
KEPT = KeptAnswers()
