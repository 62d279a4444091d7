"""Where the audio goes: one abstract ``Sink``, implemented in ``_file_sink`` and
``_audio_sink``."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from playout.agent._schedule import Occurrence


class Outcome(StrEnum):
    PLAYED = "played"
    FAILED = "failed"  # the sink could not play it (player crashed, timed out, ...)
    MISSED = "missed"  # the agent could not start it before not_after
    REFUSED = "refused"  # its audio is absent or failed the SHA-256 check


@dataclass(frozen=True)
class PlayResult:
    started: datetime
    ended: datetime
    outcome: Outcome
    reason: str | None = None
    file: Path | None = None  # where a file sink wrote the bytes


class Sink(abc.ABC):
    """Plays one verified audio file for one occurrence and says how it went.

    ``play`` returns a ``FAILED`` result rather than raising when the playback fails."""

    @abc.abstractmethod
    def play(self, path: Path, occurrence: Occurrence) -> PlayResult: ...
