"""Settings from OneDep's site configuration: a real ConfigInfo reads a test site written here.

Each site is written as OneDep keeps one (`<TOP_WWPDB_SITE_CONFIG_DIR>/<location>/<site>/site.cfg`)
and compiled by OneDep's own `ConfigInfoFileExec.writeConfigCache` into the `ConfigInfoFileCache`
module that `ConfigInfo` imports. ConfigInfo imports it once, when first imported, from the Python
path, as OneDep's environment sets it: so every reading runs in a fresh process with that path.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from unittest.mock import MagicMock, Mock

import pytest
from conftest import MYSQL_SERVER_URL

from wwpdb.apps.msgmodule.config import DEFAULT_RELEASE_SUBJECTS, KNOWN_KEYS, default_db_url, load_settings

pytest.importorskip("wwpdb.utils.config.ConfigInfoFileExec", reason="the dev extra installs wwpdb.utils.config")

ONEDEP_RELEASE_SUBJECTS = ["Release request", "Release with citation update", "Citation update"]
PASSWORD = "se/cr@t:x"  # characters a URL must encode

# Run first in a process whose wwpdb.utils.config is to be absent: the import system finds no such module.
HIDE_ONEDEP = """
import sys
from importlib.abc import MetaPathFinder

class NoOneDepConfig(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "wwpdb.utils" or name.startswith("wwpdb.utils."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoOneDepConfig())
"""

# As OneDep's workflow manager tests do (commonsetup.py), before anything imports this package.
MOCK_CONFIGINFO = """
import sys
from unittest.mock import Mock
sys.modules["wwpdb.utils.config.ConfigInfo"] = Mock()
"""


@dataclass
class OneDepTestSite:
    site_id: str
    location: str
    top: Path  # TOP_WWPDB_SITE_CONFIG_DIR
    storage: Path  # SITE_ARCHIVE_STORAGE_PATH
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def cache_dir(self) -> Path:
        return self.top / self.location / self.site_id.lower()

    def environ(self, site_id: str | None = "same", **extra: str) -> dict[str, str]:
        """A OneDep process's environment: the generated cache module on the path, the site id set."""
        env = {k: v for k, v in os.environ.items() if k not in ("WWPDB_SITE_ID", "PYTHONPATH")}
        env.update(
            PYTHONPATH=str(self.cache_dir),
            TOP_WWPDB_SITE_CONFIG_DIR=str(self.top),
            WWPDB_SITE_LOC=self.location,
        )
        if site_id is not None:
            env["WWPDB_SITE_ID"] = self.site_id if site_id == "same" else site_id
        env.update(extra)
        return env


@pytest.fixture
def make_site(tmp_path, monkeypatch):
    """Write a OneDep site configuration and compile it with OneDep's tool; returns the site."""

    def make(site_id: str = "MSGTEST", location: str = "test", **keys: str) -> OneDepTestSite:
        from wwpdb.utils.config.ConfigInfoFileExec import ConfigInfoFileExec

        top = tmp_path / "site-config"
        site = OneDepTestSite(site_id, location, top, tmp_path / "onedep-data", keys)
        site.cache_dir.mkdir(parents=True)
        (site.storage / "archive").mkdir(parents=True, exist_ok=True)
        lines = [f"[{site_id.lower()}]", *(f"{key.lower()} = {value}" for key, value in keys.items())]
        if "SITE_MESSAGE_DB_PORT_NUMBER" in keys:
            lines.append("config_as_int = site_message_db_port_number")  # as OneDep's sites declare the port
        (site.cache_dir / "site.cfg").write_text("\n".join(lines) + "\n")
        monkeypatch.setenv("TOP_WWPDB_SITE_CONFIG_DIR", str(top))
        assert ConfigInfoFileExec(verbose=False, log=io.StringIO()).writeConfigCache(location, site_id)
        assert (site.cache_dir / "ConfigInfoFileCache.py").exists()
        return site

    return make


def full_site_keys(tmp_path: Path) -> dict[str, str]:
    return {
        "SITE_ARCHIVE_STORAGE_PATH": str(tmp_path / "onedep-data"),
        "SITE_MESSAGE_DB_HOST_NAME": "db.example.org",
        "SITE_MESSAGE_DB_PORT_NUMBER": "3307",
        "SITE_MESSAGE_DB_NAME": "onedep_messages",
        "SITE_MESSAGE_DB_USER_NAME": "onedep",
        "SITE_MESSAGE_DB_PASSWORD": PASSWORD,
        "SITE_MESSAGE_DB_SOCKET": "/run/onedep db/mysqld.sock",
        "SITE_WEB_APPS_TOP_PATH": str(tmp_path / "webapps"),
        "SITE_WEB_APPS_TOP_SESSIONS_PATH": str(tmp_path / "webapps-sessions"),
        "SITE_NOREPLY_EMAIL": "noreply@site.example.org",
        "SITE_CURRENT_DEP_EMAIL_URL": "https://deposit.example.org",
        "SITE_ARCHIVE_NOTIF_EMAILS": "yes",
    }


def run_python(code: str, env: dict[str, str], cwd: Path, prelude: str = "") -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON document as its last line."""
    script = prelude + "\nimport json, os, sys\n" + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_cli(args: list[str], env: dict[str, str], cwd: Path, prelude: str = "") -> subprocess.CompletedProcess:
    script = prelude + "\nfrom wwpdb.apps.msgmodule.cli import main\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", script, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )


SETTINGS_AS_JSON = """
from wwpdb.apps.msgmodule.config import load_settings
s = load_settings(**KWARGS)
print(json.dumps({
    "db_url": s.db_url, "cif_root": s.cif_root, "state_dir": s.state_dir, "sources": s.sources,
    "values": s.values, "site_options": s.site_options, "release_subjects": list(s.release_subjects),
    "db_enabled": s.db_enabled, "onedep": s.onedep.status, "onedep_settings": s.onedep.settings,
    "site_id": s.site_id,
}))
"""


def settings_in(site: OneDepTestSite, cwd: Path, prelude: str = "", env: dict | None = None, **kwargs) -> dict:
    return run_python(SETTINGS_AS_JSON.replace("KWARGS", repr(kwargs)), env or site.environ(), cwd, prelude=prelude)


def test_a_real_onedep_site_configuration_gives_database_archive_web_folders_and_mail(make_site, tmp_path):
    site = make_site(**full_site_keys(tmp_path))
    got = settings_in(site, tmp_path)

    assert got["site_id"] == "MSGTEST"  # from WWPDB_SITE_ID
    assert got["onedep"] == "read for site MSGTEST"
    assert got["db_url"] == (
        "mysql+pymysql://onedep:se%2Fcr%40t%3Ax@db.example.org:3307/onedep_messages?charset=utf8mb4"
        "&unix_socket=/run/onedep%20db/mysqld.sock"
    )
    assert got["sources"]["MSGDB_PORT"] == "OneDep site config MSGTEST SITE_MESSAGE_DB_PORT_NUMBER"
    assert got["sources"]["MSGDB_SOCKET"] == "OneDep site config MSGTEST SITE_MESSAGE_DB_SOCKET"
    # OneDep keeps a deposition's message files in <SITE_ARCHIVE_STORAGE_PATH>/archive/<id>/
    assert got["cif_root"] == f"{tmp_path}/onedep-data/archive"
    assert got["onedep_settings"]["MSGMODULE_WEB_TEMPLATE_DIR"][0] == f"{tmp_path}/webapps/htdocs/msgmodule"
    assert got["onedep_settings"]["MSGMODULE_SESSIONS_DIR"][0] == f"{tmp_path}/webapps-sessions/sessions"
    for key in ("MSGMODULE_WEB_TEMPLATE_DIR", "MSGMODULE_SESSIONS_DIR"):
        if key in KNOWN_KEYS:  # the web service's settings, where this build has it
            assert got["values"][key] == got["onedep_settings"][key][0]
    assert got["site_options"] == {
        "MSGMODULE_MAIL_FROM": "noreply@site.example.org",
        "MSGMODULE_DEPOSITION_URL": "https://deposit.example.org",
        "MSGMODULE_MAIL_ARCHIVE_COPY": "da-notification-mail@mail.wwpdb.org",
        "MSGMODULE_APPROVAL_CONTEXT_TYPES": "Approval without corrections",
    }
    assert got["release_subjects"] == ONEDEP_RELEASE_SUBJECTS
    assert got["db_enabled"] is True


def test_messagingio_of_a_onedep_site_mails_as_the_site_says(make_site, tmp_path):
    site = make_site(**full_site_keys(tmp_path))
    got = run_python(
        """
        from wwpdb.apps.msgmodule.io.MessagingFactory import create_messaging_service
        svc = create_messaging_service(site_id="MSGTEST")
        print(json.dumps({"root": str(svc.archive_root), "sender": svc.site.mail_sender,
                          "copies": svc.site.mail_copies, "url": svc.site.deposition_url}))
        """,
        site.environ(site_id=None),
        tmp_path,
    )
    assert got == {
        "root": f"{tmp_path}/onedep-data/archive",
        "sender": "noreply@site.example.org",
        "copies": ["da-notification-mail@mail.wwpdb.org"],
        "url": "https://deposit.example.org",
    }


def test_the_site_id_comes_from_an_argument_or_a_request_object(make_site, tmp_path):
    site = make_site(SITE_ARCHIVE_STORAGE_PATH=str(tmp_path / "onedep-data"))
    got = run_python(
        """
        from wwpdb.apps.msgmodule.config import load_settings
        from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory

        class Request:  # OneDep's request objects answer getValue(name)
            def getValue(self, name):
                return {"WWPDB_SITE_ID": "MSGTEST"}.get(name, "")

        none = load_settings()
        try:
            none = none.cif_root
        except ValueError as exc:  # ConfigurationError: no site, so no archive root
            none = str(exc)[:34]
        print(json.dumps({"none": none, "argument": load_settings(site_id="MSGTEST").cif_root,
                          "request": MessagingFactory.get_backend_info(Request())["cif_root"]}))
        """,
        site.environ(site_id=None),
        tmp_path,
    )
    archive = f"{tmp_path}/onedep-data/archive"
    assert got == {"none": "no archive root is configured: set", "argument": archive, "request": archive}


def test_arguments_environment_and_config_file_override_onedep_which_overrides_defaults(make_site, tmp_path):
    site = make_site(**full_site_keys(tmp_path))
    cfg = tmp_path / "layers.cfg"  # not ./msgmodule.cfg: each run names it or not
    cfg.write_text(
        "[msgmodule]\nMSGCIF_ROOT = /from/file\nMSGDB_PORT = 3308\n\n"
        "[site:MSGTEST]\nMSGMODULE_MAIL_FROM = file@site.example.org\n"
    )
    got = run_python(
        f"""
        from wwpdb.apps.msgmodule.config import load_settings
        cfg = {{"MSGMODULE_CONFIG": {str(cfg)!r}}}
        env = dict(os.environ)
        layers = {{
            "onedep": load_settings(),
            "file": load_settings(cfg),
            "environment": load_settings(cfg, environ={{**env, "MSGCIF_ROOT": "/from/env", "MSGDB_PASS": "envpw"}}),
            "argument": load_settings({{**cfg, "MSGCIF_ROOT": "/from/arg"}}, environ={{**env, "MSGCIF_ROOT": "/x"}}),
        }}
        print(json.dumps({{name: {{"cif_root": s.cif_root, "db_url": s.db_url, "sources": s.sources,
                                   "mail_from": s.site_options.get("MSGMODULE_MAIL_FROM"),
                                   "state_dir": s.state_dir}} for name, s in layers.items()}}))
        """,
        site.environ(),
        tmp_path,
    )
    onedep, file, environment, argument = got["onedep"], got["file"], got["environment"], got["argument"]
    assert onedep["cif_root"] == f"{tmp_path}/onedep-data/archive"
    assert onedep["mail_from"] == "noreply@site.example.org"
    assert onedep["state_dir"] == f"{tmp_path}/onedep-data/archive/.msgmodule/state"  # the site's own
    assert "MSGMODULE_STATE_DIR" not in onedep["sources"]

    assert file["cif_root"] == "/from/file"
    assert file["sources"]["MSGCIF_ROOT"] == f"config file {cfg} [msgmodule]"
    assert file["mail_from"] == "file@site.example.org"
    assert file["sources"]["MSGMODULE_MAIL_FROM"] == f"config file {cfg} [site:MSGTEST]"
    # Each key on its own: the file's port, OneDep's host, name, user and password.
    assert ":3308/onedep_messages?" in file["db_url"] and "@db.example.org:" in file["db_url"]

    assert environment["cif_root"] == "/from/env"
    assert environment["sources"]["MSGCIF_ROOT"] == "environment"
    assert environment["db_url"].startswith("mysql+pymysql://onedep:envpw@db.example.org:3308/")

    assert argument["cif_root"] == "/from/arg"
    assert argument["sources"]["MSGCIF_ROOT"] == "argument"


def test_backend_info_says_where_each_setting_came_from_with_the_password_masked(make_site, tmp_path):
    site = make_site(**full_site_keys(tmp_path))
    cfg = tmp_path / "layers.cfg"  # not ./msgmodule.cfg: each run names it or not
    cfg.write_text(f"[site:MSGTEST]\nMSGMODULE_STATE_DIR = {tmp_path}/state\n")
    args = ["backend-info", "--config", str(cfg), "--cif-root", str(site.storage / "archive")]
    env = site.environ(MSGDB_NAME="env_messages")
    shown = run_cli(args, env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    for line in (
        "OneDep site config: read for site MSGTEST",
        f"  MSGCIF_ROOT = {site.storage}/archive  (argument)",
        "  MSGDB_NAME = env_messages  (environment)",
        f"  MSGMODULE_STATE_DIR = {tmp_path}/state  (config file {cfg} [site:MSGTEST])",
        "  MSGDB_HOST = db.example.org  (OneDep site config MSGTEST SITE_MESSAGE_DB_HOST_NAME)",
        "  MSGDB_PORT = 3307  (OneDep site config MSGTEST SITE_MESSAGE_DB_PORT_NUMBER)",
        "  MSGDB_PASS = ***  (OneDep site config MSGTEST SITE_MESSAGE_DB_PASSWORD)",
        "  MSGMODULE_SHADOW_SAMPLE = 1.0  (default)",
        "  MSGMODULE_MAIL_FROM = noreply@site.example.org  (OneDep site config MSGTEST SITE_NOREPLY_EMAIL)",
    ):
        assert line in lines, f"{line!r} not in:\n{shown.stdout}"
    url_line = next(line for line in lines if line.startswith("  MSGDB_URL = "))
    assert "onedep:***@db.example.org:3307/env_messages" in url_line
    assert url_line.endswith("(made of MSGDB_HOST, MSGDB_PORT, MSGDB_NAME, MSGDB_USER, MSGDB_PASS, MSGDB_SOCKET)")
    assert "se/cr@t" not in shown.stdout and "se%2Fcr" not in shown.stdout

    as_json = run_cli([*args, "--json"], env, tmp_path)
    info = json.loads(as_json.stdout)
    assert info["settings"]["MSGDB_PASS"] == {
        "value": "***",
        "source": "OneDep site config MSGTEST SITE_MESSAGE_DB_PASSWORD",
    }
    assert info["settings"]["MSGMODULE_STATE_DIR"]["source"] == f"config file {cfg} [site:MSGTEST]"
    assert "se/cr@t" not in as_json.stdout and "se%2Fcr" not in as_json.stdout


def test_without_wwpdb_utils_config_nothing_changes(make_site, tmp_path):
    site = make_site(**full_site_keys(tmp_path))
    archive = tmp_path / "msgmodule-data" / "archive"
    archive.mkdir(parents=True)
    hidden = run_python(
        """
        try:
            import wwpdb.utils.config.ConfigInfo
            importable = True
        except ModuleNotFoundError:
            importable = False
        from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory
        info = MessagingFactory.get_backend_info()
        print(json.dumps({"importable": importable, "info": info}))
        """,
        {**site.environ(), "MSGCIF_ROOT": str(archive)},  # the one setting a process needs
        tmp_path,
        prelude=HIDE_ONEDEP,
    )
    assert hidden["importable"] is False
    info = hidden["info"]
    assert info["site_id"] == "MSGTEST"
    assert info["onedep_site_config"] == "wwpdb.utils.config is not installed"
    assert info["cif_root"] == str(archive)
    assert info["db_url"] == default_db_url(archive)
    assert info["sources"] == {"MSGCIF_ROOT": "environment"}
    assert not [key for key, s in info["settings"].items() if s["source"] not in ("default", "environment")]

    # The same process, with OneDep's package there, does read the site: the hiding is what differs.
    with_package = settings_in(site, tmp_path)
    assert with_package["cif_root"] == f"{tmp_path}/onedep-data/archive"

    shown = run_cli(["backend-info"], {**site.environ(), "MSGCIF_ROOT": str(archive)}, tmp_path, prelude=HIDE_ONEDEP)
    assert shown.returncode == 0, shown.stderr
    assert "OneDep site config: wwpdb.utils.config is not installed" in shown.stdout


def test_a_mocked_configinfo_module_neither_breaks_import_nor_configures(make_site, tmp_path):
    site = make_site(**full_site_keys(tmp_path))
    archive = tmp_path / "msgmodule-data" / "archive"
    archive.mkdir(parents=True)
    got = run_python(
        """
        import wwpdb.apps.msgmodule.io.MessagingIo
        import wwpdb.apps.msgmodule.cli
        from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory, create_messaging_service
        from wwpdb.apps.msgmodule.config import load_settings
        settings = load_settings(site_id="MSGTEST")
        svc = create_messaging_service(site_id="MSGTEST")
        print(json.dumps({"status": settings.onedep.status, "cif_root": settings.cif_root,
                          "db_url": settings.db_url, "sender": svc.site.mail_sender,
                          "subjects": list(settings.release_subjects)}))
        """,
        {**site.environ(), "MSGCIF_ROOT": str(archive)},
        tmp_path,
        prelude=MOCK_CONFIGINFO,
    )
    assert got == {
        "status": "wwpdb.utils.config.ConfigInfo is a stand-in (Mock), not OneDep's module: not used",
        "cif_root": str(archive),
        "db_url": default_db_url(archive),
        "sender": "noreply@mail.wwpdb.org",
        "subjects": list(DEFAULT_RELEASE_SUBJECTS),
    }


@pytest.mark.parametrize("stand_in", [Mock(), MagicMock()], ids=["Mock", "MagicMock"])
def test_a_stand_in_put_in_sys_modules_later_is_ignored_too(monkeypatch, stand_in, tmp_path):
    monkeypatch.setitem(sys.modules, "wwpdb.utils.config.ConfigInfo", stand_in)
    monkeypatch.setenv("MSGCIF_ROOT", str(tmp_path))
    settings = load_settings(site_id="RCSB")
    assert settings.cif_root == str(tmp_path)
    assert settings.db_url == default_db_url(tmp_path)
    assert settings.release_subjects == DEFAULT_RELEASE_SUBJECTS
    assert "stand-in" in settings.onedep.status


def test_a_site_id_without_a_onedep_configuration_changes_nothing(tmp_path):
    # Installed, but no ConfigInfoFileCache on this process's path: ConfigInfo knows no site.
    settings = load_settings({"MSGCIF_ROOT": str(tmp_path)}, site_id="RCSB")
    assert settings.onedep.status.startswith("no OneDep site configuration for site RCSB")
    assert settings.release_subjects == DEFAULT_RELEASE_SUBJECTS  # not OneDep's package-wide list
    assert settings.sources == {"MSGCIF_ROOT": "argument"}


def test_without_site_message_db_name_the_site_is_cif_only_and_refuses_database_stages(make_site, tmp_path):
    keys = full_site_keys(tmp_path)
    del keys["SITE_MESSAGE_DB_NAME"]  # OneDep's database mode is off
    site = make_site(**keys)
    info = json.loads(run_cli(["backend-info", "--json"], site.environ(), tmp_path).stdout)
    assert info["stage"] == "cif-only"
    assert info["db_url"] == default_db_url(f"{tmp_path}/onedep-data/archive")  # other keys count only with a name
    assert info["settings"]["MSGDB_ENABLED"] == {
        "value": "false",
        "source": "OneDep site config MSGTEST SITE_MESSAGE_DB_NAME unset",
    }
    moved = run_cli(["stage", "dual-write"], site.environ(), tmp_path)
    assert moved.returncode != 0
    assert "SITE_MESSAGE_DB_NAME" in moved.stderr
    assert json.loads(run_cli(["stage", "--json"], site.environ(), tmp_path).stdout)["stage"] == "cif-only"

    # A database named by this module's own settings is not turned off by OneDep's switch.
    named = settings_in(site, tmp_path, env=site.environ(MSGDB_URL=f"sqlite:///{tmp_path}/m.db"))
    assert named["db_enabled"] is True
    assert named["db_url"] == f"sqlite:///{tmp_path}/m.db"


def test_with_site_message_db_name_the_database_is_configured_and_the_stage_stays_the_records(make_site, tmp_path):
    site = make_site(**full_site_keys(tmp_path))
    info = json.loads(run_cli(["backend-info", "--json"], site.environ(), tmp_path).stdout)
    assert info["stage"] == "cif-only"  # a new site starts cif-only: the operator moves it
    assert info["db_url"].startswith("mysql+pymysql://onedep:***@db.example.org:3307/onedep_messages?")
    assert info["settings"]["MSGDB_ENABLED"]["source"] == "default"


def test_a_database_name_without_host_or_socket_is_refused_by_name(make_site, tmp_path):
    site = make_site(SITE_ARCHIVE_STORAGE_PATH=str(tmp_path / "onedep-data"), SITE_MESSAGE_DB_NAME="messages")
    shown = run_cli(["backend-info"], site.environ(), tmp_path)
    assert shown.returncode != 0
    assert "SITE_MESSAGE_DB_NAME but neither SITE_MESSAGE_DB_HOST_NAME nor SITE_MESSAGE_DB_SOCKET" in shown.stderr


def _server_socket() -> str | None:
    import pymysql
    from sqlalchemy.engine import make_url

    url = make_url(MYSQL_SERVER_URL)
    connection = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or "", connect_timeout=3
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT @@socket")
            (path,) = cursor.fetchone()
    finally:
        connection.close()
    return path if path and Path(path).exists() else None


@pytest.mark.mysql
def test_the_site_database_is_reached_through_its_socket(make_site, tmp_path, mysql_url):
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    socket = _server_socket()
    if socket is None:
        pytest.skip("the MySQL server's Unix socket is not on this machine")
    url = make_url(mysql_url)
    site = make_site(
        SITE_ARCHIVE_STORAGE_PATH=str(tmp_path / "onedep-data"),
        SITE_MESSAGE_DB_HOST_NAME="localhost",
        SITE_MESSAGE_DB_PORT_NUMBER="1",  # nothing listens there: only the socket reaches the server
        SITE_MESSAGE_DB_NAME=str(url.database),
        SITE_MESSAGE_DB_USER_NAME=str(url.username),
        SITE_MESSAGE_DB_SOCKET=socket,
        **({"SITE_MESSAGE_DB_PASSWORD": url.password} if url.password else {}),
    )
    created = run_cli(["init-db"], site.environ(), tmp_path)
    assert created.returncode == 0, created.stderr
    engine = create_engine(mysql_url)
    try:
        assert "pdbx_deposition_message_info" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.mysql
def test_health_in_cif_only_fails_while_the_site_database_holds_onedeps_tables_not_taken_over(
    make_site, tmp_path, mysql_url
):
    """A OneDep site in database mode starts here in cif-only: the archive lacks what OneDep's tables hold."""
    from onedep_tables import create_onedep_tables
    from sqlalchemy.engine import make_url

    url = make_url(mysql_url)
    create_onedep_tables(mysql_url)
    site = make_site(
        SITE_ARCHIVE_STORAGE_PATH=str(tmp_path / "onedep-data"),
        SITE_MESSAGE_DB_HOST_NAME=str(url.host),
        SITE_MESSAGE_DB_PORT_NUMBER=str(url.port or 3306),
        SITE_MESSAGE_DB_NAME=str(url.database),
        SITE_MESSAGE_DB_USER_NAME=str(url.username),
        **({"SITE_MESSAGE_DB_PASSWORD": url.password} if url.password else {}),
    )
    env = site.environ(MSGMODULE_STATE_DIR=str(tmp_path / "state"))

    health = run_cli(["health"], env, tmp_path)
    assert health.returncode == 1, health.stdout + health.stderr
    assert "FAIL onedep" in health.stdout and "msgmodule adopt-onedep" in health.stdout, health.stdout
    info = json.loads(run_cli(["backend-info", "--json"], env, tmp_path).stdout)
    assert info["stage"] == "cif-only"
    refused = run_cli(["init-db"], env, tmp_path)
    assert refused.returncode == 1 and "msgmodule adopt-onedep" in refused.stderr, refused.stderr

    adopted = run_cli(["adopt-onedep", "--workers", "1", "--no-progress"], env, tmp_path)
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    health = run_cli(["health"], env, tmp_path)
    assert health.returncode == 0, health.stdout + health.stderr
    assert "adopt-onedep" not in health.stdout


def test_health_in_cif_only_does_not_look_at_a_database_onedeps_site_configuration_does_not_name(make_site, tmp_path):
    """File mode (no SITE_MESSAGE_DB_NAME) and this module's own MSGDB_URL: nothing to take over from OneDep."""
    keys = full_site_keys(tmp_path)
    del keys["SITE_MESSAGE_DB_NAME"]
    site = make_site(**keys)
    for env in (
        site.environ(MSGMODULE_STATE_DIR=str(tmp_path / "state")),
        site.environ(MSGMODULE_STATE_DIR=str(tmp_path / "state"), MSGDB_URL="mysql+pymysql://u@127.0.0.1:1/none"),
    ):
        health = run_cli(["health"], env, tmp_path)
        assert health.returncode == 0, health.stdout + health.stderr
        assert "adopt-onedep" not in health.stdout
