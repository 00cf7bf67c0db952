"""One small handler per `/service/messaging/*` endpoint, answering what OneDep's front end reads.

Each takes the request's `Context`, calls OneDep's MessagingIo (through
`create_messaging_service`, so the site's stage decides where it reads and
writes) and the site's parts, and returns a `Reply`. Parameters, JSON keys
and value shapes are OneDep's (wwPDB/py-wwpdb_apps_msgmodule
`webapp/MessagingWebApp.py` and `depict/MessagingDepict.py`).
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidDepositionIdError, InvalidInputError
from ..io.attachments import FORMAT_EXTENSIONS
from ..io.messages import OutgoingMessage
from ..io.notify import notify_flags
from ..model import validate_deposition_id
from . import pages
from .app import HTML, JSON, Context, NotFound, Reply, Route, html_reply
from .pages import Markup
from .sessions import WebSession

logger = logging.getLogger(__name__)

VIEWS = ("msgs", "notes", "commhstry")
FLAG_VALUES = ("", "Y", "N")
# Column labels of the message table (OneDep's MessagingDepict).
COLUMN_LABELS = {
    "message_subject": "Subject",
    "sender": "Sender",
    "timestamp": "Date/Time",
    "orig_timestamp": "Orig Date/Time",
    "orig_sender": "Orig Sender",
    "orig_recipient": "Orig Recipient",
    "orig_message_subject": "Orig Subject",
    "orig_attachments": "Orig Attachments",
}
# The letters the compose dialog offers (msg_tmplts.html's msg_tmplt_<kind>).
COMPOSE_KINDS = (
    "default",
    "approval-expl",
    "approval-impl",
    "reminder",
    "release-publ",
    "release-nopubl",
    "vldtn",
    "system-unlocked",
    "withdrawn",
    "maponly-authstatus-em",
)
AUX_FILES = ("aux-file1", "aux-file2", "aux-file3")


# -- small helpers -----------------------------------------------------------------------------------------


def _view(context: Context, default: str = "") -> str:
    view = context.params.getValue("content_type").lower() or default
    if view not in VIEWS:
        raise InvalidInputError(f"content_type {view!r} is not one of {', '.join(VIEWS)}")
    context.params.setValue("content_type", view)
    return view


def _send_status(context: Context) -> str:
    status = context.params.getValue("send_status").upper()
    if status not in FLAG_VALUES:
        raise InvalidInputError(f"send_status {status!r} must be Y, N or empty")
    return status


def _whole(context: Context, name: str) -> int:
    text = context.params.getValue(name)
    if not re.fullmatch(r"-?\d+", text):
        raise InvalidInputError(f"{name} must be a whole number, not {text!r}")
    return int(text)


def _message_id(context: Context) -> str:
    message_id = context.params.getValue("msg_id")
    if not message_id:
        raise InvalidInputError("the request has no msg_id: say which message")
    return message_id


def _existing_message(context: Context, deposition: str, message_id: str) -> None:
    """NotFound unless the deposition (or its group) holds the message, in any of its files."""
    if context.io().get_message(context.group() or deposition, message_id) is None:
        raise NotFound(f"{deposition} has no message {message_id!r}")


def _em(context: Context) -> bool:
    methods = context.params.getValue("expmethod").replace('"', "")
    return "ELECTRON MICROSCOPY" in methods or "ELECTRON CRYSTALLOGRAPHY" in methods


def _display_ids(context: Context, deposition: str) -> tuple[str, str]:
    """(title, identifier shown) as OneDep shows a deposition, a group, or a member of a group."""
    group = context.group()
    if not group:
        return "DEPOSITION ID", deposition
    if group == deposition:
        return "GROUP ID", group
    return "GROUP/DEPOSITION IDS", f"{group}/{deposition}"


def _annotator(context: Context) -> str:
    annotator = context.params.getValue("annotator")
    if annotator.lower() in ("dep", "unknown") or len(annotator) <= 1:
        return "wwPDB annotator"
    return annotator


def _encode_like_cif(text: str) -> str:
    """What OneDep's request objects make of typed text (non-ASCII as &#NNN;, a line starting ';' as ' ;')."""
    return text.encode("ascii", "xmlcharrefreplace").decode("ascii").replace("\n;", "\n ;")


