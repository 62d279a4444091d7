"""Files on the district host that hold secrets or keys: owner-only (0600) unless said
otherwise, replaced atomically."""

from __future__ import annotations

import os
from pathlib import Path

from playout._atomic import write_atomic


def write_private(path: Path, content: str | bytes, *, mode: int = 0o600) -> None:
    """Write ``content`` (text as UTF-8) with ``mode``, owner-only by default, atomically.

    Callers that may race on the same file hold a lock: the partial file's name is fixed."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    write_atomic(path, data, mode=mode)


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
