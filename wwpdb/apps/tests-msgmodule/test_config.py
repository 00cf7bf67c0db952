"""Configuration precedence: argument > environment > config file (site section) > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from wwpdb.apps.msgmodule.config import ConfigFileNotFound, load_settings, remove_config_keys
from wwpdb.apps.msgmodule.stage.policy import ConfigurationError


def write_cfg(path, text):
    path.write_text(text)
    return {"MSGMODULE_CONFIG": str(path)}


@pytest.fixture
def archive_root(tmp_path, monkeypatch):
    """An archive root in the environment: the one setting every process needs."""
    root = tmp_path / "archive"
    root.mkdir()
    monkeypatch.setenv("MSGCIF_ROOT", str(root))
    return root


def test_without_an_archive_root_nothing_is_guessed_from_the_working_directory(isolated_configuration):
    settings = load_settings()  # a database-only command (init-db --db-url) needs none
    for needs_the_site in ("cif_root", "state_dir", "db_url"):
        with pytest.raises(ConfigurationError, match="no archive root is configured: set MSGCIF_ROOT") as raised:
            getattr(settings, needs_the_site)
    assert load_settings({"MSGDB_URL": "sqlite:////db/m.db"}).db_url == "sqlite:////db/m.db"
    assert "never taken from the working directory" in str(raised.value)
    assert list(isolated_configuration.iterdir()) == []  # nothing made here


def test_an_earlier_default_archive_in_the_working_directory_is_named(isolated_configuration):
    (isolated_configuration / "msgmodule-data" / "archive").mkdir(parents=True)
    with pytest.raises(ConfigurationError, match="MSGCIF_ROOT=" + str(isolated_configuration / "msgmodule-data")):
        assert load_settings().state_dir


def test_defaults_are_the_sites_own_whatever_the_working_directory(archive_root, tmp_path, monkeypatch):
    seen = []
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        settings = load_settings()
        seen.append((settings.state_dir, settings.db_url, settings.journal_path))
    assert seen[0] == seen[1]
    assert settings.stage.name == "cif-only"
    assert settings.state_dir == str(archive_root / ".msgmodule" / "state")
    assert settings.db_url == f"sqlite:///{archive_root}/.msgmodule/messaging.db"
    assert settings.shadow_sample == 1.0
    assert not settings.state_dir_given
    monkeypatch.setenv("MSGMODULE_STATE_DIR", str(tmp_path / "chosen"))
    assert load_settings().state_dir == str(tmp_path / "chosen")  # an explicit one still wins


def test_a_relative_archive_root_gives_an_absolute_state_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"MSGCIF_ROOT": "archive"})
    assert settings.state_dir == str(tmp_path / "archive" / ".msgmodule" / "state")


def test_a_named_config_file_that_is_missing_is_an_error_naming_it(isolated_configuration, tmp_path, monkeypatch):
    missing = tmp_path / "msgmodule.cgf"
    with pytest.raises(ConfigFileNotFound, match=f"the config file {missing} named by the config argument"):
        load_settings({"MSGMODULE_CONFIG": str(missing), "MSGCIF_ROOT": str(tmp_path)})
    monkeypatch.setenv("MSGMODULE_CONFIG", str(missing))
    with pytest.raises(ConfigFileNotFound, match=f"{missing} named by MSGMODULE_CONFIG does not exist") as raised:
        load_settings({"MSGCIF_ROOT": str(tmp_path)})
    assert isinstance(raised.value, ConfigurationError) and raised.value.path == missing
    monkeypatch.setenv("MSGMODULE_CONFIG", str(tmp_path))
    with pytest.raises(ConfigFileNotFound, match="is a folder, not a file"):
        load_settings({"MSGCIF_ROOT": str(tmp_path)})
    assert list(isolated_configuration.iterdir()) == []


def test_default_config_file_in_the_working_directory_is_read(isolated_configuration, archive_root):
    (isolated_configuration / "msgmodule.cfg").write_text("[msgmodule]\nMSGMODULE_STAGE = dual-write\n")
    assert load_settings().stage.name == "dual-write"


def test_precedence_argument_over_environment_over_file(tmp_path, monkeypatch):
    cfg = write_cfg(tmp_path / "m.cfg", "[msgmodule]\nMSGCIF_ROOT = /from/file\nMSGDB_URL = sqlite:///file.db\n")
    assert load_settings(cfg).cif_root == "/from/file"
    monkeypatch.setenv("MSGCIF_ROOT", "/from/env")
    settings = load_settings(cfg)
    assert settings.cif_root == "/from/env"
    assert settings.db_url == f"sqlite:///{tmp_path}/file.db"  # relative to the config file
    assert settings.sources["MSGCIF_ROOT"] == "environment"
    assert load_settings({**cfg, "MSGCIF_ROOT": "/from/arg"}).cif_root == "/from/arg"


def test_site_section_overrides_the_global_section(tmp_path, monkeypatch, archive_root):
    cfg = write_cfg(
        tmp_path / "m.cfg",
        "[msgmodule]\nMSGMODULE_STAGE = cif-only\n\n[site:PDBE]\nMSGMODULE_STAGE = dual-write\n",
    )
    assert load_settings(cfg).stage.name == "cif-only"
    assert load_settings(cfg, site_id="PDBE").stage.name == "dual-write"
    assert load_settings(cfg, site_id="RCSB").stage.name == "cif-only"
    monkeypatch.setenv("WWPDB_SITE_ID", "PDBE")
    assert load_settings(cfg).stage.name == "dual-write"


def test_flags_from_the_environment_and_stage_from_the_file_must_agree(tmp_path, monkeypatch):
    cfg = write_cfg(tmp_path / "m.cfg", "[msgmodule]\nMSGMODULE_STAGE = dual-write\n")
    monkeypatch.setenv("MSGDB_WRITES_ENABLED", "false")
    with pytest.raises(ConfigurationError, match="disagrees"):
        load_settings(cfg)


def test_invalid_flag_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("MSGCIF_READS_ENABLED", "perhaps")
    with pytest.raises(ConfigurationError, match="MSGCIF_READS_ENABLED='perhaps'"):
        load_settings()


def test_unknown_key_in_the_file_is_an_error(tmp_path):
    cfg = write_cfg(tmp_path / "m.cfg", "[msgmodule]\nMSGDB_WRITE_ENABLED = true\n")
    with pytest.raises(ConfigurationError, match="unknown key MSGDB_WRITE_ENABLED"):
        load_settings(cfg)


def test_shadow_sample_is_checked(monkeypatch, archive_root):
    monkeypatch.setenv("MSGMODULE_SHADOW_SAMPLE", "0.25")
    assert load_settings().shadow_sample == 0.25
    monkeypatch.setenv("MSGMODULE_SHADOW_SAMPLE", "2")
    with pytest.raises(ConfigurationError, match="MSGMODULE_SHADOW_SAMPLE"):
        load_settings()


def test_removing_stage_keys_keeps_comments_other_keys_and_sections(tmp_path):
    path = tmp_path / "m.cfg"
    text = (
        "# the site's settings, kept by hand\n[msgmodule]\nMSGCIF_ROOT = /a\n; flags below are old\n"
        "MSGDB_WRITES_ENABLED = true\nmsgmodule_stage = dual-write\n\n[site:X]\n# per site\nMSGDB_URL = sqlite:///x\n"
        "MSGDB_READS_ENABLED=false\n"
    )
    path.write_text(text)
    removed = remove_config_keys(path, ["MSGMODULE_STAGE", "MSGDB_WRITES_ENABLED", "MSGDB_READS_ENABLED"])
    assert removed == {"MSGDB_WRITES_ENABLED": "true", "MSGMODULE_STAGE": "dual-write", "MSGDB_READS_ENABLED": "false"}
    assert path.read_text() == (
        "# the site's settings, kept by hand\n[msgmodule]\nMSGCIF_ROOT = /a\n; flags below are old\n"
        "\n[site:X]\n# per site\nMSGDB_URL = sqlite:///x\n"
    )
    settings = load_settings({"MSGMODULE_CONFIG": str(path)}, site_id="X")
    assert (settings.stage.name, settings.cif_root, settings.db_url, settings.stage_given) == (
        "cif-only",
        "/a",
        f"sqlite:///{tmp_path}/x",
        False,
    )
    assert remove_config_keys(path, ["MSGMODULE_STAGE"]) == {}


def test_an_env_section_overrides_the_global_one_and_a_site_section_overrides_both(tmp_path):
    path = tmp_path / "m.cfg"
    path.write_text(
        "[msgmodule]\nMSGCIF_ROOT = /archive\nMSGDB_URL = sqlite:////global.db\n\n"
        "[env:staging]\nMSGDB_URL = sqlite:////staging.db\nMSGMODULE_STATE_DIR = /staging-state\n\n"
        "[site:X]\nMSGMODULE_STATE_DIR = /site-state\n"
    )
    staging = load_settings({"MSGMODULE_CONFIG": str(path), "MSGMODULE_ENV": "staging"})
    assert (staging.db_url, staging.state_dir, staging.cif_root) == (
        "sqlite:////staging.db",
        "/staging-state",
        "/archive",
    )
    assert load_settings({"MSGMODULE_CONFIG": str(path), "MSGMODULE_ENV": "staging"}, "X").state_dir == "/site-state"
    assert load_settings({"MSGMODULE_CONFIG": str(path)}).db_url == "sqlite:////global.db"
    with pytest.raises(ConfigurationError, match=r"no \[env:production\] section \(it has: staging\)"):
        load_settings({"MSGMODULE_CONFIG": str(path), "MSGMODULE_ENV": "production"})


def test_relative_paths_in_a_config_file_are_relative_to_the_file(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "m.cfg"
    path.write_text(
        "[msgmodule]\nMSGCIF_ROOT = archive\nMSGMODULE_STATE_DIR = ../state\nMSGDB_URL = sqlite:///data/messages.db\n"
    )
    settings = load_settings({"MSGMODULE_CONFIG": str(path)})
    assert settings.cif_root == str(folder / "archive")
    assert Path(settings.state_dir).resolve() == tmp_path / "state"
    assert settings.db_url == f"sqlite:///{folder}/data/messages.db"
    assert load_settings({"MSGMODULE_CONFIG": str(path), "MSGCIF_ROOT": "given"}).cif_root == "given"


def test_msgdb_enabled_is_a_flag(tmp_path, archive_root):
    assert load_settings({}).db_enabled is True
    assert load_settings({"MSGDB_ENABLED": "off"}).db_enabled is False
    with pytest.raises(ConfigurationError, match="MSGDB_ENABLED='maybe'"):
        load_settings({"MSGDB_ENABLED": "maybe"})


def test_removing_keys_writes_through_a_link_and_keeps_the_files_mode(tmp_path):
    shared = tmp_path / "shared.cfg"
    shared.write_text("[msgmodule]\nMSGDB_PASS = secret\nMSGMODULE_STAGE = dual-write\n")
    shared.chmod(0o600)
    link = tmp_path / "msgmodule.cfg"
    link.symlink_to(shared)
    assert remove_config_keys(link, ["MSGMODULE_STAGE"]) == {"MSGMODULE_STAGE": "dual-write"}
    assert link.is_symlink() and shared.read_text() == "[msgmodule]\nMSGDB_PASS = secret\n"
    assert shared.stat().st_mode & 0o777 == 0o600


def test_backend_info_says_when_no_config_file_was_read(isolated_configuration, archive_root):
    from wwpdb.apps.msgmodule.io.MessagingFactory import MessagingFactory

    assert MessagingFactory.get_backend_info()["config_file"].startswith("none (")
    (isolated_configuration / "msgmodule.cfg").write_text("[msgmodule]\n")
    assert MessagingFactory.get_backend_info()["config_file"].endswith("msgmodule.cfg")
