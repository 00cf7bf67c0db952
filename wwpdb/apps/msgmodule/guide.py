"""The operator's walkthrough printed by `msgmodule migration-guide` (and `make backend-migration-guide`)."""

MIGRATION_GUIDE = """\
Moving a site's messages from the CIF archive into MySQL
========================================================

Every step is safe to repeat. Each `make` target prints what it changed.
Settings come from arguments > environment > msgmodule.cfg > defaults;
`make backend-info` shows what is in force and where each value came from.

0. Point at the archive and the database, create the schema, check both:
     export MSGCIF_ROOT=/path/to/archive
     export MSGDB_URL='mysql+pymysql://USER:PASS@HOST:3306/DBNAME?charset=utf8mb4'
     python scripts/init_messaging_database.py
     make health                      # exit 0 only if every backend answered

1. Start writing to both, still reading CIF (stage dual-write):
     make migration-phase-1
   New messages now go to the archive first, then to the database. If a
   database write fails the caller still succeeds and the document is
   journaled; `make reconcile` re-copies it once the database is back.

2. Copy the existing archive (idempotent; re-run until it reports nothing to do):
     python scripts/migrate_cif_to_db.py --directory $MSGCIF_ROOT --workers 4 --report migrate.json

3. Prove nothing was lost:
     make reconcile                   # empty the journal
     python scripts/validate_migration.py --directory $MSGCIF_ROOT --report validate.json
   Exit 0 means every deposition is equal. Optionally run the stage `shadow`
   for a while (make backend-shadow): reads are compared with the database
   and differences logged to msgmodule-data/shadow-mismatches.jsonl.

4. Read from the database, still writing both (stage db-primary):
     make migration-phase-2
   Refused unless the last validation passed and the journal is empty
   (FORCE=1 overrides, loudly).

5. Database only (stage db-only):
     make migration-phase-3

Rolling back: `make migration-phase-1` returns to reading CIF at any time.
From db-only, first write the database back to files:
     python scripts/export_db_to_cif.py --output-dir /path/to/export
"""
