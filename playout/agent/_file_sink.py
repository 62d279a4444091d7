"""``file:DIR`` sink: records each playback's exact bytes and a line in ``plays.jsonl``
(DESIGN.md §4). For tests, simulations and the demo."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from config import UserInputError
from playout._atomic import write_atomic
from playout.agent._clock import Clock, local_iso, unix_ms, utc_now
from playout.agent._schedule import Occurrence
from playout.agent._sink import Outcome, PlayResult, Sink

PLAYS_LOG = "plays.jsonl"
DEFAULT_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


class FileSink(Sink):
    """Writes ``DIR/<unix_ms>-<item_id>.<ext>`` and appends to ``DIR/plays.jsonl``.

    A playback takes as long as the copy: the sink does not wait out the audio's duration,
    so ``cancel`` is only looked at before the copy."""

    def __init__(
        self,
        directory: Path,
        *,
        zone: tzinfo = DEFAULT_ZONE,
        clock: Clock = utc_now,
    ) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserInputError(f"file sink {directory}: cannot create: {error}") from error
        self.directory = directory
        self._zone = zone
        self._clock = clock

    @property
    def plays_path(self) -> Path:
        return self.directory / PLAYS_LOG

    def play(self, path: Path, occurrence: Occurrence, cancel: threading.Event) -> PlayResult:
        started = self._clock()
        if cancel.is_set():
            return self._logged(occurrence, None, PlayResult(started, started, Outcome.INTERRUPTED))
        target = self.directory / f"{unix_ms(started)}-{occurrence.item.id}{path.suffix}"
        try:
            data = path.read_bytes()
            write_atomic(target, data)
        except OSError as error:
            failed = PlayResult(started, self._clock(), Outcome.FAILED, f"{target}: {error}")
            return self._logged(occurrence, None, failed)
        played = PlayResult(started, self._clock(), Outcome.PLAYED, file=target)
        return self._logged(occurrence, hashlib.sha256(data).hexdigest(), played)

    def _logged(self, occurrence: Occurrence, sha256: str | None, result: PlayResult) -> PlayResult:
        """``result``, once its line is appended to ``plays.jsonl``."""
        line = json.dumps(self._line(occurrence, sha256, result), ensure_ascii=False) + "\n"
        with self.plays_path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return result

    def _line(
        self, occurrence: Occurrence, sha256: str | None, result: PlayResult
    ) -> dict[str, object]:
        item = occurrence.item
        return {
            "commune": occurrence.commune_id,
            "item_id": item.id,
            "kind": str(item.kind),
            "priority": str(item.priority),
            "audio_sha256": sha256,
            "scheduled": local_iso(occurrence.scheduled, self._zone),
            "started": local_iso(result.started, self._zone),
            "ended": local_iso(result.ended, self._zone),
            "outcome": str(result.outcome),
            "file": str(result.file) if result.file is not None else None,
        }
