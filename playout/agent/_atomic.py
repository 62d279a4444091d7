"""Files that are either complete or absent: power cuts are common at commune stations."""

from __future__ import annotations

import os
from pathlib import Path

PARTIAL_SUFFIX = ".part"


def write_atomic(path: Path, data: bytes) -> None:
    """Write beside ``path``, flush to disk, then rename into place. On failure (a full
    disk, say) ``path`` is as it was and no partial file is left behind."""
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    try:
        with partial.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
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
