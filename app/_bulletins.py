"""Automated slot bulletins: the build function the district scheduler calls (issue 6).

At a slot's start minus its lead: gather the approved items booked into that slot for that
day, per commune (priority first, then the editors' order), render each item once per
language, join them into one programme clip per (commune slot, language) — communes that
get the same items share one clip — and publish each commune's programmes, its languages
one after another from the slot's start. A commune with nothing booked gets nothing (no
silence files), and the build says so."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from app._publishing import GAP_BETWEEN_LANGUAGES, content_store, publisher, render_variants
from config import Commune, Settings
from content import BookedItem, ContentStore, ItemView
from content import Priority as ContentPriority
from pipeline import Clip, render_programme
from playout import AudioRef, ItemKind, ManifestItem, Priority, PublishReport
from playout.scheduler import BuildResult, BuildStatus, SlotRun

log = logging.getLogger(__name__)

_RANK = {ContentPriority.EMERGENCY: 0, ContentPriority.PRIORITY: 1, ContentPriority.NORMAL: 2}
_MIN_WINDOW = timedelta(minutes=1)


@dataclass
class _Build:
    """One slot build in progress: what each commune gets, and what is reported."""

    run: SlotRun
    day: date
    clips: dict[tuple[int, str], Clip] = field(default_factory=dict)  # (item, language)
    failed: dict[str, str] = field(default_factory=dict)  # "item/language" → why
    programmes: dict[tuple[str, ...], Clip] = field(default_factory=dict)  # clip shas → clip
    plan: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # commune → lang → ids
    empty: list[str] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)  # commune → languages


def build_slot(settings: Settings, run: SlotRun) -> BuildResult:
    """Build and publish one slot occurrence; ``EMPTY`` when nothing is booked for it."""
    zone = settings.organisation.district.zone
    build = _Build(run, run.starts_at.astimezone(zone).date())
    store = content_store(settings)
    booked = store.booked_for(run.slot, build.day)
    per_commune = _items_per_commune(settings, run, booked)
    build.empty = [commune for commune in run.communes if not per_commune.get(commune)]
    if not any(per_commune.values()):
        return BuildResult(
            BuildStatus.EMPTY,
            f"không có nội dung nào được xếp vào khung {run.slot} ngày {build.day:%d/%m/%Y}: "
            f"không phát hành gì",
            {"empty": build.empty},
        )
    _render_items(settings, store, per_commune, build)
    items_by_commune = _programmes(settings, per_commune, build)
    report = PublishReport()
    if items_by_commune:
        chosen = publisher(settings)
        refs = chosen.upload_clips(build.programmes.values(), report)
        manifests = {
            commune: [_with_audio(entry, refs) for entry in entries]
            for commune, entries in items_by_commune.items()
        }
        chosen.publish(manifests, report)
    return _result(build, report)


def _items_per_commune(
    settings: Settings, run: SlotRun, booked: list[BookedItem]
) -> dict[str, list[ItemView]]:
    """Each commune's booked items in play order: priority first, then editor order."""
    ordered = sorted(
        booked,
        key=lambda entry: (
            _RANK[entry.item.priority],
            entry.booking.position,
            entry.booking.id,
        ),
    )
    return {
        commune: [entry.item for entry in ordered if entry.booking.targets(commune)]
        for commune in run.communes
        if commune in settings.organisation.commune_ids()
    }


def _render_items(
    settings: Settings,
    store: ContentStore,
    per_commune: dict[str, list[ItemView]],
    build: _Build,
) -> None:
    """Each item once in every language its communes need and it has."""
    needed: dict[int, set[str]] = defaultdict(set)
    items: dict[int, ItemView] = {}
    for commune_id, commune_items in per_commune.items():
        spoken = settings.organisation.commune(commune_id).languages
        for item in commune_items:
            needed[item.id].update(spoken)
            items[item.id] = item
    for item_id, languages in needed.items():
        failures: dict[str, str] = {}
        clips = render_variants(settings, store, items[item_id], languages, failures=failures)
        for language, clip in clips.items():
            build.clips[(item_id, language)] = clip
        for language, why in failures.items():
            build.failed[f"{item_id}/{language}"] = why


