"""Occurrences of manifest items and the one place that decides what plays next."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from playout._manifest import Manifest, ManifestItem, Priority

# Nothing scheduled longer ago than this is considered or remembered (see _state.py).
LOOKBACK = timedelta(days=3)

_PRIORITY_RANK = {Priority.EMERGENCY: 0, Priority.PRIORITY: 1, Priority.NORMAL: 2}


@dataclass(frozen=True)
class Occurrence:
    """One scheduled playback of a manifest item."""

    commune_id: str
    sequence: int
    item: ManifestItem
    scheduled: datetime

    @property
    def key(self) -> tuple[str, str]:
        """(item id, scheduled instant in UTC): what the agent remembers as done."""
        return self.item.id, self.scheduled.astimezone(UTC).isoformat()

    @property
    def not_after(self) -> datetime:
        return self.scheduled + self.item.lateness_allowed

    def is_missed(self, now: datetime) -> bool:
        return now > self.not_after

    def is_due(self, now: datetime) -> bool:
        return self.scheduled <= now <= self.not_after


def occurrences(
    manifest: Manifest, commune_id: str, *, since: datetime, until: datetime | None
) -> Iterator[Occurrence]:
    """Every occurrence scheduled in ``[since, until]`` (``until=None``: no end)."""
    for item in manifest.items:
        for scheduled in item.occurrences():
            if until is not None and scheduled > until:
                break
            if scheduled >= since:
                yield Occurrence(commune_id, manifest.sequence, item, scheduled)


@dataclass(frozen=True)
class Decision:
    """What to do now: record ``missed``, play ``play``, else sleep until ``wake_at``."""

    missed: list[Occurrence] = field(default_factory=list)
    play: Occurrence | None = None
    wake_at: datetime | None = None


def play_order(occurrence: Occurrence) -> tuple[int, float, str]:
    """Emergency, then priority, then normal (DESIGN.md §5); earlier start first, except
    that among emergencies the newest goes first."""
    rank = _PRIORITY_RANK[occurrence.item.priority]
    moment = occurrence.scheduled.timestamp()
    return rank, -moment if rank == 0 else moment, occurrence.item.id


def decide(pending: Iterable[Occurrence], now: datetime) -> Decision:
    """The single play decision: every rule about what plays when lives here, so that
    pre-emption by an emergency can later be added in one place."""
    missed: list[Occurrence] = []
    due: list[Occurrence] = []
    future: list[Occurrence] = []
    for occurrence in pending:
        if occurrence.is_missed(now):
            missed.append(occurrence)
        elif occurrence.is_due(now):
            due.append(occurrence)
        else:
            future.append(occurrence)
    play = min(due, key=play_order) if due else None
    wake_at = min((o.scheduled for o in future), default=None)
    return Decision(missed=missed, play=play, wake_at=wake_at)
