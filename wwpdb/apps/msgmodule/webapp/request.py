"""A request's parameters, parsed once at the edge: plain strings and uploaded files, no WebOb objects.

`Params` answers what OneDep's `InputRequest` answers (`getValue`,
`getValueList`, `getRawValue`, `setValue`), so MessagingIo reads it as it
reads OneDep's request objects; it holds nothing of HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart form: the name the browser gave and its content (a readable binary stream)."""

    filename: str
    stream: IO[bytes]


class Params:
    """Request parameters: every value as text (files apart), in the order sent."""

    def __init__(self, values: Mapping[str, list[str]], uploads: Mapping[str, Upload] | None = None) -> None:
        self._values = {name: list(found) for name, found in values.items()}
        self.uploads = dict(uploads or {})

    @classmethod
    def from_parameter_dict(cls, parameter_dict: Mapping[str, Any]) -> Params:
        """From OneDep's parameter dictionary: name -> list of values, a file an object with `filename` and `file`."""
        values: dict[str, list[str]] = {}
        uploads: dict[str, Upload] = {}
        for name, found in (parameter_dict or {}).items():
            items: Iterable[Any] = found if isinstance(found, (list, tuple)) else [found]
            for item in items:
                if hasattr(item, "filename") and hasattr(item, "file"):
                    if item.filename:  # an empty file input is sent as a part without a file name
                        uploads.setdefault(str(name), Upload(str(item.filename), item.file))
                    continue
                values.setdefault(str(name), []).append("" if item is None else str(item))
        return cls(values, uploads)

    def getValue(self, name: str) -> str:  # noqa: N802 - OneDep's method name
        """The first value, stripped of surrounding white space, or ''."""
        found = self._values.get(name)
        return found[0].strip() if found else ""

    def getRawValue(self, name: str) -> str:  # noqa: N802
        """The first value as sent (message texts keep their white space), or ''."""
        found = self._values.get(name)
        return found[0] if found else ""

    def getValueList(self, name: str) -> list[str]:  # noqa: N802
        return list(self._values.get(name, []))

    def setValue(self, name: str, value: Any) -> None:  # noqa: N802
        """Set a value for the rest of this request (as OneDep's handlers do for downstream code)."""
        self._values[name] = ["" if value is None else str(value)]

    def names(self) -> list[str]:
        return list(self._values)

    def get(self, name: str) -> str:
        return self.getValue(name)

    def flag(self, name: str) -> bool:
        return self.getValue(name).lower() == "true"
