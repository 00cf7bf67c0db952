"""Configuration precedence: argument > environment > config file (site section) > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from wwpdb.apps.msgmodule.config import DEFAULT_DB_URL, load_settings, remove_config_keys
from wwpdb.apps.msgmodule.stage.policy import ConfigurationError


def write_cfg(path, text):
    path.write_text(text)
    return {"MSGMODULE_CONFIG": str(path)}


def test_defaults_without_anything(isolated_configuration):
    settings = load_settings()
    assert settings.stage.name == "cif-only"
    assert settings.cif_root == "./msgmodule-data/archive"
    assert settings.db_url == DEFAULT_DB_URL
    assert settings.shadow_sample == 1.0


def test_default_config_file_in_the_working_directory_is_read(isolated_configuration):
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


def test_site_section_overrides_the_global_section(tmp_path, monkeypatch):
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


def test_shadow_sample_is_checked(monkeypatch):
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


def test_msgdb_enabled_is_a_flag(tmp_path):
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
