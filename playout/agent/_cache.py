"""The agent's audio cache: ``<agent dir>/cache/<sha256>.<ext>``, verified files only.

A file under its final name has matched its SHA-256 once; it is checked again right
before each playback, since a power cut can damage a file after it was written.
Downloads go to a unique ``*.download`` name first, so two threads fetching the same
clip never write one file, and a half-written one never has the final name; a download
that fails (the disk full, say) is deleted, and any left by a killed agent are deleted
when the next one starts."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from playout._errors import ObjectNotFound, StorageError
from playout._manifest import AudioRef
from playout._objectstore import ObjectStore

log = logging.getLogger(__name__)

_DOWNLOAD_SUFFIX = ".download"
_PARTIAL_SUFFIXES = (_DOWNLOAD_SUFFIX, ".part")
# Room left on the disk after a clip, for state.json, the outbox and status.json.
RESERVE_BYTES = 1024 * 1024


class AudioIntegrityError(StorageError):
    """The stored audio is not what the manifest declares (size or SHA-256): never played."""

    def __init__(self, ref: AudioRef, reason: str) -> None:
        super().__init__(f"{ref.key}: {reason}")
        self.sha256 = ref.sha256


class CacheWriteError(StorageError):
    """The clip could not be stored on this host's disk (full, read-only, failing)."""

    def __init__(self, ref: AudioRef, directory: Path, reason: str) -> None:
        super().__init__(f"cannot store {ref.key} in {directory}: {reason}")
        self.sha256 = ref.sha256


class CacheFull(CacheWriteError):  # noqa: N818 - reads as the condition
    """Not even tried: the disk has no room for the clip and the reserve."""


@dataclass(frozen=True)
class CacheUsage:
    objects: int
    bytes: int


class AudioCache:
    def __init__(self, directory: Path, *, max_object_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._max_object_bytes = max_object_bytes
        self.damaged = 0  # cached clips found damaged (and deleted) since the start
        self._remove_partials()

    def path_for(self, ref: AudioRef) -> Path:
        return self.directory / f"{ref.sha256}{PurePosixPath(ref.key).suffix}"

    def contains(self, ref: AudioRef) -> bool:
        return self.path_for(ref).is_file()

    def fetch(self, store: ObjectStore, ref: AudioRef) -> Path:
        """Download, check and keep ``ref``. ``AudioIntegrityError`` when the object is
        not the declared one; ``StorageError`` when it cannot be had now."""
        final = self.path_for(ref)
        if ref.bytes > self._max_object_bytes:
            # Even a validly signed manifest does not get to fill a commune box's disk.
            limit = f"the agent's limit of {self._max_object_bytes} bytes (agent.max_audio_mb)"
            raise AudioIntegrityError(ref, f"declares {ref.bytes} bytes, over {limit}")
        _check_declared_size(store, ref)
        download = final.with_name(f"{final.name}.{uuid.uuid4().hex}{_DOWNLOAD_SUFFIX}")
        try:
            store.download_to(ref.key, download, max_bytes=ref.bytes)
            _check_hash(download, ref)
            os.replace(download, final)
        except StorageError as error:
            if isinstance(error.__cause__, OSError):  # writing the file, not the network
                raise self._write_error(ref, error.__cause__) from error
            raise
        except OSError as error:
            raise self._write_error(ref, error) from error
        finally:
            download.unlink(missing_ok=True)
        log.info("cached %s (%d bytes)", ref.key, ref.bytes)
        return final

    def check_room(self, ref: AudioRef) -> None:
        """``CacheFull`` unless the disk holds ``ref`` and still keeps ``RESERVE_BYTES``:
        a link on mobile data should not fetch a clip that cannot be stored."""
        free = self.free_bytes()
        if free is not None and ref.bytes + RESERVE_BYTES > free:
            reason = (
                f"needs {ref.bytes} bytes and {RESERVE_BYTES} to spare, {free} free: "
                "not enough space on the disk"
            )
            raise CacheFull(ref, self.directory, reason)

    def free_bytes(self) -> int | None:
        """Free space of the cache's filesystem for this user; ``None`` if unknown."""
        try:
            stats = os.statvfs(self.directory)
        except OSError:
            return None
        return stats.f_bavail * stats.f_frsize

    def _write_error(self, ref: AudioRef, error: OSError) -> CacheWriteError:
        return CacheWriteError(ref, self.directory, error.strerror or str(error))

    def verified_path(self, ref: AudioRef) -> Path | None:
        """The cached file if it still matches, else ``None`` (a damaged copy is deleted)."""
        path = self.path_for(ref)
        if not path.is_file():
            return None
        try:
            intact = file_sha256(path) == ref.sha256
        except OSError as error:
            log.error("%s: unreadable (%s)", path, error)
            intact = False
        if not intact:
            log.error("%s: damaged in the cache (SHA-256 changed); deleted", path)
            self.damaged += 1
            path.unlink(missing_ok=True)
            return None
        return path

    def prune(self, keep: Iterable[AudioRef]) -> None:
        """Delete the clips not in ``keep``. Downloads in progress are left alone."""
        wanted = {self.path_for(ref).name for ref in keep}
        for path in self.directory.iterdir():
            if path.name not in wanted and not _is_partial(path):
                log.info("removing %s from the cache", path.name)
                path.unlink(missing_ok=True)

    def usage(self) -> CacheUsage:
        sizes = []
        for path in self._clips():
            try:
                sizes.append(path.stat().st_size)
            except FileNotFoundError:
                continue  # pruned meanwhile
        return CacheUsage(objects=len(sizes), bytes=sum(sizes))

    def _clips(self) -> list[Path]:
        return [
            path for path in self.directory.iterdir() if not path.name.endswith(_PARTIAL_SUFFIXES)
        ]

    def _remove_partials(self) -> None:
        for path in self.directory.iterdir():
            if path.name.endswith(_PARTIAL_SUFFIXES):
                path.unlink(missing_ok=True)


def _is_partial(path: Path) -> bool:
    return path.name.endswith(_PARTIAL_SUFFIXES)


def _check_declared_size(store: ObjectStore, ref: AudioRef) -> None:
    info = store.head(ref.key)
    if info is None:
        raise ObjectNotFound(f"{ref.key}: not in storage")
    if info.size != ref.bytes:
        reason = f"{info.size} bytes in storage, the manifest declares {ref.bytes}"
        raise AudioIntegrityError(ref, reason)


def _check_hash(download: Path, ref: AudioRef) -> None:
    actual = file_sha256(download)
    if actual != ref.sha256:
        raise AudioIntegrityError(ref, f"SHA-256 is {actual}, the manifest declares {ref.sha256}")


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
