"""Composition: where an alert stands in each target commune (``loa alert status``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app._alerts import alert_store
from config import Settings
from content import AlertView
from playout import Acknowledgement, AckState, Delivery, S3ObjectStore, read_acknowledgements

STATE_VI = {
    AckState.PUBLISHED: "đã gửi",
    AckState.SEEN: "đã nhận",
    AckState.PLAYING: "đang phát",
    AckState.PLAYED: "đã phát",
    AckState.FAILED: "không phát được",
    AckState.SILENT: "mất liên lạc",
    AckState.UNREADABLE: "không đọc được trạng thái",
}


@dataclass(frozen=True)
class AlertStatusReport:
    alert: AlertView
    acknowledgements: list[Acknowledgement]
    at: datetime

    @property
    def all_played(self) -> bool:
        return bool(self.acknowledgements) and all(
            ack.state is AckState.PLAYED for ack in self.acknowledgements
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.alert.id,
            "identifier": self.alert.identifier,
            "state": self.alert.state.value,
            "at": self.at.isoformat(),
            "all_played": self.all_played,
            "communes": [_commune(ack) for ack in self.acknowledgements],
        }


def alert_status(settings: Settings, alert_id: int) -> AlertStatusReport:
    """Each delivery's acknowledgement, read from the agents' heartbeats and receipts."""
    alert = alert_store(settings).alert(alert_id)
    zone = settings.organisation.district.zone
    deliveries = [
        Delivery(one.commune, one.item_ids, one.sequence, one.published_at)
        for one in alert.deliveries
    ]
    now = datetime.now(zone)
    acknowledgements = read_acknowledgements(
        S3ObjectStore.from_settings(settings),
        deliveries,
        now=now,
        zone=zone,
        silent_after=timedelta(seconds=settings.alerts.silent_after_s),
        parallel=settings.publish.parallel_requests,
    )
    return AlertStatusReport(alert, acknowledgements, now)


def _commune(ack: Acknowledgement) -> dict[str, Any]:
    failure = ack.failure
    return {
        "commune": ack.commune_id,
        "state": ack.state.value,
        "seen_at": _iso(ack.seen_at),
        "last_heartbeat_at": _iso(ack.last_heartbeat_at),
        "now_playing": ack.now_playing,
        "played": {
            item.item_id: {"started": _iso(item.played.started), "ended": _iso(item.played.ended)}
            for item in ack.items
            if item.played is not None
        },
        "failure": None if failure is None else {"item": failure.item_id, "reason": failure.reason},
        "error": ack.error,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
