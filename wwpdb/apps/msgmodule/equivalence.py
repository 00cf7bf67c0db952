"""What "nothing lost" means: the equivalence of two documents.

Two documents are equivalent when every category has the same rows in the
same order with the same values, with `?`, `.` and missing as null. Character
references, `\\uXXXX` escapes and the ` ;` line-start rule are undone when a
file is read (`cifformat`), so both sides are compared as decoded text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .model import CATEGORIES, Category, Document, Row


@dataclass(frozen=True)
class Difference:
    """One field (or one whole row, when `item` is None) that differs."""

    content_type: str
    category: str
    row: int  # 0-based position in the category
    item: str | None
    left: str | None
    right: str | None

    def __str__(self) -> str:
        if self.item is None:
            return f"{self.content_type} {self.category} row {self.row + 1}: {self.left} vs {self.right}"
        return (
            f"{self.content_type} {self.category} row {self.row + 1} {self.item}: "
            f"{_short(self.left)} != {_short(self.right)}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "content_type": self.content_type,
            "category": self.category,
            "row": self.row + 1,
            "item": self.item,
            "left": self.left,
            "right": self.right,
        }


def _short(value: str | None, limit: int = 60) -> str:
    if value is None:
        return "null"
    return repr(value if len(value) <= limit else value[:limit] + "...")


def normalize(value: str | None) -> str | None:
    """The comparable form of a value: `?`, `.` and missing are null.

    Documents hold decoded text already (each backend decodes at its edge), so
    values are not decoded again: that would make a typed "&#197;" equal to "Å".
    """
    if value is None or value in ("?", "."):
        return None
    return value


def differences(left: Document, right: Document) -> list[Difference]:
    """Field-level differences between two documents of the same content type."""
    found: list[Difference] = []
    for category in CATEGORIES:
        left_rows = left.rows(category)
        right_rows = right.rows(category)
        for index in range(max(len(left_rows), len(right_rows))):
            if index >= len(right_rows):
                found.append(Difference(left.content_type, category.name, index, None, "present", "missing"))
                continue
            if index >= len(left_rows):
                found.append(Difference(left.content_type, category.name, index, None, "missing", "present"))
                continue
            for item, a, b in zip(category.items, left_rows[index].values(), right_rows[index].values(), strict=True):
                if a != b and normalize(a) != normalize(b):
                    found.append(Difference(left.content_type, category.name, index, item, a, b))
    return found


def equivalent(left: Document, right: Document) -> bool:
    """True when the two documents hold the same data: no difference in any category, row or value."""
    return not differences(left, right)


# -- the same differences, told per message ----------------------------------------------------
#
# `differences` pairs rows by position, which is what equivalence means; but one row missing near
# the top of a table makes every row after it differ there. Told per message, rows are paired by
# their values within each message first, so a missing row shows as missing and a changed value as
# one changed value, with each side named. The records are plain dicts (they go into JSON reports
# and across worker processes); `summary` and `describe` turn them into text.

MESSAGES_SHOWN = 10  # messages `describe` writes out


def short_category(name: str) -> str:
    """`pdbx_deposition_message_file_reference` -> `file_reference`."""
    return name.removeprefix("pdbx_deposition_message_")


@dataclass
class Comparison:
    """Two sides' documents compared per message (see `compare`)."""

    left_name: str
    right_name: str
    records: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.records)

    def summary(self) -> str:
        return summary(self.records, self.left_name, self.right_name)

    def lines(self, limit: int = MESSAGES_SHOWN) -> list[str]:
        return describe(self.records, self.left_name, self.right_name, limit)


def compare(
    pairs: Iterable[tuple[Document, Document]], left_name: str = "archive", right_name: str = "database"
) -> Comparison:
    """The differences of each (left, right) pair of documents, one record per message.

    A message's record lists its rows missing from either side, then the values
    that differ in rows both hold; messages with missing rows come first. A
    category whose rows are all on both sides but in another order gets a
    record of its own (`reordered`), as equivalence counts order too.
    """
    with_missing: list[dict[str, Any]] = []
    changed_only: list[dict[str, Any]] = []
    reordered: list[dict[str, Any]] = []
    for left, right in pairs:
        groups: dict[str | None, dict[str, Any]] = {}
        for category in CATEGORIES:
            found = _compare_category(category, left, right, groups, left_name, right_name)
            left_rows, right_rows = left.rows(category), right.rows(category)
            if not found and [_key(row) for row in left_rows] != [_key(row) for row in right_rows]:
                reordered.append({"content_type": left.content_type, "category": category.name, "reordered": True})
        for group in groups.values():
            (with_missing if group["missing"] else changed_only).append(group)
    return Comparison(left_name, right_name, with_missing + changed_only + reordered)


