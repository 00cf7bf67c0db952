"""The flag/stage policy, exhaustively and without any backend."""

from __future__ import annotations

import itertools

import pytest

from wwpdb.apps.msgmodule.stage.policy import (
    FLAG_NAMES,
    STAGES,
    ConfigurationError,
    Flags,
    decide,
    parse_flag,
    stage_for_flags,
    why_refused,
)

# The stage table, written out by hand: flags (cif writes, cif reads, db writes, db reads) per stage.
EXPECTED_STAGES = {
    (True, True, False, False): ("cif-only", "cif", ("cif",)),
    (True, True, True, False): ("dual-write", "cif", ("cif", "db")),
    (True, True, True, True): ("shadow", "cif", ("cif", "db")),
    (True, False, True, True): ("db-primary", "db", ("db", "cif")),
    (False, False, True, True): ("db-only", "db", ("db",)),
}


@pytest.mark.parametrize("combination", list(itertools.product([True, False], repeat=4)), ids=str)
def test_every_flag_combination_is_a_stage_or_refused_with_a_reason(combination):
    flags = Flags(*combination)
    if combination in EXPECTED_STAGES:
        name, read_from, order = EXPECTED_STAGES[combination]
        stage = stage_for_flags(flags)
        assert (stage.name, stage.read_from, stage.write_order) == (name, read_from, order)
        assert why_refused(flags) is None
    else:
        reason = why_refused(flags)
        assert reason
        with pytest.raises(ConfigurationError, match="refused flag combination") as raised:
            stage_for_flags(flags)
        assert reason in str(raised.value)


def test_refusal_reasons_say_what_is_wrong():
    assert "nothing is written" in why_refused(Flags(False, False, False, False))
    assert "nothing is read" in why_refused(Flags(True, False, True, False))
    assert "database would be read but not written" in why_refused(Flags(True, True, False, True))
    assert "CIF archive would be read but not written" in why_refused(Flags(False, True, True, True))


def test_only_shadow_compares():
    assert [s.name for s in STAGES.values() if s.shadow] == ["shadow"]


@pytest.mark.parametrize("word", ["true", "TRUE", "1", "yes", "On", " on "])
def test_true_words(word):
    assert parse_flag("MSGDB_WRITES_ENABLED", word) is True


@pytest.mark.parametrize("word", ["false", "False", "0", "no", "OFF"])
def test_false_words(word):
    assert parse_flag("MSGDB_WRITES_ENABLED", word) is False


@pytest.mark.parametrize("word", ["", "maybe", "2", "tru", "enabled", "y"])
def test_other_values_are_errors_naming_the_variable(word):
    with pytest.raises(ConfigurationError, match="MSGDB_READS_ENABLED"):
        parse_flag("MSGDB_READS_ENABLED", word)


def test_each_flag_has_its_own_default():
    assert decide(None, {}).name == "cif-only"
    # Turning on database writes alone changes no other flag: dual-write.
    assert decide(None, {"MSGDB_WRITES_ENABLED": True}).name == "dual-write"
    # Database reads alone would read an unwritten store: refused, not silently fixed up.
    with pytest.raises(ConfigurationError, match="read but not written"):
        decide(None, {"MSGDB_READS_ENABLED": True})


def test_stage_name_and_agreeing_flags():
    assert decide("dual-write", {"MSGDB_WRITES_ENABLED": True}).name == "dual-write"
    assert decide("DB-Only", {}).name == "db-only"


def test_stage_name_and_disagreeing_flags_is_an_error():
    with pytest.raises(ConfigurationError, match="disagrees with MSGDB_WRITES_ENABLED=false"):
        decide("dual-write", {"MSGDB_WRITES_ENABLED": False})


def test_unknown_stage_name():
    with pytest.raises(ConfigurationError, match="not a stage"):
        decide("dual", {})


def test_flag_names_are_the_spec_names():
    assert FLAG_NAMES == (
        "MSGCIF_WRITES_ENABLED",
        "MSGCIF_READS_ENABLED",
        "MSGDB_WRITES_ENABLED",
        "MSGDB_READS_ENABLED",
    )
