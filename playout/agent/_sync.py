"""The commune's manifest: polled, verified, accepted or refused, cached on disk.

Acceptance rules (DESIGN.md §4): the signature verifies against a pinned key, the
manifest is this commune's, ``valid_until`` is ahead, and the sequence is newer than the
last accepted one — or equal to it with the very same bytes (then it is "unchanged")."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from config import LoaError
from playout._atomic import write_atomic
from playout._errors import ManifestError, ObjectNotFound, ObjectTooLarge, StorageError
from playout._layout import manifest_key
from playout._manifest import MAX_MANIFEST_BYTES, Manifest, verify, verify_signed
from playout._objectstore import ObjectStore
from playout.agent._state import LocalState

log = logging.getLogger(__name__)


class SyncStatus(StrEnum):
    ACCEPTED = "accepted"  # a new manifest is in force
    UNCHANGED = "unchanged"  # the manifest in storage is the one in force
    REFUSED = "refused"  # the manifest in storage failed a check; the old one stays
    OFFLINE = "offline"  # storage unreachable or refusing us; the cached manifest stays
    ABSENT = "absent"  # nothing published for this commune yet


@dataclass(frozen=True)
class SyncResult:
    status: SyncStatus
    sequence: int | None  # of the manifest in force after the sync
    error: LoaError | None = None
    audio_refused: list[str] = field(default_factory=list)

    @property
    def online(self) -> bool:
        return self.status is not SyncStatus.OFFLINE


@dataclass(frozen=True)
class Identity:
    """Who the agent is, for checking that a manifest is addressed to it."""

    district_id: str
    commune_id: str
    keys: Sequence[Ed25519PublicKey]


class ManifestSync:
    """Holds the manifest in force and replaces it only with one that passes every check.

    ``sync`` is called from one thread at a time (the link); ``manifest`` is replaced in
    one assignment, so the playout thread always reads a whole one. A manifest accepted
    while the disk is full is in force at once; ``flush`` writes it when there is room."""

    def __init__(self, store: ObjectStore, identity: Identity, state: LocalState) -> None:
        self._store = store
        self._identity = identity
        self._state = state
        self.cached_path = state.path.with_name("manifest.json")
        self.key = manifest_key(identity.commune_id)
        self.manifest: Manifest | None = None
        self._digest: str | None = None  # of ``manifest``'s bytes
        self._seen_etag: str | None = None
        self._refusal: ManifestError | None = None
        self._unwritten: bytes | None = None
        self.write_error: OSError | None = None
        self._load_cached()

    def current(self, now: datetime) -> Manifest | None:
        """The manifest in force, unless its ``valid_until`` has passed."""
        if self.manifest is None or self.manifest.valid_until <= now:
            return None
        return self.manifest

    def sync(self, clock: Callable[[], datetime]) -> SyncResult:
        """One poll. ``clock`` is read once the answer is in, so that it can already
        account for the storage clock that answer reported."""
        try:
            fetched = self._store.get_if_changed(
                self.key, self._seen_etag, max_bytes=MAX_MANIFEST_BYTES
            )
        except ObjectNotFound as error:
            return self._result(SyncStatus.ABSENT, error)
        except ObjectTooLarge as error:
            self._refusal = ManifestError(str(error))
            return self._result(SyncStatus.REFUSED, self._refusal)
        except StorageError as error:
            return self._result(SyncStatus.OFFLINE, error)
        if fetched is None:
            return self._not_modified()
        data, etag = fetched
        self._seen_etag = etag
        return self._consider(data, etag, clock())

    def _not_modified(self) -> SyncResult:
        if self._refusal is not None:
            return self._result(SyncStatus.REFUSED, self._refusal)
        return self._result(SyncStatus.UNCHANGED)

    def _consider(self, data: bytes, etag: str | None, now: datetime) -> SyncResult:
        digest = hashlib.sha256(data).hexdigest()
        if self.manifest is not None and digest == self._digest:
            self._refusal = None
            return self._result(SyncStatus.UNCHANGED)
        try:
            manifest = self._verify(data, digest, now)
        except ManifestError as error:
            self._refusal = error
            return self._result(SyncStatus.REFUSED, error)
        self._accept(manifest, data, digest, etag)
        return self._result(SyncStatus.ACCEPTED)

    def _verify(self, data: bytes, digest: str, now: datetime) -> Manifest:
        last = self._state.sequence
        manifest = verify(data, self._identity.keys, source=self.key, now=now, last_sequence=last)
        self._check_addressee(manifest, self.key)
        if manifest.sequence == last and digest != self._state.manifest_sha256:
            raise ManifestError(
                f"{self.key}: sequence {last} was already accepted with different content"
            )
        return manifest

    def _check_addressee(self, manifest: Manifest, source: str) -> None:
        identity = self._identity
        if (manifest.district, manifest.commune) != (identity.district_id, identity.commune_id):
            raise ManifestError(
                f"{source}: addressed to commune {manifest.commune!r} of district "
                f"{manifest.district!r}, not {identity.commune_id!r} of {identity.district_id!r}"
            )

    def _accept(self, manifest: Manifest, data: bytes, digest: str, etag: str | None) -> None:
        self._unwritten = data
        self.flush()
        self._state.accept(manifest.sequence, digest, etag)
        self.manifest, self._digest = manifest, digest
        self._refusal = None
        log.info("accepted %s sequence %d", self.key, manifest.sequence)

    def flush(self) -> OSError | None:
        """Write an accepted manifest the disk had no room for; the error if it still has none."""
        data = self._unwritten
        if data is None:
            return None
        try:
            write_atomic(self.cached_path, data)
        except OSError as error:
            if self.write_error is None:
                log.error("%s: cannot save (%s); kept in memory", self.cached_path, error)
            self.write_error = error
            return error
        self._unwritten = self.write_error = None
        return None

    def _result(self, status: SyncStatus, error: LoaError | None = None) -> SyncResult:
        sequence = self.manifest.sequence if self.manifest is not None else None
        return SyncResult(status, sequence, error)

    def _load_cached(self) -> None:
        """Re-verify the cached manifest with the pinned keys: the disk is not trusted
        more than the bucket. Its expiry is checked whenever it is used (``current``)."""
        try:
            data = self.cached_path.read_bytes()
        except FileNotFoundError:
            return
        source = str(self.cached_path)
        try:
            manifest = verify_signed(data, self._identity.keys, source=source)
            self._check_addressee(manifest, source)
        except ManifestError as error:
            log.error("ignoring the cached manifest: %s", error)
            return
        self._adopt_cached(manifest, hashlib.sha256(data).hexdigest())

    def _adopt_cached(self, manifest: Manifest, digest: str) -> None:
        state = self._state
        self._seen_etag = state.etag
        if digest != state.manifest_sha256:
            if manifest.sequence >= (state.sequence or 0):
                # Power was cut between writing manifest.json and state.json.
                state.accept(manifest.sequence, digest, None)
            else:
                # state.json names a newer manifest that the disk had no room for: play
                # this one until that one is fetched again (it is accepted as the same).
                self._seen_etag = None
        self.manifest, self._digest = manifest, digest
