"""The flag/stage policy: parse, validate, decide. Pure: no I/O, no backends.

Four flags say which backends are written and read. Five combinations are
the named stages of a migration; every other combination is refused with the
reason. The decision is which backend answers reads (and is written first,
as the authoritative one) and which is written second.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MessagingError

CIF, DB = "cif", "db"

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}


class ConfigurationError(MessagingError, ValueError):
    """A flag, stage or combination that makes no sense; the message says why."""


def parse_flag(name: str, value: str | bool) -> bool:
    """A flag value: true/false/1/0/yes/no/on/off in any case; anything else names the variable."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(f"{name}={value!r} is not a flag value: use true/false, 1/0, yes/no or on/off")


@dataclass(frozen=True)
class Flags:
    """Which backends are written and read."""

    cif_writes: bool
    cif_reads: bool
    db_writes: bool
    db_reads: bool

    def as_env(self) -> dict[str, bool]:
        return {
            "MSGCIF_WRITES_ENABLED": self.cif_writes,
            "MSGCIF_READS_ENABLED": self.cif_reads,
            "MSGDB_WRITES_ENABLED": self.db_writes,
            "MSGDB_READS_ENABLED": self.db_reads,
        }


FLAG_NAMES = ("MSGCIF_WRITES_ENABLED", "MSGCIF_READS_ENABLED", "MSGDB_WRITES_ENABLED", "MSGDB_READS_ENABLED")
# Each flag's own default; none is derived from another.
FLAG_DEFAULTS = {
    "MSGCIF_WRITES_ENABLED": True,
    "MSGCIF_READS_ENABLED": True,
    "MSGDB_WRITES_ENABLED": False,
    "MSGDB_READS_ENABLED": False,
}


@dataclass(frozen=True)
class Stage:
    """A named stage: its flags, what answers reads, and the order of writes."""

    name: str
    flags: Flags
    read_from: str  # the authoritative backend: answers reads, written first
    write_order: tuple[str, ...]
    shadow: bool  # reads also read the database and compare
    make_target: str | None = None

    @property
    def reads_from_database(self) -> bool:
        return self.read_from == DB


STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        Stage("cif-only", Flags(True, True, False, False), CIF, (CIF,), False, "backend-cif-only"),
        Stage("dual-write", Flags(True, True, True, False), CIF, (CIF, DB), False, "migration-phase-1"),
        Stage("shadow", Flags(True, True, True, True), CIF, (CIF, DB), True, None),
        Stage("db-primary", Flags(True, False, True, True), DB, (DB, CIF), False, "migration-phase-2"),
        Stage("db-only", Flags(False, False, True, True), DB, (DB,), False, "migration-phase-3"),
    )
}
_STAGE_BY_FLAGS = {stage.flags: stage for stage in STAGES.values()}


def why_refused(flags: Flags) -> str | None:
    """The reason a flag combination is refused, or None if it is a stage."""
    if flags in _STAGE_BY_FLAGS:
        return None
    reasons = []
    if not (flags.cif_writes or flags.db_writes):
        reasons.append("nothing is written (both *_WRITES_ENABLED are false)")
    if not (flags.cif_reads or flags.db_reads):
        reasons.append("nothing is read (both *_READS_ENABLED are false)")
    if flags.cif_reads and not flags.cif_writes:
        reasons.append("the CIF archive would be read but not written, so it would go stale")
    if flags.db_reads and not flags.db_writes:
        reasons.append("the database would be read but not written, so it would go stale")
    if not reasons:  # both read, CIF not read... every remaining case is covered above
        reasons.append("no stage has this combination")
    return "; ".join(reasons)


def stage_for_flags(flags: Flags) -> Stage:
    """The stage these flags describe, or ConfigurationError saying why there is none."""
    reason = why_refused(flags)
    if reason is not None:
        shown = ", ".join(f"{k}={'true' if v else 'false'}" for k, v in flags.as_env().items())
        raise ConfigurationError(f"refused flag combination ({shown}): {reason}. Stages: {', '.join(STAGES)}")
    return _STAGE_BY_FLAGS[flags]


def stage_named(name: str) -> Stage:
    key = name.strip().lower()
    if key not in STAGES:
        raise ConfigurationError(f"MSGMODULE_STAGE={name!r} is not a stage: use one of {', '.join(STAGES)}")
    return STAGES[key]


def decide(stage_name: str | None, given_flags: dict[str, bool]) -> Stage:
    """The stage from a stage name and/or explicitly given flags (defaults fill the rest).

    When a stage is named, every flag that was also given must agree with it.
    """
    if stage_name:
        stage = stage_named(stage_name)
        expected = stage.flags.as_env()
        disagreeing = [
            f"{name}={'true' if value else 'false'}" for name, value in given_flags.items() if expected[name] != value
        ]
        if disagreeing:
            raise ConfigurationError(
                f"MSGMODULE_STAGE={stage.name} disagrees with {', '.join(disagreeing)}: "
                f"stage {stage.name} means "
                + ", ".join(f"{k}={'true' if v else 'false'}" for k, v in expected.items())
                + ". Set one or the other."
            )
        return stage
    values = {name: given_flags.get(name, FLAG_DEFAULTS[name]) for name in FLAG_NAMES}
    return stage_for_flags(Flags(*(values[name] for name in FLAG_NAMES)))