def _high_watermark(context: Context, name: str) -> str:
    text = context.params.getValue(name)
    return text if text.isdigit() else "0"  # a number in the page's script either way


# -- the pages -------------------------------------------------------------------------------------------


def _page_values(context: Context, session: WebSession, deposition: str, view: str, shown: str) -> dict[str, Any]:
    """The values the messaging page and a message's own page both fill in from the request."""
    p = context.params
    return {
        "sessionid": session.session_id,
        "instance": p.getValue("instance").upper(),
        "classid": p.getValue("classID").lower(),
        "filesource": p.getValue("filesource").lower(),
        "content_type": view,
        "annotator": _annotator(context),
        "cntnt_type_btnlbl": "Notes" if view == "notes" else "Messages",
        "new_cntnt_type_btnlbl": "Note" if view == "notes" else "Message",
        "caller": p.getValue("caller"),
        "filepath": p.getValue("filePath"),
        "filetype": p.getValue("fileType"),
        "identifier": deposition,
        "session_url_prefix": session.url_path,
        "display_identifier": shown,
    }


def launch(context: Context) -> Reply:
    """`new_session/wf` (and aliases): the messaging page, or its embedded form with `embed=true`."""
    deposition = context.deposition()  # before the session: a refused request leaves no session behind
    session = context.session(create=True)
    p = context.params
    view = (p.getValue("content_type") or p.getValue("init_content_type") or "msgs").lower()
    if view not in VIEWS:
        raise InvalidInputError(f"content_type {view!r} is not one of {', '.join(VIEWS)}")
    auto_compose = p.getValue("auto_launch_compose")
    title, shown = _display_ids(context, deposition)
    deposited = context.site.attachments.latest(deposition, "model", "pdbx") is not None
    values = {
        **_page_values(context, session, deposition, view, shown),
        "content_type_hdr": "Annotator Processing Notes" if view == "notes" else "Communications with Depositor",
        "auto_launch_compose": "false" if auto_compose.lower() == "false" else "true",
        "expmethod": p.getValue("expmethod"),
        "display_unlock": "" if p.getValue("allowunlock") == "yes" else "hidden",
        "display_rel_status": "" if deposited else "hidden",
        "known_file_extensions": ", ".join(sorted(set(FORMAT_EXTENSIONS.values()))),
        "display_title": title,
    }
    if not context.pages.available:
        return html_reply(pages.missing_front_end_page(context.pages.missing_reason()), 503)
    page = pages.LAUNCH_EMBEDDED if p.getValue("embed").lower() == "true" else pages.LAUNCH
    return html_reply(context.pages.render(page, values))


def view_correspondence(context: Context) -> Reply:
    """The stand-alone correspondence history of a deposition (after `verify_depid` found it)."""
    deposition = context.deposition()
    session = context.session(create=True)
    values = {
        "sessionid": session.session_id,
        "filesource": "archive",
        "content_type": "commhstry",
        "identifier": deposition,
        "display_identifier": _display_ids(context, deposition)[1],
        "session_url_prefix": session.url_path,
    }
    return html_reply(context.pages.render(pages.HISTORY, values))


