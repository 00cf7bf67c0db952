"""Run under OneDep's released package (not ours): migrate an archive the way OneDep's migrator does.

Started by benchmarks/onedep_migrator.py with the python of a virtualenv holding
`wwpdb.apps.msgmodule==0.181.1` and what it imports. OneDep's migration script
(`scripts/migrate_cif_to_db.py` in its repository) is in neither the wheel nor the
sdist of that release, so this file drives the release's own pieces in the order
that script does, and nothing else: the deposition folders of the archive as
`os.listdir` gives them; per folder, per content type, the file `PathInfo` names
(latest version in the site's archive); the file read by `mmcif.utils`'
PdbxMessageIo; each message looked up by id (`get_message_by_id`) and, if new,
stored by `create_message` (the tables made from the release's models, foreign keys
included, see `create_tables`); each file reference by `create_file_reference`; a
file whose message is refused stops there and fails its deposition; the
statuses of a deposition that did not fail, after its messages, by
`create_or_update_status`. Every read and write is OneDep's own
DataAccessLayer on its own models and tables; their INFO logging stays on, to a
log file, as the script's console log would be.

    python benchmarks/onedep_migrator_runner.py SITE_ID ARCHIVE_DIR LOG_FILE RESULT_JSON

Prints nothing; writes {"seconds", "cpu_seconds", "depositions", "failed", "package", "module_file"} to RESULT_JSON.
Its database settings come from the site's configuration (SITE_MESSAGE_DB_*), as the script's do.
"""

import json
import logging
import os
import sys
import time
import uuid
from datetime import datetime
from importlib.metadata import version

import pymysql

pymysql.install_as_MySQLdb()  # mysqlclient needs a C build here; PyMySQL is its documented stand-in

from mmcif_utils.message.PdbxMessageIo import PdbxMessageIo  # noqa: E402
from wwpdb.io.locator.PathInfo import PathInfo  # noqa: E402
from wwpdb.utils.config.ConfigInfo import ConfigInfo  # noqa: E402

from wwpdb.apps.msgmodule import db as onedep_db  # noqa: E402
from wwpdb.apps.msgmodule.db import DataAccessLayer, MessageFileReference, MessageInfo, MessageStatus  # noqa: E402

CONTENT_TYPES = ("messages-from-depositor", "messages-to-depositor", "notes-from-annotator")
TIME_LAYOUTS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y")


def database_settings(config):
    """The connection settings the migrator takes from the site's configuration."""
    return {
        "host": config.get("SITE_MESSAGE_DB_HOST_NAME"),
        "port": int(config.get("SITE_MESSAGE_DB_PORT_NUMBER", "3306")),
        "database": config.get("SITE_MESSAGE_DB_NAME"),
        "username": config.get("SITE_MESSAGE_DB_USER_NAME"),
        "password": config.get("SITE_MESSAGE_DB_PASSWORD", ""),
        "charset": "utf8mb4",
    }


def when(text):
    for layout in TIME_LAYOUTS:
        try:
            return datetime.strptime(text, layout)
        except (TypeError, ValueError):
            continue
    return datetime.now()


def unescaped(text):
    """Text with \\uXXXX escapes turned back into characters (surrogate pairs joined), as the script does."""
    if not text or "\\u" not in text:
        return text
    import re

    pieces = re.sub(r"\\u[0-9a-fA-F]{4}", lambda m: chr(int(m.group(0)[2:], 16)), text)
    try:
        return pieces.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeError:
        return pieces


def message_rows(rows, content_type):
    return [
        MessageInfo(
            message_id=row.get("message_id", str(uuid.uuid4())),
            deposition_data_set_id=row.get("deposition_data_set_id", ""),
            timestamp=when(row.get("timestamp", "")),
            sender=row.get("sender", ""),
            context_type=row.get("context_type"),
            context_value=row.get("context_value"),
            parent_message_id=row.get("parent_message_id"),
            message_subject=unescaped(row.get("message_subject", "")),
            message_text=unescaped(row.get("message_text", "")),
            message_type=row.get("message_type", "text"),
            send_status=row.get("send_status", "Y"),
            content_type=content_type,
        )
        for row in rows
    ]


