"""The front end's HTML templates (OneDep's `htdocs/msgmodule/*.html`), filled with HTML-escaped values.

A template uses `%(key)s` placeholders (and `%%` for a percent sign). Every
value is HTML-escaped, quotes included, unless it is `Markup` built here
from escaped parts. A key the template uses and the page does not supply
is filled with '' and logged, instead of failing the page as OneDep does.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import MessagingError

logger = logging.getLogger(__name__)

LAUNCH = "msging_launch_tmplt.html"
LAUNCH_EMBEDDED = "msging_launch_embed_tmplt.html"
HISTORY = "msging_launch_commhstry_tmplt.html"
DISPLAY_MESSAGE = "display_msg_tmplt.html"
COMPOSE_TEMPLATES = "msg_tmplts.html"
PAGES = (LAUNCH, LAUNCH_EMBEDDED, HISTORY, DISPLAY_MESSAGE, COMPOSE_TEMPLATES)


class Markup(str):
    """Text that is already HTML (built from escaped parts): put in a page as it is."""


class PagesMissing(MessagingError):
    """The site's front-end folder (MSGMODULE_WEB_TEMPLATE_DIR) is not configured or lacks a page."""


def escape(value: Any) -> str:
    if isinstance(value, Markup):
        return str(value)
    return html.escape("" if value is None else str(value), quote=True)


class _Escaped(dict[str, str]):
    """Values for `%`-substitution: escaped; a missing key is '' (logged)."""

    def __init__(self, page: str, values: Mapping[str, Any]) -> None:
        super().__init__({key: escape(value) for key, value in values.items()})
        self.page = page

    def __missing__(self, key: str) -> str:
        logger.warning("page %s uses %%(%s)s, which this service does not supply: filled with ''", self.page, key)
        return ""


class PageTemplates:
    """The front end's folder of page templates."""

    def __init__(self, directory: str | os.PathLike[str] | None) -> None:
        self.directory = Path(directory) if directory else None
        self._cache: dict[str, tuple[float, str]] = {}

    @property
    def available(self) -> bool:
        return self.directory is not None and self.directory.is_dir()

    def missing_reason(self) -> str:
        if self.directory is None:
            return (
                "MSGMODULE_WEB_TEMPLATE_DIR is not set: point it at OneDep's messaging front end "
                "(onedep-webfe_msgmodule, deployed at <SITE_WEB_APPS_TOP_PATH>/htdocs/msgmodule)"
            )
        return f"MSGMODULE_WEB_TEMPLATE_DIR={self.directory} is not a folder: point it at OneDep's messaging front end"

    def text(self, name: str) -> str:
        if not self.available or self.directory is None:
            raise PagesMissing(self.missing_reason())
        path = self.directory / name
        try:
            changed = path.stat().st_mtime
            cached = self._cache.get(name)
            if cached is not None and cached[0] == changed:
                return cached[1]
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PagesMissing(
                f"the front end in {self.directory} (MSGMODULE_WEB_TEMPLATE_DIR) lacks {name}: {exc}"
            ) from exc
        self._cache[name] = (changed, text)
        return text

    def render(self, name: str, values: Mapping[str, Any]) -> str:
        """The page `name` with every `%(key)s` filled from `values`, escaped."""
        return self.text(name) % _Escaped(name, values)


def missing_front_end_page(reason: str) -> str:
    """What the launch page says when the site's front end is not configured."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8" /><title>Messaging</title></head><body>'
        "<h1>The messaging page cannot be shown</h1>"
        f"<p>{html.escape(reason)}.</p>"
        "<p>The service's other calls (/service/messaging/get_dtbl_data, ...) answer without it.</p>"
        "</body></html>\n"
    )
