"""As-run receipts: ``communes/<id>/asrun/<YYYY-MM-DD>/<unix_ms>-<item_id>.json``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from playout._layout import asrun_prefix
from playout.agent._clock import local_iso, unix_ms
from playout.agent._schedule import Occurrence
from playout.agent._sink import Outcome


@dataclass(frozen=True)
class AsRunReceipt:
    """What happened to one occurrence (DESIGN.md §3's as-run receipt). ``started`` and
    ``ended`` are on the agent's clock (storage's when this host's is off); ``started`` is
    ``None`` when nothing was played."""

    occurrence: Occurrence
    outcome: Outcome
    started: datetime | None = None
    ended: datetime | None = None
    reason: str | None = None

    @property
    def moment(self) -> datetime:
        """When it happened: the start, or the scheduled time if it never started."""
        return self.started if self.started is not None else self.occurrence.scheduled

    def key(self, zone: tzinfo) -> str:
        occurrence = self.occurrence
        day = self.moment.astimezone(zone).date().isoformat()
        name = f"{unix_ms(self.moment)}-{occurrence.item.id}.json"
        return f"{asrun_prefix(occurrence.commune_id)}{day}/{name}"

    def document(self, zone: tzinfo) -> dict[str, Any]:
        item = self.occurrence.item
        return {
            "commune": self.occurrence.commune_id,
            "item_id": item.id,
            "kind": str(item.kind),
            "priority": str(item.priority),
            "audio_sha256": item.audio.sha256,
            "scheduled": local_iso(self.occurrence.scheduled, zone),
            "started": _optional_iso(self.started, zone),
            "ended": _optional_iso(self.ended, zone),
            "outcome": str(self.outcome),
            "reason": self.reason,
            "manifest_sequence": self.occurrence.sequence,
            "clusters": list(item.clusters),
            "audio_key": item.audio.key,
        }


def _optional_iso(moment: datetime | None, zone: tzinfo) -> str | None:
    return local_iso(moment, zone) if moment is not None else None
