"""Retention in the bucket (DESIGN.md §3).

``collect_garbage`` (``loa storage gc``) deletes audio that no manifest has named for a
configured time. It deletes nothing else: as-run receipts, heartbeats, manifests and any
key outside ``audio/`` stay. ``prune_receipts`` (``loa storage prune-receipts``) deletes
as-run receipts past their keeping time, and runs only when an operator asks for it.

"Unreferenced for N days" needs memory across runs: a small JSON file on the district
host records when each audio object was first seen unreferenced. An object is deleted
only when earlier runs saw it unreferenced at least N days ago *and* it was uploaded at
least N days ago, so a publish still uploading (its manifest not yet written) never loses
its audio, and neither does a first run.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from config import LoaError, Settings
from playout._atomic import write_atomic
from playout._errors import ManifestError, StorageError, StorageUnavailable
from playout._layout import (
    ASRUN_DIR,
    AUDIO_KEY,
    AUDIO_PREFIX,
    COMMUNES_PREFIX,
    MANIFEST_NAME,
    parse_commune_key,
)
from playout._manifest import MAX_MANIFEST_BYTES
from playout._objectstore import ObjectInfo, ObjectStore
from playout._references import AudioReferences, manifest_references

log = logging.getLogger(__name__)

GC_STATE_NAME: Final = "storage-gc.json"
_STATE_SCHEMA: Final = "loa.storage-gc/1"
_DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Progress = Callable[[float], None]


class GcStateError(LoaError):
    """The gc state file on the district host cannot be read or written."""


@dataclass(frozen=True)
class UnreferencedAudio:
    """An audio object no manifest names: since when, and from when gc may delete it."""

    key: str
    size: int
    last_modified: datetime
    unreferenced_since: datetime
    deletable_from: datetime

    def document(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "bytes": self.size,
            "last_modified": self.last_modified.isoformat(),
            "unreferenced_since": self.unreferenced_since.isoformat(),
            "deletable_from": self.deletable_from.isoformat(),
        }


@dataclass(frozen=True)
class GcReport:
    """What one gc run found and did. ``blocked`` says why it deleted nothing."""

    checked_at: datetime
    dry_run: bool
    unreferenced_after: timedelta
    manifests: tuple[str, ...] = ()
    referenced_objects: int = 0
    referenced_bytes: int = 0
    kept: tuple[UnreferencedAudio, ...] = ()
    deleted: tuple[UnreferencedAudio, ...] = ()
    ignored: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()

    @property
    def deleted_bytes(self) -> int:
        return sum(entry.size for entry in self.deleted)

    def document(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "dry_run": self.dry_run,
            "unreferenced_after_days": self.unreferenced_after / timedelta(days=1),
            "blocked": list(self.blocked),
            "manifests": list(self.manifests),
            "referenced": {"objects": self.referenced_objects, "bytes": self.referenced_bytes},
            "kept": [entry.document() for entry in self.kept],
            "deleted": [entry.document() for entry in self.deleted],
            "deleted_bytes": self.deleted_bytes,
            "ignored": list(self.ignored),
        }


@dataclass(frozen=True)
class ReceiptPruneReport:
    """What one ``prune_receipts`` run deleted; receipts dated ``first_kept_day`` or later
    stay, and so does anything under ``asrun/`` without a date folder (``skipped``)."""

    checked_at: datetime
    dry_run: bool
    keep_days: int
    first_kept_day: date
    kept: int
    deleted: tuple[str, ...]
    deleted_bytes: int
    skipped: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "dry_run": self.dry_run,
            "keep_days": self.keep_days,
            "first_kept_day": self.first_kept_day.isoformat(),
            "kept": self.kept,
            "deleted": list(self.deleted),
            "deleted_bytes": self.deleted_bytes,
            "skipped": list(self.skipped),
        }


def gc_state_path(settings: Settings) -> Path:
    """Where the district host keeps gc's memory: ``<data_dir>/storage-gc.json``."""
    return settings.data_dir / GC_STATE_NAME