def display_msg(context: Context) -> Reply:
    """One message in a page of its own (the table's "view in new window")."""
    session = context.session()
    deposition = context.deposition()
    view = _view(context, "msgs")
    message_id = _message_id(context)
    io = context.io()
    message = io.getMsg(message_id, deposition)
    if not message:
        raise NotFound(f"{deposition} has no message {message_id!r} among its {view}")
    values: dict[str, Any] = {}
    io.getMsgTmpltDataItems(values)
    parent_id = message.get("parent_message_id")
    parent = io.getMsg(parent_id, deposition) if parent_id and parent_id != message_id else {}
    files = io.getFilesRfrncd(deposition, message_id).get(message_id, [])
    links = "".join(
        f'<p><span class=""><a href="{html.escape(entry["relative_file_url"])}" target="_blank">'
        f"{html.escape(entry['relative_file_url'].rsplit('/', 1)[-1])}"
        f"{html.escape(' (' + name + ')') if len(name := (entry.get('upload_file_name') or '').strip()) > 1 else ''}"
        "</a></span></p>"
        for entry in files
    )
    values.update(
        {
            **_page_values(context, session, deposition, view, _display_ids(context, deposition)[1]),
            "content_type_hdr": {"notes": "Annotator Processing Notes", "msgs": "Communications with Depositor"}.get(
                view, "Complete Correspondence History"
            ),
            "msgs_high_watermark": _high_watermark(context, "msgs_high_watermark"),
            "notes_high_watermark": _high_watermark(context, "notes_high_watermark"),
            "files_rfrncd": Markup(links),
            "files_rfrncd_dsply": "" if files else "displaynone",
            "display_pdbid": "" if len(str(values.get("pdb_id") or "")) > 1 else "displaynone",
            "auto_check_all": "",
            "parent_msg_sndr": parent.get("sender", ""),
            "parent_msg_datetime": parent.get("timestamp", ""),
            # getMsg's texts are display HTML already: '<' and '>' escaped, line breaks as <br />.
            "parent_msg_text": Markup(parent.get("message_text", "")),
            "parent_msg_dsply": "" if parent else "displaynone",
        }
    )
    values.update(message)
    values["message_text"] = Markup(message.get("message_text", ""))
    values["message_subject"] = Markup(message.get("message_subject", ""))
    return html_reply(context.pages.render(pages.DISPLAY_MESSAGE, values))


# -- the compose dialog's letters ------------------------------------------------------------------------------


def _compose_names(kind: str, em: bool, values: Mapping[str, Any]) -> list[str]:
    names = [kind]
    if kind.startswith("release-") and values.get("spr_to_replace_pdb_ids"):
        names.insert(0, f"{kind}-supersede")
    if em:
        names = [f"{name}-em" for name in names] + names
        if values.get("maponly") == "true":
            names.insert(0, f"{kind}-em-map-only")
    return names


def get_msg_tmplts(context: Context) -> Reply:
    """The compose dialog's letters (msg_tmplts.html) filled with the deposition's template data."""
    context.session()
    deposition = context.deposition()
    io = context.io()
    io.initializeDataStore()
    values: dict[str, Any] = {"identifier": deposition}
    io.getMsgTmpltDataItems(values)
    starter = io.getStarterMsgBody() or ""
    values["starter_msg_body"] = starter
    templates = context.site.templates
    em = _em(context)
    for kind in COMPOSE_KINDS:
        if kind == "maponly-authstatus-em" and not em:
            values[f"msg_tmplt_{kind}"] = ""
            continue
        letter = templates.render(_compose_names(kind, em, values), values)
        values[f"msg_tmplt_{kind}"] = letter[1] if letter is not None else (starter if kind == "default" else "")
    if context.pages.available:
        items: dict[str, Any] = {"html": context.pages.render(pages.COMPOSE_TEMPLATES, values)}
    else:
        items = {"html": "", "statustext": context.pages.missing_reason()}
    status_code = context.params.getValue("status_code")
    if status_code:
        items["status_code"] = status_code
    return context.json(items)


# -- the message table ----------------------------------------------------------------------------------------


def get_dtbl_config_dtls(context: Context) -> Reply:
    """The table's skeleton and configuration: columns, read/action/release lists, counts, thread indents."""
    context.session()
    deposition = context.deposition()
    view = _view(context)
    send_status = _send_status(context)
    threaded = context.params.getValue("usethreaded") == "true"
    io = context.io()
    lists = {
        "MSGS_ALREADY_READ": io.getMsgReadList(deposition),
        "MSGS_NO_ACTION_REQD": io.getMsgNoActionReqdList(deposition),
        "MSGS_FOR_RELEASE": io.getMsgForReleaseList(deposition),
        "NOTES_MSG_IDS": io.getNotesList(),
    }
    if threaded:
        rows = io.getMsgRowList(deposition, send_status, False, p_bThreadedRslts=True)
    else:
        rows = io.view_counts(deposition)  # only the counts are wanted: getMsgRowList's, without a row
    columns = io.getMsgColList(view == "commhstry")[1]
    headers = "".join(f'<th class="cifitemhdr">{html.escape(COLUMN_LABELS.get(c, c))}</th>' for c in columns)
    searches = "".join(
        f'<th><input type="text" name="search_{n}" placeholder="Search {html.escape(COLUMN_LABELS.get(c, c))}"'
        ' class="search_init" /></th>'
        for n, c in enumerate(columns)
    )
    config: dict[str, Any] = {
        "DTBL_AOCOLUMNS": [{"mDataProp": column} for column in columns],
        "ORDERED_COLUMN_LIST": columns,
        **lists,
    }
    for key in ("CURRENT_NUM_MSGS_TO_DPSTR", "CURRENT_NUM_NOTES"):
        if key in rows:
            config[key] = rows[key]
    if threaded and "INDENT_DICT" in rows:
        config["INDENT_DICT"] = rows["INDENT_DICT"]
    table = (
        f'<table id="{deposition}_tbl"><thead><tr>{headers}</tr><tr class="srch_hdrs displaynone">{searches}'
        "</tr></thead><tbody></tbody></table>"
    )
    return context.json({"html": table, "dtbl_config_dict": config})