def summary(records: list[dict[str, Any]], left_name: str, right_name: str) -> str:
    """Counts first: rows missing from each side, values changed, in how many messages."""
    messages = [record for record in records if not record.get("reordered")]
    missing = [row for record in messages for row in record["missing"]]
    parts = [
        f"{count} row(s) missing from the {side}"
        for side in (right_name, left_name)
        if (count := sum(1 for row in missing if row["missing_from"] == side))
    ]
    changed = sum(len(record["changed"]) for record in messages)
    if changed:
        parts.append(f"{changed} changed value(s)")
    text = ", ".join(parts) + (f" in {len(messages)} message(s)" if messages else "")
    moved = [f"{r['content_type']} {short_category(r['category'])}" for r in records if r.get("reordered")]
    if moved:
        text += ("; " if text else "") + f"rows in another order in {', '.join(moved)}"
    return text or "no differences"


def describe(records: list[dict[str, Any]], left_name: str, right_name: str, limit: int = MESSAGES_SHOWN) -> list[str]:
    """The records as text: a heading per message, its missing rows, then its changed values, sides named."""
    out: list[str] = []
    messages = [record for record in records if not record.get("reordered")]
    for record in messages[:limit]:
        out.append(f"{record['content_type']}, message {record['message_id'] or '(no message id)'}:")
        for row in record["missing"]:
            shown = ", ".join(
                f"{item} {_short(value, 40)}"
                for item, value in row["values"].items()
                if item not in ("message_id", "deposition_data_set_id") and normalize(value) is not None
            )
            out.append(
                f"  missing from the {row['missing_from']}: {short_category(row['category'])} row {row['row']} "
                f"of the {row['held_by']}" + (f" ({shown})" if shown else "")
            )
        for change in record["changed"]:
            rows, values = change["rows"], change["values"]
            where = (
                f"row {rows[left_name]}"
                if rows[left_name] == rows[right_name]
                else f"{left_name} row {rows[left_name]}, {right_name} row {rows[right_name]}"
            )
            out.append(
                f"  changed {short_category(change['category'])} {change['item']} ({where}): "
                f"{left_name} {_short(values[left_name])}, {right_name} {_short(values[right_name])}"
            )
    if len(messages) > limit:
        out.append(f"... and {len(messages) - limit} more message(s)")
    for record in records:
        if record.get("reordered"):
            out.append(
                f"{record['content_type']} {short_category(record['category'])}: the same rows in the "
                f"{left_name} and the {right_name}, in another order"
            )
    return out


def _key(row: Row) -> tuple[str | None, ...]:
    return tuple(normalize(value) for value in row.values())


def _compare_category(
    category: Category,
    left: Document,
    right: Document,
    groups: dict[str | None, dict[str, Any]],
    left_name: str,
    right_name: str,
) -> bool:
    """Add this category's differences to `groups` (by message id); whether there were any."""
    by_message: dict[str | None, tuple[list[tuple[int, Row]], list[tuple[int, Row]]]] = {}
    for side, document in ((0, left), (1, right)):
        for position, row in enumerate(document.rows(category)):
            by_message.setdefault(getattr(row, "message_id", None), ([], []))[side].append((position, row))
    found = False
    for message_id, (lefts, rights) in by_message.items():
        # Rows equal on both sides pair first, wherever they are; what is left is changed or missing.
        only_right = list(rights)
        only_left: list[tuple[int, Row]] = []
        for position, row in lefts:
            key = _key(row)
            twin = next((i for i, (_, other) in enumerate(only_right) if _key(other) == key), None)
            if twin is None:
                only_left.append((position, row))
            else:
                del only_right[twin]
        if not only_left and not only_right:
            continue
        found = True
        group = groups.setdefault(
            message_id, {"content_type": left.content_type, "message_id": message_id, "missing": [], "changed": []}
        )
        missing_left: list[dict[str, Any]] = []
        for right_position, right_row in only_right:
            # The left row sharing most values with it is the one it was: a row changed, not replaced.
            best = max(
                range(len(only_left)),
                key=lambda i: sum(a == b for a, b in zip(_key(only_left[i][1]), _key(right_row), strict=True)),
                default=None,
            )
            if best is None:
                missing_left.append(_missing(category, right_position, right_row, right_name, left_name))
                continue
            left_position, left_row = only_left.pop(best)
            group["changed"] += [
                {
                    "category": category.name,
                    "item": item,
                    "rows": {left_name: left_position + 1, right_name: right_position + 1},
                    "values": {left_name: a, right_name: b},
                }
                for item, a, b in zip(category.items, left_row.values(), right_row.values(), strict=True)
                if normalize(a) != normalize(b)
            ]
        group["missing"] += [_missing(category, p, row, left_name, right_name) for p, row in only_left] + missing_left
    return found


def _missing(category: Category, position: int, row: Row, held_by: str, missing_from: str) -> dict[str, Any]:
    return {
        "category": category.name,
        "missing_from": missing_from,
        "held_by": held_by,
        "row": position + 1,
        "values": row.as_dict(),
    }
