"""OneDep's `MessagingIo`, on any store: its 26 public methods with its signatures, return shapes and values.

OneDep's communication web app (`MessagingWebApp`, `MessagingDepict`), its
workflow and reminder code construct `MessagingIo(reqObj, verbose, log)` and
call it; this class answers them the same way, whichever stage (CIF,
database, both) holds the messages. The request object (anything with
`getValue(name)`; keyword arguments work too) gives the deposition
(`identifier`, and `groupid` for a group deposition's message files), the
view (`content_type`: `msgs`, `notes` or `commhstry`), the DataTables
sorting parameters and the values OneDep's pages send with a message.

The parts that belong to a site (templates, model-file data, attachment
files, mail) are `SiteServices` (see `io/site.py`), each with a default
that works without OneDep. Where OneDep's own code loses data, this class
keeps the data instead; each such place says so in a comment.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TextIO, TypeVar
from zoneinfo import ZoneInfo

from ..cifformat import as_onedep_reads
from ..config import DEFAULT_RELEASE_SUBJECTS, Settings, load_settings
from ..errors import InvalidDepositionIdError, InvalidInputError, MessagingError
from ..model import (
    CONTENT_TYPES,
    STATUS_CONTENT_TYPE,
    Document,
    FileReference,
    Message,
    MessageStatus,
    OrigCommReference,
    time_order,
    validate_deposition_id,
)
from ..service import MessagingService
from ..stage.routing import open_site_store
from ..stores.base import FlagLists, MessageStore
from . import table
from .attachments import AUXILIARY_CONTENT_TYPE, TOKEN_FILES, VALIDATION_BATCH, AttachmentError, Session
from .display import (
    DISPLAY_ROWS,
    decode_request_text,
    escape_angles,
    gmt_time,
    local_time,
    shown_text,
)
from .mail import Notification
from .messages import OutgoingMessage
from .model_data import PDB_ID_MISSING, ModelFacts, TemplateContext, template_values
from .site import SiteServices
from .templates import NOT_AVAILABLE, split_subject

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

TO_DEPOSITOR, FROM_DEPOSITOR, NOTES = CONTENT_TYPES
# OneDep's views and the files each reads, in the order it reads them (ties in time keep this order).
VIEWS: dict[str, tuple[str, ...]] = {
    "msgs": (FROM_DEPOSITOR, TO_DEPOSITOR),
    "notes": (NOTES,),
    "commhstry": (FROM_DEPOSITOR, TO_DEPOSITOR, NOTES),
}
ORIGCOMM_COLUMNS = tuple(item for item in OrigCommReference.ITEMS if item.startswith("orig_"))
# What a OneDep message object's contentType (or a dict's content_type) stores into.
CONTENT_TYPE_OF = {"msgs": TO_DEPOSITOR, "notes": NOTES, **{name: name for name in CONTENT_TYPES}}
# What saving a draft again changes, as in OneDep; every other item of the draft stays.
DRAFT_ITEMS = ("send_status", "message_subject", "message_text", "timestamp")
FLAGS = ("read_status", "action_reqd", "for_release")
# Templates autoMsg knows: (archived as a note, attaches the entry's files).
AUTO_TEMPLATES: dict[str, tuple[bool, bool]] = {
    "release-publ": (False, True),
    "release-nopubl": (False, True),
    "remind-unlocked": (True, False),
    "approval-impl": (False, False),
    "approval-expl": (False, False),
    "obsolete": (False, False),
    "reminder": (True, False),
    "reminder-auth-to-rel": (True, False),
}
ARCHIVED_PREFIX = "ARCHIVED: "


def _on_invalid_input(default: Callable[[], Any]) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """OneDep answers bad input (a malformed deposition id, a bad argument) with an empty value; so do these.

    The reason is logged. Storage failures are not caught: an unreachable
    backend is an error, never an empty answer.
    """

    def decorate(method: Callable[P, T]) -> Callable[P, T]:
        @wraps(method)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return method(*args, **kwargs)
            except (InvalidDepositionIdError, InvalidInputError) as exc:
                logger.warning("%s: %s", method.__name__, exc)
                return default()  # type: ignore[no-any-return]

        return guarded

    return decorate


class _Request:
    """The values of a OneDep request object, or of keyword arguments, as strings."""

    def __init__(self, req_obj: Any, values: Mapping[str, Any]) -> None:
        if req_obj is not None and not callable(getattr(req_obj, "getValue", None)):
            raise InvalidInputError("reqObj must be a OneDep request object with getValue(name)")
        self.req_obj = req_obj
        self.values = dict(values)

    def get(self, name: str) -> str:
        if self.values.get(name) is not None:
            return str(self.values[name])
        if self.req_obj is not None:
            value = self.req_obj.getValue(name)
            return "" if value is None else str(value)
        return ""

    def set(self, name: str, value: Any) -> None:
        """Set a value for what follows; like OneDep, also on the caller's request object when it can."""
        self.values[name] = value
        setter = getattr(self.req_obj, "setValue", None)
        if callable(setter):
            setter(name, value)


@dataclass
class _Incoming:
    """What processMsg was given, whatever its shape."""

    data: dict[str, Any]
    content_type: str
    live: bool
    references: list[Any] | None
    auto: bool = False
    reminder: bool = False
    note_email: bool = False
    test_recipient: str | None = None
    status: Mapping[str, Any] | None = None
    origcomm: list[Mapping[str, Any]] | None = None
    source: Any = None

    @property
    def being_sent(self) -> bool:
        return self.data.get("send_status") == "Y"

    @property
    def message_type(self) -> str:
        return str(self.data.get("message_type") or "")


class _SanityCheckFailed(MessagingError):
    """The message file holds fewer messages than the page last showed: do not write over it."""


