"""What every endpoint's handler works with: its `Context` (the parameters, the
session, the deposition, a MessagingIo on the site's store), its `Route`, and
the `Reply` it returns. JSON replies carry OneDep's `ResponseContent` keys
plus the handler's own. The service that routes a request to a handler is in
`service.py`, above the handlers; what a process keeps across requests (the
settings, the site's store) in `served.py`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from ..config import Settings
from ..errors import InvalidInputError, MessagingError
from ..io.MessagingIo import MessagingIo
from ..io.notify import NotesFlagging
from ..io.site import SiteServices
from ..model import CONTENT_TYPES, validate_deposition_id
from .pages import PageTemplates
from .reads import RequestReads
from .request import Params
from .served import ServedSite, served_site
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
    _served: ServedSite | None = None
    _store: RequestReads | None = None
    _session: WebSession | None = None
    _io: MessagingIo | None = None
    # Uploads saved for this request: removed unless the handler keeps them (clears the list) on success.
    saved_files: list[Path] = field(default_factory=list)

    @property
    def served(self) -> ServedSite:
        """The process's settings, site parts and store for this configuration (see served.py)."""
        if self._served is None:
            self._served = served_site(self.web.config, self.site_id)
        return self._served

    @property
    def settings(self) -> Settings:
        return self.served.settings

    @property
    def site(self) -> SiteServices:
        return self.web.site or self.served.site

    @property
    def store(self) -> RequestReads:
        """The site's store as this request reads it: its stage looked at once, at the request's first read."""
        if self._store is None:
            store = self.served.store()
            store.follow()
            self._store = RequestReads(store)
        return self._store

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
        documents = self.store.load_many(deposition, CONTENT_TYPES)
        return any(document.messages for document in documents.values())

    def group(self) -> str:
        return self.params.getValue("groupid")

    def io(self) -> MessagingIo:
        """OneDep's MessagingIo for this request, on the site's store (what `create_messaging_service` builds,
        kept across requests)."""
        if self._io is None:
            self._io = MessagingIo(
                self.params,
                self.web.verbose,
                self.web.log,
                store=self.store,  # type: ignore[arg-type]
                settings=self.settings,
                site=self.site,
                session=self._session.for_io() if self._session is not None else None,
            )
        return self._io

    def json(self, items: Mapping[str, Any], status: int = 200, error: str = "") -> Reply:
        return json_reply(items, self.session_id, status, error)
