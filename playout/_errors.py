"""Errors of the playout part (DESIGN.md §9)."""

from __future__ import annotations

from config import LoaError


class StorageError(LoaError):
    """Object storage failed: the store is down, unreachable, refused our credentials,
    or the embedded SeaweedFS could not be started or stopped. A failure of the
    environment or a peer, so exit code 1."""


class StoragePortInUseError(StorageError):
    """A port the embedded SeaweedFS needs is taken. The user chooses the ports
    (``storage.embedded.port``), so this is their input to change: exit code 2."""

    exit_code = 2


class StorageUnavailable(StorageError):  # noqa: N818 - reads as the condition
    """The store as a whole cannot serve us now: it is unreachable, it refuses our
    credentials, or the bucket is missing. Work that needs it stops at once rather than
    meeting the same failure once per commune."""


class StorageUnreachable(StorageUnavailable):
    """No connection to the store at all."""


class StorageAccessDenied(StorageUnavailable):
    """The store refused our credentials (unknown key, wrong secret, no permission)."""


class ObjectNotFound(StorageError):  # noqa: N818 - reads as the condition, like KeyError
    """The object (or its bucket) is not in storage."""


class ObjectTooLarge(StorageError):  # noqa: N818 - reads as the condition
    """The store says the object is larger than we accept: refused before its body is read."""


class ManifestError(LoaError):
    """A manifest is malformed, unsigned, wrongly signed, stale or not addressed to us."""