class MessagingIo(MessagingService):
    """OneDep's MessagingIo on any store; see the module docstring."""

    def __init__(
        self,
        reqObj: Any = None,  # noqa: N803 - OneDep's parameter name
        verbose: bool = False,
        log: TextIO | None = sys.stderr,
        *,
        store: MessageStore | None = None,
        settings: Settings | None = None,
        site: SiteServices | None = None,
        archive_root: str | Path | None = None,
        display_timezone: tzinfo | str | None = None,
        session: Session | None = None,
        **request_values: Any,
    ) -> None:
        """`reqObj`, `verbose`, `log` as OneDep passes them; the keywords are this library's.

        Without `store`, the factory's configured stage decides it (as
        `create_messaging_service(reqObj)`). `archive_root` is where model
        and attachment files live (default: the configured CIF archive root);
        `display_timezone` the zone timestamps are shown in (default: this
        machine's, as OneDep); `session` where referenced files are copied for
        the browser (default: the request's OneDep session, else a temporary
        directory).
        """
        self.request = _Request(reqObj, request_values)
        if store is None:  # the configured stage's store(s), as create_messaging_service(reqObj) opens them
            configured = load_settings(None, self.request.get("WWPDB_SITE_ID") or None)
            store, settings = open_site_store(configured), settings or configured
        super().__init__(store, settings)
        self.verbose = verbose
        self.lfh = log
        self.release_subjects: tuple[str, ...] = tuple(
            settings.release_subjects if settings is not None else DEFAULT_RELEASE_SUBJECTS
        )
        root = archive_root if archive_root is not None else _archive_root(store, settings)
        self.archive_root = Path(root) if root is not None else None
        # The site's parts as configured: arguments, environment, then the config file.
        self.site = site or SiteServices.defaults(
            self.archive_root, None if settings is None else {**os.environ, **settings.site_options}
        )
        self.display_timezone = ZoneInfo(display_timezone) if isinstance(display_timezone, str) else display_timezone
        self._session = session
        self._group_id: str | None = None
        # Run, with the stored message's dict, where OneDep sends its e-mail notification.
        self.message_stored_hooks: list[Callable[[dict[str, Any]], None]] = []

    # -- the request -------------------------------------------------------------------------

    @property
    def __reqObj(self) -> Any:  # noqa: N802 - OneDep's own test reads it as io._MessagingIo__reqObj
        """The request object this was made with (None when made from keywords), under OneDep's private name."""
        return self.request.req_obj

    def _identifier(self, given: Any = None) -> str:
        """The deposition: the request's `identifier` (OneDep ignores the argument), else the argument."""
        return validate_deposition_id(self.request.get("identifier") or given)

    def _group(self) -> str:
        group = self._group_id if self._group_id is not None else self.request.get("groupid")
        return validate_deposition_id(group) if group else ""

    def _messages_deposition(self, given: Any = None) -> str:
        """Where the message files are: the group deposition's, if there is one (as OneDep's file paths)."""
        return self._group() or self._identifier(given)

    def _view(self) -> str:
        return self.request.get("content_type")

    def _session_dir(self) -> Session:
        if self._session is None:
            self._session = Session.of_request(self.request.req_obj) or Session.temporary()
        return self._session

    def setGroupId(self, groupId: str) -> None:  # noqa: N802, N803
        """Use this group deposition's message files (and skip attachments and e-mail, as OneDep does for groups)."""
        self._group_id = str(groupId or "")

    # -- the message table ---------------------------------------------------------------------

    def getMsgColList(self, p_bCommHstryRqstd: bool = False) -> tuple[bool, list[str]]:  # noqa: N802, N803
        """(True, column names): the message info items in file order, plus the seven orig_* items for comm history."""
        columns = list(Message.ITEMS)
        if p_bCommHstryRqstd is True:
            columns.extend(ORIGCOMM_COLUMNS)
        return True, columns

    def _records(self, documents: Mapping[str, Document], view: str) -> tuple[list[dict[str, Any]], list[Any]]:
        """The view's messages as dicts (files in OneDep's order) and the orig-comm rows of those files."""
        records: list[dict[str, Any]] = []
        origcomm: list[OrigCommReference] = []
        for content_type in VIEWS[view]:
            document = documents[content_type]
            for message in document.messages:
                if content_type == NOTES and view == "commhstry" and "archive" not in (message.message_type or ""):
                    continue  # the history shows notes only when they are archived correspondence
                records.append(message.as_dict())
            origcomm.extend(document.origcomm_references)
        return records, origcomm

    def _display_row(self, record: Mapping[str, Any], columns: Sequence[str]) -> list[str]:
        return DISPLAY_ROWS.row(record, columns, self.display_timezone)

    @_on_invalid_input(lambda: {"RECORD_LIST": []})
    def getMsgRowList(  # noqa: N802
        self,
        p_depDataSetId: str | None = None,  # noqa: N803
        p_sSendStatus: str | None = "Y",  # noqa: N803
        p_bServerSide: bool = False,  # noqa: N803
        p_iDisplayStart: int | str | None = None,  # noqa: N803
        p_iDisplayLength: int | str | None = None,  # noqa: N803
        p_sSrchFltr: str | None = None,  # noqa: N803
        p_colSearchDict: Mapping[Any, str] | None = None,  # noqa: N803
        p_bThreadedRslts: bool = False,  # noqa: N803
    ) -> dict[str, Any]:
        """Rows for OneDep's message tables, as OneDep returns them.

        `RECORD_LIST`: rows as lists of display strings in `getMsgColList`
        order, of the request's view, with the send status asked for, oldest
        first (threaded: each reply after its parent, `INDENT_DICT` giving
        each message's depth). Server side, OneDep's paging applies: the
        global search when longer than one character, else the per-column
        searches (found rows are `{true_index: row}`), then the sorting the
        request asks for (`iSortingCols`, `iSortCol_N`, `bSortable_N`,
        `sSortDir_N`, `mDataProp_N`), then the page; `TOTAL_RECORDS` counts
        the rows before the searches and `TOTAL_DISPLAY_RECORDS` after.
        `CURRENT_NUM_MSGS_TO_DPSTR` counts every message to the depositor
        (drafts too), `CURRENT_NUM_NOTES` every note.
        """
        if p_bServerSide:
            table.page([], p_iDisplayStart, p_iDisplayLength)  # bad paging arguments: refused before any reading
        result: dict[str, Any] = {}
        view = self._view()
        if (
            p_bServerSide
            and not p_bThreadedRslts
            and view in VIEWS
            and not (p_sSrchFltr and len(p_sSrchFltr) > 1)
            and not p_colSearchDict
            and not self._requested_order(self.getMsgColList(view == "commhstry")[1])
        ):
            # A plain page (the table's first view): asked of the store, which reads only that page.
            return self._plain_page(p_depDataSetId, view, p_sSendStatus, p_iDisplayStart, p_iDisplayLength)
        history = view == "commhstry"
        records: list[dict[str, Any]] = []
        if view not in VIEWS:
            logger.warning("getMsgRowList: content_type %r is not one of %s: no rows", view, ", ".join(VIEWS))
        else:
            documents = self.store.load_many(self._messages_deposition(p_depDataSetId), VIEWS[view])
            records, origcomm = self._records(documents, view)
            if view in ("msgs", "commhstry"):
                result["CURRENT_NUM_MSGS_TO_DPSTR"] = len(documents[TO_DEPOSITOR].messages)
            if view == "notes":
                result["CURRENT_NUM_NOTES"] = len(documents[NOTES].messages)
            elif history and not documents[NOTES].messages:
                result["CURRENT_NUM_NOTES"] = 0  # OneDep counts notes in this view only when there are none
            if history:
                _add_origcomm(records, origcomm)
        if p_sSendStatus:
            # A message without a send status was sent (OneDep would show it in neither list).
            records = [r for r in records if (r.get("send_status") or "Y") == p_sSendStatus]
        # Oldest first; OneDep fails the whole list on a malformed timestamp, here it sorts as text.
        records.sort(key=lambda record: time_order(record.get("timestamp")))
        if p_bThreadedRslts:
            result["INDENT_DICT"] = table.indent_levels(records)
            records = table.thread_order(records)
        columns = self.getMsgColList(history)[1]
        if not p_bServerSide:
            result["RECORD_LIST"] = [self._display_row(record, columns) for record in records]
            return result
        wanted = self._column_searches(p_colSearchDict, columns)
        searching = bool(p_sSrchFltr and len(p_sSrchFltr) > 1) or bool(wanted)
        order = self._requested_order(columns)
        if not searching and not order:
            # Only the page's rows need their display values: a page costs the same on a long history.
            result["RECORD_LIST"] = [
                self._display_row(record, columns) for record in table.page(records, p_iDisplayStart, p_iDisplayLength)
            ]
            result["TOTAL_RECORDS"] = result["TOTAL_DISPLAY_RECORDS"] = len(records)
            return result
        rows = [self._display_row(record, columns) for record in records]
        shown: list[table.TableRow]
        if p_sSrchFltr and len(p_sSrchFltr) > 1:
            shown = table.search_all(rows, p_sSrchFltr)
        elif wanted:
            shown = table.search_columns(rows, wanted)
        else:
            shown = list(rows)
        if order:
            shown = table.sort_rows(shown, order)
        result["RECORD_LIST"] = table.page(shown, p_iDisplayStart, p_iDisplayLength)
        result["TOTAL_RECORDS"] = len(rows)
        result["TOTAL_DISPLAY_RECORDS"] = len(shown)
        return result

    def _plain_page(
        self, deposition: str | None, view: str, send_status: str | None, start: Any, length: Any
    ) -> dict[str, Any]:
        """A page with no search and no sorting: the same rows and counts as the whole-list path."""
        history = view == "commhstry"
        first = max(0, table.whole_number("p_iDisplayStart", start, 0) or 0)
        count = table.whole_number("p_iDisplayLength", length)
        found = self.store.page_messages(
            self._messages_deposition(deposition),
            VIEWS[view],
            send_status or None,
            archived_only=(NOTES,) if history else (),
            offset=first if count and count > 0 else 0,
            limit=count if count and count > 0 else None,
            with_origcomm=history,
        )
        columns = self.getMsgColList(history)[1]
        records = [message.as_dict() for _, message in found.messages]
        if history:
            _add_origcomm(records, list(found.origcomm.values()))
        result: dict[str, Any] = {}
        if view in ("msgs", "commhstry"):
            result["CURRENT_NUM_MSGS_TO_DPSTR"] = found.counts[TO_DEPOSITOR]
        if view == "notes":
            result["CURRENT_NUM_NOTES"] = found.counts[NOTES]
        elif history and not found.counts[NOTES]:
            result["CURRENT_NUM_NOTES"] = 0  # OneDep counts notes in this view only when there are none
        result["RECORD_LIST"] = [self._display_row(record, columns) for record in records]
        result["TOTAL_RECORDS"] = result["TOTAL_DISPLAY_RECORDS"] = found.total
        return result

    @_on_invalid_input(dict)
    def view_counts(self, p_depDataSetId: str | None = None) -> dict[str, int]:  # noqa: N803
        """The counts `getMsgRowList` gives of the request's view (`CURRENT_NUM_MSGS_TO_DPSTR`,
        `CURRENT_NUM_NOTES`), without reading a row: from the messages' ids (`MessageStore.flag_lists`)."""
        view = self._view()
        if view not in VIEWS:
            logger.warning("view_counts: content_type %r is not one of %s: no counts", view, ", ".join(VIEWS))
            return {}
        deposition = self._messages_deposition(p_depDataSetId)
        counts: dict[str, int] = {}
        if view in ("msgs", "commhstry"):
            counts["CURRENT_NUM_MSGS_TO_DPSTR"] = len(self.store.flag_lists(deposition, TO_DEPOSITOR).message_ids)
        notes = len(self.store.flag_lists(deposition, NOTES).message_ids) if view != "msgs" else 0
        if view == "notes" or (view == "commhstry" and not notes):
            counts["CURRENT_NUM_NOTES"] = notes  # the history counts notes only when there are none, as OneDep
        return counts

    @staticmethod
    def _column_searches(searches: Mapping[Any, Any] | None, columns: list[str]) -> dict[int, str]:
        """Per-column searches keyed by column index (OneDep's web app) or name; others are logged and skipped."""
        wanted: dict[int, str] = {}
        if searches is not None and not isinstance(searches, Mapping):
            logger.warning("getMsgRowList: column searches must be a dict, not %s; ignored", type(searches).__name__)
            return wanted
        for key, text in (searches or {}).items():
            index = table.column_index(columns, key)
            if index is None:
                logger.warning("getMsgRowList: search column %r is not a column of getMsgColList; ignored", key)
            elif text is not None:
                wanted[index] = str(text)
        return wanted

    def _requested_order(self, columns: list[str]) -> list[tuple[int, bool]]:
        """The DataTables sort the request asks for: [(column index, descending)], most significant first."""
        text = self.request.get("iSortingCols")
        count = int(text) if text.isdigit() else 0
        order: list[tuple[int, bool]] = []
        for n in range(count):
            if self.request.get(f"bSortable_{n}") != "true":
                continue
            shown_index = self.request.get(f"iSortCol_{n}") or "0"
            # The index counts displayed columns; mDataProp_<index> names the data column.
            name = self.request.get(f"mDataProp_{shown_index}")
            index = table.column_index(columns, name) if name else None
            if index is None:
                logger.warning("getMsgRowList: cannot sort by column %r (mDataProp_%s)", name, shown_index)
                continue
            order.append((index, self.request.get(f"sSortDir_{n}") == "desc"))
        return order

    @_on_invalid_input(dict)
    def getMsg(self, p_msgId: str, p_depId: str | None = None) -> dict[str, Any]:  # noqa: N802, N803
        """One message of the request's view as OneDep shows it, or {} when there is none.

        A dict of the info items, each as OneDep's reader gives it back from
        the file (see `display_value`): timestamp in local time, subject and
        text with entities resolved, `<`/`>` escaped and line breaks as
        `<br />`, every other value with `<`/`>` escaped, nulls as ''.
        """
        view = self._view()
        if view not in VIEWS:
            logger.warning("getMsg: content_type %r is not one of %s", view, ", ".join(VIEWS))
            return {}
        documents = self.store.load_many(self._messages_deposition(p_depId), VIEWS[view])
        records, _ = self._records(documents, view)
        found: dict[str, Any] = {}
        for record in records:
            if record.get("message_id") == p_msgId:
                found = record  # the last one, as OneDep
        if not found:
            return {}
        message_type = found.get("message_type")
        shown: dict[str, Any] = {}
        for item, value in found.items():
            if value is not None:
                value = as_onedep_reads(value)  # as OneDep's reader gives it back from the file
            if value is None:
                shown[item] = ""
            elif item == "timestamp":
                shown[item] = local_time(value, self.display_timezone)
            elif item == "message_text":
                shown[item] = shown_text(value, message_type, break_lines=True)
            elif item == "message_subject":
                shown[item] = shown_text(value, message_type)
            else:  # the sender, and the context type and value OneDep's page also puts into HTML
                shown[item] = escape_angles(value)
        return shown

    # -- storing ----------------------------------------------------------------------------------

    def processMsg(self, p_msgObj: Any) -> tuple[bool, bool, list[str]]:  # noqa: N802, N803
        """Store a message or a draft, as OneDep's web app, workflow and reminders send them.

        Takes OneDep's message objects (`Message.fromReqObj`, AutoMessage,
        AutoNote, ReminderMessage; or an `OutgoingMessage`) or a plain dict of
        info items (optionally with `content_type`, `file_references`,
        `status`, `origcomm_references`). Subject and text come entity-encoded,
        as OneDep's request objects give them, and are stored once-encoded.

        A live message is appended (`msgObj.messageId` is set to its id); a
        draft saved again changes its send status, subject, text and time.
        When the message is being sent, its attachment tokens become
        `-annotate` milestone files and file-reference rows; archived and
        forwarded mail gets its original-communication row from the request's
        `orig_*` values; then the contact authors are e-mailed and the
        stored-message hooks run. Returns OneDep's `(ok, model_updated,
        failed_tokens)`; never raises: a problem is logged and `ok` is False.
        """
        failed: list[str] = []
        try:
            incoming = self._incoming(p_msgObj)
            deposition = self._messages_deposition(incoming.data.get("deposition_data_set_id"))
            group = self._group()
            message_id = incoming.data.get("message_id") or str(uuid.uuid4())
            incoming.data["message_id"] = message_id
            references: list[FileReference] | None = None
            model_updated = report_sent = False
            if incoming.being_sent and not group and incoming.references is not None:
                rows, failed = self._attachments(self._identifier(deposition), message_id, incoming.references)
                if failed:
                    logger.warning(
                        "processMsg: %s: cannot attach %s; the message is not stored", deposition, ", ".join(failed)
                    )
                    return False, False, failed
                references = [FileReference.from_dict(_only(row, FileReference.ITEMS)) for row in rows]
                model_updated = any(
                    r.content_type == "model-annotate" and r.content_format == "pdbx" for r in references
                )
                report_sent = any(
                    r.content_type in ("validation-report-annotate", "validation-report-full-annotate")
                    for r in references
                )
            stored = self._store(deposition, incoming, references)
            _set_message_id(p_msgObj, message_id)
        except Exception as exc:  # noqa: BLE001 - OneDep's contract: log and answer False, never raise
            logger.error(
                "processMsg: the message was not stored: %s", exc, exc_info=not isinstance(exc, MessagingError)
            )
            return False, False, failed
        if (
            not group
            and incoming.being_sent
            and not incoming.reminder
            and (incoming.content_type == TO_DEPOSITOR or (incoming.content_type == NOTES and incoming.note_email))
        ):
            self._notify(stored, incoming, report_sent)
        return True, model_updated, []

    def _incoming(self, message: Any) -> _Incoming:
        if hasattr(message, "getMsgDict"):
            data = dict(message.getMsgDict())
            content_key = str(getattr(message, "contentType", "msgs"))
            references = getattr(message, "fileReferences", None)
            incoming = _Incoming(
                data,
                CONTENT_TYPE_OF.get(content_key, ""),
                False,
                None if references is None else list(references),
                auto=bool(getattr(message, "isAutoMsg", False)),
                reminder=bool(getattr(message, "isReminderMsg", False)),
                note_email=bool(getattr(message, "isNoteEmail", False)),
                source=message,
            )
        elif isinstance(message, Mapping):
            data = dict(message)
            content_key = str(data.pop("content_type", "msgs"))
            references = data.pop("file_references", None)
            incoming = _Incoming(
                data,
                CONTENT_TYPE_OF.get(content_key, ""),
                False,
                None if references is None else list(references),
                status=data.pop("status", None),
                origcomm=data.pop("origcomm_references", None),
                source=message,
            )
        else:
            raise InvalidInputError("processMsg takes a OneDep message object or a dict of message items")
        if not incoming.content_type:
            raise InvalidInputError(f"content type {content_key!r} is not 'msgs', 'notes' or a content type name")
        state = data.pop("message_state", None) or ("livemsg" if data.get("send_status", "Y") == "Y" else "draft")
        incoming.live = state != "draft"
        incoming.test_recipient = data.pop("test_email_recpt", None)
        data.setdefault("send_status", "Y" if incoming.live else "N")
        for item in ("message_subject", "message_text"):
            data[item] = decode_request_text(data.get(item))
        unknown = set(data) - set(Message.ITEMS)
        if unknown:
            logger.info("processMsg: items that are not message items are not stored: %s", ", ".join(sorted(unknown)))
        incoming.data = _only(data, Message.ITEMS)
        return incoming

    def _attachments(
        self, deposition_id: str, message_id: str, tokens: list[Any]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """File-reference rows for OneDep's attachment tokens (or rows given as dicts), or the tokens that failed.

        As OneDep: `val-report-batch` stands for the validation files
        available, `em-volume` brings the model along, each `aux-fileN` is the
        file the request names in `auxFilePathN` (format `auxFileTypeN`), with
        partition numbers after the highest already used; the first failure
        stops the attaching.
        """
        working = list(tokens)
        if "val-report-batch" in working:
            working.remove("val-report-batch")
            available = self.checkAvailFiles(deposition_id)
            working.extend(token for token in VALIDATION_BATCH if token in available and token not in working)
        if "em-volume" in working and "model" not in working:
            working.append("model")
        map_only = self.request.get("em_map_only") == "true"
        rows: list[dict[str, Any]] = []
        aux_partition: int | None = None
        for token in working:
            if isinstance(token, Mapping):
                rows.append({**token, "message_id": message_id})
                continue
            token = str(token)
            try:
                if token.startswith("aux-file"):
                    index = token[len("aux-file") :]
                    aux_partition = self._next_aux_partition() if aux_partition is None else aux_partition + 1
                    source = self.request.get(f"auxFilePath{index}")
                    file_format = self.request.get(f"auxFileType{index}")
                    file_format = "pdbx" if file_format == "cif" else file_format
                    if not source:
                        raise AttachmentError("aux-file", f"the request names no auxFilePath{index}")
                    row = self.site.attachments.attach(
                        deposition_id,
                        AUXILIARY_CONTENT_TYPE,
                        file_format,
                        Path(source),
                        aux_partition,
                        Path(source).name,
                    )
                    rows.append(row)
                    continue
                if token not in TOKEN_FILES:
                    raise AttachmentError(token, "not a file OneDep offers as an attachment")
                content_type, file_format = TOKEN_FILES[token]
                row = self.site.attachments.attach(deposition_id, content_type, file_format)
                rows.append(row)
                # nosec B105: "model" is a kind of file, not a password
                if token in ("model", "cs", "nmr-data-str") and not (token == "model" and map_only):  # nosec B105
                    rows.extend(self.site.attachments.review_copies(deposition_id, token, row))
            except AttachmentError as exc:
                logger.warning("processMsg: %s", exc)
                return [], ["aux-file" if token.startswith("aux-file") else token]
            except OSError as exc:
                logger.warning("processMsg: cannot attach %r: %s", token, exc)
                return [], ["aux-file" if token.startswith("aux-file") else token]
        for row in rows:
            row["message_id"] = message_id
        return rows, []

    def _next_aux_partition(self) -> int:
        """One more than the highest partition of the auxiliary files already referenced."""
        document = self.store.load(self._messages_deposition(), STATUS_CONTENT_TYPE)
        aux = f"{AUXILIARY_CONTENT_TYPE}-annotate"
        used = [
            int(part)
            for r in document.file_references
            if r.content_type == aux and (part := r.partition_number or "").isdigit()
        ]
        return max(used, default=0) + 1

    def _store(self, deposition: str, incoming: _Incoming, references: list[FileReference] | None) -> dict[str, Any]:
        """Write the message into its document in one atomic step; return what was stored."""
        data = incoming.data
        message_id = data["message_id"]
        watermark = self.request.get(
            "msgs_high_watermark" if incoming.content_type == TO_DEPOSITOR else "notes_high_watermark"
        )
        if watermark and not watermark.isdigit():
            raise InvalidInputError(f"the high watermark {watermark!r} is not a number")
        origcomm = (
            None
            if incoming.origcomm is None
            else [OrigCommReference.from_dict(_only(dict(row), OrigCommReference.ITEMS)) for row in incoming.origcomm]
        )
        kind = incoming.message_type
        if origcomm is None and incoming.live and ("archive" in kind or "forward" in kind) and "noorig" not in kind:
            origcomm = [self._origcomm_from_request(data)]
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        defaults = {
            "deposition_data_set_id": deposition,
            "parent_message_id": message_id,
            "timestamp": now,
            "message_type": "text",
            "send_status": "Y",
        }

        def change(document: Document) -> Message:
            if watermark:
                # OneDep's guard: the page saw this many messages; fewer in the file means it was damaged.
                ordinals = [int(ordinal) for m in document.messages if (ordinal := m.ordinal_id or "").isdigit()]
                if max(ordinals, default=0) < int(watermark):
                    raise _SanityCheckFailed(
                        f"{deposition} {incoming.content_type} holds {max(ordinals, default=0)} messages, "
                        f"fewer than the {watermark} the page showed; nothing written"
                    )
            existing = document.find_message(message_id)
            if existing is not None and not incoming.live:
                # Saving a draft again: OneDep changes these and the time, nothing else.
                fields = {item: data[item] for item in DRAFT_ITEMS if item in data}
                fields["timestamp"] = now
                draft = Message.from_dict({**fields, "message_id": message_id})
                return document.put_message(draft, references, None, [*fields, "message_id"], None)
            return document.put_message(
                Message.from_dict(data), references, origcomm if existing is None else None, [*data], defaults
            )

        stored = self.store.update(deposition, incoming.content_type, change)
        if incoming.status is not None:
            self._write_status(deposition, message_id, stored.deposition_data_set_id or deposition, incoming.status)
        return stored.as_dict()

    def _origcomm_from_request(self, data: Mapping[str, Any]) -> OrigCommReference:
        """The original communication of archived or forwarded mail, from the request (OneDep's orig_* values)."""
        when = self.request.get("orig_date")
        if self.request.get("mode") == "manual":
            when = gmt_time(when, self.display_timezone)  # typed by the annotator in local time

        def value(name: str, text: bool = False) -> str | None:
            found = self.request.get(name)
            return (decode_request_text(found) if text else found) or None

        return OrigCommReference(
            message_id=data["message_id"],
            deposition_data_set_id=data.get("deposition_data_set_id"),
            orig_message_id=None,
            orig_deposition_data_set_id=value("orig_identifier"),
            orig_timestamp=when or None,
            orig_sender=value("orig_sender", True),
            orig_recipient=value("orig_recipient", True),
            orig_message_subject=value("orig_subject", True),
            orig_attachments=value("orig_attachments"),
        )

    def _write_status(self, deposition: str, message_id: str, row_id: str, status: Mapping[str, Any]) -> None:
        self.store.set_status(deposition, message_id, row_id, **self._flags(status))

    # -- notification -------------------------------------------------------------------------------

    def _notify(self, stored: dict[str, Any], incoming: _Incoming, report_sent: bool) -> None:
        """E-mail the contact authors about a stored message, then run the stored-message hooks; log failures."""
        try:
            notification = self._notification(stored, incoming, report_sent)
            if notification is None:
                logger.info(
                    "processMsg: %s has no contact author with an e-mail address: no notification",
                    stored.get("deposition_data_set_id"),
                )
            else:
                self.site.mail.deliver(notification)
        except Exception as exc:  # noqa: BLE001 - the message is stored; a failed e-mail must not undo that
            logger.error("processMsg: the notification e-mail was not sent: %s", exc)
        for hook in list(self.message_stored_hooks):
            try:
                hook(dict(stored))
            except Exception as exc:  # noqa: BLE001 - same: the message is stored
                logger.error("processMsg: a stored-message hook failed: %s", exc)

    def _notification(self, stored: Mapping[str, Any], incoming: _Incoming, report_sent: bool) -> Notification | None:
        deposition = self._identifier(stored.get("deposition_data_set_id"))
        values: dict[str, Any] = {"identifier": deposition}
        self.getMsgTmpltDataItems(values)
        contacts = values.get("contact_authors_list") or []
        recipients = [str(contact[0]) for contact in contacts]
        if incoming.test_recipient:
            recipients = [str(incoming.test_recipient)]
        if not recipients:
            return None
        subject = str(stored.get("message_subject") or "")
        text = str(stored.get("message_text") or "")
        comm_subject = subject
        if incoming.content_type == NOTES:
            subject = subject[len(ARCHIVED_PREFIX) :] if subject.startswith(ARCHIVED_PREFIX) else subject
            comm_subject = subject
        names = [f"Dr. {c[2]}" if c[2] and len(str(c[2])) > 1 else "Sir or Madam" for c in contacts]
        pdb_id = values.get("pdb_id")
        title = values.get("title") or ""
        body_values = {
            **values,
            "dep_id": deposition,
            "pdb_block": f" (PDB ID {pdb_id})" if pdb_id and pdb_id != PDB_ID_MISSING else "",
            "entry_title_block": f', "{title}"' if len(title) > 1 and title != NOT_AVAILABLE else "",
            "comm_subject": comm_subject,
            "email_to_lname": ", ".join(names),
            "dep_email_url": self.site.deposition_url,
            "mention_vldtn_rprts": "and validation report(s) " if report_sent else "",
            "orig_commui_msg_content": text,
        }
        if incoming.auto:
            body = text + self.site.templates.piece("notification-auto-footer", body_values)
        else:
            subject = f"{subject} - DEP ID: {deposition}"
            rendered = self.site.templates.render(["notification"], body_values)
            body = rendered[1] if rendered is not None else text
        return Notification(
            self.site.mail_sender,
            recipients,
            subject,
            body,
            deposition,
            stored.get("message_id"),
            list(self.site.mail_copies),
        )

    # -- flags ------------------------------------------------------------------------------------------

    def _status_target(self, status: Any) -> tuple[str, str, str]:
        """(folder, message id, the row's deposition id) for a OneDep status dict."""
        if not isinstance(status, Mapping) or not status.get("message_id"):
            raise InvalidInputError("a status dict needs a message_id")
        row_id = status.get("deposition_data_set_id")
        folder = self._group() or validate_deposition_id(self.request.get("identifier") or row_id)
        unknown = set(status) - {"message_id", "deposition_data_set_id", *FLAGS}
        if unknown:
            logger.info("status items that are not status items are ignored: %s", ", ".join(sorted(unknown)))
        return folder, str(status["message_id"]), str(row_id or folder)

    @staticmethod
    def _flags(status: Mapping[str, Any]) -> dict[str, str]:
        """The flags a status dict sets; '' and None set nothing; anything but Y or N is refused."""
        flags = {name: status.get(name) for name in FLAGS if status.get(name) not in (None, "")}
        for name, value in flags.items():
            if value not in ("Y", "N"):
                raise InvalidInputError(f"{name} must be 'Y' or 'N', not {value!r}")
        return {name: str(value) for name, value in flags.items()}

    @_on_invalid_input(lambda: False)
    def markMsgAsRead(self, p_msgStatusDict: Mapping[str, Any]) -> bool:  # noqa: N802, N803
        """Mark a message read, as OneDep does.

        Its status rows (in messages-to-depositor) get read_status Y; when one
        already has Y nothing is written; their other flags stay. A message
        without a status row gets one: read_status Y (or the dict's),
        action_reqd and for_release from the dict (N when absent), for_release
        Y when it is a depositor's release request. False, logged, when the
        dict is unusable or the status cannot be written.
        """
        folder, message_id, row_id = self._status_target(p_msgStatusDict)
        flags = self._flags(p_msgStatusDict)
        try:
            release = self.is_release_request(message_id)
            rows = self.store.load(folder, STATUS_CONTENT_TYPE).statuses
        except MessagingError as exc:
            logger.error("markMsgAsRead: the statuses of %s cannot be read: %s", folder, exc)
            return False
        if any(row.message_id == message_id and row.read_status == "Y" for row in rows):
            return True  # already read: nothing to write (OneDep)

        def change(document: Document) -> None:
            rows = [row for row in document.statuses if row.message_id == message_id]
            if any(row.read_status == "Y" for row in rows):
                return
            for row in rows:
                row.read_status = "Y"
            if not rows:
                document.statuses.append(
                    MessageStatus(
                        message_id,
                        row_id,
                        flags.get("read_status", "Y"),
                        flags.get("action_reqd", "N"),
                        "Y" if release else flags.get("for_release", "N"),
                    )
                )

        return self._write_flags("markMsgAsRead", folder, change)

    @_on_invalid_input(lambda: False)
    def tagMsg(self, p_msgStatusDict: Mapping[str, Any]) -> bool:  # noqa: N802, N803
        """Set a message's flags, as OneDep does.

        On its first status row: action_reqd and for_release as given;
        read_status only from Y back to N (marking unread); keys absent or
        empty leave a flag alone. A message without a status row gets one with
        the dict's flags (N where absent). False, logged, for a value other
        than Y or N, an unusable dict, or a status that cannot be written.
        """
        folder, message_id, row_id = self._status_target(p_msgStatusDict)
        flags = self._flags(p_msgStatusDict)

        def change(document: Document) -> None:
            row = document.find_status(message_id)
            if row is None:
                document.statuses.append(
                    MessageStatus(
                        message_id,
                        row_id,
                        flags.get("read_status", "N"),
                        flags.get("action_reqd", "N"),
                        flags.get("for_release", "N"),
                    )
                )
                return
            if "action_reqd" in flags:
                row.action_reqd = flags["action_reqd"]
            if "read_status" in flags and row.read_status == "Y":
                row.read_status = flags["read_status"]
            if "for_release" in flags:
                row.for_release = flags["for_release"]

        return self._write_flags("tagMsg", folder, change)

    def _write_flags(self, method: str, folder: str, change: Callable[[Document], None]) -> bool:
        try:
            self.store.update(folder, STATUS_CONTENT_TYPE, change)
        except MessagingError as exc:
            logger.error("%s: the status of a message in %s was not written: %s", method, folder, exc)
            return False
        return True

    # -- lists and questions ---------------------------------------------------------------------------

    def _flag_lists(self, given: Any) -> FlagLists:
        return self.store.flag_lists(self._messages_deposition(given), STATUS_CONTENT_TYPE)

    @_on_invalid_input(list)
    def getMsgReadList(self, p_depDataSetId: str | None = None) -> list[str]:  # noqa: N802, N803
        """Ids of the status rows with read_status Y, in file order."""
        return list(self._flag_lists(p_depDataSetId).read)

    @_on_invalid_input(list)
    def getMsgNoActionReqdList(self, p_depDataSetId: str | None = None) -> list[str]:  # noqa: N802, N803
        """Ids of the status rows with action_reqd N, then every message to the depositor not yet listed."""
        lists = self._flag_lists(p_depDataSetId)
        found = list(lists.no_action)
        # Annotators' own messages never need their action.
        listed = set(found)  # a set: a list's `in` made this quadratic in the history
        found.extend(m for m in lists.message_ids if m and m not in listed)
        return found

    @_on_invalid_input(list)
    def getMsgForReleaseList(self, p_depDataSetId: str | None = None) -> list[str]:  # noqa: N802, N803
        """Ids of the status rows with for_release Y."""
        return list(self._flag_lists(p_depDataSetId).for_release)

    @_on_invalid_input(list)
    def getNotesList(self) -> list[str]:  # noqa: N802
        """Ids of every note (archived correspondence included), in file order."""
        return [m for m in self.store.flag_lists(self._messages_deposition(), NOTES).message_ids if m]

    @_on_invalid_input(lambda: (False, False, False, 0))
    def anyNotesExist(self) -> tuple[bool, bool, bool, int]:  # noqa: N802
        """(any notes, archived mail included; any notes by annotators; any flagged BMRB notes; how many notes).

        A flagged archive (`..._flag`) counts as an annotator note when there
        is no real one, and then also as a BMRB note, as OneDep counts them.
        """
        notes = self.store.load(self._messages_deposition(), NOTES).messages
        annotator = any("archive" not in (m.message_type or "") for m in notes)
        bmrb = False
        if notes and not annotator and any("_flag" in (m.message_type or "") for m in notes):
            annotator = bmrb = True
        return bool(notes), annotator, bmrb, len(notes)

    def _depositor_view(self) -> tuple[list[Message], list[Message], list[MessageStatus]]:
        documents = self.store.load_many(self._messages_deposition(), [FROM_DEPOSITOR, TO_DEPOSITOR])
        return documents[FROM_DEPOSITOR].messages, documents[TO_DEPOSITOR].messages, documents[TO_DEPOSITOR].statuses

    @_on_invalid_input(lambda: True)
    def areAllMsgsRead(self) -> bool:  # noqa: N802
        """Every depositor message has status rows and none says read_status N."""
        from_depositor, _, statuses = self._depositor_view()
        return _all_flagged(from_depositor, statuses, "read_status", "N")

    @_on_invalid_input(lambda: True)
    def areAllMsgsActioned(self) -> bool:  # noqa: N802
        """Every depositor message has status rows and none says action_reqd Y."""
        from_depositor, _, statuses = self._depositor_view()
        return _all_flagged(from_depositor, statuses, "action_reqd", "Y")

    @_on_invalid_input(lambda: False)
    def anyReleaseFlags(self) -> bool:  # noqa: N802
        """A message to or from the depositor flagged for_release, or a depositor's release request not yet seen."""
        from_depositor, to_depositor, statuses = self._depositor_view()
        flagged = {row.message_id for row in statuses if row.for_release == "Y"}
        if any(m.message_id in flagged for m in [*from_depositor, *to_depositor]):
            return True
        with_status = {row.message_id for row in statuses}
        return any(
            m.message_id not in with_status and m.message_subject in self.release_subjects for m in from_depositor
        )

    @_on_invalid_input(lambda: False)
    def anyUnactionApprovalWithoutCorrection(self) -> bool:  # noqa: N802
        """A depositor's approval without corrections whose status (first row) wants action, or has none."""
        from_depositor, _, statuses = self._depositor_view()
        for message in from_depositor:
            if message.context_type not in self.site.approval_context_types:
                continue
            row = next((s for s in statuses if s.message_id == message.message_id), None)
            if row is None or row.action_reqd == "Y":
                return True
        return False

    @_on_invalid_input(dict)
    def getFilesRfrncd(  # noqa: N802
        self,
        p_depDataSetId: str | None = None,
        p_msgIdFilter: str | None = None,  # noqa: N803
    ) -> dict[str, list[dict[str, str]]]:
        """{message_id: [{"upload_file_name", "relative_file_url"}]}: the archive files messages refer to.

        As OneDep: references of messages to and from the depositor, stored
        in the archive (`storage_type` archive), each file copied into the
        session directory so the page can link it; a message whose files are
        missing has an empty list. Each file is listed once per message
        (OneDep drops rows whose ordinal id repeats across the two files,
        which loses references; here none is lost).
        """
        deposition = self._identifier(p_depDataSetId)
        documents = self.store.load_many(self._messages_deposition(p_depDataSetId), [FROM_DEPOSITOR, TO_DEPOSITOR])
        found: dict[str, list[dict[str, str]]] = {}
        for content_type in (FROM_DEPOSITOR, TO_DEPOSITOR):
            for reference in documents[content_type].file_references:
                message_id = reference.message_id
                if not message_id or (p_msgIdFilter and message_id != p_msgIdFilter):
                    continue
                if reference.storage_type != "archive":
                    continue
                listed = found.setdefault(message_id, [])
                path = self.site.attachments.referenced_file(deposition, reference.as_dict())
                if path is None:
                    logger.info(
                        "getFilesRfrncd: %s refers to a file the archive does not have: %s %s V%s",
                        message_id,
                        reference.content_type,
                        reference.content_format,
                        reference.version_id,
                    )
                    continue
                session = self._session_dir()
                url = f"{session.url_path.rstrip('/')}/{path.name}"
                if any(entry["relative_file_url"] == url for entry in listed):
                    continue
                session.path.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, session.path / path.name)
                name = (reference.upload_file_name or "").strip()
                listed.append({"upload_file_name": name, "relative_file_url": url})
        return found

    # -- depositor messages -------------------------------------------------------------------------------

    @_on_invalid_input(list)
    def get_message_list_from_depositor(self) -> list[dict[str, Any]]:
        """The depositor's messages as dicts of their info items, in file order."""
        return [m.as_dict() for m in self.store.load(self._messages_deposition(), FROM_DEPOSITOR).messages]

    def get_message_subject_from_depositor(self, message_id: str) -> str:
        """The subject of the depositor's message `message_id`, or ''."""
        for message in self.get_message_list_from_depositor():
            if message.get("message_id") == message_id:
                return str(message.get("message_subject") or "")
        return ""

    def is_release_request(self, message_id: str) -> bool:
        """Whether the depositor's message `message_id` has one of the site's release-request subjects."""
        return self.get_message_subject_from_depositor(message_id) in self.release_subjects

    # -- site parts: templates, model data, files -------------------------------------------------------------

    @_on_invalid_input(lambda: None)
    def initializeDataStore(self) -> None:  # noqa: N802
        """Read the deposition's model-file data ahead of the template and file calls that need it."""
        try:
            self.site.model_data.prepare(self._identifier())
        except MessagingError as exc:
            logger.error("initializeDataStore: %s", exc)

    def _facts(self, deposition: str) -> ModelFacts:
        try:
            return self.site.model_data.facts(deposition)
        except MessagingError as exc:
            logger.error("model-file data of %s is not available: %s", deposition, exc)
            return ModelFacts()

    def getMsgTmpltDataItems(self, p_returnDict: MutableMapping[str, Any]) -> None:  # noqa: N802, N803
        """Fill `p_returnDict` with the values OneDep's message templates use (in place, as OneDep).

        From the deposition's model file (ids, accession string, title,
        authors, contact authors, status and dates, citation, EM and
        obsoletion details), its messages (last unlock) and archive (date of
        the last validation report), and the site's templates (closing,
        sign-off, clauses). Missing data shows as OneDep's placeholders.
        Anything but a dict to fill raises InvalidInputError (a caller's
        mistake, not bad input to answer with nothing); a bad deposition id
        leaves it unfilled, as in OneDep.
        """
        if not isinstance(p_returnDict, MutableMapping):
            raise InvalidInputError(
                f"getMsgTmpltDataItems fills the dict it is given (p_returnDict), not a {type(p_returnDict).__name__}:"
                " pass {} or a dict holding 'identifier'"
            )
        self._template_items(p_returnDict)

    @_on_invalid_input(lambda: None)
    def _template_items(self, p_returnDict: MutableMapping[str, Any]) -> None:  # noqa: N803
        deposition = self._identifier(p_returnDict.get("identifier"))
        facts = self._facts(deposition)
        methods = self.request.get("expmethod").replace('"', "")
        site_code = ((facts.status or {}).get("process_site") or "").upper()
        initials = (facts.annotator if self.request.get("useAnnotatorName") else self.request.get("sender")) or ""
        context = TemplateContext(
            deposition_id=deposition,
            em_deposition=any(m in methods for m in ("ELECTRON MICROSCOPY", "ELECTRON CRYSTALLOGRAPHY")),
            now=datetime.now(),
            annotator_name=self.site.annotator_names.get((site_code, initials.upper()), ""),
            last_report_date=self._last_report_date(deposition),
            last_unlock_date=self._last_unlock_date(),
        )
        values = template_values(facts, context, self.site.templates)
        if values.get("status_code") not in (None, NOT_AVAILABLE):
            self.request.set("status_code", values["status_code"])
        p_returnDict.update(values)

    def _last_report_date(self, deposition: str) -> str:
        path = self.site.attachments.latest(deposition, "validation-report-full-annotate", "pdf")
        if path is None:
            return "[NO DATE AVAIL]"
        day = date.fromtimestamp(path.stat().st_mtime)
        return f"{day.day} {day.strftime('%B %Y')}"

    def _last_unlock_date(self) -> str | None:
        messages = self.store.load(self._messages_deposition(), TO_DEPOSITOR).messages
        unlocks = [m for m in messages if m.message_subject == "System Unlocked" and (m.ordinal_id or "").isdigit()]
        if not unlocks:
            return None
        last = max(unlocks, key=lambda m: int(m.ordinal_id or 0))
        return (last.timestamp or "").split(" ")[0] or None

    @_on_invalid_input(lambda: None)
    def getStarterMsgBody(self) -> str | None:  # noqa: N802
        """The text a new message starts with: the deposition's latest correspondence-to-depositor file, if any.

        Without one, the site's `starter-msg-body` template when it has one,
        else None (as OneDep).
        """
        path = self.site.attachments.latest(self._identifier(), "correspondence-to-depositor", "txt")
        if path is not None:
            return path.read_text(encoding="utf-8", errors="replace")
        starter = self.site.templates.text("starter-msg-body")
        if starter is None:
            return None
        values: dict[str, Any] = {"identifier": self._identifier()}
        self.getMsgTmpltDataItems(values)
        return split_subject(self.site.templates.piece("starter-msg-body", values))[1]

    @_on_invalid_input(list)
    def checkAvailFiles(self, p_depDataSetId: str | None = None) -> list[str]:  # noqa: N802, N803
        """The attachment tokens whose file the deposition has, in OneDep's order.

        Plus `val-report-batch` when any validation report is there; without
        `model_pdb` unless the model says it can be written in PDB format.
        """
        deposition = self._identifier(p_depDataSetId)
        tokens = self.site.attachments.available(deposition)
        if any("val-report" in token for token in tokens):
            tokens.append("val-report-batch")
        if "model_pdb" in tokens:
            status = self._facts(deposition).status
            if status is None or (status.get("pdb_format_compatible") or "").upper() == "N":
                tokens.remove("model_pdb")
        return tokens

    # -- programs that send messages -----------------------------------------------------------------------------

    def autoMsg(  # noqa: N802
        self,
        p_depIdList: Iterable[str],  # noqa: N803
        p_tmpltType: str = "release-publ",  # noqa: N803
        p_isEmdbEntry: bool = False,  # noqa: N803
        p_sender: str = "auto",
    ) -> dict[str, dict[str, str]]:
        """Send the letter `p_tmpltType` to each deposition, as OneDep's release and reminder programs do.

        The letter comes from the site's templates filled with the
        deposition's template data; release letters attach the entry's files;
        reminders are archived as notes and e-mailed. Returns, per
        deposition, OneDep's `{"success": "true"|"false", "pdbx_model_updated":
        "true"|"false", "append_msg": ...}`. An unknown template sends nothing
        (OneDep would send a placeholder text) and reports why. Anything but
        a list (an iterable) of ids raises InvalidInputError, sending nothing.
        """
        if isinstance(p_depIdList, (str, bytes)) or not isinstance(p_depIdList, Iterable):
            raise InvalidInputError(
                f"autoMsg sends to a list of deposition ids (p_depIdList), not a {type(p_depIdList).__name__}: "
                "pass [] to send nothing, or ['D_...'] for one deposition"
            )
        self.request.set("content_type", "msgs")
        self.request.set("filesource", "archive")
        if p_isEmdbEntry:
            self.request.set("expmethod", "ELECTRON MICROSCOPY")
        answers: dict[str, dict[str, str]] = {}
        for deposition in p_depIdList:
            answers[deposition] = self._auto_message(str(deposition), p_tmpltType, p_isEmdbEntry, p_sender)
        return answers

    def _auto_message(self, deposition: str, template: str, em: bool, sender: str) -> dict[str, str]:
        def answer(ok: bool, model_updated: bool = False, note: str = "") -> dict[str, str]:
            return {
                "success": "true" if ok else "false",
                "pdbx_model_updated": "true" if model_updated else "false",
                "append_msg": note,
            }

        self.request.set("identifier", deposition)
        try:
            validate_deposition_id(deposition)
            group = deposition if deposition.startswith("G_") else self.site.group_of(deposition)
        except InvalidDepositionIdError as exc:
            logger.warning("autoMsg: %s", exc)
            return answer(False, note=str(exc))
        self.request.set("groupid", group)
        self.setGroupId(group)
        for flag in ("em_entry", "em_map_only", "em_map_and_model"):
            self.request.set(flag, "false")
        if template in ("remind-unlocked", "approval-impl"):
            self.request.set("useAnnotatorName", "True")
        if template not in AUTO_TEMPLATES:
            logger.error("autoMsg: unknown message template %r: nothing sent to %s", template, deposition)
            return answer(False, note=f"unknown message template {template!r}")
        is_note, attach = AUTO_TEMPLATES[template]
        self.initializeDataStore()
        values: dict[str, Any] = {"identifier": deposition}
        self.getMsgTmpltDataItems(values)
        values.setdefault("email_to_lname", _greeting(values.get("contact_authors_list") or []))
        rendered = self.site.templates.render(_template_names(template, em, values), values)
        if rendered is None:
            logger.error("autoMsg: the site has no %r template: nothing sent to %s", template, deposition)
            return answer(False, note=f"no {template!r} template")
        subject, text = rendered
        subject = subject or f"Release of {values['accession_ids_em_rel'] if em else values['accession_ids']}"
        files = self.checkAvailFiles(deposition) if attach else []
        if values.get("em_entry") == "true":
            self.request.set("em_entry", "true")
            if values.get("maponly") == "true":
                self.request.set("em_map_only", "true")
                files = [token for token in files if token not in ("model", "model_pdb")]
            if values.get("mapandmodel") == "true":
                self.request.set("em_map_and_model", "true")
        data = {
            "deposition_data_set_id": deposition,
            "sender": sender,
            "context_type": template,
            "context_value": None,
            "message_subject": subject,
            "message_text": text,
            "send_status": "Y",
            "message_type": "text",
        }
        message = OutgoingMessage.auto_note(data, files) if is_note else OutgoingMessage.auto_message(data, files)
        ok, model_updated, failed = self.processMsg(message)
        note = f"Failure to associate message with the following file types: {', '.join(failed)}" if failed else ""
        return answer(ok, model_updated, note)

    def sendSingle(  # noqa: N802
        self,
        depId: str,  # noqa: N803
        subject: str,
        msg: str,
        p_sender: str = "auto",
        p_testemail: str | None = None,
        p_tmpltType: str = "other",  # noqa: N803
    ) -> bool:
        """Send one composed message without attachments, archived as a note and e-mailed (OneDep's sendSingle).

        `p_testemail` sends the e-mail there instead of to the contact
        authors; `p_tmpltType` is recorded as the context type.
        """
        self.request.set("content_type", "msgs")
        self.request.set("filesource", "archive")
        self.request.set("identifier", depId)
        self.initializeDataStore()
        data: dict[str, Any] = {
            "deposition_data_set_id": depId,
            "sender": p_sender,
            "context_type": p_tmpltType,
            "context_value": None,
            "message_subject": subject,
            "message_text": msg,
            "send_status": "Y",
            "message_type": "text",
        }
        if p_testemail:
            data["test_email_recpt"] = p_testemail
        ok, _, _ = self.processMsg(OutgoingMessage.auto_note(data, []))
        return ok


