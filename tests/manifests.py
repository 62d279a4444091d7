"""Building, signing and publishing commune manifests and audio for agent tests."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from playout import AudioRef, Manifest, ManifestItem, ObjectStore, Priority, sign

DISTRICT = "muong-te"
COMMUNE = "bum-nua"


def make_tone(path: Path, frequency_hz: int, seconds: float = 1.0) -> bytes:
    """A real MP3 in the pipeline's format (mono, 48 kHz, 64 kbps)."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=f={frequency_hz}:d={seconds}",
            "-ac",
            "1",
            "-ar",
            "48000",
            "-b:a",
            "64k",
            str(path),
        ],
        check=True,
    )
    return path.read_bytes()


def audio_ref(data: bytes, duration_ms: int = 1000) -> AudioRef:
    sha256 = hashlib.sha256(data).hexdigest()
    return AudioRef(
        key=f"audio/{sha256}.mp3",
        sha256=sha256,
        bytes=len(data),
        duration_ms=duration_ms,
        lufs=-16.0,
        true_peak_dbtp=-1.5,
    )


def item(
    audio: AudioRef,
    start: datetime,
    *,
    item_id: str = "bulletin-1",
    window: timedelta = timedelta(minutes=5),
    priority: Priority = Priority.NORMAL,
    title: str = "Bản tin sáng",
    repeat: dict[str, Any] | None = None,
) -> ManifestItem:
    return ManifestItem.model_validate(
        {
            "id": item_id,
            "title": title,
            "kind": "alert" if priority is Priority.EMERGENCY else "bulletin",
            "priority": priority,
            "language": "vi",
            "start": start,
            "not_after": start + window,
            "repeat": repeat,
            "clusters": ["*"],
            "audio": audio,
        }
    )


def manifest(
    items: list[ManifestItem],
    *,
    sequence: int = 1,
    valid_until: datetime | None = None,
    commune: str = COMMUNE,
) -> Manifest:
    now = datetime.now(UTC)
    return Manifest(
        district=DISTRICT,
        commune=commune,
        sequence=sequence,
        generated_at=now,
        valid_until=valid_until if valid_until is not None else now + timedelta(hours=2),
        items=items,
    )


def tamper(signed: bytes, **changes: Any) -> bytes:
    """The signed document with item fields changed after signing."""
    document = json.loads(signed)
    document["items"][0].update(changes)
    return json.dumps(document, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Bucket:
    """What the district writes into the bucket, as the publisher would."""

    store: ObjectStore
    key: Ed25519PrivateKey
    commune: str = COMMUNE

    @property
    def manifest_key(self) -> str:
        return f"communes/{self.commune}/manifest.json"

    def put_audio(self, data: bytes, key: str | None = None) -> AudioRef:
        ref = audio_ref(data)
        self.store.put_bytes(key or ref.key, data, "audio/mpeg")
        return ref

    def publish(self, document: Manifest, key: Ed25519PrivateKey | None = None) -> bytes:
        signed = sign(document, key or self.key)
        self.put_manifest_bytes(signed)
        return signed

    def put_manifest_bytes(self, data: bytes) -> None:
        self.store.put_bytes(self.manifest_key, data, "application/json")

    def read_json(self, key: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.store.get_bytes(key, max_bytes=1 << 20))
        return document
