"""The interface OneDep's communication web app, workflow manager and reminder code call.

`create_messaging_service(req_obj)` returns a `MessagingIo`: the service API
of SPEC section 6 plus OneDep's own method names and return shapes, the same
whichever stage (CIF, database, both) is active. A OneDep request object
(anything with `getValue(name)`) or keyword arguments give the deposition
(`identifier`), the site (`WWPDB_SITE_ID`), the view (`content_type`: `msgs`,
`notes` or `commhstry`) and `groupid`.

Not part of this library, by design: sending e-mail, rendering templates,
copying deposition files into sessions, parsing model files. Their places:
- `file_reference_resolver(token, deposition_id) -> dict`: turns OneDep's
  file-reference tokens (e.g. "model") into file-reference rows; without one,
  only complete reference dicts are accepted.
- `message_stored_hooks`: callables run with the stored message's dict after
  `processMsg` stores a live message (e.g. to send the e-mail notification).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from ..config import DEFAULT_RELEASE_SUBJECTS, Settings, load_settings
from ..errors import InvalidInputError
from ..model import (
    CONTENT_TYPES,
    STATUS_CONTENT_TYPE,
    Document,
    FileReference,
    Message,
    OrigCommReference,
    validate_deposition_id,
)
from ..service import MessagingService
from ..stores.base import MessageStore

TO_DEPOSITOR, FROM_DEPOSITOR, NOTES = CONTENT_TYPES
# OneDep's views: which content types each one covers.
VIEWS: dict[str, tuple[str, ...]] = {
    "msgs": (TO_DEPOSITOR, FROM_DEPOSITOR),
    "notes": (NOTES,),
    "commhstry": (TO_DEPOSITOR, FROM_DEPOSITOR, NOTES),
}
# OneDep's message objects say "msgs" or "notes"; plain dicts may also name a content type.
CONTENT_TYPE_OF = {"msgs": TO_DEPOSITOR, "notes": NOTES, **{ct: ct for ct in CONTENT_TYPES}}
ORIGCOMM_COLUMNS = tuple(item for item in OrigCommReference.ITEMS if item.startswith("orig_"))
NOT_PERSISTED = ("message_state",)  # OneDep's live/draft marker, never stored


class _Request:
    """Values of a OneDep request object, or of keyword arguments, as strings."""

    def __init__(self, req_obj: Any, values: Mapping[str, Any]) -> None:
        if req_obj is not None and not callable(getattr(req_obj, "getValue", None)):
            raise InvalidInputError("reqObj must be a OneDep request object with getValue(name)")
        self.req_obj = req_obj
        self.values = dict(values)

    def get(self, name: str) -> str:
        if name in self.values and self.values[name] is not None:
            return str(self.values[name])
        if self.req_obj is not None:
            value = self.req_obj.getValue(name)
            return "" if value is None else str(value)
        return ""


class MessagingIo(MessagingService):
    """OneDep's MessagingIo on any store; see the module docstring."""

    def __init__(
        self,
        reqObj: Any = None,  # noqa: N803 - OneDep's parameter name
        verbose: bool = False,
        log: TextIO = sys.stderr,
        *,
        store: MessageStore | None = None,
        settings: Settings | None = None,
        file_reference_resolver: Callable[[str, str], Mapping[str, Any]] | None = None,
        **request_values: Any,
    ) -> None:
        self.request = _Request(reqObj, request_values)
        if store is None:
            from ..stage.routing import open_site_store

            settings = settings or load_settings(None, self.request.get("WWPDB_SITE_ID") or None)
            store = open_site_store(settings)
        super().__init__(store, settings)
        self.verbose = verbose
        self.log = log
        self.release_subjects = tuple(
            s.casefold() for s in (settings.release_subjects if settings else DEFAULT_RELEASE_SUBJECTS)
        )
        self.file_reference_resolver = file_reference_resolver
        self.message_stored_hooks: list[Callable[[dict[str, Any]], None]] = []

    # -- request helpers ---------------------------------------------------------------

    def _deposition(self, given: str | None = None) -> str:
        return validate_deposition_id(given or self.request.get("identifier"))

    def _folder(self, row_id: Any) -> str:
        """The deposition a message lives under: the request's identifier, else the id in the row.

        The id inside rows is data and may differ from the folder's (SPEC section 2).
        """
        return validate_deposition_id(self.request.get("identifier") or row_id)

    def _view(self) -> str:
        view = self.request.get("content_type") or "msgs"
        if view not in VIEWS:
            raise InvalidInputError(f"content_type {view!r} is not one of {', '.join(VIEWS)}")
        return view

    def _documents(self, deposition_id: str, content_types: Iterable[str]) -> dict[str, Document]:
        return self.store.load_many(deposition_id, list(dict.fromkeys((*content_types, STATUS_CONTENT_TYPE))))

    # -- columns and rows ----------------------------------------------------------------

    def getMsgColList(self, p_bCommHstryRqstd: bool = False) -> tuple[bool, list[str]]:  # noqa: N802, N803
        """(True, column names): the info items in SPEC order, plus the orig_* items for comm history."""
        return True, list(Message.ITEMS) + (list(ORIGCOMM_COLUMNS) if p_bCommHstryRqstd else [])

    def _rows(self, deposition_id: str, view: str) -> tuple[list[dict[str, Any]], dict[str, Document]]:
        content_types = VIEWS[view]
        documents = self._documents(deposition_id, content_types)
        with_origcomm = view == "commhstry"
        found: list[tuple[str, int, int, dict[str, Any]]] = []
        for type_index, content_type in enumerate(content_types):
            document = documents[content_type]
            origcomm: dict[str | None, OrigCommReference] = {}
            for orig in document.origcomm_references:
                origcomm.setdefault(orig.message_id, orig)
            for position, message in enumerate(document.messages):
                row: dict[str, Any] = message.as_dict()
                if with_origcomm:
                    reference = origcomm.get(message.message_id)
                    row.update({c: getattr(reference, c) if reference else None for c in ORIGCOMM_COLUMNS})
                found.append((message.timestamp or "", type_index, position, row))
        found.sort(key=lambda entry: entry[:3])
        return [entry[3] for entry in found], documents

    def getMsg(self, p_msgId: str, p_depId: str | None = None) -> dict[str, Any] | None:  # noqa: N802, N803
        """One message of the request's view, as a dict of its info items, or None."""
        deposition_id = self._deposition(p_depId)
        documents = self.store.load_many(deposition_id, VIEWS[self._view()])
        for document in documents.values():
            message = document.find_message(p_msgId)
            if message is not None:
                return message.as_dict()
        return None

    def getMsgRowList(  # noqa: N802
        self,
        p_depDataSetId: str | None = None,  # noqa: N803
        p_sSendStatus: str | None = "Y",  # noqa: N803
        p_bServerSide: bool = False,  # noqa: N803
        p_iDisplayStart: int | None = None,  # noqa: N803
        p_iDisplayLength: int | None = None,  # noqa: N803
        p_sSrchFltr: str | None = None,  # noqa: N803
        p_colSearchDict: Mapping[int | str, str] | None = None,  # noqa: N803
        p_bThreadedRslts: bool = False,  # noqa: N803
    ) -> dict[str, Any]:
        """Rows for OneDep's message tables (DataTables): filtered, threaded, paged.

        TOTAL_RECORDS counts the rows of the send status asked for (a missing
        send status counts as sent); TOTAL_DISPLAY_RECORDS counts them after
        the global and per-column searches (case-insensitive substrings).
        """
        deposition_id = self._deposition(p_depDataSetId)
        view = self._view()
        rows, documents = self._rows(deposition_id, view)
        columns = self.getMsgColList(view == "commhstry")[1]
        if p_sSendStatus:
            rows = [row for row in rows if (row["send_status"] or "Y") == p_sSendStatus]
        total = len(rows)
        if p_sSrchFltr:
            needle = p_sSrchFltr.casefold()
            rows = [row for row in rows if any(needle in str(v).casefold() for v in row.values() if v is not None)]
        for index, text in (p_colSearchDict or {}).items():
            if not text:
                continue
            try:
                column = columns[int(index)]
            except (ValueError, IndexError):
                raise InvalidInputError(f"column search index {index!r} is not a column of getMsgColList") from None
            needle = str(text).casefold()
            rows = [row for row in rows if row[column] is not None and needle in str(row[column]).casefold()]
        result: dict[str, Any] = {}
        if p_bThreadedRslts:
            rows, result["INDENT_DICT"] = _threaded(rows)
        result["TOTAL_RECORDS"] = total
        result["TOTAL_DISPLAY_RECORDS"] = len(rows)
        if p_bServerSide:
            start = max(0, int(p_iDisplayStart or 0))
            length = p_iDisplayLength
            rows = rows[start:] if length is None or int(length) < 0 else rows[start : start + int(length)]
        result["RECORD_LIST"] = rows
        if view in ("msgs", "commhstry"):
            result["CURRENT_NUM_MSGS_TO_DPSTR"] = sum(
                1 for m in documents[TO_DEPOSITOR].messages if (m.send_status or "Y") == "Y"
            )
        if view in ("notes", "commhstry"):
            result["CURRENT_NUM_NOTES"] = len(documents[NOTES].messages)
        return result

    # -- storing -------------------------------------------------------------------------

    def processMsg(self, p_msgObj: Any) -> tuple[bool, bool, list[Any]]:  # noqa: N802, N803
        """Store a live message (appended) or a draft (the same message_id updated).

        Takes OneDep's message object (getMsgDict(), isLive, contentType,
        fileReferences) or a plain dict of info items, optionally with
        `content_type`, `file_references`, `status` and `origcomm_references`.
        Returns (True, False, []) as OneDep expects; failures raise.
        """
        if hasattr(p_msgObj, "getMsgDict"):
            data = dict(p_msgObj.getMsgDict())
            content_key = getattr(p_msgObj, "contentType", "msgs")
            references = getattr(p_msgObj, "fileReferences", None)
            live = bool(getattr(p_msgObj, "isLive", data.get("message_state") == "livemsg"))
            status = getattr(p_msgObj, "status", None)
            origcomm = getattr(p_msgObj, "origCommReferences", None)
        elif isinstance(p_msgObj, Mapping):
            data = dict(p_msgObj)
            content_key = data.pop("content_type", "msgs")
            references = data.pop("file_references", None)  # absent: an edited draft keeps its own
            status = data.pop("status", None)
            origcomm = data.pop("origcomm_references", None)
            live = data.get("message_state", "livemsg" if data.get("send_status", "Y") == "Y" else "draft") == "livemsg"
        else:
            raise InvalidInputError("processMsg takes a OneDep message object or a dict of message items")
        for key in NOT_PERSISTED:
            data.pop(key, None)
        if content_key not in CONTENT_TYPE_OF:
            raise InvalidInputError(f"content type {content_key!r} is not 'msgs', 'notes' or a content type name")
        deposition_id = self._folder(data.get("deposition_data_set_id"))
        data.setdefault("send_status", "Y" if live else "N")
        rows = None if references is None else [self._file_reference(ref, deposition_id) for ref in references]
        message_id = self.set(deposition_id, data, CONTENT_TYPE_OF[content_key], rows, status, origcomm)
        if live:
            stored = self.get_message(deposition_id, message_id)
            for hook in self.message_stored_hooks:
                hook(stored or {})
        return True, False, []

    def _file_reference(self, reference: Any, deposition_id: str) -> Mapping[str, Any]:
        if isinstance(reference, Mapping):
            return reference
        if self.file_reference_resolver is None:
            raise InvalidInputError(
                f"file reference {reference!r} is a OneDep token; pass file_reference_resolver= to MessagingIo "
                "to turn tokens into file-reference rows, or give the rows as dicts"
            )
        return self.file_reference_resolver(str(reference), deposition_id)

    # -- flags ---------------------------------------------------------------------------

    def _status_target(self, status: Mapping[str, Any]) -> tuple[str, str]:
        if not isinstance(status, Mapping) or not status.get("message_id"):
            raise InvalidInputError("the status dict needs a message_id")
        return self._folder(status.get("deposition_data_set_id")), str(status["message_id"])

    def _is_release_request(self, message: Message | None) -> bool:
        subject = (message.message_subject or "").strip().casefold() if message else ""
        return subject in self.release_subjects

    def markMsgAsRead(self, p_msgStatusDict: Mapping[str, Any]) -> bool:  # noqa: N802, N803
        """read_status Y (the status row is created if missing); for_release Y for a depositor's release request."""
        deposition_id, message_id = self._status_target(p_msgStatusDict)
        depositor_message = self.store.load(deposition_id, FROM_DEPOSITOR).find_message(message_id)
        self.store.set_status(
            deposition_id,
            message_id,
            str(p_msgStatusDict.get("deposition_data_set_id") or deposition_id),
            read_status="Y",
            for_release="Y" if self._is_release_request(depositor_message) else None,
        )
        return True

    def tagMsg(self, p_msgStatusDict: Mapping[str, Any]) -> bool:  # noqa: N802, N803
        """Set action_reqd and for_release; read_status changes only when un-marking (Y to N)."""
        deposition_id, message_id = self._status_target(p_msgStatusDict)

        def flag(name: str) -> str | None:
            value = p_msgStatusDict.get(name)
            if value in (None, ""):
                return None
            if value not in ("Y", "N"):
                raise InvalidInputError(f"{name} must be 'Y' or 'N', not {value!r}")
            return str(value)

        self.store.set_status(
            deposition_id,
            message_id,
            str(p_msgStatusDict.get("deposition_data_set_id") or deposition_id),
            action_reqd=flag("action_reqd"),
            for_release=flag("for_release"),
            read_status="N" if flag("read_status") == "N" else None,
        )
        return True

    def _statuses(self, deposition_id: str | None) -> list[Any]:
        return self.store.load(self._deposition(deposition_id), STATUS_CONTENT_TYPE).statuses

    def getMsgReadList(self, p_depDataSetId: str | None = None) -> list[str]:  # noqa: N802, N803
        """Ids of messages whose read_status is Y."""
        return _unique(s.message_id for s in self._statuses(p_depDataSetId) if s.read_status == "Y")

    def getMsgForReleaseList(self, p_depDataSetId: str | None = None) -> list[str]:  # noqa: N802, N803
        """Ids of messages flagged for release."""
        return _unique(s.message_id for s in self._statuses(p_depDataSetId) if s.for_release == "Y")

    def getMsgNoActionReqdList(self, p_depDataSetId: str | None = None) -> list[str]:  # noqa: N802, N803
        """Ids with action_reqd N, plus every messages-to-depositor id (annotators' own messages need no action)."""
        deposition_id = self._deposition(p_depDataSetId)
        documents = self._documents(deposition_id, (TO_DEPOSITOR,))
        not_required = (s.message_id for s in documents[STATUS_CONTENT_TYPE].statuses if s.action_reqd == "N")
        return _unique([*not_required, *(m.message_id for m in documents[TO_DEPOSITOR].messages)])

    def getNotesList(self) -> list[str]:  # noqa: N802
        """Ids of the request's deposition's notes."""
        return _unique(m.message_id for m in self.store.load(self._deposition(), NOTES).messages)

    def anyNotesExist(self) -> tuple[bool, int]:  # noqa: N802
        count = len(self.store.load(self._deposition(), NOTES).messages)
        return count > 0, count

    def _depositor_messages_and_statuses(self) -> tuple[list[Message], dict[str | None, Any]]:
        documents = self._documents(self._deposition(), (FROM_DEPOSITOR,))
        statuses: dict[str | None, Any] = {}
        for status in documents[STATUS_CONTENT_TYPE].statuses:
            statuses.setdefault(status.message_id, status)
        return documents[FROM_DEPOSITOR].messages, statuses

    def areAllMsgsRead(self) -> bool:  # noqa: N802
        """Every depositor message has read_status Y (a missing status counts as unread)."""
        messages, statuses = self._depositor_messages_and_statuses()
        return all(statuses.get(m.message_id) is not None and statuses[m.message_id].read_status == "Y"
                   for m in messages)

    def areAllMsgsActioned(self) -> bool:  # noqa: N802
        """Every depositor message has action_reqd N (a missing status counts as not actioned)."""
        messages, statuses = self._depositor_messages_and_statuses()
        return all(statuses.get(m.message_id) is not None and statuses[m.message_id].action_reqd == "N"
                   for m in messages)

    def anyReleaseFlags(self) -> bool:  # noqa: N802
        """Any for_release Y, or an unread depositor message whose subject is a release request."""
        messages, statuses = self._depositor_messages_and_statuses()
        if any(status.for_release == "Y" for status in statuses.values()):
            return True
        return any(
            self._is_release_request(m)
            and (statuses.get(m.message_id) is None or statuses[m.message_id].read_status != "Y")
            for m in messages
        )

    def getFilesRfrncd(  # noqa: N802
        self, p_depDataSetId: str | None = None, p_msgIdFilter: str | Iterable[str] | None = None  # noqa: N803
    ) -> dict[str, list[dict[str, Any]]]:
        """{message_id: [file reference dicts]}, each distinct reference once (ordinal ids aside)."""
        deposition_id = self._deposition(p_depDataSetId)
        wanted = None if p_msgIdFilter is None else (
            {p_msgIdFilter} if isinstance(p_msgIdFilter, str) else set(p_msgIdFilter))
        found: dict[str, list[dict[str, Any]]] = {}
        seen: set[tuple[Any, ...]] = set()
        for document in self.store.load_all(deposition_id).values():
            for reference in document.file_references:
                if reference.message_id is None or (wanted is not None and reference.message_id not in wanted):
                    continue
                key = _reference_key(reference)
                if key in seen:
                    continue
                seen.add(key)
                found.setdefault(reference.message_id, []).append(reference.as_dict())
        return found


