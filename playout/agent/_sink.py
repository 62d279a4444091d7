"""Where the audio goes: the loudspeakers (``AudioSink``) or a directory (``FileSink``)."""

from __future__ import annotations

import abc
import threading
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from playout.agent._schedule import Occurrence


class Outcome(StrEnum):
    """What became of one occurrence (the ``outcome`` of its as-run receipt)."""

    PLAYED = "played"  # played to its end
    INTERRUPTED = "interrupted"  # started, then stopped on purpose (manifest change, stop)
    SKIPPED = "skipped"  # never started: its not_after passed first
    FAILED = "failed"  # could not be played: audio refused or unobtainable, player failed


@dataclass(frozen=True)
class PlayResult:
    """``started`` and ``ended`` are read from the sink's clock (this host's)."""

    started: datetime
    ended: datetime
    outcome: Outcome
    reason: str | None = None
    file: Path | None = None  # where a file sink wrote the bytes


class Sink(abc.ABC):
    """Plays one verified audio file for one occurrence and says how it went.

    ``play`` returns a ``FAILED`` result rather than raising when the playback fails. It
    stops promptly once ``cancel`` is set (then the result is ``INTERRUPTED``, unless the
    playback had already ended by itself)."""

    @abc.abstractmethod
    def play(self, path: Path, occurrence: Occurrence, cancel: threading.Event) -> PlayResult: ...
