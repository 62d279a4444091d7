"""The editorial schema (SQLAlchemy 2 typed ORM). Changes here need an Alembic revision."""

from datetime import date, datetime
from typing import Final

from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from content._enums import AlertState, AlertStatus, ContentKind, ContentState, Hazard, Priority
from content._types import CommuneList, UTCDateTime

# Named constraints, so later migrations (SQLite batch mode included) can address them.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TEXT_XOR_AUDIO: Final = (
    "(text IS NOT NULL AND audio_path IS NULL AND audio_sha256 IS NULL"
    " AND audio_filename IS NULL)"
    " OR (text IS NULL AND audio_path IS NOT NULL AND audio_sha256 IS NOT NULL"
    " AND audio_filename IS NOT NULL)"
)

DAY_ORDER: Final = "last_day >= first_day"
POSITION_NOT_NEGATIVE: Final = "position >= 0"
LEVEL_RANGE: Final = "level BETWEEN 1 AND 5"
EXPIRES_AFTER_ISSUE: Final = "expires_at > issued_at"
REPEAT_POSITIVE: Final = "repeat_every_s IS NULL OR repeat_every_s > 0"
ENDED_WITH_ACTOR: Final = (
    "(ended_at IS NULL AND ended_by IS NULL) OR (ended_at IS NOT NULL AND ended_by IS NOT NULL)"
)
CANCELLED_WITH_ACTOR: Final = (
    "(cancelled_at IS NULL AND cancelled_by IS NULL)"
    " OR (cancelled_at IS NOT NULL AND cancelled_by IS NOT NULL)"
)


