"""The operator's walkthrough printed by `msgmodule migration-guide` (and `make backend-migration-guide`).

Every command line is indented by five spaces and runs as printed: `msgmodule` is written in the
form that works in the shell it is printed to (`.venv/bin/msgmodule` in a checkout whose
`.venv/bin` is not on PATH). A test runs every one of them, in order, on a throwaway site.
"""

from __future__ import annotations

from .tools.invocation import msgmodule_command

COMMAND_INDENT = " " * 5

_GUIDE = """\
Moving a site's messages from the CIF archive into MySQL
========================================================

Every step is safe to repeat, and each prints what it changed. Settings come
from arguments > environment > msgmodule.cfg > defaults; `{msgmodule} backend-info`
shows what is in force and where each value came from. Each command line
below (indented) runs as printed.

0. Point at the archive and the database, create the schema, check both:
     export MSGCIF_ROOT=/path/to/archive
     export MSGDB_URL='mysql+pymysql://USER:PASS@HOST:3306/DBNAME?charset=utf8mb4'
     {msgmodule} init-db
     {msgmodule} health
   init-db creates the schema, or upgrades it; health exits 0 only if every
   backend the stage uses answered.

The stage is the site's, not a process's: it is recorded in the archive root
(MSGCIF_ROOT/.msgmodule/stage.json, with an epoch and a history) and every
process follows it. Leave MSGMODULE_STAGE and the four flags unset; a process
that sets them refuses to serve while they disagree with the site. Only
`{msgmodule} stage NAME` (the make targets named below call it) moves the site,
in one guarded step: running writes finish first and new ones wait, the journal
is settled, and the move checks what it must (below). `{msgmodule} stage` shows it all.

1. Start writing to both, still reading CIF (stage dual-write):
     {msgmodule} stage dual-write          # in a checkout: make migration-phase-1
   New messages now go to the archive first, then to the database. If a
   database write fails the caller still succeeds and the document is
   journaled; `{msgmodule} reconcile` (make reconcile) re-copies it once the
   database is back.

2. Copy the existing archive (re-run until it reports nothing to do):
     {msgmodule} migrate --workers 4 --report migrate.json

3. Prove nothing was lost (this also records what it proved):
     {msgmodule} validate --report validate.json
   Exit 0 means every deposition is equal. Optionally run the stage shadow
   for a while (`{msgmodule} stage shadow`, make backend-shadow): reads are
   compared with the database and differences logged to the state
   directory's shadow-mismatches.jsonl.

4. Read from the database, still writing both (stage db-primary):
     {msgmodule} stage db-primary          # in a checkout: make migration-phase-2
   Needs that validation, and no change since it that is not shown equal: the
   move re-validates up to 200 changed depositions itself (those dual write
   kept in step); otherwise it names them: `{msgmodule} resync ID...` then
   `{msgmodule} validate --changed`. --force (FORCE=1 for make) overrides, and
   is recorded.

5. Database only (stage db-only):
     {msgmodule} stage db-only             # in a checkout: make migration-phase-3

Rolling back: back to a stage that reads CIF, at any time:
     {msgmodule} stage dual-write          # in a checkout: make migration-phase-1
The move first writes every database document that differs from the archive
into it as a new version (V<n+1>) and reads it back, so nothing written while
the database was read is lost; it is refused if any cannot be written.
"""


def migration_guide(command: str | None = None) -> str:
    """The walkthrough, with `msgmodule` written as `command` (default: the form that works here)."""
    return _GUIDE.format(msgmodule=command or msgmodule_command())
