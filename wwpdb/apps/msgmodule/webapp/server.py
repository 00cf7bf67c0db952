"""`msgmodule serve`: the web service on gunicorn (pre-forking, several worker processes), 127.0.0.1 by default."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from ..config import load_settings
from .static import SiteApp, WsgiApp
from .wsgi import MessagingWsgiApp


def site_app(config: Mapping[str, Any] | None = None, site_id: str | None = None) -> SiteApp:
    """The service with the front end, site scripts and sessions beside it, as `serve` runs it."""
    settings = load_settings(config, site_id)
    web = settings.web_options
    return SiteApp(
        MessagingWsgiApp(config=config, site_id=site_id),
        web.get("MSGMODULE_WEB_TEMPLATE_DIR"),
        web.get("MSGMODULE_SITE_JS_DIR"),
        web.get("MSGMODULE_SESSIONS_DIR") or Path(settings.state_dir) / "sessions",
        settings.cif_root,
    )


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn running one WSGI app object with the given settings (no command line of its own)."""

    def __init__(self, app: WsgiApp, options: Mapping[str, Any]) -> None:
        self.application = app
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WsgiApp:
        return self.application


def serve(
    host: str,
    port: int,
    workers: int,
    config: Mapping[str, Any] | None = None,
    site_id: str | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve until stopped (Ctrl-C, SIGTERM): `workers` processes, each answering one request at a time."""
    app = site_app(config, site_id)
    if "msgmodule" not in app.mounts:
        announce("MSGMODULE_WEB_TEMPLATE_DIR is not set: the JSON endpoints answer, the messaging page cannot be shown")
    announce(f"messaging service at http://{host}:{port}/ ({workers} worker process(es)); Ctrl-C stops it")
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 120,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "msgmodule-serve",
    }
    _Gunicorn(app, options).run()