def get_dtbl_data(context: Context) -> Reply:
    """A page of the table for DataTables' legacy server-side protocol (paging, searches, sorting)."""
    context.session()
    deposition = context.deposition()
    view = _view(context)
    send_status = _send_status(context)
    start = _whole(context, "iDisplayStart")
    length = _whole(context, "iDisplayLength")
    echo = _whole(context, "sEcho")
    threaded = context.params.getValue("usethreaded") == "true"
    io = context.io()
    columns = io.getMsgColList(view == "commhstry")[1]
    # OneDep compares searches with text whose character references are resolved: so are the search terms.
    search = html.unescape(context.params.getRawValue("sSearch")) or None
    column_searches: dict[Any, str] = {}
    for n in range(len(columns)):
        if context.params.getValue(f"bSearchable_{n}") == "true":
            text = context.params.getValue(f"sSearch_{n}")
            if len(text) > 1:
                column_searches[n] = html.unescape(text)
    result = io.getMsgRowList(deposition, send_status, True, start, length, search, column_searches, threaded)
    rows = []
    for index, row in enumerate(result.get("RECORD_LIST", [])):
        if isinstance(row, dict):
            # A found row: {its index in the whole list: row}; OneDep adds the page start to that index too.
            ((true_index, values),) = row.items()
            row_id = true_index + start
        else:
            values, row_id = row, index + start
        record = {"DT_RowId": f"row_{row_id}", "DT_RowClass": "dt_row"}
        record.update({column: str(value) for column, value in zip(columns, values, strict=False)})
        rows.append(record)
    return context.json(
        {
            "sColumns": ",".join(columns),
            "aaData": rows,
            "sEcho": echo,
            "iTotalRecords": result.get("TOTAL_RECORDS", 0),
            "iTotalDisplayRecords": result.get("TOTAL_DISPLAY_RECORDS", 0),
        }
    )


def get_msg(context: Context) -> Reply:
    context.session()
    deposition = context.deposition()
    view = _view(context, "msgs")
    message_id = _message_id(context)
    message = context.io().getMsg(message_id, deposition)
    if not message:
        raise NotFound(f"{deposition} has no message {message_id!r} among its {view}")
    return context.json({"msg_dict": message})


def get_files_rfrncd(context: Context) -> Reply:
    """Files the messages refer to, copied into the session for download: {message_id: [{url, name}]}."""
    context.session()
    deposition = context.deposition()
    return context.json({"files_rfrncd": context.io().getFilesRfrncd(deposition)})


def check_avail_files(context: Context) -> Reply:
    context.session()
    deposition = context.deposition()
    io = context.io()
    io.initializeDataStore()
    return context.json({"file_list": io.checkAvailFiles(deposition)})


# -- flags ------------------------------------------------------------------------------------------------------


