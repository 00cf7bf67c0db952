"""OneDep's site configuration as a layer of settings, below this module's own config file.

A OneDep site keeps everything in its site configuration, read through
`wwpdb.utils.config.ConfigInfo(siteId)` (an optional dependency: the `onedep`
extra). ConfigInfo takes the site's values from the module
`ConfigInfoFileCache` that OneDep generates from
`$TOP_WWPDB_SITE_CONFIG_DIR/<location>/<site>/site.cfg`
(`ConfigInfoFileExec.writeConfigCache`) and that OneDep's environment puts on
the Python path; a process without it sees no site values at all.

When the package is installed, a site id is known and the site has a
configuration, its keys give the settings below, each unless an argument,
the environment or the config file sets it (`load_settings`). Without the
package, without a site id, or with a stand-in for it in `sys.modules` (as
OneDep's own tests put there), this layer is empty and nothing changes.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import io
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .stage.policy import ConfigurationError

# OneDep's messaging module copies each notification here when SITE_ARCHIVE_NOTIF_EMAILS is "yes".
ONEDEP_NOTIFICATION_ARCHIVE = "da-notification-mail@mail.wwpdb.org"
_MODULE = "wwpdb.utils.config.ConfigInfo"


def _under(suffix: str) -> Callable[[str], str]:
    return lambda path: path.rstrip("/") + suffix


# OneDep key -> (setting, how its value becomes the setting's). The database keys count only
# when SITE_MESSAGE_DB_NAME is set: that is OneDep's switch for its database mode.
KEY_MAP: dict[str, tuple[str, Callable[[str], str]]] = {
    "SITE_MESSAGE_DB_HOST_NAME": ("MSGDB_HOST", str),
    "SITE_MESSAGE_DB_PORT_NUMBER": ("MSGDB_PORT", str),
    "SITE_MESSAGE_DB_NAME": ("MSGDB_NAME", str),
    "SITE_MESSAGE_DB_USER_NAME": ("MSGDB_USER", str),
    "SITE_MESSAGE_DB_PASSWORD": ("MSGDB_PASS", str),
    "SITE_MESSAGE_DB_SOCKET": ("MSGDB_SOCKET", str),
    # OneDep's archive: <SITE_ARCHIVE_STORAGE_PATH>/archive/<deposition id>/<files>
    "SITE_ARCHIVE_STORAGE_PATH": ("MSGCIF_ROOT", _under("/archive")),
    # onedep-webfe_msgmodule is deployed in <SITE_WEB_APPS_TOP_PATH>/htdocs/msgmodule
    "SITE_WEB_APPS_TOP_PATH": ("MSGMODULE_WEB_TEMPLATE_DIR", _under("/htdocs/msgmodule")),
    # sessions live in <SITE_WEB_APPS_TOP_SESSIONS_PATH>/sessions/<id>, served at /sessions/
    "SITE_WEB_APPS_TOP_SESSIONS_PATH": ("MSGMODULE_SESSIONS_DIR", _under("/sessions")),
    "SITE_NOREPLY_EMAIL": ("MSGMODULE_MAIL_FROM", str),
    "SITE_CURRENT_DEP_EMAIL_URL": ("MSGMODULE_DEPOSITION_URL", str),
    "SITE_ARCHIVE_NOTIF_EMAILS": (
        "MSGMODULE_MAIL_ARCHIVE_COPY",
        lambda value: ONEDEP_NOTIFICATION_ARCHIVE if value.strip().lower() == "yes" else "",
    ),
    # Lists, joined by "|" as the settings take them (see _text).
    "COMMUNICATION_RELEASE_MESSAGE_SUBJECTS": ("MSGMODULE_RELEASE_SUBJECTS", str),
    # OneDep compares these with a depositor message's context_type, not its subject.
    "COMMUNICATION_APPROVAL_WITHOUT_CHANGES_MESSAGE_SUBJECTS": ("MSGMODULE_APPROVAL_CONTEXT_TYPES", str),
}
DB_KEYS = tuple(key for key in KEY_MAP if key.startswith("SITE_MESSAGE_DB_"))
# Keys that only a site's own configuration holds (the COMMUNICATION_* lists are the package's).
SITE_ONLY_KEYS = tuple(key for key in KEY_MAP if key.startswith("SITE_"))
# Settings that name a database: given by a higher layer, OneDep's switch does not turn the database off.
DATABASE_SETTINGS = ("MSGDB_URL", "MSGDB_HOST", "MSGDB_SOCKET")


@dataclass
class OneDepSite:
    """What OneDep's site configuration says, as settings: setting -> (value, source)."""

    site_id: str | None
    status: str  # one line: read, or why not
    settings: dict[str, tuple[str, str]] = field(default_factory=dict)
    database_mode: bool = False  # SITE_MESSAGE_DB_NAME is set

    @property
    def used(self) -> bool:
        return bool(self.settings)


