"""The OneDep entry point: a messaging service for the configured stage.

    from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
    svc = create_messaging_service(site_id="RCSB")

Where the stores are comes from explicit `config`, the environment, the
config file and defaults (see `wwpdb.apps.msgmodule.config`); the stage comes
from the site's record (see `wwpdb.apps.msgmodule.stage`), and the service
follows it as it moves. There is never a silent fallback: a backend that
cannot be reached fails the call that needs it, with a `MessagingError`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from ..config import load_settings
from ..stage.routing import backend_info, open_site_store
from .attachments import Session
from .MessagingIo import MessagingIo
from .site import SiteServices


def _site_from_request(req_obj: Any) -> str | None:
    if req_obj is None:
        return None
    get_value = getattr(req_obj, "getValue", None)
    if get_value is None:
        raise TypeError("req_obj must be a OneDep request object with getValue(name)")
    value = get_value("WWPDB_SITE_ID")
    return str(value) if value else None


class MessagingFactory:
    """Builds messaging services; `get_backend_info` describes what they would use."""

    @staticmethod
    def create_messaging_service(
        site_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        req_obj: Any = None,
        verbose: bool = False,
        log: TextIO | None = sys.stderr,
        site: SiteServices | None = None,
        session: Session | None = None,
    ) -> MessagingIo:
        """A service on the configured stage's store(s), bound to the request if one is given.

        `verbose` and `log` are OneDep's MessagingIo arguments, passed on;
        `site` and `session` are MessagingIo's (the site's parts, where files
        are copied for the browser). Raises on invalid configuration; never
        falls back to another backend.
        """
        settings = load_settings(config, site_id or _site_from_request(req_obj))
        return MessagingIo(
            req_obj, verbose, log, store=open_site_store(settings), settings=settings, site=site, session=session
        )

    @staticmethod
    def get_backend_info(
        site_id: Any = None, config: Mapping[str, Any] | None = None, req_obj: Any = None
    ) -> dict[str, Any]:
        """Stage, flags, read/write backends, archive root, database URL (password masked), counters.

        Takes a OneDep request object in place of the site id too (`get_backend_info(req_obj)`).
        """
        if site_id is not None and not isinstance(site_id, str):
            site_id, req_obj = None, site_id
        return backend_info(load_settings(config, site_id or _site_from_request(req_obj)))


def create_messaging_service(
    req_obj: Any = None,
    verbose: bool = False,
    log: TextIO | None = sys.stderr,
    *,
    site_id: str | None = None,
    config: Mapping[str, Any] | None = None,
    site: SiteServices | None = None,
    session: Session | None = None,
) -> MessagingIo:
    """A messaging service; accepts a OneDep request object carrying WWPDB_SITE_ID and identifier.

    `create_messaging_service(req_obj, verbose=True)` as OneDep calls it.
    """
    return MessagingFactory.create_messaging_service(
        site_id=site_id, config=config, req_obj=req_obj, verbose=verbose, log=log, site=site, session=session
    )