def _programmes(
    settings: Settings, per_commune: dict[str, list[ItemView]], build: _Build
) -> dict[str, list[ManifestItem]]:
    """Each commune's programmes (audio still to be filled in), languages in its order."""
    result: dict[str, list[ManifestItem]] = {}
    for commune_id, items in per_commune.items():
        if not items:
            continue
        commune = settings.organisation.commune(commune_id)
        entries = _commune_programmes(settings, commune, items, build)
        if entries:
            result[commune_id] = entries
    return result


def _commune_programmes(
    settings: Settings, commune: Commune, items: list[ItemView], build: _Build
) -> list[ManifestItem]:
    run = build.run
    slot_end = run.starts_at + run.duration
    moment = run.starts_at
    entries = []
    build.plan[commune.id] = {}
    for language in commune.languages:
        parts = [
            (item, build.clips[(item.id, language)])
            for item in items
            if (item.id, language) in build.clips
        ]
        if not parts:
            build.missing.setdefault(commune.id, []).append(language)
            continue
        programme = _programme_clip(settings, [clip for _, clip in parts], build)
        build.plan[commune.id][language] = [item.id for item, _ in parts]
        entries.append(
            ManifestItem(
                id=f"{run.slot}-{build.day.isoformat()}-{language}",
                title=f"{run.title or 'Bản tin ' + run.slot} {build.day:%d/%m/%Y}",
                kind=ItemKind.BULLETIN,
                priority=_priority([item for item, _ in parts]),
                language=language,
                start=moment,
                not_after=max(slot_end, moment + _MIN_WINDOW),
                clusters=["*"],
                audio=_placeholder(programme),
            )
        )
        moment += timedelta(milliseconds=programme.duration_ms) + GAP_BETWEEN_LANGUAGES
    return entries


def _programme_clip(settings: Settings, clips: list[Clip], build: _Build) -> Clip:
    """One clip for these items in this order, rendered once per build; a single item's
    own clip is its programme."""
    key = tuple(clip.sha256 for clip in clips)
    if key not in build.programmes:
        if len(clips) == 1:
            build.programmes[key] = clips[0]
        else:
            build.programmes[key] = render_programme(
                [clip.path for clip in clips],
                gap_s=settings.schedule.gap_between_items_s,
                profile=settings.audio.profile(),
                out_dir=settings.data_dir / "clips",
                profile_name=settings.audio.default_profile,
                name=f"{build.run.slot} {build.day.isoformat()}",
            )
    return build.programmes[key]


def _priority(items: list[ItemView]) -> Priority:
    """A bulletin carrying a priority item goes before a clashing normal item (§5)."""
    if any(item.priority is not ContentPriority.NORMAL for item in items):
        return Priority.PRIORITY
    return Priority.NORMAL


def _placeholder(clip: Clip) -> AudioRef:
    """The clip's ref before upload; ``_with_audio`` swaps in the uploaded one."""
    return AudioRef(
        key=f"audio/{clip.sha256}.{clip.extension}",
        sha256=clip.sha256,
        bytes=clip.bytes,
        duration_ms=clip.duration_ms,
        lufs=round(clip.output.lufs, 2),
        true_peak_dbtp=round(clip.output.true_peak_dbtp, 2),
    )


def _with_audio(entry: ManifestItem, refs: dict[str, AudioRef]) -> ManifestItem:
    return entry.model_copy(update={"audio": refs[entry.audio.sha256]})


def _result(build: _Build, report: PublishReport) -> BuildResult:
    communes = len(build.plan) - sum(1 for plan in build.plan.values() if not plan)
    summary = (
        f"{communes} xã có bản tin ({len(report.written)} lịch phát được ghi, "
        f"{len(report.unchanged)} không đổi); {len(build.empty)} xã không có nội dung"
    )
    detail: dict[str, Any] = {
        "communes": build.plan,
        "empty": build.empty,
        "missing_languages": build.missing,
        "failed_languages": build.failed,
        "programmes": len(build.programmes),
        "uploaded": len(report.uploaded),
        "written": report.written,
        "unchanged": report.unchanged,
    }
    status = BuildStatus.PUBLISHED if communes else BuildStatus.FAILED
    if not communes:
        summary = "không dựng được bản tin nào: " + "; ".join(
            f"{key}: {why}" for key, why in build.failed.items()
        )
    return BuildResult(status, summary, detail)