def _config_info_class() -> tuple[type | None, str]:
    """OneDep's ConfigInfo class, or None and why not (not installed, a stand-in)."""
    try:
        module = importlib.import_module(_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and _MODULE.startswith(exc.name):
            return None, "wwpdb.utils.config is not installed"
        raise ConfigurationError(
            f"wwpdb.utils.config is installed but {_MODULE} cannot be imported ({exc}): repair the OneDep "
            "installation, or uninstall it to configure without OneDep's site configuration"
        ) from exc
    except ImportError as exc:
        raise ConfigurationError(
            f"wwpdb.utils.config is installed but {_MODULE} cannot be imported ({exc}): repair the OneDep "
            "installation, or uninstall it to configure without OneDep's site configuration"
        ) from exc
    config_info = getattr(module, "ConfigInfo", None) if isinstance(module, types.ModuleType) else None
    if not inspect.isclass(config_info):
        # OneDep's tests replace the module in sys.modules with a Mock: nothing to read from
        stand_in = type(config_info if isinstance(module, types.ModuleType) else module).__name__
        return None, f"{_MODULE} is a stand-in ({stand_in}), not OneDep's module: not used"
    return config_info, ""


def _text(value: object) -> str | None:
    """A ConfigInfo value as setting text; None for unset and for anything that is no plain value."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return "|".join(item.strip() for item in value if item.strip()) or None
    return None


@functools.lru_cache(maxsize=16)
def _site_values(config_info: type, site_id: str) -> dict[str, str | None]:
    """ConfigInfo's values of KEY_MAP's keys, as text. Kept per process, as ConfigInfo keeps its own."""
    try:
        # ConfigInfo writes its diagnostics to a log stream: keep them off the caller's stderr.
        values = config_info(site_id, verbose=False, log=io.StringIO())
        return {key: _text(values.get(key)) for key in KEY_MAP}
    except Exception as exc:
        raise ConfigurationError(
            f"OneDep's ConfigInfo({site_id!r}) failed ({type(exc).__name__}: {exc}): repair the OneDep site "
            "configuration or installation"
        ) from exc


def read_onedep_site(site_id: str | None, given: Mapping[str, object] | None = None) -> OneDepSite:
    """The settings OneDep's site configuration gives for `site_id`.

    `given` are the settings that a higher layer (argument, environment, config
    file) already sets: with one naming a database, OneDep's switch being off
    does not turn the database off, and a missing host is no error.
    """
    given = given or {}
    if not site_id:
        return OneDepSite(None, "no site id (--site, the request's WWPDB_SITE_ID or WWPDB_SITE_ID): not used")
    config_info, why_not = _config_info_class()
    if config_info is None:
        return OneDepSite(site_id, why_not)
    texts = _site_values(config_info, site_id)
    if not any(texts[key] is not None for key in SITE_ONLY_KEYS):
        return OneDepSite(
            site_id,
            f"no OneDep site configuration for site {site_id} (ConfigInfoFileCache on the Python path has none): "
            "not used",
        )
    source = f"OneDep site config {site_id}"
    site = OneDepSite(site_id, f"read for site {site_id}", database_mode=bool(texts["SITE_MESSAGE_DB_NAME"]))
    for key, (setting, convert) in KEY_MAP.items():
        text = texts[key]
        if text is None or (key in DB_KEYS and not site.database_mode):
            continue
        value = convert(text)
        if value:
            site.settings[setting] = (value, f"{source} {key}")
    names_database = any(given.get(name) not in (None, "") for name in DATABASE_SETTINGS)
    if not site.database_mode and not names_database:
        # OneDep's database mode is off: no stage may use a database this site has not named.
        site.settings["MSGDB_ENABLED"] = ("false", f"{source} SITE_MESSAGE_DB_NAME unset")
    elif site.database_mode and not names_database and not (site.settings.keys() & {"MSGDB_HOST", "MSGDB_SOCKET"}):
        raise ConfigurationError(
            f"OneDep site config {site_id} sets SITE_MESSAGE_DB_NAME but neither SITE_MESSAGE_DB_HOST_NAME nor "
            "SITE_MESSAGE_DB_SOCKET: set one of them there, or MSGDB_HOST/MSGDB_URL here"
        )
    return site


__all__ = ["KEY_MAP", "ONEDEP_NOTIFICATION_ARCHIVE", "OneDepSite", "read_onedep_site"]
