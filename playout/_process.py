"""Processes by pid: the embedded store's and the district scheduler's lock holder's."""

from __future__ import annotations

import os


def process_exists(pid: int) -> bool:
    """Whether a process with this pid is there (ours or someone else's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    return True