def _global_status(context: Context, deposition: str) -> dict[str, Any]:
    """OneDep's global status of the deposition's messages; records the notify flags it makes."""
    io = context.io()
    folder = context.group() or deposition
    notes_active = context.notes_flags.active(folder)
    all_read = io.areAllMsgsRead()
    all_actioned = io.areAllMsgsActioned()
    for_release = io.anyReleaseFlags()
    approval = io.anyUnactionApprovalWithoutCorrection()
    any_notes, annotator_notes, bmrb_notes, count = io.anyNotesExist()
    items: dict[str, Any] = {
        "all_msgs_read": "true" if all_read else "false",
        "all_msgs_actioned": "true" if all_actioned else "false",
        "any_msgs_for_release": "true" if for_release else "false",
        "any_notes_exist": "true" if any_notes else "false",
        "num_notes_records": count,
        "notes_flag_active": "true" if notes_active else "false",
    }
    bmrb_active = False
    if bmrb_notes:
        bmrb_active = context.notes_flags.active(folder, "bmrb")
        items["notes_flag_active_bmrb"] = "true" if bmrb_active else "false"
    flags = notify_flags(
        all_read=all_read,
        all_actioned=all_actioned,
        for_release=for_release,
        approval=approval,
        annotator_notes=annotator_notes,
        notes_flag_active=notes_active,
        bmrb_notes=bmrb_notes,
        bmrb_flag_active=bmrb_active,
    )
    if context.site.notify is not None:
        context.site.notify.record(deposition, flags, context.group())
    return items


def check_global_msg_status(context: Context) -> Reply:
    context.session()
    deposition = context.deposition()
    return context.json(_global_status(context, deposition))


def toggle_notes_flagging(context: Context) -> Reply:
    """Turn the notes flag (`subtype=bmrb`: the BMRB notes flag) on or off; answers an empty page, as OneDep."""
    context.session()
    deposition = context.deposition()
    subtype = context.params.getValue("subtype")
    subtype = subtype if len(subtype) > 1 else ""
    name = f"activate_notes_flagging_{subtype}" if subtype else "activate_notes_flagging"
    value = context.params.getValue(name)
    if value not in ("true", "false"):
        raise InvalidInputError(f"{name} must be 'true' or 'false', not {value!r}")
    context.notes_flags.set(context.group() or deposition, value == "true", subtype)
    return html_reply("")


def mark_msg_read(context: Context) -> Reply:
    context.session()
    deposition = context.deposition()
    message_id = _message_id(context)
    p = context.params
    action = p.getValue("action_reqd") or "Y"
    release = p.getValue("for_release") or "N"
    if action not in FLAG_VALUES or release not in FLAG_VALUES:
        raise InvalidInputError("action_reqd and for_release must be Y or N")
    _existing_message(context, deposition, message_id)
    status = {
        "message_id": message_id,
        "deposition_data_set_id": deposition,
        "read_status": "Y",
        "action_reqd": action,
        "for_release": release,
    }
    return context.json({"success": "true" if context.io().markMsgAsRead(status) else "false"})


def tag_msg(context: Context) -> Reply:
    context.session()
    deposition = context.deposition()
    message_id = _message_id(context)
    p = context.params
    flags = {name: p.getValue(name) for name in ("action_reqd", "read_status", "for_release")}
    for name, value in flags.items():
        if value not in FLAG_VALUES:
            raise InvalidInputError(f"{name} must be Y or N, not {value!r}")
    _existing_message(context, deposition, message_id)
    status = {"message_id": message_id, "deposition_data_set_id": deposition, **flags}
    return context.json({"success": "true" if context.io().tagMsg(status) else "false"})


# -- storing messages --------------------------------------------------------------------------------------------


def _message_data(context: Context, state: str) -> dict[str, Any]:
    """The message OneDep's `Message.fromReqObj` builds from a request."""
    p = context.params
    data: dict[str, Any] = {
        "deposition_data_set_id": p.getValue("identifier"),
        "sender": p.getValue("sender"),
        "message_subject": _encode_like_cif(p.getRawValue("subject")),
        "message_text": _encode_like_cif(p.getRawValue("message")),
        "message_type": p.getValue("message_type") or "text",
        "context_type": p.getValue("context_type"),
        "context_value": p.getValue("context_value"),
        "send_status": p.getValue("send_status") or "Y",
        "message_state": state,
    }
    message_id = p.getValue("msg_id")
    if state == "draft" and len(message_id) > 1:
        data["message_id"] = message_id
    parent = p.getValue("parent_msg_id")
    if state == "livemsg" and len(parent) > 1:
        data["parent_message_id"] = parent
    return data


