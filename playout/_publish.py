"""Publish clips and per-commune signed manifests to object storage (DESIGN.md §3–4).

Order matters: every audio object is written before any manifest that names it, and each
manifest replaces the old one in a single PUT, so a commune sees either its old schedule
or its complete new one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipeline import Clip
from playout._errors import ManifestError, ObjectNotFound
from playout._keys import DistrictKeys
from playout._manifest import (
    MAX_MANIFEST_BYTES,
    AudioRef,
    Manifest,
    ManifestItem,
    manifest_key,
    sign,
)
from playout._manifest import verify_signed as verify_manifest_signature
from playout._objectstore import ObjectStore

log = logging.getLogger(__name__)

AUDIO_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
}


def audio_key(clip: Clip) -> str:
    return f"audio/{clip.sha256}.{clip.extension}"


@dataclass(frozen=True)
class PublishReport:
    """What one publish did: audio objects written or found, and each commune's sequence."""

    uploaded: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)


class Publisher:
    """Writes audio once (content-addressed) and signs one manifest per commune."""

    def __init__(
        self,
        store: ObjectStore,
        keys: DistrictKeys,
        district_id: str,
        *,
        validity: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if validity <= timedelta(0):
            raise ValueError("manifest validity must be positive")
        self._store = store
        self._private_key = keys.private_key()
        self._public_key = self._private_key.public_key()
        self._district_id = district_id
        self._validity = validity
        self._clock = clock

    def upload_audio(self, clip: Clip, report: PublishReport | None = None) -> AudioRef:
        """Upload ``clip`` unless an object of that hash and size is already there."""
        key = audio_key(clip)
        existing = self._store.head(key)
        if existing is not None and existing.size == clip.bytes:
            if report is not None:
                report.already_present.append(key)
        else:
            content_type = AUDIO_CONTENT_TYPES.get(clip.extension, "application/octet-stream")
            self._store.put_file(key, clip.path, content_type)
            if report is not None:
                report.uploaded.append(key)
        return AudioRef(
            key=key,
            sha256=clip.sha256,
            bytes=clip.bytes,
            duration_ms=clip.duration_ms,
            lufs=round(clip.output.lufs, 2),
            true_peak_dbtp=round(clip.output.true_peak_dbtp, 2),
        )

    def publish(
        self, items_by_commune: Mapping[str, Sequence[ManifestItem]], report: PublishReport
    ) -> PublishReport:
        """Add the items to each commune's manifest (audio must be uploaded already)."""
        for commune_id, items in items_by_commune.items():
            report.sequences[commune_id] = self._publish_commune(commune_id, items)
        return report

    def _publish_commune(self, commune_id: str, new_items: Sequence[ManifestItem]) -> int:
        now = self._clock()
        current = self._current_manifest(commune_id)
        manifest = Manifest(
            district=self._district_id,
            commune=commune_id,
            sequence=_next_sequence(current, now),
            generated_at=now,
            valid_until=now + self._validity,
            items=_merge(current.items if current else [], new_items, now),
        )
        self._store.put_bytes(
            manifest_key(commune_id), sign(manifest, self._private_key), "application/json"
        )
        log.info("published %s sequence %d", manifest_key(commune_id), manifest.sequence)
        return manifest.sequence

    def _current_manifest(self, commune_id: str) -> Manifest | None:
        """The commune's manifest now in the bucket, if it is one we signed.

        An unverifiable manifest is never merged forward: re-signing its items would
        launder whatever someone wrote into the bucket."""
        key = manifest_key(commune_id)
        try:
            data = self._store.get_bytes(key, max_bytes=MAX_MANIFEST_BYTES)
        except ObjectNotFound:
            return None
        try:
            return verify_manifest_signature(data, [self._public_key], source=key)
        except ManifestError as error:
            log.warning("replacing unverifiable manifest: %s", error)
            return None


def _next_sequence(current: Manifest | None, now: datetime) -> int:
    """Strictly above the last one, and never below the clock in milliseconds, so a lost
    or replaced manifest cannot restart the count below what agents have accepted."""
    previous = current.sequence if current else 0
    return max(previous + 1, int(now.timestamp() * 1000))


def _merge(
    existing: Sequence[ManifestItem], new_items: Sequence[ManifestItem], now: datetime
) -> list[ManifestItem]:
    """Keep still-playable items, replace those with a new item's id, add the new ones."""
    replaced = {item.id for item in new_items}
    kept = [item for item in existing if item.id not in replaced and item.last_playable > now]
    return sorted([*kept, *new_items], key=lambda item: (item.start, item.id))
