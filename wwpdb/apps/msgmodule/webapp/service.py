"""The web service: a path and its parameters in, a reply out (status, content type, body).

`MessagingWebService.handle` finds the endpoint (paths matched
case-insensitively), gives its handler a `Context` and turns typed errors into
clear replies: bad input 400, an unknown deposition, message or path 404, an
upload over the limit 413, a site service the site has not plugged in 501,
storage or a missing front end 503.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from ..errors import InvalidDepositionIdError, InvalidInputError, MessagingError
from ..io.notify import SiteServiceUnavailable
from ..io.site import SiteServices
from .app import (
    HTML,
    SERVICE_PREFIX,
    Context,
    NotFound,
    Reply,
    Route,
    UnknownDeposition,
    error_page,
    html_reply,
)
from .handlers import ROUTES
from .pages import PagesMissing, PageTemplates
from .request import Params
from .sessions import SessionError, UploadTooLarge

logger = logging.getLogger(__name__)


class MessagingWebService:
    """Every `/service/messaging/*` endpoint; `handle(path, params)` answers one request."""

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        site_id: str | None = None,
        site: SiteServices | None = None,
        verbose: bool = False,
        log: TextIO | None = sys.stderr,
    ) -> None:
        """`config`: explicit settings (above environment and config file); `site`: the site's parts, else defaults."""
        self.config = dict(config) if config is not None else None
        self.site_id = site_id
        self.site = site
        self.verbose = verbose
        self.log = log
        self.routes: dict[str, Route] = ROUTES
        self._pages: dict[str | None, PageTemplates] = {}

    def pages_for(self, directory: str | None) -> PageTemplates:
        if directory not in self._pages:
            self._pages[directory] = PageTemplates(directory)
        return self._pages[directory]

    def route(self, path: str) -> Route | None:
        lowered = path.lower()
        if not lowered.startswith(SERVICE_PREFIX):
            return None
        return self.routes.get(lowered[len(SERVICE_PREFIX) :])

    def handle(self, path: str, params: Params, site_id: str | None = None) -> Reply:
        """Answer one request; never raises."""
        route = self.route(path)
        if route is None:
            return html_reply(error_page(404, f"unknown operation {path!r}"), 404)
        context = Context(self, params, site_id or self.site_id)
        try:
            return route.handler(context)
        except (UnknownDeposition, NotFound) as exc:
            return self._error(context, route, 404, str(exc))
        except UploadTooLarge as exc:
            return self._error(context, route, 413, str(exc))
        except (SessionError, InvalidDepositionIdError, InvalidInputError) as exc:
            return self._error(context, route, 400, str(exc))
        except SiteServiceUnavailable as exc:
            return self._error(context, route, 501, str(exc))
        except PagesMissing as exc:
            return self._error(context, route, 503, str(exc))
        except MessagingError as exc:
            logger.error("%s: %s", path, exc)
            return self._error(context, route, 503, f"the messages cannot be reached: {exc}")
        except Exception:
            logger.exception("%s: operation failure", path)
            return self._error(context, route, 500, "Operation failure (logged on the server)")
        finally:
            for saved in context.saved_files:
                saved.unlink(missing_ok=True)

    @staticmethod
    def _error(context: Context, route: Route, status: int, text: str) -> Reply:
        if route.kind == HTML:
            return html_reply(error_page(status, text), status)
        return context.json({}, status, text)