def _aux_file_type(name: str) -> str:
    """OneDep's format of an uploaded file: its extension (the one before `.V<n>` for an archive file name)."""
    stem, extension = os.path.splitext(name)
    if len(extension) <= 1:
        return "n/a"
    extension = extension[1:]
    if re.fullmatch(r"V\d+", extension):
        extension = os.path.splitext(stem)[1][1:] or "n/a"
    return "pdbx" if extension == "cif" else extension


def _save_uploads(context: Context, session_path: Path) -> list[str]:
    """Keep the request's aux-file1..3 in the session; their tokens for the message's file references."""
    from .sessions import UploadRefused, safe_upload_name

    uploads = [(token, context.params.uploads[token]) for token in AUX_FILES if token in context.params.uploads]
    for token, upload in uploads:
        try:
            safe_upload_name(upload.filename)
        except UploadRefused as exc:
            raise UploadRefused(f"{token}: {exc}") from None
    tokens = []
    session = context.session()
    for token, upload in uploads:
        saved = session.save_upload(upload, context.upload_limit)
        context.saved_files.append(saved)
        number = token[len("aux-file") :]
        context.params.setValue(f"auxFileName{number}", saved.name)
        context.params.setValue(f"auxFilePath{number}", str(saved))
        context.params.setValue(f"auxFileType{number}", _aux_file_type(upload.filename))
        tokens.append(token)
    return tokens


def _process(context: Context, state: str) -> Reply:
    """submit_msg (a live message) and update_draft_state (a draft): multipart, up to three attached files."""
    session = context.session()
    deposition = context.deposition()
    view = _view(context, "msgs")
    if view == "commhstry":
        raise InvalidInputError("messages are sent as content_type msgs or notes, not commhstry")
    p = context.params
    if p.getValue("context_type") == "vldtn" and not p.getValue("context_value"):
        text = p.getRawValue("message").lower()
        if "major issue" in text and "outstanding issue" in text:
            p.setValue("context_value", "major-issue-in-validation")
    p.setValue("message_state", state)
    references: list[Any] = list(p.getValueList("msg_file_references"))
    references += _save_uploads(context, session.path)
    message = OutgoingMessage(
        _message_data(context, state),
        references,
        view,
        reminder=p.getValue("msg_category") == "reminder",
    )
    ok, model_updated, failed = context.io().processMsg(message)
    items: dict[str, Any] = {
        "success": "true" if ok else "false",
        "pdbx_model_updated": "true" if model_updated else "false",
        "append_msg": "",
    }
    if ok:
        context.saved_files.clear()  # the uploads are the message's files now
        if view == "notes" and not context.notes_flags.active(context.group() or deposition):
            context.notes_flags.set(context.group() or deposition, True)
    elif failed:
        text = "Failure to associate message with the following file types: " + ", ".join(failed)
        if "aux-file" in failed:
            text += (
                "\nIf you are attaching an auxiliary file, please ensure that the file name ends with a known "
                "file extension/type."
            )
        items["append_msg"] = text
    if model_updated:
        try:
            items["depid_pw"] = context.site.depui_password(deposition)
        except Exception as exc:  # noqa: BLE001 - the message is stored; the password is only a courtesy
            logger.info("submit_msg: no DepUI password for %s: %s", deposition, exc)
    return context.json(items)


def submit_msg(context: Context) -> Reply:
    return _process(context, "livemsg")


def update_draft_state(context: Context) -> Reply:
    return _process(context, "draft")


