"""Statements sent to MariaDB together (a dual write's database half): values, errors, and lost connections.

A change handed to the database runs its lock, its row counts and its writes as
one multi-statement query; these tests pin that nothing about it differs from
running them one by one.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, create_engine, insert, select, text
from sqlalchemy.exc import IntegrityError

from wwpdb.apps.msgmodule.db import schema_versions
from wwpdb.apps.msgmodule.db.engine import get_engine, is_transient, write_transaction
from wwpdb.apps.msgmodule.db.statements import StatementBatch
from wwpdb.apps.msgmodule.model import Document, Message, MessageStatus
from wwpdb.apps.msgmodule.stores.db import DbMessageStore

pytestmark = pytest.mark.mysql

DEP, TO = "D_1000000555", "messages-to-depositor"
AWKWARD = (
    'it\'s "quoted" \\ back\\slash %s %(x)s 100% \x00 nul \x1a sub \r\n'
    "ünïcödé 😀 '); DROP TABLE msgmodule_document; -- ;"
)
SCRATCH = Table("batch_scratch", MetaData(), Column("id", Integer, primary_key=True), Column("v", Text))


def a_document(count: int) -> Document:
    document = Document(DEP, TO)
    for number in range(count):
        message_id = f"m{number}"
        document.messages.append(
            Message(str(number + 1), message_id, DEP, "2024-01-01 00:00:00", "a@example.org", None, None,
                    message_id, f"subject {number}", f"text {number}", "text", "Y")
        )  # fmt: skip
        document.statuses.append(MessageStatus(message_id, DEP, "N", "N", "N"))
    return document


def with_new_message(before: Document, message_id: str, text_value: str) -> Document:
    after = before.copy()
    after.messages.append(
        Message(str(len(after.messages) + 1), message_id, DEP, "2024-01-02 00:00:00", "b@example.org", None, None,
                message_id, text_value, text_value, "text", "Y")
    )  # fmt: skip
    after.statuses.append(MessageStatus(message_id, DEP, "N", "Y", "N"))
    return after


def test_a_change_handed_over_keeps_every_value_exactly(mysql_url):
    schema_versions.upgrade(mysql_url)
    store = DbMessageStore(mysql_url)
    store.save(a_document(3))
    before = store.load(DEP, TO)
    after = with_new_message(before, "awkward", AWKWARD)
    after.statuses[0].read_status = "Y"  # and a row changed in place, in the same query
    store.apply_change(DEP, TO, before, after)
    stored = store.load(DEP, TO)
    assert stored == after
    assert stored.messages[-1].message_text == AWKWARD
    with get_engine(mysql_url).connect() as connection:  # the text reached the server as a value, nothing more
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM msgmodule_document").scalar() == 1


def test_a_failing_statement_stops_the_batch_with_its_own_error_and_nothing_is_kept(mysql_url):
    engine = get_engine(mysql_url)
    SCRATCH.create(engine)

    def insert_row(batch: StatementBatch, connection, row_id: int) -> int:
        build = lambda _dialect: insert(SCRATCH).values(id=bindparam("i"), v=bindparam("v"))  # noqa: E731
        return batch.run(connection, ("scratch insert",), build, {"i": row_id, "v": AWKWARD})

    with pytest.raises(IntegrityError) as raised, write_transaction(engine) as connection:
        batch = StatementBatch(connection, cap=1 << 20)
        for row_id in (1, 1, 2):  # the second is a duplicate key: the server runs nothing after it
            insert_row(batch, connection, row_id)
        batch.send()
    assert raised.value.orig.args[0] == 1062
    assert not is_transient(raised.value)
    with engine.connect() as connection:  # rolled back, and the pool's connections still work
        assert connection.execute(select(SCRATCH.c.id)).all() == []
    with write_transaction(engine) as connection:
        batch = StatementBatch(connection, cap=1 << 20)
        insert_row(batch, connection, 3)
        assert [answer.rowcount for answer in batch.send()] == [1]
    with engine.connect() as connection:
        assert connection.execute(select(SCRATCH.c.v)).scalars().all() == [AWKWARD]


def test_a_batch_larger_than_its_cap_goes_in_several_queries_with_every_answer_in_order(mysql_url):
    engine = get_engine(mysql_url)
    SCRATCH.create(engine)
    build_insert = lambda _dialect: insert(SCRATCH).values(id=bindparam("i"), v=bindparam("v"))  # noqa: E731
    build_count = lambda _dialect: select(SCRATCH.c.id).order_by(SCRATCH.c.id)  # noqa: E731
    with write_transaction(engine) as connection:
        batch = StatementBatch(connection, cap=60)  # about one statement per query
        places = [
            batch.run(connection, ("scratch insert",), build_insert, {"i": 1, "v": "one"}),
            batch.run(connection, ("scratch ids",), build_count, {}),
            batch.run(connection, ("scratch insert",), build_insert, [{"i": 2, "v": "two"}, {"i": 3, "v": "x" * 100}]),
            batch.run(connection, ("scratch ids",), build_count, {}),
        ]
        answers = batch.send()
    assert places == [0, 1, 3, 4]  # the two rows went in two INSERTs: together they pass the cap
    assert [answer.rowcount for answer in answers] == [1, 1, 1, 1, 3]
    assert [answer.rows for answer in answers] == [None, ((1,),), None, None, ((1,), (2,), (3,))]


def test_new_rows_larger_together_than_max_allowed_packet_go_in_several_queries(mysql_url):
    from wwpdb.apps.msgmodule.db.engine import dispose_engines

    schema_versions.upgrade(mysql_url)
    admin = create_engine(mysql_url.split("?")[0].rsplit("/", 1)[0], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        default = connection.exec_driver_sql("SELECT @@GLOBAL.max_allowed_packet").scalar_one()
        connection.exec_driver_sql("SET GLOBAL max_allowed_packet = 1048576")  # new connections get 1 MiB
    try:
        dispose_engines()
        store = DbMessageStore(mysql_url)
        store.save(a_document(1))
        before = store.load(DEP, TO)
        after = before
        for number in range(4):  # 400 kB a row (four bytes a character): one alone fits, four do not
            after = with_new_message(after, f"big{number}", "😀" * 100_000)
        store.apply_change(DEP, TO, before, after)
        assert store.load(DEP, TO) == after
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"SET GLOBAL max_allowed_packet = {int(default)}")
        admin.dispose()
        dispose_engines()


def test_a_change_handed_over_on_a_connection_the_server_dropped_is_retried_and_written_once(mysql_url):
    schema_versions.upgrade(mysql_url)
    store = DbMessageStore(mysql_url)
    store.save(a_document(2))
    database = get_engine(mysql_url).url.database
    engine = get_engine(mysql_url)
    # As many connections in the pool as it keeps (more than a call's attempts), all dropped below.
    warm = [engine.connect() for _ in range(engine.pool.size())]
    for connection in warm:
        connection.exec_driver_sql("SELECT 1")
    for connection in warm:
        connection.close()
    admin = create_engine(mysql_url.split("?")[0].rsplit("/", 1)[0], isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            ids = connection.execute(
                text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :db"), {"db": database}
            ).scalars()
            killed = [connection.exec_driver_sql(f"KILL CONNECTION {int(i)}") for i in ids]
        assert killed, "no pooled connection to kill: the test would prove nothing"
        before = a_document(2)
        after = with_new_message(before, "after-kill", "written once")
        store.apply_change(DEP, TO, before, after)
    finally:
        admin.dispose()
    stored = store.load(DEP, TO)
    assert stored == after
    assert [m.message_id for m in stored.messages].count("after-kill") == 1


def test_a_stale_copy_found_by_the_batch_is_replaced_whole_in_the_same_transaction(mysql_url):
    schema_versions.upgrade(mysql_url)
    store = DbMessageStore(mysql_url)
    store.save(a_document(4))
    before = a_document(3)  # what the other store held: one message fewer than this store has
    after = with_new_message(before, "new", "new")
    store.apply_change(DEP, TO, before, after)
    assert store.load(DEP, TO) == after
