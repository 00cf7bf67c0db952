"""OneDep's message table (DataTables): threading, searching, sorting and paging of rows.

Rows are lists of display strings in `getMsgColList` order. After a search a
row is wrapped as `{true_index: row}`, its position in the unfiltered list,
which OneDep's page turns into `DT_RowId` so that an action on the row finds
the right record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

from ..errors import InvalidInputError

Row: TypeAlias = list[str]
TableRow: TypeAlias = Row | dict[int, Row]
R = TypeVar("R")


def _parent_of(record: Mapping[str, Any]) -> str | None:
    parent = record.get("parent_message_id")
    return parent if parent else None


def indent_levels(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How deep each message sits: the steps from it, parent by parent, to a root.

    Counted as OneDep counts them: a parent pointer to a message that is not
    among the records still counts one step (the reply shows indented under a
    missing parent); a message that is its own parent, or has none, is a root.
    A loop of parents is counted once round.
    """
    parents: dict[str, str | None] = {}
    for record in records:
        if record.get("message_id"):
            parents[record["message_id"]] = _parent_of(record)
    levels: dict[str, int] = {}
    for message_id in parents:
        level, current, seen = 0, message_id, {message_id}
        while current in parents:
            parent = parents[current]
            if parent is None or parent == current:
                break
            level += 1
            if parent in seen:
                break
            seen.add(parent)
            current = parent
        levels[message_id] = level
    return levels


def thread_order(records: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The records in thread order: each reply right after its parent, siblings oldest first.

    `records` come oldest first. A message whose parent is not among them
    starts a thread where it stands; messages caught in a loop of parents are
    placed, oldest first, after everything else. Each record appears once.
    """
    present = {record.get("message_id") for record in records}
    children: dict[str, list[Mapping[str, Any]]] = {}
    roots: list[Mapping[str, Any]] = []
    for record in records:
        parent = _parent_of(record)
        if parent is not None and parent != record.get("message_id") and parent in present:
            children.setdefault(parent, []).append(record)
        else:
            roots.append(record)
    ordered: list[Any] = []
    placed: set[int] = set()

    def place(start: Mapping[str, Any]) -> None:
        stack = [start]
        while stack:
            record = stack.pop()
            if id(record) in placed:
                continue
            placed.add(id(record))
            ordered.append(record)
            stack.extend(reversed(children.get(record.get("message_id") or "", [])))

    for root in roots:
        place(root)
    for record in records:  # only reachable through a loop of parents
        if id(record) not in placed:
            place(record)
    return ordered


def search_all(rows: Sequence[Row], needle: str) -> list[TableRow]:
    """Rows with `needle` in any cell (case-insensitive), each as {true_index: row}."""
    wanted = needle.lower()
    return [{index: row} for index, row in enumerate(rows) if any(wanted in str(cell).lower() for cell in row)]


def column_index(columns: Sequence[str], key: Any) -> int | None:
    """A column given as an index (int or digits) or as a name; None when it is neither."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key if 0 <= key < len(columns) else None
    text = str(key)
    if text.isdigit():
        return column_index(columns, int(text))
    return columns.index(text) if text in columns else None


def search_columns(rows: Sequence[Row], wanted: Mapping[int, str]) -> list[TableRow]:
    """Rows where every given column holds its search text (case-insensitive), each as {true_index: row}."""
    needles = {index: str(text).lower() for index, text in wanted.items()}
    return [
        {index: row}
        for index, row in enumerate(rows)
        if all(needle in str(row[column]).lower() for column, needle in needles.items())
    ]


def plain(row: TableRow) -> Row:
    """The row list itself, whether or not it is wrapped as {true_index: row}."""
    if isinstance(row, dict):
        return next(iter(row.values()))
    return row


def sort_rows(rows: list[TableRow], order: Iterable[tuple[int, bool]]) -> list[TableRow]:
    """Rows sorted by several columns: `order` is (column index, descending), most significant first.

    Stable, so rows equal in every sort column keep their order.
    """
    result = list(rows)
    for column, descending in reversed(list(order)):
        result.sort(key=_cell(column), reverse=descending)
    return result


def _cell(column: int) -> Callable[[TableRow], str]:
    return lambda row: str(plain(row)[column])


def whole_number(name: str, value: object, default: int | None = None) -> int | None:
    """A paging argument: an int or its decimal text; None and '' give `default`; anything else is refused by name."""
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise InvalidInputError(f"{name} must be a whole number, not {value!r}")


def page(rows: list[R], start: object, length: object) -> list[R]:
    """`length` rows from `start`; every row (whatever `start`) when `length` is not positive, as OneDep does."""
    first = max(0, whole_number("p_iDisplayStart", start, 0) or 0)
    count = whole_number("p_iDisplayLength", length)
    if count is None or count <= 0:
        return rows
    return rows[first : first + count]