def _choice(
    enum: type[ContentKind | Priority | ContentState | Hazard | AlertStatus | AlertState],
    name: str,
    length: int = 16,
) -> Enum:
    # VARCHAR plus a CHECK constraint rather than a native ENUM: the same DDL on SQLite and
    # PostgreSQL, and the database itself refuses a value the code does not know.
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ContentItem(Base):
    __tablename__ = "content_items"
    # AUTOINCREMENT: editors type these ids, so SQLite must never hand one out twice.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[ContentKind] = mapped_column(_choice(ContentKind, "kind"))
    title: Mapped[str] = mapped_column(String(300))
    priority: Mapped[Priority] = mapped_column(_choice(Priority, "priority"))
    state: Mapped[ContentState] = mapped_column(_choice(ContentState, "state"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(100))

    variants: Mapped[list["LanguageVariant"]] = relationship(
        back_populates="item", order_by="LanguageVariant.id"
    )


class LanguageVariant(Base):
    """The item in one language: a text to synthesise or a native speaker's recording."""

    __tablename__ = "language_variants"
    __table_args__ = (
        UniqueConstraint("item_id", "language"),
        CheckConstraint(TEXT_XOR_AUDIO, name="text_xor_audio"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id"))
    language: Mapped[str] = mapped_column(String(3))
    text: Mapped[str | None] = mapped_column(Text)
    audio_path: Mapped[str | None] = mapped_column(String(80))
    audio_sha256: Mapped[str | None] = mapped_column(String(64))
    audio_filename: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    item: Mapped[ContentItem] = relationship(back_populates="variants")
    clips: Mapped[list["RenderedClip"]] = relationship(
        back_populates="variant", order_by="RenderedClip.id"
    )


class RenderedClip(Base):
    """One rendering of a variant; a variant may be re-rendered and the latest wins."""

    __tablename__ = "rendered_clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("language_variants.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    lufs: Mapped[float] = mapped_column(Float)
    true_peak_dbtp: Mapped[float] = mapped_column(Float)
    engine: Mapped[str] = mapped_column(String(40))
    voice: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    variant: Mapped[LanguageVariant] = relationship(back_populates="clips")


class AuditEvent(Base):
    """Who did what to an item, and when. Written in the same transaction as the change."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    # Free text, not an enum column: a new kind of event must not need a migration.
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class SlotBooking(Base):
    """An approved item placed in a recurring programme slot on a run of local days.

    A booking is cancelled, never deleted: the audit trail names it by id. Two live
    bookings of one item in one slot on overlapping days are refused by the store, not by
    a constraint (a range overlap is not a unique key on SQLite).
    """

    __tablename__ = "slot_bookings"
    __table_args__ = (
        CheckConstraint(DAY_ORDER, name="day_order"),
        CheckConstraint(POSITION_NOT_NEGATIVE, name="position_not_negative"),
        CheckConstraint(CANCELLED_WITH_ACTOR, name="cancelled_with_actor"),
        # AUTOINCREMENT: editors type these ids too (`loa content unbook 7`).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id"), index=True)
    slot: Mapped[str] = mapped_column(String(63), index=True)
    # NULL: every commune of the district, including communes added after the booking.
    communes: Mapped[tuple[str, ...] | None] = mapped_column(CommuneList())
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(100))

    item: Mapped[ContentItem] = relationship()


class Alert(Base):
    """An emergency alert: a content item (its title and per-language texts or recordings)
    with what Decision 18/2021 and CAP 1.2 say about it.

    Never deleted: an alert is superseded by a later one or cancelled, and both are kept.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(LEVEL_RANGE, name="level_range"),
        CheckConstraint(EXPIRES_AFTER_ISSUE, name="expires_after_issue"),
        CheckConstraint(REPEAT_POSITIVE, name="repeat_positive"),
        CheckConstraint(ENDED_WITH_ACTOR, name="ended_with_actor"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("content_items.id"), unique=True)
    identifier: Mapped[str] = mapped_column(String(200), unique=True)
    sender: Mapped[str] = mapped_column(String(200))
    hazard: Mapped[Hazard] = mapped_column(_choice(Hazard, "hazard", 32))
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[AlertStatus] = mapped_column(_choice(AlertStatus, "status"))
    state: Mapped[AlertState] = mapped_column(_choice(AlertState, "state"), index=True)
    # NULL: every commune of the district, including communes added later.
    communes: Mapped[tuple[str, ...] | None] = mapped_column(CommuneList())
    # Languages spoken from the phrase bank's alert template rather than a text or recording.
    phrasebank_languages: Mapped[tuple[str, ...] | None] = mapped_column(CommuneList())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    repeat_every_s: Mapped[int | None] = mapped_column(Integer)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    urgency: Mapped[str | None] = mapped_column(String(16))
    severity: Mapped[str | None] = mapped_column(String(16))
    certainty: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(100))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(100))
    end_reason: Mapped[str | None] = mapped_column(String(300))

    item: Mapped[ContentItem] = relationship()
    deliveries: Mapped[list["AlertDelivery"]] = relationship(
        back_populates="alert", order_by="AlertDelivery.commune"
    )
    clips: Mapped[list["AlertClip"]] = relationship(back_populates="alert", order_by="AlertClip.id")


class AlertClip(Base):
    """The framed alert audio in one language, as published (the latest one wins)."""

    __tablename__ = "alert_clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    language: Mapped[str] = mapped_column(String(3))
    # The commune whose name a phrase bank clip says; NULL: the clip of every commune.
    commune: Mapped[str | None] = mapped_column(String(63))
    source: Mapped[str] = mapped_column(String(16))  # text, recording or phrasebank
    key: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    lufs: Mapped[float] = mapped_column(Float)
    true_peak_dbtp: Mapped[float] = mapped_column(Float)
    engine: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    alert: Mapped[Alert] = relationship(back_populates="clips")


class AlertDelivery(Base):
    """An alert's items in one commune's manifest: which ids, from which sequence on."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "commune"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    commune: Mapped[str] = mapped_column(String(63))
    item_ids: Mapped[tuple[str, ...] | None] = mapped_column(CommuneList())
    sequence: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())

    alert: Mapped[Alert] = relationship(back_populates="deliveries")
