"""Configuration, highest first: explicit arguments > environment > config file > OneDep's site config > defaults.

The config file (`MSGMODULE_CONFIG` or `--config`, else `msgmodule.cfg` in the
working directory when there is one) is INI; a named file that does not exist is
an error (ConfigFileNotFound), never silently skipped. Keys are the environment variables' names. `[msgmodule]`
applies everywhere; an `[env:<NAME>]` section (chosen with `MSGMODULE_ENV` or
`--env`: development, staging, production...) overrides it, and a
`[site:<SITE_ID>]` section overrides both for one site. Relative paths in the
file are relative to the file:

    [msgmodule]
    MSGCIF_ROOT = /wwpdb/data/archive

    [env:development]
    MSGDB_URL = sqlite:///dev-messages.db

    [site:PDBE]
    MSGDB_URL = mysql+pymysql://onedep@db.example.org/messages

At a OneDep site, `wwpdb.utils.config`'s ConfigInfo fills what these leave
unset (see `wwpdb.apps.msgmodule.onedep_site`).

Everything else a site keeps is found from its archive root, never from the
working directory: the state folder defaults to `<MSGCIF_ROOT>/.msgmodule/state`
(breakers, counters, logs, notify flags, shadow differences, web sessions), and
without a database setting the database is SQLite in
`<MSGCIF_ROOT>/.msgmodule/messaging.db`. There is no default archive root: a
process with none configured stops with ConfigurationError saying how to set it.

Configuration says where the stores are. The stage is the site's, recorded in
the archive (see `wwpdb.apps.msgmodule.stage`); a stage or flags set here must
agree with it, or the process refuses to serve.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from .onedep_site import OneDepSite, read_onedep_site
from .stage.policy import FLAG_NAMES, ConfigurationError, Stage, decide, parse_flag

DEFAULT_CONFIG_FILE = "msgmodule.cfg"
# The site's folder in the archive root (stage record, journal), and the parts of it this module names.
SITE_FOLDER = ".msgmodule"
STATE_FOLDER = "state"
DEFAULT_DB_FILE = "messaging.db"
# Where earlier versions kept state, archive and database by default: relative to the working directory.
EARLIER_DATA_DIR = "msgmodule-data"
GLOBAL_SECTION = "msgmodule"
# OneDep's usual subjects of a depositor's request to release an entry.
DEFAULT_RELEASE_SUBJECTS = ("Release request", "Request to release", "Release of entry", "Release now")

# The OneDep site's parts of MessagingIo (io/site.py): mail, templates, links.
SITE_KEYS = (
    "MSGMODULE_SMTP_HOST",
    "MSGMODULE_SMTP_PORT",
    "MSGMODULE_MAIL_FROM",
    "MSGMODULE_MAIL_ARCHIVE_COPY",
    "MSGMODULE_TEMPLATE_DIR",
    "MSGMODULE_DEPOSITION_URL",
    "MSGMODULE_APPROVAL_CONTEXT_TYPES",
)
# The web service (webapp/): OneDep's front-end folder, the site's /js/ scripts, session folders, upload limit.
WEB_KEYS = (
    "MSGMODULE_WEB_TEMPLATE_DIR",
    "MSGMODULE_SITE_JS_DIR",
    "MSGMODULE_SESSIONS_DIR",
    "MSGMODULE_UPLOAD_MAX_BYTES",
)

KNOWN_KEYS = (
    *FLAG_NAMES,
    "MSGMODULE_STAGE",
    "MSGDB_ENABLED",
    "MSGMODULE_CIRCUIT_BREAKER",
    "MSGCIF_ROOT",
    "MSGDB_URL",
    "MSGDB_HOST",
    "MSGDB_PORT",
    "MSGDB_NAME",
    "MSGDB_USER",
    "MSGDB_PASS",
    "MSGDB_SOCKET",  # a MySQL server's Unix socket, with the parts above (in MSGDB_URL: ?unix_socket=)
    "MSGMODULE_STATE_DIR",
    "MSGMODULE_SHADOW_SAMPLE",
    "MSGMODULE_RELEASE_SUBJECTS",
    *SITE_KEYS,
    *WEB_KEYS,
)


class ConfigFileNotFound(ConfigurationError):
    """A config file was named (MSGMODULE_CONFIG, --config, a library's config argument) and is not there."""

    def __init__(self, path: Path, named_by: str) -> None:
        self.path = path
        self.named_by = named_by
        problem = "is a folder, not a file" if path.is_dir() else "does not exist"
        super().__init__(
            f"the config file {path} named by {named_by} {problem} (working directory {Path.cwd()}); nothing was "
            f"read or written. Correct the name, or {'leave it out' if '--config' in named_by else 'unset it'} to read "
            f"./{DEFAULT_CONFIG_FILE} when present"
        )


def default_state_dir(cif_root: str | os.PathLike[str]) -> str:
    """The site's own state folder: `<archive root>/.msgmodule/state`, whatever the working directory."""
    return os.path.join(os.path.abspath(cif_root), SITE_FOLDER, STATE_FOLDER)


def default_db_url(cif_root: str | os.PathLike[str]) -> str:
    """The site's SQLite database when none is configured: `<archive root>/.msgmodule/messaging.db`."""
    return f"sqlite:///{os.path.join(os.path.abspath(cif_root), SITE_FOLDER, DEFAULT_DB_FILE)}"


def resolve_db_url(
    explicit: str | None = None, environ: Mapping[str, str] | None = None, cif_root: str | None = None
) -> str:
    """The database URL: an explicit one, else MSGDB_URL, else MSGDB_HOST/PORT/NAME/USER/PASS/SOCKET, else
    SQLite in the site folder of `cif_root` (ConfigurationError when there is no archive root either)."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get("MSGDB_URL"):
        return env["MSGDB_URL"]
    host = env.get("MSGDB_HOST") or ("localhost" if env.get("MSGDB_SOCKET") else None)
    if host:
        user = quote_plus(env.get("MSGDB_USER") or "root")
        password = env.get("MSGDB_PASS", "")
        credentials = f"{user}:{quote_plus(password)}" if password else user
        port = env.get("MSGDB_PORT") or "3306"
        name = env.get("MSGDB_NAME") or "wwpdb_messaging"
        socket = f"&unix_socket={quote(env['MSGDB_SOCKET'])}" if env.get("MSGDB_SOCKET") else ""
        return f"mysql+pymysql://{credentials}@{host}:{port}/{name}?charset=utf8mb4{socket}"
    if not cif_root:
        raise ConfigurationError("no database configured (MSGDB_URL or MSGDB_HOST...), and no archive root to hold one")
    return default_db_url(cif_root)


def database_exists(url: str) -> bool:
    """False for an SQLite URL whose file is not there: looking into it would create it."""
    database = url.removeprefix("sqlite:///")
    return database == url or Path(database).exists()


def config_file_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("MSGMODULE_CONFIG") or DEFAULT_CONFIG_FILE)


def named_config_file(explicit: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[Path, str | None]:
    """The config file to read, and what named it (None: the optional ./msgmodule.cfg).

    A named file must be there: ConfigFileNotFound names it otherwise.
    """
    if explicit.get("MSGMODULE_CONFIG"):
        path, named_by = Path(str(explicit["MSGMODULE_CONFIG"])), "the config argument (--config)"
    elif environ.get("MSGMODULE_CONFIG"):
        path, named_by = Path(environ["MSGMODULE_CONFIG"]), "MSGMODULE_CONFIG"
    else:
        return Path(DEFAULT_CONFIG_FILE), None
    if not path.exists() or path.is_dir():
        raise ConfigFileNotFound(path, named_by)
    return path, named_by


# Keys that configure the database; without any, the database is SQLite in the site folder.
DB_URL_KEYS = ("MSGDB_URL", "MSGDB_HOST", "MSGDB_SOCKET")

# Keys holding a path (or an SQLite URL): relative values in a config file are relative to the file.
PATH_KEYS = (
    "MSGCIF_ROOT",
    "MSGMODULE_STATE_DIR",
    "MSGMODULE_TEMPLATE_DIR",
    "MSGMODULE_WEB_TEMPLATE_DIR",
    "MSGMODULE_SITE_JS_DIR",
    "MSGMODULE_SESSIONS_DIR",
)


def read_config_file(path: Path, site_id: str | None, env_name: str | None = None) -> dict[str, str]:
    """Keys of the global section, overridden by the env's, then the site's section; {} when there is no file."""
    return {key: value for key, (value, _section) in read_config_sections(path, site_id, env_name).items()}


def read_config_sections(path: Path, site_id: str | None, env_name: str | None = None) -> dict[str, tuple[str, str]]:
    """As `read_config_file`, with the section each value comes from: key -> (value, section)."""
    if not path.exists():
        if env_name:
            raise ConfigurationError(
                f"--env/MSGMODULE_ENV {env_name!r} needs a config file with an [env:{env_name}] "
                f"section, and {path} does not exist"
            )
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str.upper  # type: ignore[assignment,method-assign]
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc}") from None
    if env_name and not parser.has_section(f"env:{env_name}"):
        known = [section.removeprefix("env:") for section in parser.sections() if section.startswith("env:")]
        raise ConfigurationError(f"{path} has no [env:{env_name}] section (it has: {', '.join(known) or 'none'})")
    values: dict[str, tuple[str, str]] = {}
    sections = [GLOBAL_SECTION, *([f"env:{env_name}"] if env_name else []), *([f"site:{site_id}"] if site_id else [])]
    for section in sections:
        if parser.has_section(section):
            for key, value in parser.items(section):
                if key not in KNOWN_KEYS:
                    raise ConfigurationError(f"{path} [{section}]: unknown key {key}; known: {', '.join(KNOWN_KEYS)}")
                values[key] = (_relative_to(path, key, value), section)
    return values


def _relative_to(config_file: Path, key: str, value: str) -> str:
    """A relative path in a config file, made relative to the file's folder."""
    base = config_file.resolve().parent
    if key in PATH_KEYS and value and not os.path.isabs(os.path.expanduser(value)):
        return str(base / value)
    if key == "MSGDB_URL" and value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        database = value.removeprefix("sqlite:///")
        if database and database != ":memory:" and not database.startswith("~"):
            return f"sqlite:///{base / database}"
    return value


@dataclass
class Settings:
    """Resolved configuration: where the data is, and the stage."""

    stage: Stage
    archive_root: str | None  # MSGCIF_ROOT as configured (None: none; `cif_root` then says how to set it)
    configured_db_url: str | None  # MSGDB_URL or the MSGDB_* parts; None: the site's SQLite default
    configured_state_dir: str | None  # MSGMODULE_STATE_DIR; None: the site's own state folder
    shadow_sample: float
    release_subjects: tuple[str, ...]
    site_id: str | None
    config_file: Path
    sources: dict[str, str] = field(default_factory=dict)  # key -> where its value came from
    values: dict[str, str] = field(default_factory=dict)  # key -> its value, for the keys in `sources`
    onedep: OneDepSite | None = None  # what OneDep's site configuration gave, or why nothing
    db_enabled: bool = True  # MSGDB_ENABLED: false forbids every stage that uses the database
    env_name: str | None = None
    given_flags: dict[str, bool] = field(default_factory=dict)  # the flags this process's settings name
    circuit_breaker: bool = True  # MSGMODULE_CIRCUIT_BREAKER: guard the second store of a dual write
    site_options: dict[str, str] = field(default_factory=dict)  # SITE_KEYS as resolved: for MessagingIo's parts
    web_options: dict[str, str] = field(default_factory=dict)  # WEB_KEYS as resolved: for the web service

    def stage_disagreement(self, stage: Stage) -> list[str]:
        """The stage settings of this process that `stage` does not match (empty when none)."""
        wrong = []
        if "MSGMODULE_STAGE" in self.sources and self.stage.name != stage.name:
            wrong.append(f"MSGMODULE_STAGE={self.stage.name}")
        expected = stage.flags.as_env()
        wrong += [
            f"{name}={'true' if value else 'false'}"
            for name, value in self.given_flags.items()
            if expected[name] != value
        ]
        return wrong

    @property
    def stage_given(self) -> bool:
        """Whether this process's own settings name a stage (or flags): it must then agree with the site's."""
        return any(key in self.sources for key in ("MSGMODULE_STAGE", *FLAG_NAMES))

    def stage_setting(self) -> str:
        """Where this process's stage setting came from, for error messages."""
        return ", ".join(
            f"{key} from {source}" for key, source in self.sources.items() if key in ("MSGMODULE_STAGE", *FLAG_NAMES)
        )

    @property
    def cif_root(self) -> str:
        """The archive root; ConfigurationError saying how to set it when none is configured (never a guess)."""
        if not self.archive_root:
            raise ConfigurationError(no_archive_root(self.config_file))
        return self.archive_root

    @property
    def db_url(self) -> str:
        """The database: as configured, else SQLite in the site folder."""
        return self.configured_db_url or default_db_url(self.cif_root)

    @property
    def state_dir(self) -> str:
        """The state folder: MSGMODULE_STATE_DIR, else the site's own in the archive root."""
        return self.configured_state_dir or default_state_dir(self.cif_root)

    @property
    def state_dir_given(self) -> bool:
        """Whether MSGMODULE_STATE_DIR was set; else the state folder is the site's own, in the archive root."""
        return self.configured_state_dir is not None

    def prepare_state_dir(self) -> Path:
        """The state folder, made when missing. The site's own (the default) is made as the site folder is:
        a real folder in the archive root with the site's mode and group, never through a link; a missing
        archive root is never created (BackendUnavailableError). A configured one is made as given."""
        path = Path(self.state_dir)
        if self.state_dir_given:
            path.mkdir(parents=True, exist_ok=True)
            return path
        from .archive_files import real_folder
        from .stage.record import site_folder

        site_folder(self.cif_root)
        real_folder(path, what="the site's state folder")
        return path

    @property
    def site_dir(self) -> Path:
        """The site's shared folder in the archive root: stage record, site lock, journal."""
        return Path(self.cif_root) / ".msgmodule"

    @property
    def journal_path(self) -> Path:
        # Site-wide, beside the stage record: a move must see every process's unfinished writes.
        return self.site_dir / "journal.jsonl"

    @property
    def mismatch_log_path(self) -> Path:
        return Path(self.state_dir) / "shadow-mismatches.jsonl"

    @property
    def stats_path(self) -> Path:
        return Path(self.state_dir) / "backend-stats.json"


def load_settings(
    config: Mapping[str, Any] | None = None,
    site_id: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting: `config` (explicit) > environment > config file > defaults."""
    env = os.environ if environ is None else environ
    explicit = {key.upper(): value for key, value in (config or {}).items() if value is not None}
    for key in explicit:
        if key not in KNOWN_KEYS and key not in ("MSGMODULE_CONFIG", "MSGMODULE_ENV"):
            raise ConfigurationError(f"unknown configuration key {key}; known: {', '.join(KNOWN_KEYS)}")
    site_id = site_id or env.get("WWPDB_SITE_ID") or None
    env_name = explicit.get("MSGMODULE_ENV") or env.get("MSGMODULE_ENV") or None
    path, _named_by = named_config_file(explicit, env)
    from_file = read_config_sections(path, site_id, env_name)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in KNOWN_KEYS:
        if key in explicit:
            values[key], sources[key] = explicit[key], "argument"
        elif env.get(key) not in (None, ""):
            values[key], sources[key] = env[key], "environment"
        elif key in from_file:
            values[key], section = from_file[key]
            sources[key] = f"config file {path} [{section}]"
    # OneDep's site configuration: below the config file, above the defaults.
    onedep = read_onedep_site(site_id, values)
    for key, (value, source) in onedep.settings.items():
        if key in KNOWN_KEYS and key not in values:
            values[key], sources[key] = value, source

    given_flags = {name: parse_flag(name, values[name]) for name in FLAG_NAMES if name in values}
    stage = decide(values.get("MSGMODULE_STAGE"), given_flags)

    sample_text = values.get("MSGMODULE_SHADOW_SAMPLE", "1.0")
    try:
        sample = float(sample_text)
    except (TypeError, ValueError):
        sample = -1.0
    if not 0.0 <= sample <= 1.0:
        raise ConfigurationError(f"MSGMODULE_SHADOW_SAMPLE={sample_text!r} must be a number from 0 to 1")

    subjects = values.get("MSGMODULE_RELEASE_SUBJECTS")
    release_subjects = (
        tuple(s.strip() for s in str(subjects).split("|") if s.strip()) if subjects else DEFAULT_RELEASE_SUBJECTS
    )
    db_enabled = parse_flag("MSGDB_ENABLED", values.get("MSGDB_ENABLED", True))
    circuit_breaker = parse_flag("MSGMODULE_CIRCUIT_BREAKER", values.get("MSGMODULE_CIRCUIT_BREAKER", True))
    db_parts = {k: str(v) for k, v in values.items() if k.startswith("MSGDB_")}
    cif_root = str(values.get("MSGCIF_ROOT") or "") or None
    configured_db = resolve_db_url(None, db_parts) if any(values.get(key) for key in DB_URL_KEYS) else None
    return Settings(
        stage=stage,
        archive_root=cif_root,
        configured_db_url=configured_db,
        configured_state_dir=str(values["MSGMODULE_STATE_DIR"]) if values.get("MSGMODULE_STATE_DIR") else None,
        shadow_sample=sample,
        release_subjects=release_subjects,
        site_id=site_id,
        config_file=path,
        sources=sources,
        values={key: str(value) for key, value in values.items()},
        onedep=onedep,
        db_enabled=db_enabled,
        env_name=env_name,
        given_flags=given_flags,
        circuit_breaker=circuit_breaker,
        site_options={key: str(values[key]) for key in SITE_KEYS if key in values},
        web_options={key: str(values[key]) for key in WEB_KEYS if key in values},
    )


def no_archive_root(config_file: Path) -> str:
    """Why a process has no archive root, and how to give it one."""
    read = (
        f"the config file {config_file} has none"
        if config_file.exists()
        else f"no config file was read (none named, and no ./{DEFAULT_CONFIG_FILE} in {Path.cwd()})"
    )
    text = (
        "no archive root is configured: set MSGCIF_ROOT in the environment or in the config file's "
        f"[{GLOBAL_SECTION}] section, or give --cif-root; {read}. It is never taken from the working directory"
    )
    earlier = Path(EARLIER_DATA_DIR, "archive")
    if earlier.is_dir():
        text += (
            f". Earlier versions used ./{earlier} here by default: to keep that archive, set "
            f"MSGCIF_ROOT={earlier.absolute()}"
        )
    return text


def remove_config_keys(path: Path, keys: Iterable[str]) -> dict[str, str]:
    """Remove these keys from every section of an INI file, keeping everything else as written.

    Comments, blank lines and the order of the rest stay; the file is replaced
    atomically. Returns the removed keys with their values (the last one seen).
    """
    if not path.exists():
        return {}
    wanted = {key.upper() for key in keys}
    assignment = re.compile(r"^([A-Za-z0-9_.-]+)\s*[=:]\s*(.*)$")
    kept: list[str] = []
    removed: dict[str, str] = {}
    dropping = False
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if dropping and line[:1] in (" ", "\t") and line.strip():
            continue  # a continuation line of a removed value
        dropping = False
        match = assignment.match(line.strip()) if line[:1] not in (" ", "\t", "#", ";", "[") else None
        if match and match.group(1).upper() in wanted:
            removed[match.group(1).upper()] = match.group(2).strip()
            dropping = True
            continue
        kept.append(line)
    if removed:
        # Through a link to the file itself, keeping its mode and owner (it may hold MSGDB_PASS).
        target = path.resolve()
        info = target.stat()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.writelines(kept)
                handle.flush()
                os.fchmod(handle.fileno(), stat.S_IMODE(info.st_mode))
                with contextlib.suppress(PermissionError):
                    os.fchown(handle.fileno(), info.st_uid, info.st_gid)
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return removed
