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
    topic: str | None = None

    def document(self) -> dict[str, str]:
        return {"at": utc_iso(self.at), "message": self.message}


class ProblemLog:
    """The last ``size`` distinct problems, each with the last time it happened, so that
    a link down for hours does not push the refusals out of the heartbeat. A problem with
    a ``topic`` (e.g. "clock") replaces the earlier one of that topic."""

    def __init__(self, size: int = MAX_PROBLEMS) -> None:
        self._lock = threading.Lock()
        self._problems: deque[Problem] = deque(maxlen=size)

    def add(self, at: datetime, message: str, *, topic: str | None = None) -> None:
        with self._lock:
            repeated = any(problem.message == message for problem in self._problems)
            for problem in [p for p in self._problems if _same(p, message, topic)]:
                self._problems.remove(problem)
            self._problems.append(Problem(at, message, topic))
        if not repeated:
            log.warning("%s", message)

    def recent(self) -> list[Problem]:
        with self._lock:
            return list(self._problems)

    def last(self) -> Problem | None:
        with self._lock:
            return self._problems[-1] if self._problems else None


def _same(problem: Problem, message: str, topic: str | None) -> bool:
    return problem.message == message or (topic is not None and problem.topic == topic)
