"""Time for the agent: instants are compared in UTC and shown in the district's zone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

Clock = Callable[[], datetime]
"""Returns the current instant as an aware ``datetime``; injectable for tests."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def wait_until(
    clock: Clock,
    moment: datetime | None,
    wake: threading.Event,
    stop: threading.Event,
    *,
    check_s: float = 0.25,
) -> None:
    """Return at ``moment``, as soon as ``wake`` is set, or within ``check_s`` of ``stop``.

    ``Event.wait`` is timed by the OS, so a start is met to the millisecond rather than at
    the next coarse poll; the clock is re-read on every round in case it was adjusted."""
    while not stop.is_set():
        remaining = check_s
        if moment is not None:
            remaining = min(remaining, (moment - clock()).total_seconds())
            if remaining <= 0:
                return
        if wake.wait(remaining):
            return


def local_iso(moment: datetime, zone: tzinfo) -> str:
    """ISO 8601 with the zone's offset, to the millisecond (DESIGN.md §4, §8)."""
    return moment.astimezone(zone).isoformat(timespec="milliseconds")


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def unix_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
