"""Publish clips and per-commune signed manifests to object storage (DESIGN.md §3–4).

Order matters: every audio object is written before any manifest that names it, and each
manifest replaces the old one in a single PUT, so a commune sees either its old schedule
or its complete new one, whatever happens half-way.

Re-running a publish that failed half-way finishes it: audio already stored is found
by HEAD and not sent again, and a commune whose manifest already holds the new items
(and none of the withdrawn ones) is left alone (no new sequence, no PUT).

Withdrawing items (an alert replaced or cancelled) happens in the same PUT that adds the
new ones, so an agent never sees both the old alert and its replacement, nor neither.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from playout._errors import ManifestError, ObjectNotFound, StorageError, StorageUnavailable
from playout._keys import DistrictKeys
from playout._layout import audio_key as content_address
from playout._layout import check_commune_id, manifest_key
from playout._manifest import (
    MAX_MANIFEST_BYTES,
    AudioRef,
    Manifest,
    ManifestItem,
    sign,
)
from playout._manifest import verify_signed as verify_manifest_signature
from playout._objectstore import ObjectStore

if TYPE_CHECKING:
    # Only names: an agent imports ``playout`` and must not load the audio engine
    # (numpy) it never uses; a commune box has little memory.
    from pipeline import Clip

log = logging.getLogger(__name__)

AUDIO_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
}
DEFAULT_PART_BYTES = 8 * 1024 * 1024
# A manifest already holding the new items is rewritten anyway when less than this
# share of its validity is left, so an idempotent re-run also keeps schedules fresh.
_REFRESH_FRACTION = 0.5

Progress = Callable[[int, int], None]


def audio_key(clip: Clip) -> str:
    return content_address(clip.sha256, clip.extension)


class CommuneOutcome(StrEnum):
    WRITTEN = "written"  # a new manifest, with a new sequence
    UNCHANGED = "unchanged"  # it already held these items: nothing written


@dataclass
class PublishReport:
    """What one publish did: audio objects written or found, and each commune's outcome."""

    uploaded: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    uploaded_bytes: int = 0
    sequences: dict[str, int] = field(default_factory=dict)  # written or unchanged
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # commune → why

    @property
    def written(self) -> list[str]:
        unchanged = set(self.unchanged)
        return [commune for commune in self.sequences if commune not in unchanged]


class PublishIncomplete(StorageError):  # noqa: N818 - reads as the condition
    """Some communes kept their old manifest. Each has either its old or its complete new
    one; running the same publish again finishes the job."""

    def __init__(self, report: PublishReport) -> None:
        failed = report.failed
        first = next(iter(failed.items()))
        super().__init__(
            f"{len(failed)} of {len(failed) + len(report.sequences)} communes keep their old "
            f"manifest (first: {first[0]}: {first[1]}); run the same publish again to finish"
        )
        self.report = report