def _reference_key(reference: FileReference) -> tuple[Any, ...]:
    return tuple(v for item, v in zip(FileReference.ITEMS, reference.values(), strict=True) if item != "ordinal_id")


def _unique(ids: Iterable[str | None]) -> list[str]:
    return [i for i in dict.fromkeys(ids) if i is not None]


def _threaded(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Rows in thread order (each reply after its parent, depth first) and each message's depth.

    A reply whose parent is not among the rows starts a thread of its own.
    """
    present = {row["message_id"] for row in rows}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for row in rows:
        parent = row["parent_message_id"]
        if parent and parent != row["message_id"] and parent in present:
            children.setdefault(parent, []).append(row)
        else:
            roots.append(row)
    ordered: list[dict[str, Any]] = []
    depth: dict[str, int] = {}
    placed: set[int] = set()
    stack = [(row, 0) for row in reversed(roots)]
    while stack:
        row, level = stack.pop()
        if id(row) in placed:  # parents that form a cycle: show each row once
            continue
        placed.add(id(row))
        depth.setdefault(row["message_id"], level)
        ordered.append(row)
        stack.extend((child, level + 1) for child in reversed(children.get(row["message_id"], [])))
    for row in rows:  # rows only reachable through a cycle of parents
        if id(row) not in placed:
            depth.setdefault(row["message_id"], 0)
            ordered.append(row)
    return ordered, depth
