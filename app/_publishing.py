"""Composition: an approved content item → rendered clips → commune manifests.

This is the only place where content and pipeline meet (DESIGN.md §1)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app._speech import text_to_speech
from config import Commune, Settings, UserInputError
from content import ContentStore, ItemView, VariantView
from pipeline import AudioError, Clip, TTSError, render_speech
from pipeline.tts import SpeechRequest, Synthesis, TextToSpeech
from playout import (
    AudioRef,
    DistrictKeys,
    ItemKind,
    ManifestItem,
    Priority,
    Progress,
    Publisher,
    PublishReport,
    Repeat,
    S3ObjectStore,
)

log = logging.getLogger(__name__)

GAP_BETWEEN_LANGUAGES = timedelta(seconds=2)


@dataclass(frozen=True)
class ScheduledPlay:
    commune_id: str
    item: ManifestItem


@dataclass
class PublishOutcome:
    content_id: int
    plays: list[ScheduledPlay] = field(default_factory=list)
    clips: dict[str, Clip] = field(default_factory=dict)
    syntheses: dict[str, Synthesis] = field(default_factory=dict)
    failed_languages: dict[str, str] = field(default_factory=dict)  # language → why
    skipped: list[str] = field(default_factory=list)
    report: PublishReport = field(default_factory=PublishReport)


def content_store(settings: Settings) -> ContentStore:
    return ContentStore(settings.db_url, settings.data_dir / "assets")


def resolve_communes(settings: Settings, spec: str) -> list[Commune]:
    """``all`` or a comma-separated list of commune ids, each checked against the registry."""
    organisation = settings.organisation
    if spec.strip() == "all":
        return list(organisation.communes)
    communes = []
    for commune_id in (part.strip() for part in spec.split(",") if part.strip()):
        try:
            communes.append(organisation.commune(commune_id))
        except KeyError:
            raise UserInputError(
                f"unknown commune {commune_id!r}: not in district "
                f"{organisation.district.id!r} (see `loa config show`)"
            ) from None
    if not communes:
        raise UserInputError("--communes: name at least one commune id, or 'all'")
    return communes


def render_variants(
    settings: Settings,
    store: ContentStore,
    item: ItemView,
    languages: set[str],
    syntheses: dict[str, Synthesis] | None = None,
    failures: dict[str, str] | None = None,
) -> dict[str, Clip]:
    """One clip per language the targets need and the item has; recorded in the store.
    ``syntheses``, if given, receives how each language was spoken. A language that
    cannot be spoken or processed is put in ``failures`` (if given) and the others go
    on, as a bulletin with one bad recording still goes out in the rest."""
    tts = text_to_speech(settings)
    clips: dict[str, Clip] = {}
    for variant in item.variants:
        if variant.language not in languages:
            continue
        try:
            synthesis = _speak_variant(tts, store, variant)
        except (TTSError, AudioError) as failure:
            if failures is None:
                raise
            log.warning("content %d, %s: %s", item.id, variant.language, failure)
            failures[variant.language] = str(failure)
            continue
        if syntheses is not None:
            syntheses[variant.language] = synthesis
        clip = render_speech(
            synthesis.speech,
            profile=settings.audio.profile(),
            out_dir=settings.data_dir / "clips",
            profile_name=settings.audio.default_profile,
        )
        store.record_clip(
            item.id,
            variant.language,
            key=f"audio/{clip.sha256}.{clip.extension}",
            sha256=clip.sha256,
            bytes=clip.bytes,
            duration_ms=clip.duration_ms,
            lufs=clip.output.lufs,
            true_peak_dbtp=clip.output.true_peak_dbtp,
            engine=clip.engine,
            voice=clip.voice,
        )
        clips[variant.language] = clip
    return clips


def _speak_variant(tts: TextToSpeech, store: ContentStore, variant: VariantView) -> Synthesis:
    """A recording is the variant's speech as it is; text goes down its language's chain."""
    if variant.audio_path is not None:
        recording = store.asset_path(variant.audio_path)
        request = SpeechRequest(variant.language, recording=recording)
        return tts.speak(request, engine="recorded")
    if variant.text is None:
        raise ValueError(f"variant {variant.language} has neither text nor audio")
    synthesis = tts.speak(SpeechRequest(variant.language, variant.text))
    for fallback in synthesis.fallbacks:
        log.info("%s: %s skipped: %s", variant.language, fallback.engine, fallback.reason)
    return synthesis


def publish_content(
    settings: Settings,
    item_id: int,
    communes: Sequence[Commune],
    start: datetime | timedelta,
    *,
    priority: Priority | None = None,
    play_window: timedelta | None = None,
    repeat: Repeat | None = None,
    progress: Progress | None = None,
) -> PublishOutcome:
    """Render an approved item in each target's languages and add it to their manifests.

    ``start`` is an instant, or a delay counted from when the clips are ready; with
    ``repeat``, each language plays again every ``repeat.every_s`` until ``repeat.until``.
    ``progress`` is told (communes done, communes in all) as manifests are written."""
    window = play_window or timedelta(minutes=settings.publish.play_window_minutes)
    if isinstance(start, datetime):
        _check_start(start, window)
    store = content_store(settings)
    item = store.require_publishable(item_id)
    needed = {language for commune in communes for language in commune.languages}
    outcome = PublishOutcome(content_id=item.id)
    outcome.clips = render_variants(
        settings, store, item, needed, outcome.syntheses, outcome.failed_languages
    )
    if not outcome.clips and outcome.failed_languages:
        reasons = "; ".join(f"{code}: {why}" for code, why in outcome.failed_languages.items())
        raise TTSError(f"content item {item.id}: no language could be rendered: {reasons}")
    if not outcome.clips:
        raise UserInputError(
            f"content item {item.id} has no variant in any language of the target communes "
            f"(needs one of {sorted(needed)}, has {list(item.languages)})"
        )
    chosen = publisher(settings)
    by_hash = chosen.upload_clips(outcome.clips.values(), outcome.report)
    refs = {language: by_hash[clip.sha256] for language, clip in outcome.clips.items()}
    if isinstance(start, timedelta):
        start = datetime.now(settings.organisation.district.zone) + start
    items_by_commune: dict[str, list[ManifestItem]] = {}
    for commune in communes:
        items = _commune_items(
            item, commune, refs, outcome.clips, _Timing(start, window, repeat), priority
        )
        if items:
            items_by_commune[commune.id] = items
            outcome.plays.extend(ScheduledPlay(commune.id, entry) for entry in items)
        else:
            outcome.skipped.append(commune.id)
    chosen.publish(items_by_commune, outcome.report, progress=progress)
    return outcome


@dataclass(frozen=True)
class _Timing:
    start: datetime
    window: timedelta
    repeat: Repeat | None


def _check_start(start: datetime, window: timedelta) -> None:
    if start.tzinfo is None:
        raise UserInputError(f"start time {start.isoformat()} has no time zone offset")
    if start + window <= datetime.now(start.tzinfo):
        raise UserInputError(
            f"start time {start.isoformat()} is past, and past its play window of {window}"
        )


def publisher(settings: Settings) -> Publisher:
    publish = settings.publish
    return Publisher(
        S3ObjectStore.from_settings(settings),
        DistrictKeys(settings.key_dir),
        settings.organisation.district.id,
        validity=timedelta(hours=publish.manifest_validity_hours),
        parallel=publish.parallel_requests,
        part_bytes=publish.multipart_threshold_mb * 1024 * 1024,
    )


def _commune_items(
    item: ItemView,
    commune: Commune,
    refs: dict[str, AudioRef],
    clips: dict[str, Clip],
    timing: _Timing,
    priority: Priority | None,
) -> list[ManifestItem]:
    """The item in each of the commune's languages, one after another from the start."""
    items = []
    moment = timing.start
    for language in commune.languages:
        if language not in clips:
            continue
        items.append(
            ManifestItem(
                id=f"{item.kind}-{item.id}-{language}",
                title=item.title,
                kind=ItemKind(item.kind),
                priority=priority or Priority(item.priority),
                language=language,
                start=moment,
                not_after=moment + timing.window,
                repeat=timing.repeat,
                clusters=["*"],
                audio=refs[language],
            )
        )
        moment += timedelta(milliseconds=clips[language].duration_ms) + GAP_BETWEEN_LANGUAGES
    return items
