"""Emergencies first (DESIGN.md §5): which due emergency cuts into the playback in
progress, and which audio a new manifest needs before any other."""

from __future__ import annotations

from collections.abc import Container, Iterable
from datetime import datetime

from playout._manifest import AudioRef
from playout.agent._schedule import Occurrence, is_emergency, play_order, preempts


def preemptor(
    pending: Iterable[Occurrence], playing: Occurrence, now: datetime, refused: Container[str]
) -> Occurrence | None:
    """The emergency that interrupts ``playing`` now, if any (the one that plays first).
    One whose audio was refused (SHA-256 in ``refused``) would only fail: it does not."""
    cutting = [
        occurrence
        for occurrence in pending
        if preempts(occurrence, playing, now) and occurrence.item.audio.sha256 not in refused
    ]
    return min(cutting, key=play_order, default=None)


def preemption_reason(emergency: Occurrence) -> str:
    return f"pre-empted by emergency {emergency.item.id}"


def urgent_audio(pending: Iterable[Occurrence], now: datetime) -> list[AudioRef]:
    """The audio of the emergencies due at ``now``, once each, in the order they play."""
    due = sorted(
        (o for o in pending if is_emergency(o.item) and o.is_due(now)),
        key=play_order,
    )
    refs: dict[str, AudioRef] = {}
    for occurrence in due:
        refs.setdefault(occurrence.item.audio.sha256, occurrence.item.audio)
    return list(refs.values())
