"""``loa storage verify``: re-check what is in the bucket (DESIGN.md §3, §4).

Per commune: is there a manifest; does its signature verify against the trusted keys; is
its schema valid; is it addressed to this district and to the commune its key names; has
it expired; was an old one put back. For every audio object a manifest names: is it
there, of the declared size, with the declared SHA-256 (each object downloaded once, to
a temporary file, never more than the declared bytes). Then what nothing explains: audio
no manifest names, keys of communes not in the registry, keys that fit no layout rule.

A fault in the bucket is a finding in the report, never an exception: the report is what
an operator reads after someone edited a manifest, swapped an audio object or put an old
manifest back.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from config import Settings, UserInputError
from playout._errors import ManifestError, ObjectNotFound, StorageError, StorageUnavailable
from playout._keys import DistrictKeys, KeyFileError, decode_public_key
from playout._layout import (
    AUDIO_KEY,
    AUDIO_PREFIX,
    MANIFEST_NAME,
    check_commune_id,
    commune_prefix,
    heartbeat_key,
    manifest_key,
    parse_commune_key,
)

# ``check_signature`` is the one implementation of the signature check, shared with the
# agents: verify must never accept what an agent refuses, nor the other way round.
from playout._manifest import (
    MAX_MANIFEST_BYTES,
    AudioRef,
    Manifest,
    check_signature,
    verify_signed,
)
from playout._objectstore import ObjectInfo, ObjectStore
from playout._references import AudioReferences, manifest_references

# The publisher signs and writes a manifest at once; a copy written much later than it
# was signed has been put back. The margin covers clocks of district host and store.
REWRITE_TOLERANCE: Final = timedelta(minutes=15)
_MAX_HEARTBEAT_BYTES = 1024 * 1024
_HEARTBEAT_REST = "status/heartbeat.json"
_RECEIPT_REST = re.compile(r"^asrun/\d{4}-\d{2}-\d{2}/\d+-[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.json$")
_NAMED_AT_MOST = 3

Progress = Callable[[float], None]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Finding(StrEnum):
    """One code per kind of fault; the command line words each one for people."""

    NO_MANIFEST = "no-manifest"
    UNREADABLE_MANIFEST = "unreadable-manifest"
    BAD_SIGNATURE = "bad-signature"
    BAD_SCHEMA = "bad-schema"
    WRONG_ADDRESS = "wrong-address"
    EXPIRED = "expired"
    REPLAYED = "replayed-manifest"
    MISSING_AUDIO = "missing-audio"
    SIZE_MISMATCH = "size-mismatch"
    HASH_MISMATCH = "hash-mismatch"
    KEY_MISMATCH = "key-mismatch"
    ORPHAN_AUDIO = "orphan-audio"
    UNREGISTERED_COMMUNE = "unregistered-commune"
    UNKNOWN_KEY = "unknown-key"
    UNREADABLE_HEARTBEAT = "unreadable-heartbeat"


# Worth a look, but nothing an agent would play wrongly or refuse to play.
_WARNINGS: Final = frozenset(
    {
        Finding.NO_MANIFEST,
        Finding.EXPIRED,
        Finding.ORPHAN_AUDIO,
        Finding.UNREGISTERED_COMMUNE,
        Finding.UNKNOWN_KEY,
        Finding.UNREADABLE_HEARTBEAT,
    }
)


class UnknownCommuneError(UserInputError):
    """A commune id that is not in the district's registry."""


@dataclass(frozen=True)
class Problem:
    """One finding, with the key it is about and a one-line message naming that key."""

    finding: Finding
    key: str
    message: str
    communes: tuple[str, ...] = ()

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.finding in _WARNINGS else Severity.ERROR

    def document(self) -> dict[str, Any]:
        return {
            "severity": str(self.severity),
            "finding": str(self.finding),
            "key": self.key,
            "communes": list(self.communes),
            "message": self.message,
        }


