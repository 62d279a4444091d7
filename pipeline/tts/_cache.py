"""The synthesis cache: speech keyed by a hash of everything it depends on (DESIGN.md §7).

The key is the SHA-256 of a synthesizer's identity for a request (engine and its
version, voice, options, normalised text). A hit costs no synthesis, so a bulletin
rendered again, or the same alert for a hundred communes, is spoken once; a cached
neural rendering is still there when the internet is not.

Layout: ``<root>/<key[:2]>/<key>.<ext>`` and ``<key>.json`` beside it; the JSON is
written last, so an entry without it is incomplete and never read. Entries used least
recently are removed when the cache outgrows its size.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.tts._base import Cue, Speech

log = logging.getLogger(__name__)

PRUNE_TO = 0.9  # of the size limit, so every put does not prune again
_SCRATCH_PREFIX = ".scratch-"


class SynthesisCache:
    """Speech files under ``root``, at most about ``max_bytes`` of them."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    @staticmethod
    def key(identity: Mapping[str, Any]) -> str:
        canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def get(self, key: str) -> Speech | None:
        """The cached speech for ``key``, marked as just used; ``None`` on a miss."""
        meta_path = self._meta_path(key)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            audio = meta_path.with_name(meta["file"])
            os.utime(audio)
            os.utime(meta_path)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        cues = tuple(Cue(cue["start_s"], cue["end_s"], cue["text"]) for cue in meta["cues"])
        return Speech(audio, meta["engine"], meta["voice"], cues)

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A directory for an engine to write into, on the cache's file system."""
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=_SCRATCH_PREFIX, dir=self.root) as work:
            yield Path(work)

    def put(self, key: str, speech: Speech) -> Speech:
        """Move ``speech`` (written in :meth:`scratch`) into the cache under ``key``."""
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        audio = meta_path.with_name(f"{key}{speech.path.suffix}")
        os.replace(speech.path, audio)
        meta = {
            "file": audio.name,
            "engine": speech.engine,
            "voice": speech.voice,
            "cues": [vars(cue) for cue in speech.cues],
        }
        partial = meta_path.with_name(meta_path.name + ".partial")
        partial.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, meta_path)
        self.prune()
        return Speech(audio, speech.engine, speech.voice, speech.cues)

    def prune(self) -> None:
        """Remove the entries used least recently until the cache is within its size."""
        entries = list(self._entries())
        total = sum(size for _, _, size in entries)
        if total <= self.max_bytes:
            return
        for _, meta_path, size in sorted(entries):
            self._remove(meta_path)
            total -= size
            if total <= self.max_bytes * PRUNE_TO:
                break
        log.info("synthesis cache pruned to %.1f MB", total / 1e6)

    def _entries(self) -> Iterator[tuple[float, Path, int]]:
        for meta_path in self.root.glob("??/*.json"):
            with contextlib.suppress(OSError):
                used = meta_path.stat().st_mtime
                size = sum(path.stat().st_size for path in self._files(meta_path))
                yield used, meta_path, size

    def _files(self, meta_path: Path) -> list[Path]:
        return [path for path in meta_path.parent.glob(f"{meta_path.stem}.*") if path.is_file()]

    def _remove(self, meta_path: Path) -> None:
        meta_path.unlink(missing_ok=True)  # first: the entry is gone before its audio is
        for path in self._files(meta_path):
            path.unlink(missing_ok=True)

    def _meta_path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"
