"""The signed per-commune schedule, schema ``loa.manifest/1`` (DESIGN.md §4)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from playout._errors import ManifestError

SCHEMA: Final = "loa.manifest/1"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_SHA256 = r"^[0-9a-f]{64}$"


class Priority(StrEnum):
    NORMAL = "normal"
    PRIORITY = "priority"
    EMERGENCY = "emergency"


class ItemKind(StrEnum):
    BULLETIN = "bulletin"
    ANNOUNCEMENT = "announcement"
    PROGRAMME = "programme"
    ALERT = "alert"
    TEST = "test"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AudioRef(_Frozen):
    key: str = Field(pattern=r"^audio/[0-9a-f]{64}\.[a-z0-9]{2,5}$")
    sha256: str = Field(pattern=_SHA256)
    bytes: int = Field(gt=0)
    duration_ms: int = Field(gt=0)
    lufs: float
    true_peak_dbtp: float


class Repeat(_Frozen):
    every_s: int = Field(gt=0)
    until: AwareDatetime


class ManifestItem(_Frozen):
    id: str = Field(pattern=_ID)
    title: str
    kind: ItemKind
    priority: Priority
    language: str = Field(pattern=r"^[a-z]{2,3}$")
    start: AwareDatetime
    not_after: AwareDatetime
    repeat: Repeat | None = None
    clusters: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    audio: AudioRef

    @model_validator(mode="after")
    def _window_is_forward(self) -> ManifestItem:
        if self.not_after <= self.start:
            raise ValueError("not_after must be later than start")
        return self

    @property
    def lateness_allowed(self) -> timedelta:
        """How late an occurrence may still start: ``not_after - start``.

        For a repeating item the same window applies to every repeat (DESIGN.md §4's
        example repeats a 06:00 item every 2 h with a 07:00 ``not_after``)."""
        return self.not_after - self.start

    def occurrences(self) -> Iterator[datetime]:
        """Scheduled start of every playback, in order."""
        yield self.start
        if self.repeat is None:
            return
        step = timedelta(seconds=self.repeat.every_s)
        moment = self.start + step
        while moment <= self.repeat.until:
            yield moment
            moment += step

    @property
    def last_playable(self) -> datetime:
        """The latest instant at which any occurrence may still start."""
        last_start = self.start if self.repeat is None else max(self.start, self.repeat.until)
        return last_start + self.lateness_allowed


class Manifest(_Frozen):
    schema_: Literal["loa.manifest/1"] = Field(alias="schema", default=SCHEMA)
    district: str = Field(pattern=_ID)
    commune: str = Field(pattern=_ID)
    sequence: int = Field(ge=1)
    generated_at: AwareDatetime
    valid_until: AwareDatetime
    items: list[ManifestItem]
    signature: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def unsigned_document(self) -> dict[str, Any]:
        # exclude_none drops ``signature`` and every absent optional ``repeat``.
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"signature"})


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """Keys sorted, no insignificant whitespace, UTF-8 (DESIGN.md §4)."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sign(manifest: Manifest, key: Ed25519PrivateKey) -> bytes:
    """The manifest as UTF-8 JSON bytes, with its ``signature`` member."""
    document = manifest.unsigned_document()
    signature = key.sign(canonical_bytes(document))
    document["signature"] = base64.b64encode(signature).decode("ascii")
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def verify(
    data: bytes,
    trusted_keys: Sequence[Ed25519PublicKey],
    *,
    source: str,
    now: datetime,
    last_sequence: int | None = None,
) -> Manifest:
    """Everything an agent checks before it plays: ``verify_signed``, then freshness and
    sequence. ``ManifestError`` names ``source`` and what failed."""
    manifest = verify_signed(data, trusted_keys, source=source)
    if manifest.valid_until <= now:
        raise ManifestError(f"{source}: expired at {manifest.valid_until.isoformat()}")
    if last_sequence is not None and manifest.sequence < last_sequence:
        raise ManifestError(
            f"{source}: sequence {manifest.sequence} is older than {last_sequence} already "
            "accepted (replayed manifest)"
        )
    return manifest


def verify_signed(
    data: bytes, trusted_keys: Sequence[Ed25519PublicKey], *, source: str
) -> Manifest:
    """Size, signature and schema. The signature is checked over the document exactly as
    received, before the schema is trusted."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{source}: {len(data)} bytes, over the {MAX_MANIFEST_BYTES} limit")
    document = _parse(data, source)
    check_signature(document, trusted_keys, source)
    return _validate(document, source)


def _parse(data: bytes, source: str) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise ManifestError(f"{source}: not UTF-8 JSON ({error})") from error
    if not isinstance(document, dict):
        raise ManifestError(f"{source}: not a JSON object")
    return document


def _refuse_constant(name: str) -> None:
    # NaN and Infinity are not JSON, and the canonical form cannot be made with them.
    raise ValueError(f"{name} is not a JSON number")


def check_signature(
    document: dict[str, Any], trusted_keys: Sequence[Ed25519PublicKey], source: str
) -> None:
    unsigned = dict(document)
    encoded = unsigned.pop("signature", None)
    if not isinstance(encoded, str):
        raise ManifestError(f"{source}: no signature")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except ValueError as error:
        raise ManifestError(f"{source}: signature is not base64") from error
    message = canonical_bytes(unsigned)
    for key in trusted_keys:
        try:
            key.verify(signature, message)
        except InvalidSignature:
            continue
        return
    raise ManifestError(f"{source}: signature does not verify against any pinned district key")


def _validate(document: dict[str, Any], source: str) -> Manifest:
    try:
        return Manifest.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ManifestError(f"{source}: field {field}: {first['msg']}") from error
