"""Occurrences of manifest items and the one place that decides what plays next."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from playout._manifest import ItemKind, Manifest, ManifestItem, Priority

# Nothing scheduled longer ago than this is considered or remembered (see _state.py).
LOOKBACK = timedelta(days=3)

_PRIORITY_RANK = {Priority.EMERGENCY: 0, Priority.PRIORITY: 1, Priority.NORMAL: 2}
_EMERGENCY_RANK = _PRIORITY_RANK[Priority.EMERGENCY]
# A test or exercise is never played as the real thing: whatever its declared priority,
# it goes ahead of normal items but never gets an emergency's rank or cuts in.
_TEST_RANK = _PRIORITY_RANK[Priority.PRIORITY]


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


def rank(item: ManifestItem) -> int:
    """0 for an emergency, 1 for a priority item (or a test), 2 for a normal one."""
    declared = _PRIORITY_RANK[item.priority]
    return max(declared, _TEST_RANK) if item.kind is ItemKind.TEST else declared


def is_emergency(item: ManifestItem) -> bool:
    """Whether ``item`` plays as an emergency: declared one and not a test."""
    return rank(item) == _EMERGENCY_RANK


def play_order(occurrence: Occurrence) -> tuple[int, float, str]:
    """Emergency, then priority, then normal (DESIGN.md §5); earlier start first, except
    that among emergencies the newest goes first."""
    level = rank(occurrence.item)
    moment = occurrence.scheduled.timestamp()
    return level, -moment if level == _EMERGENCY_RANK else moment, occurrence.item.id


def preempts(candidate: Occurrence, playing: Occurrence, now: datetime) -> bool:
    """Whether ``candidate`` (not yet done) interrupts the playback of ``playing`` at
    ``now`` (DESIGN.md §5): a due emergency cuts into anything but another emergency."""
    return (
        is_emergency(candidate.item)
        and candidate.is_due(now)
        and not is_emergency(playing.item)
        and candidate.key != playing.key
    )


def decide(pending: Iterable[Occurrence], now: datetime) -> Decision:
    """The single play decision between playbacks; ``preempts`` is the rule during one."""
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
