"""The agent's status report: ``communes/<id>/status/heartbeat.json`` (DESIGN.md §3), also
kept as ``<agent dir>/status.json`` for ``loa agent status``."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from playout._manifest import Manifest
from playout.agent._cache import CacheUsage
from playout.agent._clock import local_iso, utc_iso
from playout.agent._playback import Playback
from playout.agent._problems import Problem
from playout.agent._receipt import AsRunReceipt
from playout.agent._schedule import Occurrence
from playout.agent._timebase import ClockReading


def agent_version() -> str:
    try:
        return importlib.metadata.version("loa")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class CacheHealth:
    usage: CacheUsage
    free_bytes: int | None  # of the cache's filesystem
    damaged: int  # clips found damaged (and deleted) since the agent started
    last_error: Problem | None  # the last clip that could not be stored, and why

    def document(self) -> dict[str, Any]:
        return {
            "objects": self.usage.objects,
            "bytes": self.usage.bytes,
            "free_bytes": self.free_bytes,
            "damaged": self.damaged,
            "last_error": self.last_error.document() if self.last_error else None,
        }


@dataclass(frozen=True)
class Heartbeat:
    """``manifest`` is the last accepted one, expired or not (``in_force`` tells)."""

    commune_id: str
    at: datetime
    manifest: Manifest | None
    in_force: bool
    online: bool
    now_playing: Playback | None
    next_occurrence: Occurrence | None
    last_play: AsRunReceipt | None
    cache: CacheHealth
    clock: ClockReading
    outbox_pending: int
    refused_manifests: list[Problem]
    problems: list[Problem]

    def document(self, zone: tzinfo) -> dict[str, Any]:
        return {
            "commune": self.commune_id,
            "agent_version": agent_version(),
            "at": utc_iso(self.at),
            "manifest": self._manifest_document(),
            "online": self.online,
            "now_playing": self._playing_document(zone),
            "next_occurrence": self._next_document(zone),
            "last_play": self.last_play.document(zone) if self.last_play else None,
            "cache": self.cache.document(),
            "clock": self.clock.document(),
            "outbox_pending": self.outbox_pending,
            "last_error": self.problems[-1].document() if self.problems else None,
            "refused_manifests": [problem.document() for problem in self.refused_manifests],
            "problems": [problem.document() for problem in self.problems],
        }

    def _manifest_document(self) -> dict[str, Any] | None:
        if self.manifest is None:
            return None
        return {
            "sequence": self.manifest.sequence,
            "generated_at": self.manifest.generated_at.isoformat(),
            "valid_until": self.manifest.valid_until.isoformat(),
            "in_force": self.in_force,
        }

    def _playing_document(self, zone: tzinfo) -> dict[str, Any] | None:
        if self.now_playing is None:
            return None
        occurrence = self.now_playing.occurrence
        return {
            "item_id": occurrence.item.id,
            "title": occurrence.item.title,
            "priority": str(occurrence.item.priority),
            "scheduled": local_iso(occurrence.scheduled, zone),
            "started": local_iso(self.now_playing.started, zone),
        }

    def _next_document(self, zone: tzinfo) -> dict[str, Any] | None:
        if self.next_occurrence is None:
            return None
        item = self.next_occurrence.item
        return {
            "item_id": item.id,
            "title": item.title,
            "priority": str(item.priority),
            "scheduled": local_iso(self.next_occurrence.scheduled, zone),
        }
