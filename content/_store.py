"""The content store: the editorial API over the database and the assets directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from content import _bookings
from content._assets import AssetShelf, StoredAsset
from content._enums import AuditAction, ContentKind, ContentState, Priority
from content._errors import (
    ContentError,
    ContentInputError,
    ContentNotFoundError,
    DuplicateVariantError,
)
from content._migrate import (
    create_database_engine,
    one_line,
    parse_url,
    safe_url,
    upgrade_to_head,
)
from content._models import (
    AuditEvent,
    ContentItem,
    LanguageVariant,
    RenderedClip,
    SlotBooking,
)
from content._text import normalise_text
from content._validation import (
    TITLE_MAX,
    check_finite,
    check_label,
    check_positive,
    check_sha256,
    parse_choice,
    parse_item_id,
    parse_language,
    parse_line,
)
from content._views import (
    AuditEventView,
    BookedItem,
    ClipView,
    ItemView,
    SlotBookingView,
    VariantView,
)
from content._workflow import (
    check_bookable,
    check_editable,
    check_publishable,
    check_transition,
)

Clock = Callable[[], datetime]

# Views include every variant and its clips: load them in two queries, not one per row.
WITH_VARIANTS = selectinload(ContentItem.variants).selectinload(LanguageVariant.clips)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _in_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ContentError(f"the store's clock gave a naive time {moment.isoformat()}")
    return moment.astimezone(UTC)


class ContentStore:
    """Items, their language variants and clips, with the workflow and an audit trail.

    Building one checks the arguments, creates the SQLite file's directory and migrates the
    schema to the newest revision. Every method returns frozen views, never live rows.
    """

    def __init__(self, database_url: str, assets_dir: Path, *, clock: Clock = utc_now) -> None:
        if not isinstance(assets_dir, Path):
            raise ContentInputError(f"assets_dir {assets_dir!r} must be a pathlib.Path")
        url = parse_url(database_url)
        self._assets = AssetShelf(assets_dir)
        self._clock = clock
        self._engine = create_database_engine(url)
        upgrade_to_head(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    @property
    def assets_dir(self) -> Path:
        return self._assets.root

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- editorial work -------------------------------------------------------------------

    def add_item(
        self,
        kind: ContentKind | str,
        title: str,
        language: str,
        *,
        text: str | None = None,
        audio_file: Path | None = None,
        priority: Priority | str = Priority.NORMAL,
        actor: str = "editor",
    ) -> ItemView:
        """A new draft item with its first language variant."""
        checked_kind = parse_choice("kind", kind, ContentKind)
        checked_priority = parse_choice("priority", priority, Priority)
        checked_title = parse_line("title", title, TITLE_MAX)
        checked_actor = parse_line("actor", actor)
        code = parse_language(language)
        body = self._variant_body(code, text, audio_file)
        with self._transaction() as session:
            now = self._now()
            item = ContentItem(
                kind=checked_kind,
                title=checked_title,
                priority=checked_priority,
                state=ContentState.DRAFT,
                created_at=now,
                updated_at=now,
            )
            session.add(item)
            session.flush()
            self._audit(session, item.id, checked_actor, AuditAction.CREATED, _describe(item))
            self._insert_variant(session, item, code, body, checked_actor)
            return ItemView.of(self._load(session, item.id))

    def add_variant(
        self,
        item_id: int,
        language: str,
        *,
        text: str | None = None,
        audio_file: Path | None = None,
        actor: str = "editor",
    ) -> VariantView:
        """Another language of a draft item. A second variant in one language is refused."""
        checked_id = parse_item_id(item_id)
        checked_actor = parse_line("actor", actor)
        code = parse_language(language)
        body = self._variant_body(code, text, audio_file)
        with self._transaction() as session:
            item = self._load(session, checked_id)
            check_editable(item.id, item.state)
            variant = self._insert_variant(session, item, code, body, checked_actor)
            item.updated_at = self._now()
            return VariantView.of(variant)

    def approve(self, item_id: int, actor: str) -> ItemView:
        checked_actor = parse_line("actor", actor)
        with self._transaction() as session:
            item = self._load(session, parse_item_id(item_id))
            check_transition(item.id, item.state, ContentState.APPROVED)
            now = self._now()
            item.state = ContentState.APPROVED
            item.approved_at = now
            item.approved_by = checked_actor
            item.updated_at = now
            self._audit(session, item.id, checked_actor, AuditAction.APPROVED, None)
            return ItemView.of(item)

    def reject(self, item_id: int, actor: str, reason: str) -> ItemView:
        """Reject a draft, or withdraw an approved item; the reason goes to the audit trail."""
        checked_actor = parse_line("actor", actor)
        checked_reason = parse_line("reason", reason, TITLE_MAX)
        with self._transaction() as session:
            item = self._load(session, parse_item_id(item_id))
            check_transition(item.id, item.state, ContentState.REJECTED)
            item.state = ContentState.REJECTED
            item.updated_at = self._now()
            self._audit(session, item.id, checked_actor, AuditAction.REJECTED, checked_reason)
            return ItemView.of(item)

    def record_clip(
        self,
        item_id: int,
        language: str,
        *,
        key: str,
        sha256: str,
        bytes: int,
        duration_ms: int,
        lufs: float,
        true_peak_dbtp: float,
        engine: str,
        voice: str,
    ) -> ClipView:
        """Remember a rendering of the item's variant in ``language``; the latest one wins."""
        code = parse_language(language)
        clip = RenderedClip(
            key=check_label("key", key, 200),
            sha256=check_sha256("sha256", sha256),
            bytes=check_positive("bytes", bytes),
            duration_ms=check_positive("duration_ms", duration_ms),
            lufs=check_finite("lufs", lufs),
            true_peak_dbtp=check_finite("true_peak_dbtp", true_peak_dbtp),
            engine=check_label("engine", engine, 40),
            voice=check_label("voice", voice, 100),
        )
        with self._transaction() as session:
            variant = self._load_variant(session, parse_item_id(item_id), code)
            clip.variant_id = variant.id
            clip.created_at = self._now()
            session.add(clip)
            session.flush()
            detail = f"language={code} key={clip.key} engine={clip.engine} voice={clip.voice}"
            self._audit(session, item_id, "pipeline", AuditAction.CLIP_RECORDED, detail)
            return ClipView.of(clip)

    # -- slot bookings --------------------------------------------------------------------

    def book(
        self,
        item_id: int,
        slot: str,
        *,
        communes: Sequence[str] | None,
        first_day: date,
        last_day: date | None = None,
        position: int | None = None,
        actor: str,
    ) -> SlotBookingView:
        """Place an approved item in ``slot`` every day from ``first_day`` to ``last_day``.

        ``communes`` ``None`` is every commune of the district. ``last_day`` defaults to
        ``first_day``; ``position`` (lower plays first) to after every live booking of the
        slot on those days. A second live booking of the item in the slot on any of the
        same days is refused, naming the existing one.
        """
        checked_id = parse_item_id(item_id)
        request = _bookings.parse_request(slot, communes, first_day, last_day, position, actor)
        with self._transaction() as session:
            # Locked (PostgreSQL; SQLite has one writer anyway) so that a concurrent booking
            # of the same item, or its withdrawal, waits for this one.
            item = self._load(session, checked_id, lock=True)
            check_bookable(item.id, item.state)
            existing = _bookings.find_conflict(session, item.id, request)
            if existing is not None:
                raise _bookings.conflict_error(item.id, existing)
            booking = self._insert_booking(session, item.id, request)
            return SlotBookingView.of(booking)

    def unbook(self, booking_id: int, actor: str) -> SlotBookingView:
        """Cancel a live booking; it stays in the database for the audit trail."""
        checked_actor = parse_line("actor", actor)
        checked_id = _bookings.parse_booking_id(booking_id)
        with self._transaction() as session:
            booking = session.get(SlotBooking, checked_id, with_for_update=True)
            if booking is None:
                raise ContentNotFoundError(f"booking {checked_id} does not exist")
            _bookings.check_live(booking)
            booking.cancelled_at = self._now()
            booking.cancelled_by = checked_actor
            detail = _bookings.describe(booking)
            self._audit(session, booking.item_id, checked_actor, AuditAction.UNBOOKED, detail)
            return SlotBookingView.of(booking)

    def bookings(
        self,
        *,
        item_id: int | None = None,
        slot: str | None = None,
        day: date | None = None,
        include_cancelled: bool = False,
    ) -> list[SlotBookingView]:
        """Bookings by first day, slot, position and id; each filter given narrows the list."""
        checked_id = None if item_id is None else parse_item_id(item_id)
        query = _bookings.listing(checked_id, slot, day, include_cancelled)
        with self._transaction() as session:
            if checked_id is not None:
                self._load(session, checked_id)
            return [SlotBookingView.of(booking) for booking in session.scalars(query)]

    def booked_for(self, slot: str, day: date) -> list[BookedItem]:
        """What the live bookings put in ``slot`` on ``day``, by position then booking id.

        Only items approved now: an item withdrawn after it was booked is left out.
        """
        query = _bookings.playing(slot, day)
        with self._transaction() as session:
            return [
                BookedItem(ItemView.of(booking.item), SlotBookingView.of(booking))
                for booking in session.scalars(query)
            ]

    # -- reading --------------------------------------------------------------------------

    def get(self, item_id: int) -> ItemView:
        with self._transaction() as session:
            return ItemView.of(self._load(session, parse_item_id(item_id)))

    def list_items(self, state: ContentState | str | None = None) -> list[ItemView]:
        query = select(ContentItem).options(WITH_VARIANTS).order_by(ContentItem.id)
        if state is not None:
            query = query.where(ContentItem.state == parse_choice("state", state, ContentState))
        with self._transaction() as session:
            return [ItemView.of(item) for item in session.scalars(query)]

    def require_publishable(self, item_id: int) -> ItemView:
        """The item, if it may be published (approved); ContentStateError otherwise."""
        item = self.get(item_id)
        check_publishable(item.id, item.state)
        return item

    def audit_trail(self, item_id: int) -> list[AuditEventView]:
        query = select(AuditEvent).where(AuditEvent.item_id == item_id).order_by(AuditEvent.id)
        with self._transaction() as session:
            self._load(session, parse_item_id(item_id))
            return [AuditEventView.of(event) for event in session.scalars(query)]

    def asset_path(self, relative_path: str) -> Path:
        """Where a variant's recording (``VariantView.audio_path``) is on disk."""
        return self._assets.path(relative_path)

    # -- internals ------------------------------------------------------------------------

    def _now(self) -> datetime:
        # Views are built from the objects just written, so the instant must already be UTC.
        return _in_utc(self._clock())

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One unit of work: committed on success, rolled back on any error."""
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as error:
            raise ContentError(
                f"database {safe_url(self._engine.url)}: {one_line(error)}"
            ) from None

    def _variant_body(
        self, language: str, text: str | None, audio_file: Path | None
    ) -> str | StoredAsset:
        # The asset is copied before the database transaction: if that then fails, an
        # unreferenced content-addressed file remains, which is harmless and reused later.
        if text is not None and audio_file is None:
            return normalise_text(text, f"text of language {language!r}")
        if audio_file is not None and text is None:
            return self._assets.put(Path(audio_file))
        raise ContentInputError(f"language {language!r}: give exactly one of text or audio_file")

    def _insert_variant(
        self,
        session: Session,
        item: ContentItem,
        language: str,
        body: str | StoredAsset,
        actor: str,
    ) -> LanguageVariant:
        if any(existing.language == language for existing in item.variants):
            raise _duplicate(item.id, language)
        variant = LanguageVariant(language=language, created_at=self._now())
        if isinstance(body, str):
            variant.text = body
        else:
            variant.audio_path = body.relative_path
            variant.audio_sha256 = body.sha256
            variant.audio_filename = body.original_name
        try:
            item.variants.append(variant)
            session.flush()
        except IntegrityError:
            # The unique (item, language) constraint: another editor added the same language
            # between our read and our write. The whole transaction is rolled back.
            raise _duplicate(item.id, language) from None
        self._audit(session, item.id, actor, AuditAction.VARIANT_ADDED, _describe_variant(variant))
        return variant

    def _load(self, session: Session, item_id: int, *, lock: bool = False) -> ContentItem:
        item = session.get(ContentItem, item_id, options=[WITH_VARIANTS], with_for_update=lock)
        if item is None:
            raise ContentNotFoundError(f"content item {item_id} does not exist")
        return item

    def _load_variant(self, session: Session, item_id: int, language: str) -> LanguageVariant:
        item = self._load(session, item_id)
        for variant in item.variants:
            if variant.language == language:
                return variant
        raise ContentNotFoundError(
            f"content item {item_id} has no variant in language {language!r} "
            f"(it has: {', '.join(v.language for v in item.variants)})"
        )

    def _insert_booking(
        self, session: Session, item_id: int, request: _bookings.BookingRequest
    ) -> SlotBooking:
        position = request.position
        if position is None:
            position = _bookings.next_position(session, request)
        booking = SlotBooking(
            item_id=item_id,
            slot=request.slot,
            communes=request.communes,
            first_day=request.first_day,
            last_day=request.last_day,
            position=position,
            created_at=self._now(),
            created_by=request.actor,
        )
        session.add(booking)
        session.flush()
        detail = _bookings.describe(booking)
        self._audit(session, item_id, request.actor, AuditAction.BOOKED, detail)
        return booking

    def _audit(
        self, session: Session, item_id: int, actor: str, action: AuditAction, detail: str | None
    ) -> None:
        session.add(
            AuditEvent(item_id=item_id, at=self._now(), actor=actor, action=action, detail=detail)
        )


def _duplicate(item_id: int, language: str) -> DuplicateVariantError:
    return DuplicateVariantError(
        f"content item {item_id} already has a variant in language {language!r}; "
        f"variants are not replaced (reject the item and add a new one to change it)"
    )


def _describe(item: ContentItem) -> str:
    return f"kind={item.kind} priority={item.priority} title={item.title}"


def _describe_variant(variant: LanguageVariant) -> str:
    if variant.text is not None:
        return f"language={variant.language} text ({len(variant.text)} characters)"
    return f"language={variant.language} audio={variant.audio_path} from {variant.audio_filename}"
