"""Which audio objects a manifest in the bucket names, read without trusting it.

``loa storage gc`` keeps every object any manifest names, whether or not its signature
verifies or it has expired: a manifest an operator is about to re-sign, or one that an
agent still holds, must not lose its audio. ``loa storage verify`` calls an object that
no manifest names this way an orphan, so the two commands agree on what is referenced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from playout._errors import ManifestError
from playout._layout import AUDIO_KEY


@dataclass(frozen=True)
class AudioReferences:
    """Audio keys named by manifests, and the SHA-256 each item declared for its audio."""

    keys: frozenset[str] = frozenset()
    sha256s: frozenset[str] = frozenset()

    def names(self, key: str) -> bool:
        """Whether ``key`` is named, by its key or by its content address."""
        if key in self.keys:
            return True
        match = AUDIO_KEY.match(key)
        return match is not None and match["sha256"] in self.sha256s

    @classmethod
    def union(cls, parts: Iterable[AudioReferences]) -> AudioReferences:
        keys: set[str] = set()
        sha256s: set[str] = set()
        for part in parts:
            keys |= part.keys
            sha256s |= part.sha256s
        return cls(frozenset(keys), frozenset(sha256s))


def manifest_references(data: bytes, *, source: str) -> AudioReferences:
    """Every ``items[].audio.key`` (and ``.sha256``) of the manifest bytes.

    ``ManifestError`` naming ``source`` when the bytes are not JSON shaped like a
    manifest: then nobody can say what they reference."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ManifestError(f"{source}: not UTF-8 JSON ({error})") from error
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ManifestError(f"{source}: no list of items")
    keys: set[str] = set()
    sha256s: set[str] = set()
    for index, item in enumerate(items):
        audio = _audio_of(item)
        key = audio.get("key") if audio is not None else None
        if not isinstance(key, str):
            raise ManifestError(f"{source}: items.{index}.audio.key: missing or not a string")
        keys.add(key)
        sha256 = audio.get("sha256") if audio is not None else None
        if isinstance(sha256, str):
            sha256s.add(sha256.lower())
    return AudioReferences(frozenset(keys), frozenset(sha256s))


def _audio_of(item: Any) -> dict[str, Any] | None:
    audio = item.get("audio") if isinstance(item, dict) else None
    return audio if isinstance(audio, dict) else None
