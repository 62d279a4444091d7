"""Reports waiting to be uploaded: ``<agent dir>/outbox/``. Every receipt goes through
it, so one written before a power cut or during an outage is sent later, not lost.

When the disk is full a receipt is kept in memory instead, still sent with the others,
and written to the outbox as soon as there is room (``flush``)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from playout._atomic import PARTIAL_SUFFIX, write_atomic
from playout._objectstore import ObjectStore

log = logging.getLogger(__name__)

_UNREADABLE_SUFFIX = ".unreadable"


class Outbox:
    """Thread-safe: the playout thread puts, the link thread sends and flushes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._unwritten: dict[str, dict[str, Any]] = {}  # file name -> entry
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            log.error("%s: cannot create (%s); receipts kept in memory", directory, error)

    def put(self, key: str, document: dict[str, Any]) -> OSError | None:
        """Queue one report under its storage key; the error when only memory holds it."""
        # The key's last two parts (day, unix_ms-item) are unique and sort by time.
        name = "_".join(key.split("/")[-2:])
        entry = {"key": key, "document": document}
        with self._lock:
            try:
                self._write(name, entry)
            except OSError as error:
                self._unwritten[name] = entry
                return error
        return None

    def flush(self) -> OSError | None:
        """Write the reports held in memory; the error if some still cannot be."""
        with self._lock:
            for name, entry in sorted(self._unwritten.items()):
                try:
                    self._write(name, entry)
                except OSError as error:
                    return error
                del self._unwritten[name]
        return None

    def pending(self) -> int:
        with self._lock:
            return len(self._entries()) + len(self._unwritten)

    def send(self, store: ObjectStore) -> int:
        """Upload in order, forgetting each once stored; ``StorageError`` stops the round."""
        sent = 0
        for name, source in self._queued():
            entry = _read_entry(source) if isinstance(source, Path) else source
            if entry is None:
                continue
            body = json.dumps(entry["document"], ensure_ascii=False, indent=1).encode()
            store.put_bytes(entry["key"], body, "application/json")
            self._forget(name, source)
            sent += 1
        if sent:
            log.info("sent %d as-run receipt(s)", sent)
        return sent

    def _queued(self) -> list[tuple[str, Path | dict[str, Any]]]:
        with self._lock:
            queued: list[tuple[str, Path | dict[str, Any]]] = [
                (path.name, path) for path in self._entries()
            ]
            queued += self._unwritten.items()
        return sorted(queued, key=lambda pair: pair[0])

    def _forget(self, name: str, source: Path | dict[str, Any]) -> None:
        with self._lock:
            if isinstance(source, Path):
                source.unlink(missing_ok=True)
            # A flush may have written it meanwhile: drop that copy too.
            elif self._unwritten.pop(name, None) is None:
                (self.directory / name).unlink(missing_ok=True)

    def _write(self, name: str, entry: dict[str, Any]) -> None:
        write_atomic(self.directory / name, json.dumps(entry, ensure_ascii=False).encode())

    def _entries(self) -> list[Path]:
        try:
            paths = list(self.directory.iterdir())
        except FileNotFoundError:
            return []
        return sorted(
            path for path in paths if not path.name.endswith((PARTIAL_SUFFIX, _UNREADABLE_SUFFIX))
        )


def _read_entry(path: Path) -> dict[str, Any] | None:
    """The queued entry, or ``None`` after setting an unreadable one aside: one damaged
    file must not hold back every later receipt."""
    try:
        entry = json.loads(path.read_bytes())
        if isinstance(entry, dict) and isinstance(entry.get("key"), str) and "document" in entry:
            return entry
    except FileNotFoundError:
        return None  # sent by another round meanwhile
    except ValueError:
        pass
    log.error("%s: unreadable queued receipt; set aside", path)
    path.rename(path.with_name(path.name + _UNREADABLE_SUFFIX))
    return None