def collect_garbage(
    store: ObjectStore,
    *,
    now: datetime,
    unreferenced_after: timedelta,
    state_path: Path,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> GcReport:
    """Delete audio that no manifest has named for ``unreferenced_after``.

    Any manifest object counts, verified or not, expired or not. When one of them cannot
    be read, or any manifest changes while gc runs, nothing is deleted and the report's
    ``blocked`` says why. A dry run reports what would go and writes nothing."""
    _check_now(now)
    if unreferenced_after <= timedelta(0):
        raise ValueError("unreferenced_after must be positive")
    state = _load_state(state_path)
    report = GcReport(checked_at=now, dry_run=dry_run, unreferenced_after=unreferenced_after)
    manifests = _manifest_objects(store.list(COMMUNES_PREFIX))
    references, unreadable = _read_references(store, manifests)
    report = replace(report, manifests=tuple(info.key for info in manifests))
    if unreadable:
        return replace(report, blocked=unreadable)
    report = _sort_audio(report, store.list(AUDIO_PREFIX), references, state)
    if _changed(manifests, _manifest_objects(store.list(COMMUNES_PREFIX))):
        reason = "a manifest changed while gc ran: nothing deleted; run gc again"
        return replace(report, kept=report.kept + report.deleted, deleted=(), blocked=(reason,))
    if not dry_run:
        _write_state(state_path, [*report.kept, *report.deleted])
        _delete(store, [entry.key for entry in report.deleted], progress)
    return report


def prune_receipts(
    store: ObjectStore,
    *,
    now: datetime,
    keep_days: int,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ReceiptPruneReport:
    """Delete as-run receipts whose date folder (``asrun/<YYYY-MM-DD>/``) is more than
    ``keep_days`` before ``now``'s date. The folders are the district's local dates:
    give ``now`` in the district's zone."""
    _check_now(now)
    if keep_days < 1:
        raise ValueError("keep_days must be at least 1")
    first_kept_day = now.date() - timedelta(days=keep_days)
    doomed: list[ObjectInfo] = []
    skipped: list[str] = []
    kept = 0
    for info in store.list(COMMUNES_PREFIX):
        place = parse_commune_key(info.key)
        if place is None or not place.rest.startswith(f"{ASRUN_DIR}/"):
            continue
        day = _receipt_day(place.rest)
        if day is None:
            skipped.append(info.key)
        elif day < first_kept_day:
            doomed.append(info)
        else:
            kept += 1
    if not dry_run:
        _delete(store, [info.key for info in doomed], progress)
    return ReceiptPruneReport(
        checked_at=now,
        dry_run=dry_run,
        keep_days=keep_days,
        first_kept_day=first_kept_day,
        kept=kept,
        deleted=tuple(info.key for info in doomed),
        deleted_bytes=sum(info.size for info in doomed),
        skipped=tuple(skipped),
    )


def _manifest_objects(listing: Iterable[ObjectInfo]) -> list[ObjectInfo]:
    manifests = []
    for info in listing:
        place = parse_commune_key(info.key)
        if place is not None and place.rest == MANIFEST_NAME:
            manifests.append(info)
    return manifests


def _read_references(
    store: ObjectStore, manifests: Sequence[ObjectInfo]
) -> tuple[AudioReferences, tuple[str, ...]]:
    """The union of what the manifests name, and why any of them could not be read."""
    parts: list[AudioReferences] = []
    unreadable: list[str] = []
    for info in manifests:
        try:
            data = store.get_bytes(info.key, max_bytes=MAX_MANIFEST_BYTES)
            parts.append(manifest_references(data, source=info.key))
        except StorageUnavailable:
            raise
        except (StorageError, ManifestError) as error:
            unreadable.append(f"cannot read manifest {info.key}: {error}")
    return AudioReferences.union(parts), tuple(unreadable)


def _sort_audio(
    report: GcReport,
    listing: Iterable[ObjectInfo],
    references: AudioReferences,
    state: dict[str, datetime],
) -> GcReport:
    """Referenced, kept for now, or due for deletion; keys that fit no layout are ignored."""
    now, after = report.checked_at, report.unreferenced_after
    referenced_objects = referenced_bytes = 0
    kept: list[UnreferencedAudio] = []
    due: list[UnreferencedAudio] = []
    ignored: list[str] = []
    for info in listing:
        if not AUDIO_KEY.match(info.key):
            ignored.append(info.key)
        elif references.names(info.key):
            referenced_objects += 1
            referenced_bytes += info.size
        else:
            since = state.get(info.key, now)
            deletable_from = max(since, info.last_modified) + after
            entry = UnreferencedAudio(
                info.key, info.size, info.last_modified, since, deletable_from
            )
            (due if now >= deletable_from else kept).append(entry)
    return replace(
        report,
        referenced_objects=referenced_objects,
        referenced_bytes=referenced_bytes,
        kept=tuple(kept),
        deleted=tuple(due),
        ignored=tuple(ignored),
    )


def _changed(before: Sequence[ObjectInfo], after: Sequence[ObjectInfo]) -> bool:
    return {info.key: info.etag for info in before} != {info.key: info.etag for info in after}


def _delete(store: ObjectStore, keys: Sequence[str], progress: Progress | None) -> None:
    for done, key in enumerate(keys, start=1):
        store.delete(key)
        log.info("deleted %s", key)
        if progress is not None:
            progress(done / len(keys))


def _receipt_day(rest: str) -> date | None:
    """The date folder of ``asrun/<YYYY-MM-DD>/<name>``, or ``None``."""
    parts = rest.split("/")
    if len(parts) < 3 or not _DAY_FOLDER.match(parts[1]):
        return None
    try:
        return date.fromisoformat(parts[1])
    except ValueError:
        return None


def _load_state(path: Path) -> dict[str, datetime]:
    """When each audio key was first seen unreferenced (empty when there is no file)."""
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise _state_error(path, str(error)) from error
    if not isinstance(document, dict) or document.get("schema") != _STATE_SCHEMA:
        raise _state_error(path, f"not a {_STATE_SCHEMA} document")
    entries = document.get("unreferenced_since")
    if not isinstance(entries, dict):
        raise _state_error(path, "no unreferenced_since object")
    state: dict[str, datetime] = {}
    for key, text in entries.items():
        moment = _aware(text)
        if moment is None:
            raise _state_error(path, f"unreferenced_since.{key}: not a time with a zone")
        state[key] = moment
    return state


def _write_state(path: Path, unreferenced: Sequence[UnreferencedAudio]) -> None:
    entries = {entry.key: entry.unreferenced_since.isoformat() for entry in unreferenced}
    document = {"schema": _STATE_SCHEMA, "unreferenced_since": dict(sorted(entries.items()))}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(document, indent=1).encode("utf-8") + b"\n")
    except OSError as error:
        raise GcStateError(f"{path}: cannot write the gc state: {error}") from error


def _state_error(path: Path, reason: str) -> GcStateError:
    return GcStateError(
        f"{path}: unreadable gc state ({reason}); move it aside to start afresh "
        "(gc then deletes nothing until the retention time has passed again)"
    )


def _aware(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a datetime with a zone")
