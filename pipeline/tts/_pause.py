"""Remembering that an online service was unreachable, across processes.

Every ``loa`` command is a process of its own; without a shared memory of the outage, a
batch of commands during a storm would each wait for the dead link before speaking
offline. The pause is a small JSON file (when and why), written atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path


class ServicePause:
    """Skip a service for ``seconds`` after it was found unreachable."""

    def __init__(self, seconds: float, file: Path | None = None) -> None:
        self._seconds = seconds
        self._file = file
        self._until = 0.0
        self._reason = ""

    def remaining(self) -> tuple[float, str]:
        """Seconds left of the pause (0 if none) and the reason it began."""
        self._read()
        return max(self._until - time.time(), 0.0), self._reason

    def start(self, reason: str) -> None:
        self._until, self._reason = time.time() + self._seconds, reason
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            partial = self._file.with_name(f"{self._file.name}.{os.getpid()}")
            partial.write_text(json.dumps({"until": self._until, "reason": reason}))
            os.replace(partial, self._file)

    def clear(self) -> None:
        """The service answered: no pause, here or in any other process."""
        self._until, self._reason = 0.0, ""
        if self._file is not None:
            self._file.unlink(missing_ok=True)

    def _read(self) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            state = json.loads(self._file.read_text())
            self._until, self._reason = float(state["until"]), str(state["reason"])
