"""Typed errors. Everything raised to callers derives from MessagingError."""

from __future__ import annotations


class MessagingError(Exception):
    """Base class of every error this library raises to its callers."""


class InvalidDepositionIdError(MessagingError, ValueError):
    """A deposition id is not `D_` or `G_` followed by digits."""


class InvalidInputError(MessagingError, ValueError):
    """An argument other than a deposition id is malformed."""


class CifParseError(MessagingError):
    """A message file could not be parsed; names the file and the line."""

    def __init__(self, path: str, line: int | None, detail: str) -> None:
        self.path = path
        self.line = line
        self.detail = detail
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"cannot parse message file {where}: {detail}")


class StoreLockTimeout(MessagingError):
    """The exclusive lock on a message file could not be taken in time."""


class NotAuthoritativeError(MessagingError):
    """A direct write to a store the site's stage does not let be written on its own.

    `backend` is the store refused ("cif" or "db"), `stage` the stage in force;
    the message says why and what to write through instead.
    """

    def __init__(self, backend: str, stage: str, message: str) -> None:
        super().__init__(message)
        self.backend = backend
        self.stage = stage

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:  # crosses process boundaries whole
        return (type(self), (self.backend, self.stage, str(self)))


class StorageError(MessagingError):
    """A backend could not read or write; the message says which and why."""


class BackendUnavailableError(StorageError):
    """A backend could not be reached at all (server down, path missing)."""


class BackendTimeoutError(BackendUnavailableError):
    """A backend did not answer within its bound (a hung server, a network cut); the call gave up.

    `outcome_unknown` is true when the wait was for a commit's answer: the server
    may have committed. Otherwise nothing of the call was written.
    """

    def __init__(self, message: str, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown

    def __reduce__(self) -> tuple[type, tuple[str, bool]]:  # crosses process boundaries whole
        return (type(self), (str(self), self.outcome_unknown))


class ArchiveEntryError(StorageError):
    """An archive entry is not what the layout allows: a symbolic link, a FIFO, a device, a file
    where a folder belongs (or the reverse). It is never followed or opened; the message names the path."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # crosses process boundaries whole
        return (type(self), (self.path, self.reason))
