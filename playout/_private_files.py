"""Files that hold secrets on the district host: owner-only (0600), replaced atomically."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only, beside the target, then rename.

    Readers see the old file or the new one, never a half-written one. Callers that may
    race on the same file hold a lock: the partial file's name is fixed."""
    partial = path.with_name(path.name + ".part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    # O_CREAT's mode is only used for a new file; an old partial may have been looser.
    os.chmod(partial, 0o600)
    os.replace(partial, path)


def create_private_once(path: Path, text: str) -> None:
    """Create ``path`` unless it exists. Two processes racing keep the first secret."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    write_private(partial, text)
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)
