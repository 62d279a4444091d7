"""Read-only snapshots of alerts, their framed audio and their deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from content._enums import AlertState, AlertStatus, Hazard
from content._models import Alert, AlertClip, AlertDelivery
from content._views import ItemView


@dataclass(frozen=True, slots=True)
class AlertClipView:
    """The framed alert audio in one language, as it was published."""

    language: str
    commune: str | None  # the commune a phrase bank clip names; None: every commune
    source: str  # text, recording or phrasebank
    key: str
    sha256: str
    bytes: int
    duration_ms: int
    lufs: float
    true_peak_dbtp: float
    engine: str
    created_at: datetime

    @classmethod
    def of(cls, row: AlertClip) -> AlertClipView:
        return cls(
            language=row.language,
            commune=row.commune,
            source=row.source,
            key=row.key,
            sha256=row.sha256,
            bytes=row.bytes,
            duration_ms=row.duration_ms,
            lufs=row.lufs,
            true_peak_dbtp=row.true_peak_dbtp,
            engine=row.engine,
            created_at=row.created_at,
        )


@dataclass(frozen=True, slots=True)
class AlertDeliveryView:
    """The alert's items in one commune's manifest, from ``sequence`` on."""

    commune: str
    item_ids: tuple[str, ...]
    sequence: int
    published_at: datetime

    @classmethod
    def of(cls, row: AlertDelivery) -> AlertDeliveryView:
        return cls(row.commune, row.item_ids or (), row.sequence, row.published_at)


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert: what, how grave, where, when, in which languages, and what became of it."""

    id: int
    item: ItemView
    identifier: str
    sender: str
    hazard: Hazard
    level: int
    status: AlertStatus
    state: AlertState
    communes: tuple[str, ...] | None  # None: the whole district
    phrasebank_languages: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    repeat_every_s: int | None
    supersedes_id: int | None
    urgency: str | None
    severity: str | None
    certainty: str | None
    created_by: str
    ended_at: datetime | None
    ended_by: str | None
    end_reason: str | None
    clips: tuple[AlertClipView, ...]
    deliveries: tuple[AlertDeliveryView, ...]

    @property
    def title(self) -> str:
        return self.item.title

    @property
    def languages(self) -> tuple[str, ...]:
        """Every language the alert can be spoken in: texts, recordings, phrase bank."""
        given = [variant.language for variant in self.item.variants]
        return tuple(dict.fromkeys([*given, *self.phrasebank_languages]))

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def is_live(self, now: datetime) -> bool:
        """In force: issued, neither superseded nor cancelled, not yet expired."""
        return self.state is AlertState.ISSUED and not self.is_expired(now)

    def latest_clips(self) -> dict[tuple[str, str | None], AlertClipView]:
        """The newest clip of each (language, commune named or ``None``)."""
        return {(clip.language, clip.commune): clip for clip in self.clips}

    @classmethod
    def of(cls, row: Alert) -> AlertView:
        return cls(
            id=row.id,
            item=ItemView.of(row.item),
            identifier=row.identifier,
            sender=row.sender,
            hazard=row.hazard,
            level=row.level,
            status=row.status,
            state=row.state,
            communes=row.communes,
            phrasebank_languages=row.phrasebank_languages or (),
            issued_at=row.issued_at,
            expires_at=row.expires_at,
            repeat_every_s=row.repeat_every_s,
            supersedes_id=row.supersedes_id,
            urgency=row.urgency,
            severity=row.severity,
            certainty=row.certainty,
            created_by=row.created_by,
            ended_at=row.ended_at,
            ended_by=row.ended_by,
            end_reason=row.end_reason,
            clips=tuple(AlertClipView.of(clip) for clip in row.clips),
            deliveries=tuple(AlertDeliveryView.of(one) for one in row.deliveries),
        )
