"""A page of getMsgRowList, read as one page (SQL in the database), equals that page of the whole list."""

from __future__ import annotations

import pytest
from test_messaging_io_support import DEP, filled, message, site, write_scenario  # noqa: F401 - fixtures

from wwpdb.apps.msgmodule.model import Document
from wwpdb.apps.msgmodule.stores.answers import KEPT
from wwpdb.apps.msgmodule.stores.db import _PageOrder


def messy(store) -> None:
    """The scenario, plus ties in time, a missing time and status, and notes that are and are not archived."""
    write_scenario(store)
    notes = Document(DEP, "notes-from-annotator")
    notes.messages = [
        message("n1", "2024-03-03 09:00:00", "internal", "x", ordinal=1),
        message("n2", "2024-03-09 09:00:00", "ARCHIVED: fwd", "mail body", kind="archive_auto", ordinal=2),
        message("n3", "2024-03-02 08:00:00", "tie with d1", "y", kind="archive_manual", ordinal=3),
        message("n4", "", "no time", "z", kind="Archive", ordinal=4),  # not "archive": case matters
        message("n5", "2024-03-02 08:00:00", "another tie", "w", kind="forward_archive", send=None, ordinal=5),
    ]
    store.save(notes)
    more = Document(DEP, "messages-from-depositor")
    more.messages = store.load(DEP, "messages-from-depositor").messages + [
        message("d4", "2024-03-02 08:00:00", "tie", "t", sender="depositor", send="", ordinal=4),
        message("d5", "", "no time", "u", sender="depositor", ordinal=5),
    ]
    store.save(more)


@pytest.mark.parametrize("view", ["msgs", "notes", "commhstry"])
def test_every_page_is_that_slice_of_the_whole_list(site, view):  # noqa: F811 - the fixture
    messy(site.store)
    io = site.io(view)
    for status in ("Y", "N", None):
        whole = io.getMsgRowList(DEP, p_sSendStatus=status)
        rows = whole["RECORD_LIST"]
        if status != "N":
            assert rows, (view, status)
        for start, length in ((0, 10), (0, 3), (2, 3), (len(rows) - 1, 5), (len(rows) + 4, 2), (1, -1), (0, 0)):
            page = io.getMsgRowList(
                DEP, p_sSendStatus=status, p_bServerSide=True, p_iDisplayStart=start, p_iDisplayLength=length
            )
            expected = rows if length <= 0 else rows[start : start + length]
            assert page["RECORD_LIST"] == expected, (view, status, start, length)
            assert page["TOTAL_RECORDS"] == page["TOTAL_DISPLAY_RECORDS"] == len(rows)
            for count in ("CURRENT_NUM_MSGS_TO_DPSTR", "CURRENT_NUM_NOTES"):
                assert page.get(count) == whole.get(count), count


@pytest.mark.parametrize("view", ["msgs", "notes", "commhstry"])
def test_view_counts_are_the_counts_of_the_rows(site, view):  # noqa: F811 - the fixture
    io = site.io(view)
    empty = io.getMsgRowList(DEP, p_sSendStatus="Y")
    assert io.view_counts(DEP) == {k: v for k, v in empty.items() if k.startswith("CURRENT_NUM")}
    messy(site.store)
    whole = io.getMsgRowList(DEP, p_sSendStatus="Y")
    counts = {k: v for k, v in whole.items() if k.startswith("CURRENT_NUM")}
    assert counts and io.view_counts(DEP) == counts
    assert site.io("no-such-view").view_counts(DEP) == {}


def test_pages_read_again_and_after_a_write_are_slices_of_the_whole_list_and_keep_only_their_keys(site):  # noqa: F811
    """A database keeps each page's keys, not the whole order: after a write the next page reads only its own keys
    (their cost does not grow with the history), and a page kept from before the write is not shown."""
    messy(site.store)
    KEPT.clear()
    io = site.io("commhstry")

    def pages_equal_slices() -> list[list[str]]:
        rows = io.getMsgRowList(DEP, p_sSendStatus="Y")["RECORD_LIST"]
        for _ in range(2):  # read, then (in a database) kept
            for start in (0, 2, 3):
                page = io.getMsgRowList(
                    DEP, p_sSendStatus="Y", p_bServerSide=True, p_iDisplayStart=start, p_iDisplayLength=2
                )
                assert page["RECORD_LIST"] == rows[start : start + 2], start
                assert page["TOTAL_RECORDS"] == len(rows)
        return rows

    before = pages_equal_slices()
    notes = site.store.load(DEP, "notes-from-annotator")
    notes.messages.append(message("n6", "2024-03-01 09:30:00", "early", "v", kind="archive_auto", ordinal=6))
    site.store.save(notes)  # between the first rows: every page after it moves
    after = pages_equal_slices()
    assert len(after) == len(before) + 1 and after != before
    orders = [answer for _, answer in KEPT._answers.values() if isinstance(answer, _PageOrder)]
    if site.db is not None and site.stage == "db-only":
        assert orders and all(len(order.ids) <= 2 for order in orders)
