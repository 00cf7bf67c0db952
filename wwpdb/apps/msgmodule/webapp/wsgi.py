"""The WSGI entry: `wwpdb.apps.msgmodule.webapp.wsgi:application`, mounted at `/service/messaging`.

The request is parsed here, once, with WebOb (query string, form, multipart
uploads) into plain `Params`; nothing past this module sees WebOb. The site
id comes from the WSGI environment's `WWPDB_SITE_ID` (Apache's `SetEnv`),
else the process environment; settings from the environment and config file
as everywhere in this library.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from webob import Request, Response

from ..io.site import SiteServices
from .app import Reply, error_page
from .request import Params
from .service import MessagingWebService

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
# A body larger than the upload limit by more than this is refused before it is read (three files and the form).
FORM_ALLOWANCE = 1024 * 1024


class MessagingWsgiApp:
    """A WSGI application answering every `/service/messaging/*` request."""

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        site_id: str | None = None,
        site: SiteServices | None = None,
        verbose: bool = False,
        log: TextIO | None = sys.stderr,
    ) -> None:
        self.service = MessagingWebService(config=config, site_id=site_id, site=site, verbose=verbose, log=log)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        site_id = environ.get("WWPDB_SITE_ID") or self.service.site_id
        reply = self._too_large(request, site_id)
        if reply is None:
            try:
                params = parameters(request)
            except (UnicodeDecodeError, ValueError) as exc:
                reply = Reply(error_page(400, f"the request cannot be read: {exc}"), "text/html", 400)
            else:
                reply = self.service.handle(request.path.lower(), params, site_id)
        response = Response(status=reply.status, content_type=reply.content_type, charset="utf-8")
        if isinstance(reply.body, bytes):
            response.body = reply.body
        else:
            response.text = reply.body
        response.cache_control = "no-store"
        return response(environ, start_response)

    def _too_large(self, request: Request, site_id: str | None) -> Reply | None:
        """A body far over the upload limit is refused unread (413), naming the limit."""
        length = request.content_length or 0
        if length <= FORM_ALLOWANCE:
            return None
        from .app import Context

        try:
            limit = Context(self.service, Params({}), site_id).upload_limit
        except Exception:  # noqa: BLE001 - a bad setting is reported by the request itself
            return None
        if length <= 3 * limit + FORM_ALLOWANCE:
            return None
        text = (
            f"the request's {length} bytes exceed this site's upload limit of {limit} bytes per file "
            "(MSGMODULE_UPLOAD_MAX_BYTES): nothing was stored"
        )
        from .app import json_reply

        return json_reply({"success": "false", "append_msg": text}, status=413, error=text)


def parameters(request: Request) -> Params:
    """Every parameter of the query string and form, files apart, as OneDep's shim collects them."""
    collected: dict[str, list[Any]] = {}
    for name, value in request.params.items():
        collected.setdefault(name, []).append(value)
    return Params.from_parameter_dict(collected)


application = MessagingWsgiApp()
