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


class ObjectNotFound(StorageError):  # noqa: N818 - reads as the condition, like KeyError
    """The object (or its bucket) is not in storage."""


class ManifestError(LoaError):
    """A manifest is malformed, unsigned, wrongly signed, stale or not addressed to us."""
