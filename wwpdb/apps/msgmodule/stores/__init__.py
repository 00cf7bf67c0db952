"""Message stores: one interface (`base.MessageStore`), one module per backend.

Backends are chosen by name and imported lazily, so a CIF-only install never
imports a database driver.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import MessagingError
from .base import MessageStore

# backend name -> "module:Class", relative to this package
REGISTRY: dict[str, str] = {
    "cif": ".cif:CifMessageStore",
    "db": ".db:DbMessageStore",
}


def store_class(name: str) -> type[MessageStore]:
    """The store class registered under `name`."""
    try:
        target = REGISTRY[name]
    except KeyError:
        raise MessagingError(f"unknown backend {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name, __name__)
    except ImportError as exc:
        raise MessagingError(
            f"backend {name!r} needs a package that is not installed ({exc.name}); "
            "install wwpdb.apps.msgmodule with its dependencies"
        ) from exc
    return getattr(module, class_name)


def open_store(name: str, **options: Any) -> MessageStore:
    """A store of the named backend, built with its options."""
    return store_class(name)(**options)


__all__ = ["MessageStore", "REGISTRY", "open_store", "store_class"]
