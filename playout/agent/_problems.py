"""Recent refusals and errors, kept for the heartbeat (DESIGN.md §4: "reported")."""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from playout.agent._clock import utc_iso

log = logging.getLogger(__name__)

MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    at: datetime
    message: str

    def document(self) -> dict[str, str]:
        return {"at": utc_iso(self.at), "message": self.message}


class ProblemLog:
    """The last ``MAX_PROBLEMS`` distinct problems, each with the last time it happened,
    so that a link down for hours does not push the refusals out of the heartbeat."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._problems: deque[Problem] = deque(maxlen=MAX_PROBLEMS)

    def add(self, at: datetime, message: str) -> None:
        with self._lock:
            earlier = [problem for problem in self._problems if problem.message == message]
            for problem in earlier:
                self._problems.remove(problem)
            self._problems.append(Problem(at, message))
        if not earlier:
            log.warning("%s", message)

    def recent(self) -> list[Problem]:
        with self._lock:
            return list(self._problems)
