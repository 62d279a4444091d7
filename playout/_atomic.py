"""Files that are either complete or absent: power cuts are common at commune stations,
and a district host's keys and secrets must never be left half-written."""

from __future__ import annotations

import os
from pathlib import Path

PARTIAL_SUFFIX = ".part"


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write beside ``path``, flush to disk, then rename into place. On failure (a full
    disk, say) ``path`` is as it was and no partial file is left behind. ``mode``: the
    file's permissions from the moment it exists (e.g. 0o600 for a secret)."""
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        descriptor = os.open(partial, flags, 0o666 if mode is None else mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(partial, mode)  # O_CREAT's mode only applies to a new file
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    # The rename itself is only durable once the directory entry reaches the disk.
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
