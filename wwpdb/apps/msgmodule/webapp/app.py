"""What every endpoint's handler works with: its `Context` (the parameters, the
session, the deposition, a MessagingIo from `create_messaging_service`), its
`Route`, and the `Reply` it returns. JSON replies carry OneDep's
`ResponseContent` keys plus the handler's own. The service that routes a
request to a handler is in `service.py`, above the handlers.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from ..config import Settings, load_settings
from ..errors import InvalidInputError, MessagingError
from ..io.MessagingFactory import create_messaging_service
from ..io.MessagingIo import MessagingIo
from ..io.notify import NotesFlagging
from ..io.site import SiteServices
from ..model import CONTENT_TYPES, validate_deposition_id
from .pages import PageTemplates
from .reads import RequestReads
from .request import Params
from .sessions import DEFAULT_UPLOAD_LIMIT, SessionError, SessionFolders, WebSession

logger = logging.getLogger(__name__)

SERVICE_PREFIX = "/service/messaging/"
JSON = "application/json"
HTML = "text/html"
# OneDep's ResponseContent keys, in every JSON reply.
RESPONSE_KEYS: dict[str, Any] = {
    "htmllinkcontent": "",
    "htmlcontent": "",
    "textcontent": "",
    "location": "",
    "datatype": "",
    "encodingtype": "",
    "datafilename": "",
    "disposition": "",
    "datacontent": "",
    "errorflag": False,
    "statustext": "",
    "errortext": "",
    "sessionid": "",
    "semaphore": "",
}


@dataclass
class Reply:
    body: str | bytes
    content_type: str = JSON
    status: int = 200


class UnknownDeposition(InvalidInputError):
    """A well-formed deposition id this site has neither an archive folder nor messages for."""


class NotFound(InvalidInputError):
    """Something the request names (a message, a path) does not exist."""


def json_reply(items: Mapping[str, Any], session_id: str = "", status: int = 200, error: str = "") -> Reply:
    body = {**RESPONSE_KEYS, "sessionid": session_id, **items}
    if error:
        body.update(errorflag=True, statustext=error, errortext=error)
    return Reply(json.dumps(body), JSON, status)


def html_reply(text: str, status: int = 200) -> Reply:
    return Reply(text, HTML, status)


def error_page(status: int, text: str) -> str:
    import html

    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8" /><title>Messaging: {status}</title></head>'
        f"<body><h1>Messaging</h1><p>{html.escape(text)}</p></body></html>\n"
    )


@dataclass
class Route:
    handler: Callable[[Context], Reply]
    kind: str  # JSON or HTML: how errors are answered


class WebService(Protocol):
    """What a request's Context needs of the service that made it (`service.MessagingWebService`)."""

    config: dict[str, Any] | None
    site: SiteServices | None
    verbose: bool
    log: TextIO | None

    def pages_for(self, directory: str | None) -> PageTemplates: ...


@dataclass
class Context:
    """One request as its handler sees it."""

    web: WebService
    params: Params
    site_id: str | None
    _settings: Settings | None = None
    _session: WebSession | None = None
    _site: SiteServices | None = None
    _io: MessagingIo | None = None
    # Uploads saved for this request: removed unless the handler keeps them (clears the list) on success.
    saved_files: list[Path] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.web.config, self.site_id)
        return self._settings

    @property
    def site(self) -> SiteServices:
        if self._site is None:
            self._site = self.web.site or SiteServices.defaults(
                self.settings.cif_root, {**os.environ, **self.settings.site_options}, self.settings.state_dir
            )
        return self._site

    @property
    def sessions(self) -> SessionFolders:
        root = self.settings.web_options.get("MSGMODULE_SESSIONS_DIR") or str(
            Path(self.settings.state_dir) / "sessions"
        )
        return SessionFolders(root)

    @property
    def pages(self) -> PageTemplates:
        return self.web.pages_for(self.settings.web_options.get("MSGMODULE_WEB_TEMPLATE_DIR"))

    @property
    def upload_limit(self) -> int:
        text = self.settings.web_options.get("MSGMODULE_UPLOAD_MAX_BYTES", "")
        if not text:
            return DEFAULT_UPLOAD_LIMIT
        if not text.isdigit():
            raise MessagingError(f"MSGMODULE_UPLOAD_MAX_BYTES={text!r} must be a number of bytes")
        return int(text)

    @property
    def notes_flags(self) -> NotesFlagging:
        return NotesFlagging(self.settings.cif_root)

    def session(self, create: bool = False) -> WebSession:
        """The request's session (`sessionid` must name an existing one); a new one when `create` and none is named."""
        if self._session is None:
            given = self.params.getValue("sessionid")
            if given:
                self._session = self.sessions.open(given)
            elif create:
                self._session = self.sessions.create()
            else:
                raise SessionError("the request has no sessionid: open the messaging page again")
            self.params.setValue("sessionid", self._session.session_id)
        return self._session

    @property
    def session_id(self) -> str:
        return self._session.session_id if self._session is not None else ""

    def deposition(self, name: str = "identifier") -> str:
        """The request's deposition, checked (well-formed and known here); its group is set as `groupid`."""
        given = self.params.getValue(name)
        if not given:
            raise InvalidInputError(f"the request has no {name}: say which deposition (D_ or G_ followed by digits)")
        deposition = validate_deposition_id(given.upper())
        if not self.known(deposition):
            raise UnknownDeposition(f"{deposition} is not a deposition of this site (no archive folder, no messages)")
        self.params.setValue(name, deposition)
        group = deposition if deposition.startswith("G_") else self.site.group_of(deposition)
        self.params.setValue("groupid", group or "")
        return deposition

    def known(self, deposition: str) -> bool:
        """Whether this site has the deposition: its archive folder, else any message in the stage's store."""
        if (Path(self.settings.cif_root) / deposition).is_dir():
            return True
        if self._io is not None:
            store = self._io.store
        else:  # not self.io(): that one is built once the session is known
            store = create_messaging_service(None, site_id=self.site_id, config=self.web.config, site=self.site).store
        documents = store.load_many(deposition, CONTENT_TYPES)
        return any(document.messages for document in documents.values())

    def group(self) -> str:
        return self.params.getValue("groupid")

    def io(self) -> MessagingIo:
        """OneDep's MessagingIo for this request, on the stage's store(s), through create_messaging_service."""
        if self._io is None:
            self._io = create_messaging_service(
                self.params,
                self.web.verbose,
                self.web.log,
                site_id=self.site_id,
                config=self.web.config,
                site=self.site,
                session=self._session.for_io() if self._session is not None else None,
            )
            self._io.store = RequestReads(self._io.store)  # type: ignore[assignment]
        return self._io

    def json(self, items: Mapping[str, Any], status: int = 200, error: str = "") -> Reply:
        return json_reply(items, self.session_id, status, error)