def _archive_root(store: MessageStore, settings: Settings | None) -> str | None:
    """Where model and attachment files are: the configured archive, else a CIF store's root."""
    if settings is not None and settings.cif_root:
        return settings.cif_root
    pending: list[Any] = [store]
    while pending:
        candidate = pending.pop(0)
        root = getattr(candidate, "root", None)
        if root is not None:
            return str(root)
        pending.extend(
            getattr(candidate, name) for name in ("primary", "secondary", "inner") if hasattr(candidate, name)
        )
    return None


def _only(data: Mapping[str, Any], items: Iterable[str]) -> dict[str, Any]:
    wanted = set(items)
    return {key: value for key, value in data.items() if key in wanted}


def _set_message_id(message: Any, message_id: str) -> None:
    """Tell the caller the id, as OneDep sets `msgObj.messageId` (a dict gets its message_id)."""
    if isinstance(message, MutableMapping):
        message["message_id"] = message_id
        return
    try:
        message.messageId = message_id
    except AttributeError:
        logger.debug("processMsg: cannot set messageId on %r", type(message).__name__)


def _add_origcomm(records: list[dict[str, Any]], origcomm: list[OrigCommReference]) -> None:
    """The comm history's orig_* columns: the first orig-comm row of each message, '' when it has none."""
    first: dict[str | None, OrigCommReference] = {}
    for reference in origcomm:
        first.setdefault(reference.message_id, reference)
    for record in records:
        found = first.get(record.get("message_id"))
        for column in ORIGCOMM_COLUMNS:
            record[column] = getattr(found, column) if found is not None else ""


