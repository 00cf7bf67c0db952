"""What a web process keeps across requests: the settings, the site's store and the site's parts.

Building them costs more than answering a small request (the config file,
the stage's stores, the database's migration check), so each is built once
per process and configuration, and built again when what it was made from
changes: the environment or the config file (checked on every request, a
comparison and a stat). The stage is not part of it: the store is the
site's (`SiteStore`), which each request has look at the site's record
afresh (`SiteStore.follow`), so a stage move made by another process is
followed from the next request on.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import Settings, load_settings
from ..io.site import SiteServices
from ..stage.routing import SiteStore, open_site_store

# Configurations kept per process (a site usually has one; tests make many).
KEPT = 8


def _environment() -> Mapping[Any, Any]:
    """The process environment as stored (compared, not decoded: a copy of it is cheap to check against)."""
    return getattr(os.environ, "_data", os.environ)


def _file_identity(path: Path) -> tuple[int, ...] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


class ServedSite:
    """One configuration's settings, site parts and store, as long as what they were read from is unchanged."""

    def __init__(self, config: Mapping[str, Any] | None, site_id: str | None) -> None:
        self.environment = dict(_environment())
        self.settings: Settings = load_settings(config, site_id)
        self.config_file = self.settings.config_file
        self.config_identity = _file_identity(self.config_file)
        self.cwd = None if self.config_file.is_absolute() else os.getcwd()
        self.site = SiteServices.defaults(
            self.settings.cif_root, {**os.environ, **self.settings.site_options}, self.settings.state_dir
        )
        self._store: SiteStore | None = None
        self._lock = threading.Lock()

    def unchanged(self) -> bool:
        """Whether the environment and the config file are as they were when this was read."""
        return (
            _environment() == self.environment
            and (self.cwd is None or os.getcwd() == self.cwd)
            and _file_identity(self.config_file) == self.config_identity
        )

    def store(self) -> SiteStore:
        """The site's store, made on first use (it refuses at once when this process must not serve)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = open_site_store(self.settings)
        return self._store


_SERVED: OrderedDict[tuple[Any, ...], ServedSite] = OrderedDict()
_SERVED_LOCK = threading.Lock()


def served_site(config: Mapping[str, Any] | None, site_id: str | None) -> ServedSite:
    """The process's `ServedSite` of this configuration and site, read again if its inputs changed."""
    try:
        key = (None if config is None else tuple(sorted(config.items())), site_id)
        hash(key)
    except TypeError:  # a value that cannot be a key: read afresh each time
        return ServedSite(config, site_id)
    with _SERVED_LOCK:
        found = _SERVED.get(key)
        if found is not None:
            _SERVED.move_to_end(key)
    if found is not None and found.unchanged():
        return found
    fresh = ServedSite(config, site_id)
    with _SERVED_LOCK:
        _SERVED[key] = fresh
        _SERVED.move_to_end(key)
        while len(_SERVED) > KEPT:
            _SERVED.popitem(last=False)
    return fresh


def forget_served() -> None:
    """Drop every kept configuration (the next request reads its settings afresh)."""
    with _SERVED_LOCK:
        _SERVED.clear()
