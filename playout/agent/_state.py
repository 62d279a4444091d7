"""What the agent remembers across restarts: ``<agent dir>/state.json``."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from playout._atomic import write_atomic
from playout.agent._schedule import LOOKBACK, Occurrence

log = logging.getLogger(__name__)

STATE_VERSION = 1


class LocalState:
    """The last accepted manifest (sequence, SHA-256, ETag) and the occurrences already
    handled, saved atomically after every change.

    Thread-safe: the link thread records manifests while the playout thread records
    occurrences. Each change and its save happen under one lock, so the file on disk is
    always the latest whole state. A change is made in memory even when the save fails
    (a full disk): ``write_error`` says so, and ``flush`` saves it once space returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.sequence: int | None = None
        self.manifest_sha256: str | None = None
        self.etag: str | None = None
        self.write_error: OSError | None = None
        self._done: set[tuple[str, str]] = set()
        self._load()

    def accept(self, sequence: int, manifest_sha256: str, etag: str | None) -> None:
        with self._lock:
            self.sequence, self.manifest_sha256, self.etag = sequence, manifest_sha256, etag
            self._save()

    def is_done(self, occurrence: Occurrence) -> bool:
        with self._lock:
            return occurrence.key in self._done

    def mark_done(self, occurrences: Iterable[Occurrence], now: datetime) -> None:
        """Remember these occurrences, and forget those older than ``LOOKBACK``."""
        horizon = now - LOOKBACK
        with self._lock:
            self._done.update(occurrence.key for occurrence in occurrences)
            self._done = {key for key in self._done if datetime.fromisoformat(key[1]) >= horizon}
            self._save()

    def forget(self, occurrence: Occurrence) -> None:
        """Make ``occurrence`` pending again (an interrupted item that is to restart)."""
        with self._lock:
            self._done.discard(occurrence.key)
            self._save()

    def flush(self) -> OSError | None:
        """Retry a save that failed; the error if it fails again."""
        with self._lock:
            if self.write_error is not None:
                self._save()
            return self.write_error

    def _save(self) -> None:
        try:
            self._write()
        except OSError as error:
            if self.write_error is None:
                log.error("%s: cannot save (%s); kept in memory until it can", self.path, error)
            self.write_error = error
            return
        if self.write_error is not None:
            log.info("%s: saved again", self.path)
        self.write_error = None

    def _write(self) -> None:
        document = {
            "version": STATE_VERSION,
            "manifest": {
                "sequence": self.sequence,
                "sha256": self.manifest_sha256,
                "etag": self.etag,
            },
            "done": [{"item_id": item, "scheduled": at} for item, at in sorted(self._done)],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(document, indent=1).encode("utf-8"))

    def _load(self) -> None:
        try:
            document = json.loads(self.path.read_bytes())
            self._adopt(document)
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError) as error:
            # Written atomically, so this is damage from outside; starting empty (and
            # perhaps replaying an item) beats leaving the loudspeakers silent.
            log.error("%s: unreadable (%s); starting with empty state", self.path, error)

    def _adopt(self, document: dict[str, Any]) -> None:
        manifest = document["manifest"]
        accepted = (manifest["sequence"], manifest["sha256"], manifest["etag"])
        done = {(entry["item_id"], entry["scheduled"]) for entry in document["done"]}
        for _, scheduled in done:
            datetime.fromisoformat(scheduled)  # ValueError now rather than when pruning
        self.sequence, self.manifest_sha256, self.etag = accepted
        self._done = done