def reference_rows(rows):
    return [
        MessageFileReference(
            message_id=row.get("message_id", ""),
            deposition_data_set_id=row.get("deposition_data_set_id", ""),
            content_type=row.get("content_type", ""),
            content_format=row.get("content_format", ""),
            partition_number=int(row.get("partition_number", 1)),
            version_id=int(row.get("version_id", 1)),
            storage_type=row.get("storage_type", "archive"),
            upload_file_name=row.get("upload_file_name"),
        )
        for row in rows
    ]


def status_rows(rows):
    return [
        MessageStatus(
            message_id=row.get("message_id", ""),
            deposition_data_set_id=row.get("deposition_data_set_id", ""),
            read_status=row.get("read_status", "N"),
            action_reqd=row.get("action_reqd", "N"),
            for_release=row.get("for_release", "N"),
        )
        for row in rows
    ]


def migrate_file(access, path, content_type, statuses, log):
    """One file; False when it cannot be read or a message of it is refused."""
    if os.path.getsize(path) == 0:
        return True
    reader = PdbxMessageIo(verbose=False)
    if not reader.read(path):
        return False
    messages = message_rows(reader.getMessageInfo(), content_type)
    references = reference_rows(reader.getFileReferenceInfo())
    found = status_rows(reader.getMsgStatusInfo())
    if not messages:
        return True
    for message in messages:
        if access.get_message_by_id(message.message_id):
            log.info("duplicate message %s", message.message_id)
            continue
        if not access.create_message(message):
            return False
    for reference in references:
        access.create_file_reference(reference)
    statuses.extend(found)
    return True


def create_tables(settings):
    """The release's tables, from its own models, with their foreign keys.

    A site creates them with a script of its own before migrating (not in the release). The
    models' `create_all` alone is refused by MariaDB: the message id's unique index comes after
    the table whose foreign key needs it. So the keys are added once the tables and their
    indexes are there (`use_alter`): the same tables, the same keys, enforced while migrating.
    """
    from sqlalchemy import create_engine

    for table in onedep_db.Base.metadata.tables.values():
        for constraint in table.foreign_key_constraints:
            constraint.use_alter = True
    url = "mysql+pymysql://{username}:{password}@{host}:{port}/{database}?charset=utf8mb4".format(**settings)
    engine = create_engine(url)
    onedep_db.Base.metadata.create_all(engine)
    engine.dispose()


def main():
    site_id, archive, log_file, result_file = sys.argv[1:5]
    logging.basicConfig(filename=log_file, level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s")
    log = logging.getLogger("onedep-migrator")
    settings = database_settings(ConfigInfo(site_id))
    create_tables(settings)
    access = DataAccessLayer(settings)
    paths = PathInfo(siteId=site_id)
    start, cpu = time.perf_counter(), time.process_time()
    failed = 0
    depositions = [
        name for name in os.listdir(archive) if name.startswith("D_") and os.path.isdir(os.path.join(archive, name))
    ]
    for deposition_id in depositions:
        statuses = []
        ok = True
        for content_type in CONTENT_TYPES:
            try:
                path = paths.getFilePath(
                    dataSetId=deposition_id,
                    contentType=content_type,
                    formatType="pdbx",
                    fileSource="archive",
                    versionId="latest",
                )
            except Exception:  # noqa: BLE001 - as the script: no such file
                path = None
            if path and os.path.exists(path):
                try:
                    ok = migrate_file(access, path, content_type, statuses, log) and ok
                except Exception as exc:  # noqa: BLE001 - as the script: the file fails, the run goes on
                    log.error("%s %s: %s", deposition_id, content_type, exc)
                    ok = False
        if ok:
            for status in statuses:
                access.create_or_update_status(status)
        else:
            failed += 1
        log.info("deposition %s done: %s", deposition_id, ok)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    access.close()
    with open(result_file, "w") as handle:
        json.dump(
            {
                "seconds": seconds,
                "cpu_seconds": cpu,
                "depositions": len(depositions),
                "failed": failed,
                "package": "wwpdb.apps.msgmodule " + version("wwpdb.apps.msgmodule"),
                "module_file": onedep_db.__file__,
            },
            handle,
        )


if __name__ == "__main__":
    main()
