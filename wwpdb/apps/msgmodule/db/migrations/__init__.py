"""Alembic environment and revisions of the message schema (see `..schema_versions`)."""
