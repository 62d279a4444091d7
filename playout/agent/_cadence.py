"""When the link thread polls storage (DESIGN.md §5: an emergency plays as soon as the
agent sees it).

Two cadences share one manifest request: every ``emergency_poll_s`` a check of the
manifest alone (a conditional GET, 304 when unchanged, nothing written to disk), and
every ``poll_interval_s`` a full sync that also fetches audio, prunes the cache and sends
receipts. A full sync checks the manifest too, so it postpones the next check. Timed on
the monotonic clock: the agent's notion of now may jump when it follows storage's clock."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from enum import StrEnum

_JITTER = 0.1


class Poll(StrEnum):
    SYNC = "sync"  # the manifest, its audio, the cache, the receipts
    CHECK = "check"  # the manifest alone


class PollCadence:
    def __init__(
        self,
        sync_s: float,
        check_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sync_s, self._check_s, self._clock = sync_s, check_s, clock
        self._next_sync = self._next_check = clock()

    def due(self) -> Poll | None:
        """The poll to make now, if any (a full sync when both are due)."""
        now = self._clock()
        if now >= self._next_sync:
            return Poll.SYNC
        if now >= self._next_check:
            return Poll.CHECK
        return None

    def done(self, poll: Poll) -> None:
        now = self._clock()
        if poll is Poll.SYNC:
            self._next_sync = now + jittered(self._sync_s)
        self._next_check = now + jittered(self._check_s)

    @property
    def next_at(self) -> float:
        """When the next poll is due, on the monotonic clock."""
        return min(self._next_sync, self._next_check)


def jittered(seconds: float) -> float:
    """Polls of many communes spread out instead of hitting storage in step."""
    return seconds * random.uniform(1 - _JITTER, 1 + _JITTER)  # noqa: S311 - not a secret