@dataclass(frozen=True)
class CommuneCheck:
    """What verify found for one commune's manifest; ``None`` where it could not tell."""

    commune: str
    registered: bool
    manifest_key: str
    present: bool = False
    written_at: datetime | None = None
    signature_valid: bool | None = None
    schema_valid: bool | None = None
    addressed_correctly: bool | None = None
    expired: bool | None = None
    sequence: int | None = None
    generated_at: datetime | None = None
    valid_until: datetime | None = None
    items: int | None = None
    agent_sequence: int | None = None

    def document(self) -> dict[str, Any]:
        return {
            "commune": self.commune,
            "registered": self.registered,
            "manifest_key": self.manifest_key,
            "present": self.present,
            "written_at": _iso(self.written_at),
            "signature_valid": self.signature_valid,
            "schema_valid": self.schema_valid,
            "addressed_correctly": self.addressed_correctly,
            "expired": self.expired,
            "sequence": self.sequence,
            "generated_at": _iso(self.generated_at),
            "valid_until": _iso(self.valid_until),
            "items": self.items,
            "agent_sequence": self.agent_sequence,
        }


@dataclass(frozen=True)
class BucketReport:
    """Everything one verify run found. ``scope`` is the one commune checked, if any."""

    checked_at: datetime
    scope: str | None
    communes: tuple[CommuneCheck, ...]
    problems: tuple[Problem, ...]
    audio_checked: int
    bytes_hashed: int
    objects_listed: int | None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """No error-severity finding (warnings allowed)."""
        return not self.errors

    def document(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "scope": self.scope,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "communes": [check.document() for check in self.communes],
            "audio": {"checked": self.audio_checked, "bytes_hashed": self.bytes_hashed},
            "objects_listed": self.objects_listed,
            "problems": [problem.document() for problem in self.problems],
        }


def district_trusted_keys(settings: Settings) -> list[Ed25519PublicKey]:
    """The keys verify accepts on the district host: the district's own (with a pending
    rotation key, if any) and ``keys.trusted_public_keys``."""
    keys = [decode_public_key(text) for text in settings.keys.trusted_public_keys]
    district = DistrictKeys(settings.key_dir)
    if district.public_path.is_file():
        keys.extend(district.public_keys())
    if not keys:
        raise KeyFileError(
            f"no key to verify manifests with: {district.public_path} does not exist and "
            "keys.trusted_public_keys is empty (`loa keys init`, or pin the district's key)"
        )
    return keys


def inspect_bucket(
    store: ObjectStore,
    trusted_keys: Sequence[Ed25519PublicKey],
    *,
    district_id: str,
    registered_communes: Sequence[str],
    now: datetime,
    commune: str | None = None,
    check_hashes: bool = True,
    progress: Progress | None = None,
) -> BucketReport:
    """Check the bucket, or with ``commune`` only that commune and the audio it names
    (then without looking for orphans). ``UnknownCommuneError`` (exit 2) when ``commune``
    is not in ``registered_communes``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a datetime with a zone")
    if not trusted_keys:
        raise ValueError("verify needs at least one trusted key")
    if commune is not None:
        _check_registered(commune, district_id, registered_communes)
    inspection = _Inspection(store, tuple(trusted_keys), district_id, now)
    with tempfile.TemporaryDirectory(prefix="loa-verify-") as folder:
        inspection.download_path = Path(folder) / "audio"
        if commune is None:
            return inspection.whole_bucket(registered_communes, check_hashes, progress)
        return inspection.one_commune(commune, check_hashes, progress)


def _check_registered(commune: str, district_id: str, registered: Sequence[str]) -> None:
    check_commune_id(commune)
    if commune not in registered:
        raise UnknownCommuneError(
            f"unknown commune {commune!r}: not in the registry of district {district_id!r} "
            "(see `loa config show`)"
        )


@dataclass(frozen=True)
class _Declaration:
    """One manifest item's claim about an audio object."""

    audio: AudioRef
    commune: str
    item_id: str


@dataclass
class _Scan:
    """One pass over the whole bucket's listing, sorted by where each key belongs."""

    registered: frozenset[str]
    objects: int = 0
    audio: dict[str, ObjectInfo] = field(default_factory=dict)
    manifests: dict[str, ObjectInfo] = field(default_factory=dict)
    heartbeats: set[str] = field(default_factory=set)
    unregistered: Counter[str] = field(default_factory=Counter)
    misplaced: list[str] = field(default_factory=list)

    def add(self, info: ObjectInfo) -> None:
        self.objects += 1
        if info.key.startswith(AUDIO_PREFIX):
            if AUDIO_KEY.match(info.key):
                self.audio[info.key] = info
            else:
                self.misplaced.append(info.key)
            return
        place = parse_commune_key(info.key)
        if place is None:
            self.misplaced.append(info.key)
        elif place.rest == MANIFEST_NAME:
            self.manifests[place.commune_id] = info
            if place.commune_id not in self.registered:
                self.unregistered[place.commune_id] += 1
        elif place.commune_id not in self.registered:
            self.unregistered[place.commune_id] += 1
        elif place.rest == _HEARTBEAT_REST:
            self.heartbeats.add(place.commune_id)
        elif not _RECEIPT_REST.match(place.rest):
            self.misplaced.append(info.key)


