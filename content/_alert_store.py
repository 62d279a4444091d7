"""Alerts in the content store: issued at once (an alert has no review step), superseded
or cancelled, never deleted; with their framed audio and their deliveries per commune."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from content._alert_views import AlertView
from content._assets import StoredAsset
from content._enums import (
    MAX_LEVEL,
    MIN_LEVEL,
    AlertState,
    AlertStatus,
    AuditAction,
    ContentKind,
    ContentState,
    Hazard,
    Priority,
)
from content._errors import ContentInputError, ContentNotFoundError, ContentStateError
from content._models import Alert, AlertClip, AlertDelivery, ContentItem, LanguageVariant
from content._store import ContentStore
from content._validation import (
    TITLE_MAX,
    check_finite,
    check_label,
    check_positive,
    check_sha256,
    parse_choice,
    parse_language,
    parse_line,
)

MIN_REPEAT_S = 60
ALERT_SOURCES = ("text", "recording", "phrasebank")
_WITH_ALL = (
    selectinload(Alert.item).selectinload(ContentItem.variants).selectinload(LanguageVariant.clips),
    selectinload(Alert.clips),
    selectinload(Alert.deliveries),
)


@dataclass(frozen=True)
class AlertDraft:
    """What an alert says and to whom, before it is stored.

    ``communes`` ``None`` is the whole district. Each language is given once: a text in
    ``texts``, a recording in ``recordings``, or a name in ``phrasebank_languages`` (said
    by the phrase bank's alert template from the hazard, level, place and times)."""

    title: str
    hazard: Hazard | str
    level: int
    status: AlertStatus | str
    communes: tuple[str, ...] | None
    issued_at: datetime
    expires_at: datetime
    identifier: str
    sender: str
    repeat_every_s: int | None = None
    texts: Mapping[str, str] = field(default_factory=dict)
    recordings: Mapping[str, Path] = field(default_factory=dict)
    phrasebank_languages: tuple[str, ...] = ()
    supersedes: int | None = None
    urgency: str | None = None
    severity: str | None = None
    certainty: str | None = None


@dataclass(frozen=True)
class _Checked:
    title: str
    hazard: Hazard
    level: int
    status: AlertStatus
    communes: tuple[str, ...] | None
    languages: tuple[str, ...]


class AlertStore(ContentStore):
    """The content store with alerts."""

    def issue_alert(self, draft: AlertDraft, *, actor: str) -> AlertView:
        """Store a new alert as issued (``held`` for a draft), its languages as the variants
        of an approved content item; the alert it supersedes is marked superseded in the
        same transaction. Every value is checked before anything is written."""
        checked = self._check_draft(draft)
        checked_actor = parse_line("actor", actor)
        bodies = self._alert_bodies(draft)
        with self._transaction() as session:
            now = self._now()
            item = self._alert_item(session, checked, checked_actor, now)
            for language, body in bodies.items():
                self._insert_variant(session, item, language, body, checked_actor)
            previous = self._superseded(session, draft.supersedes)
            alert = self._insert_alert(session, draft, checked, item, checked_actor)
            if previous is not None:
                self._end(
                    session, previous, AlertState.SUPERSEDED, checked_actor, f"alert {alert.id}"
                )
            detail = _describe_alert(alert)
            self._audit(session, item.id, checked_actor, AuditAction.ALERT_ISSUED, detail)
            return self._alert_view(session, alert.id)

    def alert(self, alert_id: int) -> AlertView:
        with self._transaction() as session:
            return self._alert_view(session, _alert_id(alert_id))

    def alert_by_identifier(self, identifier: str) -> AlertView | None:
        query = select(Alert.id).where(Alert.identifier == identifier)
        with self._transaction() as session:
            found = session.scalar(query)
            return None if found is None else self._alert_view(session, found)

    def alerts(self, state: AlertState | str | None = None) -> list[AlertView]:
        """Alerts, newest first."""
        query = select(Alert).options(*_WITH_ALL).order_by(Alert.id.desc())
        if state is not None:
            query = query.where(Alert.state == parse_choice("state", state, AlertState))
        with self._transaction() as session:
            return [AlertView.of(row) for row in session.scalars(query)]

    def successor(self, alert_id: int) -> AlertView | None:
        """The alert that superseded this one, if any."""
        query = select(Alert.id).where(Alert.supersedes_id == _alert_id(alert_id))
        with self._transaction() as session:
            found = session.scalar(query)
            return None if found is None else self._alert_view(session, found)

    def record_alert_clip(
        self,
        alert_id: int,
        language: str,
        *,
        commune: str | None = None,
        source: str,
        key: str,
        sha256: str,
        bytes: int,
        duration_ms: int,
        lufs: float,
        true_peak_dbtp: float,
        engine: str,
    ) -> None:
        if source not in ALERT_SOURCES:
            raise ContentInputError(f"alert clip source {source!r}: one of {ALERT_SOURCES}")
        clip = AlertClip(
            language=parse_language(language),
            commune=commune,
            source=source,
            key=check_label("key", key, 200),
            sha256=check_sha256("sha256", sha256),
            bytes=check_positive("bytes", bytes),
            duration_ms=check_positive("duration_ms", duration_ms),
            lufs=check_finite("lufs", lufs),
            true_peak_dbtp=check_finite("true_peak_dbtp", true_peak_dbtp),
            engine=check_label("engine", engine, 40),
        )
        with self._transaction() as session:
            alert = self._load_alert(session, _alert_id(alert_id))
            clip.created_at = self._now()
            alert.clips.append(clip)

    def record_deliveries(
        self,
        alert_id: int,
        delivered: Mapping[str, tuple[Sequence[str], int]],
        *,
        published_at: datetime | None = None,
    ) -> None:
        """Commune → (the alert's item ids in its manifest, the manifest's sequence).
        ``published_at`` (default now) is the items' start; a commune's first one is kept
        when it is published again."""
        with self._transaction() as session:
            alert = self._load_alert(session, _alert_id(alert_id))
            now = self._now() if published_at is None else published_at
            existing = {delivery.commune: delivery for delivery in alert.deliveries}
            for commune, (item_ids, sequence) in delivered.items():
                row = existing.get(commune)
                if row is None:
                    row = AlertDelivery(commune=commune, published_at=now)
                    alert.deliveries.append(row)
                row.item_ids = tuple(item_ids)
                row.sequence = sequence
            detail = f"{len(delivered)} communes"
            self._audit(session, alert.item_id, "publisher", AuditAction.ALERT_PUBLISHED, detail)

    def cancel_alert(self, alert_id: int, *, actor: str, reason: str) -> AlertView:
        """Mark an issued (or held) alert cancelled; removing it from the manifests is the
        caller's work."""
        checked_actor = parse_line("actor", actor)
        checked_reason = parse_line("reason", reason, TITLE_MAX)
        with self._transaction() as session:
            alert = self._load_alert(session, _alert_id(alert_id), lock=True)
            _check_open(alert)
            self._end(session, alert, AlertState.CANCELLED, checked_actor, checked_reason)
            return self._alert_view(session, alert.id)

    # -- internals ------------------------------------------------------------------------

    def check_draft(self, draft: AlertDraft) -> None:
        """Every check ``issue_alert`` makes on the values, without writing anything."""
        self._check_draft(draft)

    def _check_draft(self, draft: AlertDraft) -> _Checked:
        level = draft.level
        if (
            isinstance(level, bool)
            or not isinstance(level, int)
            or not MIN_LEVEL <= level <= MAX_LEVEL
        ):
            raise ContentInputError(
                f"risk level {level!r}: Decision 18/2021 has levels {MIN_LEVEL} to {MAX_LEVEL}"
            )
        if draft.communes is not None and not draft.communes:
            raise ContentInputError("the alert's commune list is empty: name communes or 'all'")
        _check_times(draft, self._now())
        if draft.repeat_every_s is not None and draft.repeat_every_s < MIN_REPEAT_S:
            raise ContentInputError(
                f"repeat every {draft.repeat_every_s} s: at least every {MIN_REPEAT_S} s"
            )
        check_label("identifier", draft.identifier, 200)
        check_label("sender", draft.sender, 200)
        return _Checked(
            title=parse_line("title", draft.title, TITLE_MAX),
            hazard=parse_choice("hazard", draft.hazard, Hazard),
            level=level,
            status=parse_choice("status", draft.status, AlertStatus),
            communes=draft.communes,
            languages=_languages(draft),
        )

    def _alert_bodies(self, draft: AlertDraft) -> dict[str, str | StoredAsset]:
        bodies: dict[str, str | StoredAsset] = {}
        for language, text in draft.texts.items():
            bodies[parse_language(language)] = self._variant_body(language, text, None)
        for language, recording in draft.recordings.items():
            bodies[parse_language(language)] = self._variant_body(language, None, recording)
        return bodies

    def _alert_item(
        self, session: Session, checked: _Checked, actor: str, now: datetime
    ) -> ContentItem:
        testing = checked.status in (AlertStatus.TEST, AlertStatus.EXERCISE)
        item = ContentItem(
            kind=ContentKind.TEST if testing else ContentKind.ALERT,
            title=checked.title,
            priority=Priority.EMERGENCY,
            state=ContentState.APPROVED,
            created_at=now,
            updated_at=now,
            approved_at=now,
            approved_by=actor,
        )
        session.add(item)
        session.flush()
        detail = f"kind={item.kind} priority={item.priority} title={item.title}"
        self._audit(session, item.id, actor, AuditAction.CREATED, detail)
        return item

    def _insert_alert(
        self,
        session: Session,
        draft: AlertDraft,
        checked: _Checked,
        item: ContentItem,
        actor: str,
    ) -> Alert:
        held = checked.status is AlertStatus.DRAFT
        alert = Alert(
            item_id=item.id,
            identifier=draft.identifier,
            sender=draft.sender,
            hazard=checked.hazard,
            level=checked.level,
            status=checked.status,
            state=AlertState.HELD if held else AlertState.ISSUED,
            communes=checked.communes,
            phrasebank_languages=tuple(parse_language(code) for code in draft.phrasebank_languages),
            issued_at=draft.issued_at,
            expires_at=draft.expires_at,
            repeat_every_s=draft.repeat_every_s,
            supersedes_id=draft.supersedes,
            urgency=draft.urgency,
            severity=draft.severity,
            certainty=draft.certainty,
            created_by=actor,
        )
        session.add(alert)
        try:
            session.flush()
        except IntegrityError:
            raise ContentInputError(
                f"alert identifier {draft.identifier!r} is already used by another alert"
            ) from None
        return alert

    def _superseded(self, session: Session, alert_id: int | None) -> Alert | None:
        if alert_id is None:
            return None
        previous = self._load_alert(session, _alert_id(alert_id), lock=True)
        _check_open(previous)
        return previous

    def _end(
        self, session: Session, alert: Alert, state: AlertState, actor: str, reason: str
    ) -> None:
        alert.state = state
        alert.ended_at = self._now()
        alert.ended_by = actor
        alert.end_reason = reason
        action = (
            AuditAction.ALERT_CANCELLED
            if state is AlertState.CANCELLED
            else AuditAction.ALERT_SUPERSEDED
        )
        self._audit(session, alert.item_id, actor, action, f"alert {alert.id}: {reason}")
        session.flush()

    def _load_alert(self, session: Session, alert_id: int, *, lock: bool = False) -> Alert:
        alert = session.get(Alert, alert_id, options=list(_WITH_ALL), with_for_update=lock)
        if alert is None:
            raise ContentNotFoundError(f"alert {alert_id} does not exist")
        return alert

    def _alert_view(self, session: Session, alert_id: int) -> AlertView:
        session.expire_all()  # relationships appended in this session are read back whole
        return AlertView.of(self._load_alert(session, alert_id))


def _alert_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ContentInputError(f"alert id {value!r} is not a positive whole number")
    return value


def _check_open(alert: Alert) -> None:
    if alert.state in (AlertState.SUPERSEDED, AlertState.CANCELLED):
        raise ContentStateError(
            f"alert {alert.id} is already {alert.state.value} ({alert.end_reason}); "
            "only an issued or held alert can be updated or cancelled"
        )


def _check_times(draft: AlertDraft, now: datetime) -> None:
    for name, moment in (("issue time", draft.issued_at), ("expiry", draft.expires_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ContentInputError(f"{name} {moment.isoformat()} has no time zone offset")
    if draft.expires_at <= now:
        raise ContentInputError(f"expiry {draft.expires_at.isoformat()} is in the past")
    if draft.expires_at <= draft.issued_at:
        raise ContentInputError(
            f"expiry {draft.expires_at.isoformat()} is not after the issue time "
            f"{draft.issued_at.isoformat()}"
        )
    if draft.issued_at > now + timedelta(minutes=5):
        raise ContentInputError(f"issue time {draft.issued_at.isoformat()} is in the future")


def _languages(draft: AlertDraft) -> tuple[str, ...]:
    seen: list[str] = []
    for language in [*draft.texts, *draft.recordings, *draft.phrasebank_languages]:
        code = parse_language(language)
        if code in seen:
            raise ContentInputError(
                f"language {code!r} is given twice (a text, a recording or the phrase bank: one)"
            )
        seen.append(code)
    if not seen:
        raise ContentInputError(
            "the alert has no language: give a text, a recording or --phrasebank"
        )
    return tuple(seen)


def _describe_alert(alert: Alert) -> str:
    where = "all communes" if alert.communes is None else ",".join(alert.communes)
    return (
        f"alert {alert.id} {alert.identifier} hazard={alert.hazard} level={alert.level} "
        f"status={alert.status} communes={where} expires={alert.expires_at.isoformat()}"
    )