class Publisher:
    """Writes audio once (content-addressed) and signs one manifest per commune, many
    communes at a time."""

    def __init__(
        self,
        store: ObjectStore,
        keys: DistrictKeys,
        district_id: str,
        *,
        validity: timedelta,
        parallel: int = 16,
        part_bytes: int = DEFAULT_PART_BYTES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if validity <= timedelta(0):
            raise ValueError("manifest validity must be positive")
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self._store = store
        self._private_key = keys.private_key()
        # Our own manifests, signed before or after a key rotation, are merged forward.
        self._own_keys: list[Ed25519PublicKey] = [
            self._private_key.public_key(),
            *keys.retired_public_keys(),
        ]
        self._district_id = district_id
        self._validity = validity
        self._parallel = parallel
        self._part_bytes = part_bytes
        self._clock = clock

    # -- audio ---------------------------------------------------------------------

    def upload_clips(self, clips: Iterable[Clip], report: PublishReport) -> dict[str, AudioRef]:
        """Each distinct clip once, ``parallel`` at a time; the refs by SHA-256."""
        return self.upload_files({_clip_ref(clip): clip.path for clip in clips}, report)

    def upload_files(
        self, files: Mapping[AudioRef, Path], report: PublishReport
    ) -> dict[str, AudioRef]:
        """Each distinct file under its ref's content address, unless the bucket has it
        (``parallel`` at a time); the refs by SHA-256."""
        distinct = {ref.sha256: (ref, path) for ref, path in files.items()}
        refs = {}
        with ThreadPoolExecutor(self._parallel, thread_name_prefix="upload") as pool:
            for ref, written in pool.map(lambda pair: self._upload(*pair), distinct.values()):
                _note_upload(report, ref, written)
                refs[ref.sha256] = ref
        return refs

    def _upload(self, ref: AudioRef, path: Path) -> tuple[AudioRef, bool]:
        """Upload ``path`` unless its content address is already in the bucket; the ref,
        and whether it was written."""
        extension = ref.key.rsplit(".", 1)[-1]
        content_type = AUDIO_CONTENT_TYPES.get(extension, "application/octet-stream")
        written = self._store.put_file_if_absent(
            ref.key, path, content_type, part_bytes=self._part_bytes
        )
        return ref, written

    # -- manifests -----------------------------------------------------------------

    def publish(
        self,
        items_by_commune: Mapping[str, Sequence[ManifestItem]],
        report: PublishReport,
        *,
        progress: Progress | None = None,
        withdraw: Collection[str] = (),
        refresh: bool = False,
    ) -> PublishReport:
        """Add the items to each commune's manifest (their audio must be uploaded), and
        remove from it the items whose ids are in ``withdraw``, in one PUT per commune.
        A commune listed with no items only has the withdrawn ones removed. ``refresh``
        writes every manifest with a new sequence even when nothing changes (the silent
        round-trip check of the alert path).

        Communes are written ``parallel`` at a time. One commune's failure does not stop
        the others; those that failed are tried once more at the end, and if any still
        fail, ``PublishIncomplete`` carries the report. When the store cannot be reached
        at all (or refuses our credentials, or the bucket is missing), the communes not
        yet started are not tried."""
        for commune_id in items_by_commune:
            check_commune_id(commune_id)
        pending = dict(items_by_commune)
        run = _Run(len(pending), progress, _withdrawn_ids(withdraw), refresh=refresh)
        self._publish_all(pending, report, run)
        retry = {commune: pending[commune] for commune in report.failed}
        if retry and not run.unavailable.is_set():
            log.info("retrying %d communes", len(retry))
            report.failed.clear()
            self._publish_all(retry, report, run)
        if report.failed:
            raise PublishIncomplete(report)
        return report

    def _publish_all(
        self,
        items_by_commune: Mapping[str, Sequence[ManifestItem]],
        report: PublishReport,
        run: _Run,
    ) -> None:
        with ThreadPoolExecutor(self._parallel, thread_name_prefix="publish") as pool:
            futures: dict[Future[tuple[CommuneOutcome, int]], str] = {
                pool.submit(self._publish_commune_unless_down, commune, items, run): commune
                for commune, items in items_by_commune.items()
            }
            for future in as_completed(futures):
                _note(report, futures[future], future)
                run.advance()

    def _publish_commune_unless_down(
        self, commune_id: str, items: Sequence[ManifestItem], run: _Run
    ) -> tuple[CommuneOutcome, int]:
        if run.unavailable.is_set():
            raise StorageUnavailable(f"not tried: {run.unavailable_reason}")
        try:
            return self.publish_commune(commune_id, items, run.withdraw, refresh=run.refresh)
        except StorageUnavailable as error:
            run.give_up(str(error))
            raise

    def publish_commune(
        self,
        commune_id: str,
        new_items: Sequence[ManifestItem],
        withdraw: Collection[str] = (),
        *,
        refresh: bool = False,
    ) -> tuple[CommuneOutcome, int]:
        """Merge the items into one commune's manifest and drop those whose ids are in
        ``withdraw`` (exact ids; a new item with a withdrawn id stays, as the
        replacement); write it unless that changes nothing.

        A commune with no manifest of ours gets one even when it ends up empty, so the
        returned sequence always names the manifest in the bucket."""
        now = self._clock()
        current = self._current_manifest(commune_id)
        items = _merge(current.items if current else [], new_items, now, _withdrawn_ids(withdraw))
        if current is not None and not refresh and self._still_fresh(current, items, now):
            return CommuneOutcome.UNCHANGED, current.sequence
        manifest = Manifest(
            district=self._district_id,
            commune=commune_id,
            sequence=_next_sequence(current, now),
            generated_at=now,
            valid_until=now + self._validity,
            items=items,
        )
        self._store.put_bytes(
            manifest_key(commune_id), sign(manifest, self._private_key), "application/json"
        )
        log.info(
            "published %s sequence %d (%d items)",
            manifest_key(commune_id),
            manifest.sequence,
            len(items),
        )
        return CommuneOutcome.WRITTEN, manifest.sequence

    def _still_fresh(self, current: Manifest, items: list[ManifestItem], now: datetime) -> bool:
        left = current.valid_until - now
        return current.items == items and left > self._validity * _REFRESH_FRACTION

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
            manifest = verify_manifest_signature(data, self._own_keys, source=key)
        except ManifestError as error:
            log.warning("replacing unverifiable manifest: %s", error)
            return None
        if (manifest.district, manifest.commune) != (self._district_id, commune_id):
            log.warning(
                "replacing %s: addressed to %s/%s", key, manifest.district, manifest.commune
            )
            return None
        return manifest


class _Run:
    """Progress, the shared "the store is down" flag and the withdrawn ids of one publish."""

    def __init__(
        self,
        total: int,
        progress: Progress | None,
        withdraw: frozenset[str] = frozenset(),
        *,
        refresh: bool = False,
    ) -> None:
        self.withdraw = withdraw
        self.refresh = refresh
        self._total = total
        self._done = 0
        self._progress = progress
        self.unavailable = threading.Event()
        self.unavailable_reason = ""

    def give_up(self, reason: str) -> None:
        if not self.unavailable.is_set():
            self.unavailable_reason = reason
            self.unavailable.set()

    def advance(self) -> None:
        self._done = min(self._done + 1, self._total)
        if self._progress is not None:
            self._progress(self._done, self._total)


def _clip_ref(clip: Clip) -> AudioRef:
    return AudioRef(
        key=audio_key(clip),
        sha256=clip.sha256,
        bytes=clip.bytes,
        duration_ms=clip.duration_ms,
        lufs=round(clip.output.lufs, 2),
        true_peak_dbtp=round(clip.output.true_peak_dbtp, 2),
    )


def _note_upload(report: PublishReport, ref: AudioRef, written: bool) -> None:
    if written:
        report.uploaded.append(ref.key)
        report.uploaded_bytes += ref.bytes
    else:
        report.already_present.append(ref.key)


def _note(
    report: PublishReport, commune_id: str, future: Future[tuple[CommuneOutcome, int]]
) -> None:
    try:
        outcome, sequence = future.result()
    except StorageError as error:
        report.failed[commune_id] = str(error)
        return
    report.sequences[commune_id] = sequence
    if outcome is CommuneOutcome.UNCHANGED:
        report.unchanged.append(commune_id)


def _next_sequence(current: Manifest | None, now: datetime) -> int:
    """Strictly above the last one, and never below the clock in milliseconds, so a lost
    or replaced manifest cannot restart the count below what agents have accepted."""
    previous = current.sequence if current else 0
    return max(previous + 1, int(now.timestamp() * 1000))


def _withdrawn_ids(withdraw: Collection[str]) -> frozenset[str]:
    if isinstance(withdraw, str):  # a lone id would be taken as its characters
        raise TypeError("withdraw takes a collection of item ids, not one string")
    return frozenset(withdraw)


def _merge(
    existing: Sequence[ManifestItem],
    new_items: Sequence[ManifestItem],
    now: datetime,
    withdraw: frozenset[str] = frozenset(),
) -> list[ManifestItem]:
    """Keep still-playable items, drop the withdrawn ones, replace those with a new item's
    id, add the new ones."""
    dropped = withdraw | {item.id for item in new_items}
    kept = [item for item in existing if item.id not in dropped and item.last_playable > now]
    return sorted([*kept, *new_items], key=lambda item: (item.start, item.id))