@dataclass
class _Inspection:
    """The checks of one run and the findings they add up to."""

    store: ObjectStore
    trusted_keys: tuple[Ed25519PublicKey, ...]
    district_id: str
    now: datetime
    download_path: Path = Path()
    problems: list[Problem] = field(default_factory=list)
    declarations: dict[str, list[_Declaration]] = field(default_factory=dict)
    references: list[AudioReferences] = field(default_factory=list)
    unreadable_manifests: int = 0
    bytes_hashed: int = 0

    def whole_bucket(
        self, registered: Sequence[str], check_hashes: bool, progress: Progress | None
    ) -> BucketReport:
        scan = _Scan(frozenset(registered))
        for info in self.store.list(""):
            scan.add(info)
        checks = [
            self.commune(commune_id, scan.manifests.get(commune_id), commune_id in scan.heartbeats)
            for commune_id in registered
        ]
        self.unregistered_communes(scan)
        self.audio(scan.audio.get, check_hashes, progress)
        self.orphans(scan)
        for key in scan.misplaced:
            self.add(Finding.UNKNOWN_KEY, key, f"{key}: fits no place in the bucket layout")
        return self.report(None, checks, scan.objects)

    def one_commune(
        self, commune_id: str, check_hashes: bool, progress: Progress | None
    ) -> BucketReport:
        info = self.store.head(manifest_key(commune_id))
        check = self.commune(commune_id, info, has_heartbeat=True)
        self.audio(self.store.head, check_hashes, progress)
        return self.report(commune_id, [check], None)

    def report(
        self, scope: str | None, checks: Sequence[CommuneCheck], objects: int | None
    ) -> BucketReport:
        return BucketReport(
            checked_at=self.now,
            scope=scope,
            communes=tuple(checks),
            problems=tuple(self.problems),
            audio_checked=len(self.declarations),
            bytes_hashed=self.bytes_hashed,
            objects_listed=objects,
        )

    def add(self, finding: Finding, key: str, message: str, communes: Iterable[str] = ()) -> None:
        self.problems.append(Problem(finding, key, message, tuple(sorted(set(communes)))))

    # --- manifests ------------------------------------------------------------------

    def commune(
        self, commune_id: str, info: ObjectInfo | None, has_heartbeat: bool
    ) -> CommuneCheck:
        key = manifest_key(commune_id)
        check = CommuneCheck(commune=commune_id, registered=True, manifest_key=key)
        if info is None:
            self.add(Finding.NO_MANIFEST, key, f"{key}: no manifest", [commune_id])
            return check
        check = replace(check, present=True, written_at=info.last_modified)
        data = self.manifest_bytes(info)
        if data is None:
            return check
        manifest, signature_valid = self.verified(key, data, commune_id)
        check = replace(check, signature_valid=signature_valid, schema_valid=manifest is not None)
        if manifest is None:
            return check
        self.declare(manifest, commune_id)
        agent_sequence = self.agent_sequence(commune_id) if has_heartbeat else None
        self.content(key, manifest, commune_id, info.last_modified, agent_sequence)
        return replace(
            check,
            addressed_correctly=(manifest.district, manifest.commune)
            == (self.district_id, commune_id),
            expired=manifest.valid_until <= self.now,
            sequence=manifest.sequence,
            generated_at=manifest.generated_at,
            valid_until=manifest.valid_until,
            items=len(manifest.items),
            agent_sequence=agent_sequence,
        )

    def manifest_bytes(self, info: ObjectInfo) -> bytes | None:
        """The manifest's bytes, once what it names is on record; ``None`` when it cannot
        be read (an error) or has gone since it was listed."""
        if info.size > MAX_MANIFEST_BYTES:
            reason = f"{info.size} bytes, over the {MAX_MANIFEST_BYTES}-byte limit"
            self.unreadable(info.key, f"{info.key}: {reason}")
            return None
        try:
            data = self.store.get_bytes(info.key, max_bytes=MAX_MANIFEST_BYTES)
        except ObjectNotFound:
            return None
        try:
            self.references.append(manifest_references(data, source=info.key))
        except ManifestError as error:
            self.unreadable(info.key, str(error))
            return None
        return data

    def unreadable(self, key: str, message: str) -> None:
        self.unreadable_manifests += 1
        place = parse_commune_key(key)
        self.add(
            Finding.UNREADABLE_MANIFEST,
            key,
            f"{message} (gc deletes nothing while a manifest cannot be read)",
            [place.commune_id] if place else [],
        )

    def verified(self, key: str, data: bytes, commune_id: str) -> tuple[Manifest | None, bool]:
        """The manifest if its schema is valid (signed or not), and whether it is signed
        by a trusted key."""
        try:
            return verify_signed(data, self.trusted_keys, source=key), True
        except (ManifestError, ValueError) as error:
            failure = str(error)
        document = json.loads(data)  # manifest_references has parsed it already
        if _signature_verifies(document, self.trusted_keys, key):
            self.add(Finding.BAD_SCHEMA, key, failure, [commune_id])
            return None, True
        self.add(
            Finding.BAD_SIGNATURE,
            key,
            f"{failure}: edited in the bucket, or signed by a key this host does not trust",
            [commune_id],
        )
        try:
            return Manifest.model_validate(document), False
        except ValidationError:
            return None, False

    def content(
        self,
        key: str,
        manifest: Manifest,
        commune_id: str,
        written_at: datetime,
        agent_sequence: int | None,
    ) -> None:
        communes = [commune_id]
        if (manifest.district, manifest.commune) != (self.district_id, commune_id):
            self.add(
                Finding.WRONG_ADDRESS,
                key,
                f"{key}: addressed to district {manifest.district!r}, commune "
                f"{manifest.commune!r}; the key is district {self.district_id!r}'s "
                f"commune {commune_id!r}",
                communes,
            )
        if manifest.valid_until <= self.now:
            self.add(
                Finding.EXPIRED,
                key,
                f"{key}: expired at {manifest.valid_until.isoformat()}: agents refuse it",
                communes,
            )
        if written_at - manifest.generated_at > REWRITE_TOLERANCE:
            self.add(
                Finding.REPLAYED,
                key,
                f"{key}: sequence {manifest.sequence} was signed at "
                f"{manifest.generated_at.isoformat()} but written at {written_at.isoformat()}: "
                "an old manifest put back",
                communes,
            )
        if agent_sequence is not None and agent_sequence > manifest.sequence:
            self.add(
                Finding.REPLAYED,
                key,
                f"{key}: sequence {manifest.sequence} is older than sequence {agent_sequence}, "
                "which the commune's agent has already accepted: an old manifest put back",
                communes,
            )

    def agent_sequence(self, commune_id: str) -> int | None:
        """The manifest sequence the agent's heartbeat says it holds, if it says one."""
        key = heartbeat_key(commune_id)
        try:
            document = json.loads(self.store.get_bytes(key, max_bytes=_MAX_HEARTBEAT_BYTES))
        except ObjectNotFound:
            return None
        except StorageUnavailable:
            raise
        except (StorageError, UnicodeDecodeError, json.JSONDecodeError) as error:
            reason = f"{key}: not readable as JSON ({error})"
            self.add(Finding.UNREADABLE_HEARTBEAT, key, reason, [commune_id])
            return None
        held = document.get("manifest") if isinstance(document, dict) else None
        sequence = held.get("sequence") if isinstance(held, dict) else None
        return sequence if isinstance(sequence, int) else None

    def declare(self, manifest: Manifest, commune_id: str) -> None:
        for item in manifest.items:
            declaration = _Declaration(item.audio, commune_id, item.id)
            self.declarations.setdefault(item.audio.key, []).append(declaration)

    def unregistered_communes(self, scan: _Scan) -> None:
        for commune_id, count in sorted(scan.unregistered.items()):
            prefix = commune_prefix(commune_id)
            self.add(
                Finding.UNREGISTERED_COMMUNE,
                prefix,
                f"{prefix}: {count} object(s) of commune {commune_id!r}, which is not in "
                f"the registry of district {self.district_id!r}",
                [commune_id],
            )
            info = scan.manifests.get(commune_id)
            if info is not None:
                self.manifest_bytes(info)  # what it names is not an orphan

    # --- audio ----------------------------------------------------------------------

    def audio(
        self,
        lookup: Callable[[str], ObjectInfo | None],
        check_hashes: bool,
        progress: Progress | None,
    ) -> None:
        keys = sorted(self.declarations)
        for done, key in enumerate(keys, start=1):
            self.audio_object(key, self.declarations[key], lookup(key), check_hashes)
            if progress is not None:
                progress(done / len(keys))

    def audio_object(
        self,
        key: str,
        declarations: Sequence[_Declaration],
        info: ObjectInfo | None,
        check_hashes: bool,
    ) -> None:
        communes = [declaration.commune for declaration in declarations]
        address = AUDIO_KEY.match(key)
        key_sha256 = address["sha256"] if address else ""
        for sha256, claims in _grouped(declarations, lambda d: d.audio.sha256):
            if sha256 != key_sha256:
                message = (
                    f"{key}: SHA-256 {sha256} declared by {_named_by(claims)} is not its key's"
                )
                self.add(Finding.KEY_MISMATCH, key, message, communes)
        if info is None:
            message = f"{key}: missing from the bucket (named by {_named_by(declarations)})"
            self.add(Finding.MISSING_AUDIO, key, message, communes)
            return
        for size, claims in _grouped(declarations, lambda d: d.audio.bytes):
            if size != info.size:
                who = _named_by(claims)
                message = f"{key}: {info.size} bytes in the bucket, {size} declared by {who}"
                self.add(Finding.SIZE_MISMATCH, key, message, communes)
        if not check_hashes or all(d.audio.bytes != info.size for d in declarations):
            return
        actual = self.sha256(key, info.size)
        if actual is None:
            message = f"{key}: deleted while verify ran (named by {_named_by(declarations)})"
            self.add(Finding.MISSING_AUDIO, key, message, communes)
            return
        for sha256, claims in _grouped(declarations, lambda d: d.audio.sha256):
            if sha256 != actual:
                message = (
                    f"{key}: its bytes have SHA-256 {actual}, not {sha256} as declared by "
                    f"{_named_by(claims)}: the object was replaced"
                )
                self.add(Finding.HASH_MISMATCH, key, message, communes)

    def sha256(self, key: str, size: int) -> str | None:
        """The object's SHA-256, read through a temporary file of at most ``size`` bytes."""
        path = self.download_path
        try:
            self.store.download_to(key, path, max_bytes=size)
        except ObjectNotFound:
            return None
        try:
            with path.open("rb") as file:
                digest = hashlib.file_digest(file, "sha256").hexdigest()
            self.bytes_hashed += path.stat().st_size
        finally:
            path.unlink(missing_ok=True)
        return digest

    def orphans(self, scan: _Scan) -> None:
        """Audio no manifest names. Not judged while a manifest is unreadable: what that
        manifest names is unknown (and gc is stopped until it is readable)."""
        if self.unreadable_manifests:
            return
        references = AudioReferences.union(self.references)
        for key, info in scan.audio.items():
            if not references.names(key):
                message = (
                    f"{key}: no manifest names it ({info.size} bytes); "
                    "`loa storage gc` deletes it once it has been unreferenced long enough"
                )
                self.add(Finding.ORPHAN_AUDIO, key, message)


def _signature_verifies(
    document: Any, trusted_keys: Sequence[Ed25519PublicKey], source: str
) -> bool:
    if not isinstance(document, dict):
        return False
    try:
        check_signature(document, trusted_keys, source)
    except (ManifestError, ValueError):
        return False
    return True


def _grouped(
    declarations: Sequence[_Declaration], by: Callable[[_Declaration], Any]
) -> list[tuple[Any, list[_Declaration]]]:
    groups: dict[Any, list[_Declaration]] = {}
    for declaration in declarations:
        groups.setdefault(by(declaration), []).append(declaration)
    return sorted(groups.items(), key=lambda pair: str(pair[0]))


def _named_by(declarations: Sequence[_Declaration]) -> str:
    """``bum-nua item bulletin-1, pa-u item bulletin-1 and 3 more``."""
    names = [f"{d.commune} item {d.item_id}" for d in declarations]
    shown = ", ".join(names[:_NAMED_AT_MOST])
    rest = len(names) - _NAMED_AT_MOST
    return f"{shown} and {rest} more" if rest > 0 else shown


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
