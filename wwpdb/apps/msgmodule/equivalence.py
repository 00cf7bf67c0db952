"""What "nothing lost" means: the equivalence of two documents.

Two documents are equivalent when every category has the same rows in the
same order with the same values, with `?`, `.` and missing as null. Character
references, `\\uXXXX` escapes and the ` ;` line-start rule are undone when a
file is read (`cifformat`), so both sides are compared as decoded text.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import CATEGORIES, Document


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
