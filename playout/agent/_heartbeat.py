"""The agent's status report: ``communes/<id>/status/heartbeat.json`` (DESIGN.md §3)."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from playout._manifest import Manifest
from playout.agent._cache import CacheUsage
from playout.agent._clock import local_iso, utc_iso
from playout.agent._problems import Problem
from playout.agent._receipt import AsRunReceipt
from playout.agent._schedule import Occurrence


def agent_version() -> str:
    try:
        return importlib.metadata.version("loa")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Heartbeat:
    commune_id: str
    at: datetime
    manifest: Manifest | None
    online: bool
    cache: CacheUsage
    next_occurrence: Occurrence | None
    last_play: AsRunReceipt | None
    problems: list[Problem]

    def document(self, zone: tzinfo) -> dict[str, Any]:
        return {
            "commune": self.commune_id,
            "agent_version": agent_version(),
            "at": utc_iso(self.at),
            "manifest": self._manifest_document(),
            "online": self.online,
            "cache": {"objects": self.cache.objects, "bytes": self.cache.bytes},
            "next_occurrence": self._next_document(zone),
            "last_play": self.last_play.document(zone) if self.last_play else None,
            "problems": [problem.document() for problem in self.problems],
        }

    def _manifest_document(self) -> dict[str, Any] | None:
        if self.manifest is None:
            return None
        return {
            "sequence": self.manifest.sequence,
            "generated_at": self.manifest.generated_at.isoformat(),
            "valid_until": self.manifest.valid_until.isoformat(),
        }

    def _next_document(self, zone: tzinfo) -> dict[str, Any] | None:
        if self.next_occurrence is None:
            return None
        item = self.next_occurrence.item
        return {
            "item_id": item.id,
            "priority": str(item.priority),
            "scheduled": local_iso(self.next_occurrence.scheduled, zone),
        }
