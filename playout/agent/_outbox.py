"""Reports waiting to be uploaded: ``<agent dir>/outbox/``. Every receipt goes through
it, so one written before a power cut or during an outage is sent later, not lost."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from playout._objectstore import ObjectStore
from playout.agent._atomic import PARTIAL_SUFFIX, write_atomic

log = logging.getLogger(__name__)

_UNREADABLE_SUFFIX = ".unreadable"


class Outbox:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory

    def put(self, key: str, document: dict[str, Any]) -> None:
        # The key's last two parts (day, unix_ms-item) are unique and sort by time.
        name = "_".join(key.split("/")[-2:])
        entry = {"key": key, "document": document}
        write_atomic(self.directory / name, json.dumps(entry, ensure_ascii=False).encode())

    def pending(self) -> int:
        return len(self._entries())

    def send(self, store: ObjectStore) -> int:
        """Upload in order, deleting each once stored; ``StorageError`` stops the round."""
        sent = 0
        for path in self._entries():
            entry = _read_entry(path)
            if entry is None:
                continue
            body = json.dumps(entry["document"], ensure_ascii=False, indent=1).encode()
            store.put_bytes(entry["key"], body, "application/json")
            path.unlink()
            sent += 1
        if sent:
            log.info("sent %d as-run receipt(s)", sent)
        return sent

    def _entries(self) -> list[Path]:
        return sorted(
            path
            for path in self.directory.iterdir()
            if not path.name.endswith((PARTIAL_SUFFIX, _UNREADABLE_SUFFIX))
        )


def _read_entry(path: Path) -> dict[str, Any] | None:
    """The queued entry, or ``None`` after setting an unreadable one aside: one damaged
    file must not hold back every later receipt."""
    try:
        entry = json.loads(path.read_bytes())
        if isinstance(entry, dict) and isinstance(entry.get("key"), str) and "document" in entry:
            return entry
    except ValueError:
        pass
    log.error("%s: unreadable queued receipt; set aside", path)
    path.rename(path.with_name(path.name + _UNREADABLE_SUFFIX))
    return None
