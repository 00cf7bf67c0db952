"""What a browser needs beside the service, for `msgmodule serve`: the front end, the site's scripts, sessions.

A OneDep site's Apache serves these itself (`Alias /sessions/ ...`, the
front end at `/msgmodule/`, site scripts at `/js/`); here one WSGI app does it
so a person can open the messaging page without a web server of their own:

    /msgmodule/...   MSGMODULE_WEB_TEMPLATE_DIR (OneDep's onedep-webfe_msgmodule)
    /js/...          MSGMODULE_SITE_JS_DIR (the site-wide scripts its pages load)
    /sessions/...    the session folders (referenced files copied for download)
    /                a list of the archive's depositions, each linking to its messaging page
    anything else    the service (/service/messaging/*)
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from webob import Request, Response
from webob.static import DirectoryApp, FileApp

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_DEPOSITION = re.compile(r"[DG]_\d+")
_LINK_TEXT = re.compile(rb"[A-Za-z0-9_./-]{1,255}")


class FrontEndFiles(DirectoryApp):  # type: ignore[misc]
    """A folder's files; a git symbolic link checked out as a small file holding its target is followed.

    OneDep's front end has such links (`js/jquery/ui/jquery-ui.custom.min.js`);
    a copy made without symbolic links holds their targets as text. The
    target must be a file inside the folder.
    """

    def make_fileapp(self, path: str) -> Any:
        candidate = Path(path)
        try:
            if candidate.is_file() and not candidate.is_symlink() and candidate.stat().st_size < 256:
                text = candidate.read_bytes()
                if _LINK_TEXT.fullmatch(text):
                    target = (candidate.parent / text.decode()).resolve()
                    root = Path(self.path).resolve()
                    if target.is_file() and root in target.parents:
                        return FileApp(str(target))
        except OSError:
            pass
        return super().make_fileapp(path)


class SiteApp:
    """The service, plus the front end's files, the site's scripts and the session folders."""

    def __init__(
        self,
        service: WsgiApp,
        front_end: str | os.PathLike[str] | None,
        site_js: str | os.PathLike[str] | None,
        sessions: str | os.PathLike[str],
        archive_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.service = service
        self.archive_root = Path(archive_root) if archive_root is not None else None
        Path(sessions).mkdir(parents=True, exist_ok=True)
        self.mounts: dict[str, DirectoryApp] = {"sessions": DirectoryApp(str(sessions))}
        if front_end is not None and Path(front_end).is_dir():
            self.mounts["msgmodule"] = FrontEndFiles(str(front_end))
        if site_js is not None and Path(site_js).is_dir():
            self.mounts["js"] = DirectoryApp(str(site_js))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        first = request.path_info.lstrip("/").split("/", 1)[0]
        if first in self.mounts and request.method in ("GET", "HEAD"):
            request.path_info_pop()
            return self.mounts[first](request.environ, start_response)
        if request.path_info == "/" and request.method in ("GET", "HEAD"):
            return self._index()(environ, start_response)
        return self.service(environ, start_response)

    def _index(self) -> Response:
        depositions: list[str] = []
        if self.archive_root is not None and self.archive_root.is_dir():
            depositions = sorted(name for name in os.listdir(self.archive_root) if _DEPOSITION.fullmatch(name))
        links = "".join(
            f'<li><a href="/service/messaging/new_session/wf?identifier={quote(d)}&amp;filesource=archive'
            f'&amp;annotator=ANN&amp;expmethod=X-RAY%20DIFFRACTION">{html.escape(d)}</a></li>'
            for d in depositions[:500]
        )
        body = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8" /><title>Messaging</title></head><body>'
            f"<h1>Messaging: {len(depositions)} deposition(s)</h1><ul>{links}</ul></body></html>\n"
        )
        return Response(body, content_type="text/html", charset="utf-8")
