"""Save/load time of one document in each store (CIF, SQLite, MariaDB when reachable).

.venv/bin/python benchmarks/store_io.py [FILE] [--mysql-url mysql+pymysql://root@127.0.0.1:3306]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import timeit
import uuid
from pathlib import Path

from sqlalchemy import create_engine

from wwpdb.apps.msgmodule.cifformat import parse_file
from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import dispose_engines
from wwpdb.apps.msgmodule.stores import MessageStore
from wwpdb.apps.msgmodule.stores.cif import CifMessageStore
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

DEFAULT_FILE = Path(__file__).resolve().parents[1] / (
    "wwpdb/apps/tests-msgmodule/test_data/archive/D_1000000001/D_1000000001_messages-to-depositor_P1.cif.V1"
)


def measure(store: MessageStore, document, repeat: int = 50) -> tuple[float, float]:
    save = min(timeit.repeat(lambda: store.save(document), number=repeat, repeat=3)) / repeat
    load = (
        min(timeit.repeat(lambda: store.load(document.deposition_id, document.content_type), number=repeat, repeat=3))
        / repeat
    )
    return save, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--mysql-url", default="mysql+pymysql://root@127.0.0.1:3306")
    args = parser.parse_args()
    match = re.fullmatch(r"([DG]_\d+)_([a-z-]+)_P1\.cif\.V\d+", args.file.name)
    if not match:
        parser.error(f"{args.file.name} is not named like a message file")
    document = parse_file(args.file, match[1], match[2])
    counts = ", ".join(f"{n} {name.split('_message_')[-1]}" for name, n in document.row_counts().items())
    print(f"{args.file.name}: {args.file.stat().st_size} bytes, {counts}")
    with tempfile.TemporaryDirectory() as tmp:
        stores: dict[str, MessageStore] = {"cif": CifMessageStore(tmp)}
        stores["sqlite"] = DbMessageStore(f"sqlite:///{tmp}/messaging.db")
        admin = create_engine(args.mysql_url, isolation_level="AUTOCOMMIT")
        name = f"msgbench_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            stores["mariadb"] = DbMessageStore(f"{args.mysql_url}/{name}?charset=utf8mb4")
        except Exception as exc:  # noqa: BLE001 - a benchmark reports what it could not measure
            print(f"mariadb: not measured ({exc.__class__.__name__}: {exc})")
        try:
            for label, store in stores.items():
                if isinstance(store, DbMessageStore):
                    schema_versions.upgrade(store.url)
                save, load = measure(store, document)
                print(f"{label:8} save {save * 1000:7.2f} ms   load {load * 1000:7.2f} ms")
        finally:
            dispose_engines()
            if "mariadb" in stores:
                with admin.connect() as connection:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")


if __name__ == "__main__":
    main()