def _propagate(context: Context, action: str) -> Reply:
    """archive_msg / forward_msg: a copy of a message (or mail) into each target deposition, from the page
    (`mode=manual`, `target_identifier`) or from another site (`identifier` as a list, `flag=y`)."""
    p = context.params
    manual = p.getValue("mode") == "manual"
    if manual:
        context.session()
        source = context.deposition()
        targets = p.getValue("target_identifier")
        message_type = f"{action}_manual"
    else:
        if p.getValue("sessionid"):
            context.session()
        source = ""
        targets = p.getValue("identifier")
        message_type = f"{action}_auto"
    flagged = p.getValue("flag") == "y"
    if flagged:
        message_type += "_flag"
    if not targets.strip():
        raise InvalidInputError("no deposition to archive to: give target_identifier (or identifier) as a list")
    subject = p.getRawValue("subject")
    subject = subject if len(subject) > 1 else "test subject"  # OneDep's placeholder
    view = "notes" if action == "archive" else "msgs"
    p.setValue("subject", ("ARCHIVED: " if action == "archive" else "FWD: ") + subject)
    p.setValue("send_status", "Y")
    p.setValue("filesource", "archive")
    p.setValue("message_type", message_type)
    p.setValue("orig_identifier", source)
    p.setValue("content_type", view)
    p.setValue("message_state", "livemsg")
    io = context.io()
    success: dict[str, str] = {"job": "error"}
    refused: list[str] = []
    stored_any = False
    for typed in (part.strip() for part in targets.upper().split(",")):
        if not typed:
            continue
        try:
            deposition = validate_deposition_id(context.site.deposition_id_of(typed))
            if not context.known(deposition):
                raise InvalidInputError(f"{deposition} is not a deposition of this site")
        except (InvalidInputError, InvalidDepositionIdError) as exc:
            success[typed] = "false"
            refused.append(str(exc))
            continue
        group = deposition if deposition.startswith("G_") else context.site.group_of(deposition)
        p.setValue("identifier", deposition)
        p.setValue("groupid", group or "")
        io.setGroupId(group or "")
        data = _message_data(context, "livemsg")
        ok, _, _ = io.processMsg(OutgoingMessage(data, p.getValueList("msg_file_references"), view))
        success[typed] = "true" if ok else "false"
        stored_any = stored_any or ok
        if ok and view == "notes" and flagged:
            folder = group or deposition
            for subtype in ("", "bmrb"):
                if not context.notes_flags.active(folder, subtype):
                    context.notes_flags.set(folder, True, subtype)
            _global_status(context, deposition)
    success["job"] = "ok"
    return context.json({"success": success}, error="; ".join(refused) if refused else "")


def archive_msg(context: Context) -> Reply:
    return _propagate(context, "archive")


def forward_msg(context: Context) -> Reply:
    return _propagate(context, "forward")


# -- site services -----------------------------------------------------------------------------------------------


def get_depui_pwd(context: Context) -> Reply:
    context.session()
    deposition = context.deposition()
    return context.json({"depui_pwd": context.site.depui_password(deposition)})


def verify_depid(context: Context) -> Reply:
    """Whether a deposition id typed in the stand-alone history form is one of this site's: `found` y or n."""
    typed = context.params.getValue("identifier").upper()
    try:
        found = context.known(validate_deposition_id(typed))
    except InvalidDepositionIdError:
        found = False
    return context.json({"found": "y" if found else "n"})


def exit_module(context: Context) -> Reply:
    """OneDep's exit_finished / exit_not_finished: placeholders it never calls; answered with nothing to do."""
    return context.json({})


ROUTES: dict[str, Route] = {
    "new_session/wf": Route(launch, HTML),
    "new_session/": Route(launch, HTML),
    "new_session": Route(launch, HTML),
    "launch": Route(launch, HTML),
    "view_correspondence": Route(view_correspondence, HTML),
    "display_msg": Route(display_msg, HTML),
    "toggle_notes_flagging": Route(toggle_notes_flagging, HTML),
    "get_msg_tmplts": Route(get_msg_tmplts, JSON),
    "check_global_msg_status": Route(check_global_msg_status, JSON),
    "get_files_rfrncd": Route(get_files_rfrncd, JSON),
    "check_avail_files": Route(check_avail_files, JSON),
    "get_dtbl_config_dtls": Route(get_dtbl_config_dtls, JSON),
    "get_dtbl_data": Route(get_dtbl_data, JSON),
    "get_msg": Route(get_msg, JSON),
    "mark_msg_read": Route(mark_msg_read, JSON),
    "tag_msg": Route(tag_msg, JSON),
    "submit_msg": Route(submit_msg, JSON),
    "update_draft_state": Route(update_draft_state, JSON),
    "archive_msg": Route(archive_msg, JSON),
    "forward_msg": Route(forward_msg, JSON),
    "get_depui_pwd": Route(get_depui_pwd, JSON),
    "verify_depid": Route(verify_depid, JSON),
    "exit_finished": Route(exit_module, JSON),
    "exit_not_finished": Route(exit_module, JSON),
    "wf/exit_finished": Route(exit_module, JSON),
    "wf/exit_not_finished": Route(exit_module, JSON),
}