def _all_flagged(messages: list[Message], statuses: list[MessageStatus], flag: str, bad: str) -> bool:
    """No depositor message lacks a status row or has one whose `flag` is `bad` (OneDep's global check)."""
    rows: dict[str | None, list[MessageStatus]] = {}
    for row in statuses:
        rows.setdefault(row.message_id, []).append(row)
    for message in messages:
        found = rows.get(message.message_id)
        if not found or any(getattr(row, flag) == bad for row in found):
            return False
    return True


def _greeting(contacts: list[Any]) -> str:
    """OneDep's greeting of contact authors: "Dr. <last name>" each, or "Sir or Madam"."""
    names = [f"Dr. {c[2]}" if c[2] and len(str(c[2])) > 1 else "Sir or Madam" for c in contacts]
    return ", ".join(names) or "Sir or Madam"


def _template_names(template: str, em: bool, values: Mapping[str, Any]) -> list[str]:
    """The site templates to try for an autoMsg letter, most specific first."""
    supersedes = bool(values.get("spr_to_replace_pdb_ids"))
    if template.startswith("release-"):
        if em:
            return [f"{template}-em-supersede"] * supersedes + [f"{template}-em", template]
        return [f"{template}-supersede"] * supersedes + [template]
    if template == "obsolete":
        kinds = values.get("obs_id_types") or []
        if "EMDB" in kinds:
            variant = "obsolete-map-model" if "PDB" in kinds else "obsolete-map-only"
        else:
            variant = "obsolete-model"
        return [variant, template]
    return [f"{template}-em", template] if em else [template]
