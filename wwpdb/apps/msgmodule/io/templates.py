"""Message templates: the letters `autoMsg` sends and the pieces template data is built from.

`MessageTemplates` is the interface: `text(name)` gives a template's raw
text, or None when the site has none. `DirectoryTemplates`, the default,
reads `<name>.txt` from the site's template directory (`MSGMODULE_TEMPLATE_DIR`
or the `directory` argument) and falls back to the example set shipped with
this library (`example_templates`). A template may start with a
`Subject: ...` line; placeholders are `%(key)s`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .example_templates import EXAMPLE_TEMPLATES

NOT_AVAILABLE = "[NOT AVAILABLE]"


class _Values(dict[str, Any]):
    """Template values; a key the data lacks shows as [NOT AVAILABLE] instead of failing the letter."""

    def __missing__(self, key: str) -> str:
        return NOT_AVAILABLE


def fill(template: str, values: Mapping[str, Any]) -> str:
    """`template` with its `%(key)s` placeholders filled from `values`."""
    return template % _Values(values)


def split_subject(text: str) -> tuple[str | None, str]:
    """(subject, body) of a template whose first line may be `Subject: ...`."""
    first, newline, rest = text.partition("\n")
    if first.startswith("Subject:"):
        return first[len("Subject:") :].strip(), rest
    return None, text


class MessageTemplates(ABC):
    """Where the site's letters come from."""

    @abstractmethod
    def text(self, name: str) -> str | None:
        """The raw template called `name`, or None."""

    def first(self, names: Iterable[str]) -> tuple[str, str] | None:
        """(name, raw text) of the first of `names` the site has."""
        for name in names:
            found = self.text(name)
            if found is not None:
                return name, found
        return None

    def render(self, names: Iterable[str], values: Mapping[str, Any]) -> tuple[str | None, str] | None:
        """(subject, text) of the first of `names` the site has, filled from `values`; None if it has none."""
        found = self.first(names)
        if found is None:
            return None
        subject, body = split_subject(found[1])
        return (None if subject is None else fill(subject, values)), fill(body, values)

    def piece(self, name: str, values: Mapping[str, Any], default: str = "") -> str:
        """A filled template used as a value inside others; `default` when the site has none."""
        found = self.text(name)
        return default if found is None else fill(found, values)


class DirectoryTemplates(MessageTemplates):
    """`<name>.txt` files of a site directory, else the example set shipped here."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, examples: bool = True) -> None:
        self.directory = Path(directory) if directory else None
        self.examples = EXAMPLE_TEMPLATES if examples else {}

    def _site_text(self, name: str) -> str | None:
        if self.directory is not None and "/" not in name and not name.startswith("."):
            path = self.directory / f"{name}.txt"
            if path.is_file():
                return path.read_text(encoding="utf-8")
        return None

    def text(self, name: str) -> str | None:
        found = self._site_text(name)
        return found if found is not None else self.examples.get(name)

    def first(self, names: Iterable[str]) -> tuple[str, str] | None:
        """The site's own templates first, in the order given; then the examples, so an example
        of a more specific letter never hides the site's letter."""
        wanted = list(names)
        for name in wanted:
            found = self._site_text(name)
            if found is not None:
                return name, found
        for name in wanted:
            if name in self.examples:
                return name, self.examples[name]
        return None


def default_templates(environ: Mapping[str, str] | None = None) -> DirectoryTemplates:
    env = os.environ if environ is None else environ
    return DirectoryTemplates(env.get("MSGMODULE_TEMPLATE_DIR") or None)


def write_examples(directory: str | os.PathLike[str]) -> list[Path]:
    """Write the example set into `directory` (existing files are kept) to start a site's own."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in EXAMPLE_TEMPLATES.items():
        path = folder / f"{name}.txt"
        if not path.exists():
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
