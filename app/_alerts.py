"""Composition: issuing, re-publishing and cancelling emergency alerts (issue 7).

``send_alert`` checks everything it can before it writes anything: the values, the
targets, and that every language a target commune needs has a text, a recording or a
phrase bank. It then renders every voice; only when all are made is the alert stored,
its audio uploaded and its items put into every target manifest as ``emergency`` (kind
``test`` for a test or an exercise), with the alert it supersedes withdrawn in the same
PUT. A draft is stored and goes nowhere.

Repeats are the manifest's own ``repeat`` (every ``repeat_every_s`` until the expiry):
the commune agent replays the alert from its cache even when the district is
unreachable, and a supersession or a cancellation removes the item, and with it every
pending repeat, in one manifest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from app._alert_render import AlertScript, AlertVoice, plan_voices, render_voices
from app._publishing import publisher, resolve_communes
from config import Commune, Settings, UserInputError
from content import (
    AlertClipView,
    AlertDraft,
    AlertState,
    AlertStatus,
    AlertStore,
    AlertView,
    ContentStateError,
    Hazard,
)
from pipeline import Clip
from playout import (
    AudioRef,
    ItemKind,
    ManifestItem,
    Priority,
    PublishReport,
    Repeat,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # stage, done, total
ClipKey = tuple[str, str | None]  # language, and the commune a phrase bank clip names


@dataclass
class AlertOutcome:
    """What one send, re-publish or cancel did."""

    alert: AlertView
    communes: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    report: PublishReport = field(default_factory=PublishReport)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.alert.id,
            "communes": self.communes,
            "languages": self.languages,
            "published_at": self.published_at.isoformat() if self.published_at else None,
        }


def alert_store(settings: Settings) -> AlertStore:
    return AlertStore(settings.db_url, settings.data_dir / "assets")


def alert_targets(settings: Settings, communes: Sequence[str] | None) -> list[Commune]:
    """The communes an alert goes to (``None``: the whole district), checked against the
    registry."""
    return resolve_communes(settings, "all" if communes is None else ",".join(communes))


def send_alert(
    settings: Settings,
    draft: AlertDraft,
    *,
    actor: str,
    progress: Progress | None = None,
    every_language: bool = True,
) -> AlertOutcome:
    """Check, render, store and publish ``draft`` (see the module's docstring). With
    ``every_language`` off (the routine audible test), a commune gets the languages the
    alert has, as long as it has one of the commune's."""
    store = alert_store(settings)
    targets = alert_targets(settings, draft.communes)
    store.check_draft(draft)
    previous = _open_alert(store, draft.supersedes)
    script = _script(settings, draft)
    voices = plan_voices(script, targets, every_language=every_language)
    if AlertStatus(draft.status) is AlertStatus.DRAFT:
        return AlertOutcome(store.issue_alert(draft, actor=actor))
    rendered = render_voices(settings, script, voices, progress=_stage(progress, "render"))
    alert = store.issue_alert(draft, actor=actor)
    for voice, made in rendered.items():
        _record_clip(store, alert.id, voice, made.clip)
    log.info("alert %d issued: %d voices rendered", alert.id, len(rendered))
    return publish_alert(settings, store, store.alert(alert.id), previous, progress=progress)


def publish_alert(
    settings: Settings,
    store: AlertStore,
    alert: AlertView,
    previous: AlertView | None = None,
    *,
    progress: Progress | None = None,
) -> AlertOutcome:
    """Put the alert's stored clips into every target manifest, withdrawing ``previous``'s
    items in the same PUT; record the deliveries. Running it again finishes a publish
    that stopped half-way (``loa alert resend``)."""
    targets = alert_targets(settings, alert.communes)
    chosen = publisher(settings)
    outcome = AlertOutcome(alert)
    clips = alert.latest_clips()
    chosen.upload_files(_stored_files(settings, clips), outcome.report)
    # A re-publish keeps the first start: the same items, so communes that have them are
    # left alone and no agent plays the alert twice.
    first = min((delivery.published_at for delivery in alert.deliveries), default=None)
    start = first or datetime.now(settings.organisation.district.zone)
    items: dict[str, list[ManifestItem]] = {}
    for commune in targets:
        items[commune.id] = _commune_items(settings, alert, commune, clips, start)
    withdrawn = _withdrawn_items(previous, keep=items)
    for commune_id in _delivered_communes(previous):
        items.setdefault(commune_id, [])
    chosen.publish(items, outcome.report, withdraw=withdrawn, progress=_stage(progress, "publish"))
    store.record_deliveries(
        alert.id,
        {
            commune.id: (
                [item.id for item in items[commune.id]],
                outcome.report.sequences[commune.id],
            )
            for commune in targets
        },
        published_at=start,
    )
    outcome.alert = store.alert(alert.id)
    outcome.communes = [commune.id for commune in targets]
    outcome.languages = sorted({language for language, _ in clips})
    outcome.published_at = datetime.now(settings.organisation.district.zone)
    return outcome


def cancel_alert(
    settings: Settings, alert_id: int, *, actor: str, reason: str, progress: Progress | None = None
) -> AlertOutcome:
    """Withdraw the alert from every manifest that holds it (pending repeats included),
    then mark it cancelled. Running it again after a failed publish finishes it."""
    store = alert_store(settings)
    alert = store.alert(alert_id)
    _open_alert(store, alert.id)
    outcome = AlertOutcome(alert)
    if alert.deliveries:
        items: dict[str, list[ManifestItem]] = {
            commune: [] for commune in _delivered_communes(alert)
        }
        withdrawn = _withdrawn_items(alert, keep={})
        publisher(settings).publish(
            items, outcome.report, withdraw=withdrawn, progress=_stage(progress, "publish")
        )
        outcome.communes = sorted(items)
    outcome.alert = store.cancel_alert(alert.id, actor=actor, reason=reason)
    outcome.published_at = datetime.now(settings.organisation.district.zone)
    return outcome


def predecessor(store: AlertStore, alert: AlertView) -> AlertView | None:
    """The alert ``alert`` superseded, whose items a re-publish still withdraws."""
    return None if alert.supersedes_id is None else store.alert(alert.supersedes_id)


def stored_languages(
    settings: Settings, alert: AlertView
) -> tuple[dict[str, str], dict[str, Path]]:
    """The alert's texts and recordings as they are stored, to say them again."""
    texts: dict[str, str] = {}
    recordings: dict[str, Path] = {}
    assets = settings.data_dir / "assets"
    for variant in alert.item.variants:
        if variant.text is not None:
            texts[variant.language] = variant.text
        elif variant.audio_path is not None:
            recordings[variant.language] = assets / variant.audio_path
    return texts, recordings


# -- helpers ------------------------------------------------------------------------------


def _open_alert(store: AlertStore, alert_id: int | None) -> AlertView | None:
    if alert_id is None:
        return None
    alert = store.alert(alert_id)
    if alert.state not in (AlertState.ISSUED, AlertState.HELD):
        raise ContentStateError(
            f"alert {alert.id} is already {alert.state.value} ({alert.end_reason}); "
            "only an issued or held alert can be updated or cancelled"
        )
    return alert


def _script(settings: Settings, draft: AlertDraft) -> AlertScript:
    zone = settings.organisation.district.zone
    return AlertScript(
        hazard=Hazard(draft.hazard).value,
        level=draft.level,
        status=AlertStatus(draft.status),
        issued_at=draft.issued_at.astimezone(zone),
        expires_at=draft.expires_at.astimezone(zone),
        texts=draft.texts,
        recordings=draft.recordings,
        phrasebank_languages=draft.phrasebank_languages,
    )


def _record_clip(store: AlertStore, alert_id: int, voice: AlertVoice, clip: Clip) -> None:
    store.record_alert_clip(
        alert_id,
        voice.language,
        commune=voice.commune,
        source=voice.source,
        key=f"audio/{clip.sha256}.{clip.extension}",
        sha256=clip.sha256,
        bytes=clip.bytes,
        duration_ms=clip.duration_ms,
        lufs=round(clip.output.lufs, 2),
        true_peak_dbtp=round(clip.output.true_peak_dbtp, 2),
        engine=clip.engine,
    )


def _commune_items(
    settings: Settings,
    alert: AlertView,
    commune: Commune,
    clips: Mapping[ClipKey, AlertClipView],
    now: datetime,
) -> list[ManifestItem]:
    """The alert in each of the commune's languages, all playable from ``now``.

    Emergencies play newest ``start`` first (DESIGN.md §5), so the commune's first language
    starts a millisecond after its second, and so on: they play one after another in the
    commune's order, however long each is and however late the agent sees them."""
    window = timedelta(minutes=settings.alerts.play_window_minutes)
    testing = alert.status in (AlertStatus.TEST, AlertStatus.EXERCISE)
    items = []
    languages = [
        language
        for language in commune.languages
        # Checked before rendering: only a routine test leaves a language out.
        if (language, commune.id) in clips or (language, None) in clips
    ]
    for index, language in enumerate(languages):
        key = (language, commune.id) if (language, commune.id) in clips else (language, None)
        start = now + timedelta(milliseconds=len(languages) - 1 - index)
        ref = _ref(clips[key])
        not_after = min(start + window, alert.expires_at)
        items.append(
            ManifestItem(
                id=f"alert-{alert.id}-{language}",
                title=alert.title,
                kind=ItemKind.TEST if testing else ItemKind.ALERT,
                priority=Priority.EMERGENCY,
                language=language,
                start=start,
                not_after=not_after,
                repeat=_repeat(alert, start, not_after - start),
                clusters=["*"],
                audio=ref,
            )
        )
    return items


def _repeat(alert: AlertView, start: datetime, lateness: timedelta) -> Repeat | None:
    """Every ``repeat_every_s`` while a replay can still end its window before expiry."""
    if alert.repeat_every_s is None:
        return None
    until = alert.expires_at - lateness
    if until < start + timedelta(seconds=alert.repeat_every_s):
        return None
    return Repeat(every_s=alert.repeat_every_s, until=until)


def _withdrawn_items(
    previous: AlertView | None, *, keep: Mapping[str, Sequence[ManifestItem]]
) -> list[str]:
    if previous is None:
        return []
    kept = {item.id for items in keep.values() for item in items}
    ids = {item_id for delivery in previous.deliveries for item_id in delivery.item_ids}
    return sorted(ids - kept)


def _delivered_communes(alert: AlertView | None) -> list[str]:
    return [] if alert is None else [delivery.commune for delivery in alert.deliveries]


def _stored_files(
    settings: Settings, clips: Mapping[ClipKey, AlertClipView]
) -> dict[AudioRef, Path]:
    """Each clip's ref and the district's copy in ``<data_dir>/clips``."""
    files = {}
    for clip in clips.values():
        path = settings.data_dir / "clips" / clip.key.removeprefix("audio/")
        if not path.is_file():
            raise UserInputError(f"alert audio {path} is missing: send the alert again")
        files[_ref(clip)] = path
    return files


def _ref(clip: AlertClipView) -> AudioRef:
    return AudioRef(
        key=clip.key,
        sha256=clip.sha256,
        bytes=clip.bytes,
        duration_ms=clip.duration_ms,
        lufs=clip.lufs,
        true_peak_dbtp=clip.true_peak_dbtp,
    )


def _stage(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)
