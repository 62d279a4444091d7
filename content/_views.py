"""Read-only snapshots handed to callers, so no caller ever holds a session or a live row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from content._enums import ContentKind, ContentState, Priority
from content._models import (
    AuditEvent,
    ContentItem,
    LanguageVariant,
    RenderedClip,
    SlotBooking,
)


@dataclass(frozen=True, slots=True)
class ClipView:
    """A rendered, processed clip of one variant, as the pipeline reported it."""

    id: int
    variant_id: int
    key: str
    sha256: str
    bytes: int
    duration_ms: int
    lufs: float
    true_peak_dbtp: float
    engine: str
    voice: str
    created_at: datetime

    @classmethod
    def of(cls, row: RenderedClip) -> ClipView:
        return cls(
            id=row.id,
            variant_id=row.variant_id,
            key=row.key,
            sha256=row.sha256,
            bytes=row.bytes,
            duration_ms=row.duration_ms,
            lufs=row.lufs,
            true_peak_dbtp=row.true_peak_dbtp,
            engine=row.engine,
            voice=row.voice,
            created_at=row.created_at,
        )


@dataclass(frozen=True, slots=True)
class VariantView:
    """The item in one language: ``text`` to synthesise, or a recording under the assets dir.

    ``audio_path`` is relative to the store's assets dir (``ContentStore.asset_path``).
    """

    id: int
    item_id: int
    language: str
    text: str | None
    audio_path: str | None
    audio_sha256: str | None
    audio_filename: str | None
    created_at: datetime
    latest_clip: ClipView | None

    @property
    def is_recording(self) -> bool:
        return self.audio_path is not None

    @classmethod
    def of(cls, row: LanguageVariant) -> VariantView:
        return cls(
            id=row.id,
            item_id=row.item_id,
            language=row.language,
            text=row.text,
            audio_path=row.audio_path,
            audio_sha256=row.audio_sha256,
            audio_filename=row.audio_filename,
            created_at=row.created_at,
            latest_clip=ClipView.of(row.clips[-1]) if row.clips else None,
        )


@dataclass(frozen=True, slots=True)
class ItemView:
    id: int
    kind: ContentKind
    title: str
    priority: Priority
    state: ContentState
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None
    approved_by: str | None
    variants: tuple[VariantView, ...]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(variant.language for variant in self.variants)

    def variant(self, language: str) -> VariantView | None:
        return next((v for v in self.variants if v.language == language), None)

    @classmethod
    def of(cls, row: ContentItem) -> ItemView:
        return cls(
            id=row.id,
            kind=row.kind,
            title=row.title,
            priority=row.priority,
            state=row.state,
            created_at=row.created_at,
            updated_at=row.updated_at,
            approved_at=row.approved_at,
            approved_by=row.approved_by,
            variants=tuple(VariantView.of(variant) for variant in row.variants),
        )


@dataclass(frozen=True, slots=True)
class AuditEventView:
    id: int
    item_id: int
    at: datetime
    actor: str
    action: str
    detail: str | None

    @classmethod
    def of(cls, row: AuditEvent) -> AuditEventView:
        return cls(
            id=row.id,
            item_id=row.item_id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            detail=row.detail,
        )


@dataclass(frozen=True, slots=True)
class SlotBookingView:
    """An item placed in a recurring slot from ``first_day`` to ``last_day`` (local, inclusive).

    ``communes`` ``None`` is every commune of the district. Within a slot, a lower
    ``position`` plays first.
    """

    id: int
    item_id: int
    slot: str
    communes: tuple[str, ...] | None
    first_day: date
    last_day: date
    position: int
    created_at: datetime
    created_by: str
    cancelled_at: datetime | None
    cancelled_by: str | None = None

    @property
    def is_live(self) -> bool:
        return self.cancelled_at is None

    def targets(self, commune_id: str) -> bool:
        return self.communes is None or commune_id in self.communes

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day

    @classmethod
    def of(cls, row: SlotBooking) -> SlotBookingView:
        return cls(
            id=row.id,
            item_id=row.item_id,
            slot=row.slot,
            communes=row.communes,
            first_day=row.first_day,
            last_day=row.last_day,
            position=row.position,
            created_at=row.created_at,
            created_by=row.created_by,
            cancelled_at=row.cancelled_at,
            cancelled_by=row.cancelled_by,
        )


@dataclass(frozen=True, slots=True)
class BookedItem:
    """What plays in a slot on a day: the approved item and the booking that put it there."""

    item: ItemView
    booking: SlotBookingView
