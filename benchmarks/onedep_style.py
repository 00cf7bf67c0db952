"""A reconstruction of OneDep's migrator: what `make bench` compares against when the real one cannot run.

`make bench` runs OneDep's released code (benchmarks/onedep_migrator.py); this
module is its fallback when that release cannot be installed (no package
index), and the bench then labels the figure as this reconstruction's.

OneDep's `scripts/migrate_cif_to_db.py` (py-wwpdb_apps_msgmodule) migrates one
deposition at a time, in one process: it reads each content type's current
file with the `mmcif` package's PdbxReader, turns the rows into objects, asks
the database which parent messages exist, then stores the deposition in three
transactions: messages with INSERT IGNORE into a table keyed by message_id (a
repeated id is dropped), file references, and statuses upserted by message_id
(one row per message survives); original-communication references have no
table and are not stored. This module does the same steps with its own code,
on MariaDB/MySQL (the only servers that migrator runs on), into its own three
tables in the database it is given, so the figure compares approaches on the
same archive, server and machine. It reports how many of the archive's rows it
stored, as the real one would.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Integer, LargeBinary, String, Text, create_engine, func, select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.orm import DeclarativeBase, sessionmaker

CONTENT_TYPES = ("messages-from-depositor", "messages-to-depositor", "notes-from-annotator")
ITEMS = {
    "pdbx_deposition_message_info": (
        "message_id",
        "deposition_data_set_id",
        "timestamp",
        "sender",
        "context_type",
        "context_value",
        "parent_message_id",
        "message_subject",
        "message_text",
        "message_type",
        "send_status",
    ),
    "pdbx_deposition_message_file_reference": (
        "message_id",
        "deposition_data_set_id",
        "content_type",
        "content_format",
        "partition_number",
        "version_id",
        "storage_type",
        "upload_file_name",
    ),
    "pdbx_deposition_message_status": (
        "message_id",
        "deposition_data_set_id",
        "read_status",
        "action_reqd",
        "for_release",
    ),
}


class Base(DeclarativeBase):
    pass


def _model(name: str, table: str, items: tuple[str, ...], key: str | None) -> type[Base]:
    """An ORM class as OneDep's models are: every item a column, objects built per row."""
    columns: dict[str, Any] = {"__tablename__": table}
    if key is None:
        columns["id"] = Column(Integer, primary_key=True, autoincrement=True)
    for item in items:
        if item == key:
            columns[item] = Column(String(64), primary_key=True)
        elif item in ("message_subject", "message_text"):
            columns[item] = Column(LargeBinary(2**24))
        elif item == "timestamp":
            columns[item] = Column(DateTime)
        else:
            columns[item] = Column(Text)
    return type(name, (Base,), columns)


MessageRow = _model(
    "MessageRow", "od_message_info", (*ITEMS["pdbx_deposition_message_info"], "content_type"), "message_id"
)
ReferenceRow = _model(
    "ReferenceRow", "od_message_file_reference", ITEMS["pdbx_deposition_message_file_reference"], None
)
StatusRow = _model("StatusRow", "od_message_status", ITEMS["pdbx_deposition_message_status"], "message_id")


def current_file(folder: Path, content_type: str) -> Path | None:
    """The highest version of the content type's file (what OneDep's PathInfo calls 'latest')."""
    prefix = f"{folder.name}_{content_type}_P1.cif.V"
    versions = [
        (int(name[len(prefix) :]), name)
        for name in os.listdir(folder)
        if name.startswith(prefix) and name[len(prefix) :].isdigit()
    ]
    return folder / max(versions)[1] if versions else None


def read_categories(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Rows of the three stored categories, as dictionaries of item -> text, from PdbxReader."""
    from mmcif.io.PdbxReader import PdbxReader

    containers: list[Any] = []
    with open(path, encoding="utf-8") as handle:
        PdbxReader(handle).read(containers)
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in ITEMS}
    for container in containers:
        for name in ITEMS:
            table = container.getObj(name)
            if table is None:
                continue
            attributes = table.getAttributeList()
            for row in table.getRowList():
                found[name].append(dict(zip(attributes, row, strict=False)))
    return found


def _timestamp(text: str | None) -> datetime:
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y"):
        try:
            return datetime.strptime(text or "", layout)
        except ValueError:
            continue
    return datetime.now()


def _objects(content_type: str, found: dict[str, list[dict[str, Any]]]) -> dict[type[Base], list[Base]]:
    made: dict[type[Base], list[Base]] = {MessageRow: [], ReferenceRow: [], StatusRow: []}
    for row in found["pdbx_deposition_message_info"]:
        values = {item: row.get(item) for item in ITEMS["pdbx_deposition_message_info"]}
        values["timestamp"] = _timestamp(values["timestamp"])
        for item in ("message_subject", "message_text"):
            values[item] = (values[item] or "").encode("utf-8")
        made[MessageRow].append(MessageRow(**values, content_type=content_type))
    for model, name in (
        (ReferenceRow, "pdbx_deposition_message_file_reference"),
        (StatusRow, "pdbx_deposition_message_status"),
    ):
        made[model] += [model(**{item: row.get(item) for item in ITEMS[name]}) for row in found[name]]
    return made


def _values(instance: Base) -> dict[str, Any]:
    return {c.name: getattr(instance, c.name) for c in instance.__table__.columns if c.name in instance.__dict__}


def migrate(root: Path, url: str, deposition_ids: list[str]) -> tuple[float, int]:
    """Seconds taken and rows stored, migrating the depositions the way OneDep's migrator does."""
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(bind=engine)
    start = time.perf_counter()
    for deposition_id in deposition_ids:
        folder = root / deposition_id
        bundle: dict[type[Base], list[Base]] = {MessageRow: [], ReferenceRow: [], StatusRow: []}
        for content_type in CONTENT_TYPES:
            path = current_file(folder, content_type)
            if path is not None:
                for model, made in _objects(content_type, read_categories(path)).items():
                    bundle[model] += made
        if not bundle[MessageRow]:
            continue
        parents = {m.parent_message_id for m in bundle[MessageRow] if m.parent_message_id}
        with sessions.begin() as session:  # which parents are stored already
            session.execute(select(MessageRow.message_id).where(MessageRow.message_id.in_(parents))).all()
        with sessions.begin() as session:
            rows = [_values(m) for m in bundle[MessageRow]]
            session.execute(mysql_insert(MessageRow.__table__).values(rows).prefix_with("IGNORE"))
        with sessions.begin() as session:
            if bundle[ReferenceRow]:
                rows = [_values(r) for r in bundle[ReferenceRow]]
                session.execute(mysql_insert(ReferenceRow.__table__).values(rows).prefix_with("IGNORE"))
            if bundle[StatusRow]:
                upsert = mysql_insert(StatusRow.__table__).values([_values(s) for s in bundle[StatusRow]])
                session.execute(
                    upsert.on_duplicate_key_update(
                        **{k: upsert.inserted[k] for k in ("read_status", "action_reqd", "for_release")}
                    )
                )
    elapsed = time.perf_counter() - start
    with engine.connect() as connection:
        stored = sum(
            connection.execute(select(func.count()).select_from(model.__table__)).scalar_one()
            for model in (MessageRow, ReferenceRow, StatusRow)
        )
    engine.dispose()
    return elapsed, stored
