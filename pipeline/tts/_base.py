"""One interface for every speech engine (DESIGN.md §7), and what a synthesis returns.

An engine is a :class:`Synthesizer` registered by name. It speaks one
:class:`SpeechRequest` into an audio file and returns a :class:`Speech`: the file, the
engine and voice that actually spoke, and the sentence timings it knows (for the SRT/VTT
transcript beside the clip).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pipeline._errors import TTSError, TTSInputError

MAX_RATE_PERCENT = 100
MIN_RATE_PERCENT = -50
MAX_PITCH_HZ = 50
MAX_VOLUME_PERCENT = 50
_SPEAKABLE = re.compile(r"[^\W_]")  # a letter or digit in any script


class EngineUnavailable(TTSError):  # noqa: N818 - a state, like edge-tts's NoAudioReceived
    """The engine cannot speak this request now (its service is unreachable, nothing is
    recorded for it): the next engine of the language's chain is tried."""


@dataclass(frozen=True)
class SpeechOptions:
    """Changes to an engine's default delivery; each engine maps them to its own scale."""

    rate_percent: int = 0
    pitch_hz: int = 0
    volume_percent: int = 0

    def __post_init__(self) -> None:
        if not MIN_RATE_PERCENT <= self.rate_percent <= MAX_RATE_PERCENT:
            raise TTSInputError(
                f"rate {self.rate_percent:+d}%: from {MIN_RATE_PERCENT}% to +{MAX_RATE_PERCENT}%"
            )
        if abs(self.pitch_hz) > MAX_PITCH_HZ:
            raise TTSInputError(f"pitch {self.pitch_hz:+d} Hz: at most ±{MAX_PITCH_HZ} Hz")
        if abs(self.volume_percent) > MAX_VOLUME_PERCENT:
            raise TTSInputError(f"volume {self.volume_percent:+d}%: at most ±{MAX_VOLUME_PERCENT}%")

    def to_dict(self) -> dict[str, int]:
        return {
            "rate_percent": self.rate_percent,
            "pitch_hz": self.pitch_hz,
            "volume_percent": self.volume_percent,
        }


@dataclass(frozen=True)
class Utterance:
    """A phrase bank template and its slot values, e.g. ``alert`` with hazard and level."""

    template: str
    slots: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"template": self.template, "slots": dict(sorted(self.slots.items()))}


@dataclass(frozen=True)
class SpeechRequest:
    """What to say, in which language. ``recording`` is a native speaker's recording of
    it (the ``recorded`` engine); ``utterance`` assembles it from recorded phrases (the
    ``phrasebank`` engine). ``voice`` unset: each engine's default for the language."""

    language: str
    text: str = ""
    voice: str | None = None
    options: SpeechOptions = SpeechOptions()
    recording: Path | None = None
    utterance: Utterance | None = None


@dataclass(frozen=True)
class Cue:
    """A stretch of the speech and the words spoken in it, in seconds from its start."""

    start_s: float
    end_s: float
    text: str

    def shifted(self, seconds: float) -> Cue:
        return Cue(max(self.start_s + seconds, 0.0), max(self.end_s + seconds, 0.0), self.text)


@dataclass(frozen=True)
class Speech:
    """An engine's audio file (any format the audio engine decodes) and how it was made."""

    path: Path
    engine: str
    voice: str
    cues: tuple[Cue, ...] = ()


class Synthesizer(ABC):
    """A speech engine. Built from its settings, which it checks at once."""

    name: ClassVar[str]
    needs_network: ClassVar[bool] = False
    cacheable: ClassVar[bool] = True  # False: its output is an input file, used in place

    @abstractmethod
    def voices(self, language: str) -> Sequence[str]:
        """The voices it has for ``language``, the default first; empty if it cannot
        speak the language at all."""

    @abstractmethod
    def synthesize(self, request: SpeechRequest, voice: str, out_dir: Path) -> Speech:
        """Speak ``request`` with ``voice`` into a new file in ``out_dir``.

        ``EngineUnavailable`` when it cannot speak it now (the chain goes on),
        ``TTSInputError`` for input no engine could speak, ``TTSError`` otherwise.
        """

    def identity(self, request: SpeechRequest, voice: str) -> dict[str, Any]:
        """Everything the audio depends on: the synthesis cache's key is its hash."""
        return {
            "engine": self.name,
            "version": self.version(),
            "voice": voice,
            "options": request.options.to_dict(),
            "text": request.text,
        }

    def version(self) -> str:
        """Changes when the same request would sound different (a new engine release)."""
        return ""


def require_speakable(text: str) -> str:
    """``text`` trimmed; ``TTSInputError`` if it has no letter or digit to speak."""
    words = text.strip()
    if not words:
        raise TTSInputError("the text is empty: there is nothing to speak")
    if not _SPEAKABLE.search(words):
        raise TTSInputError(f"the text {words[:40]!r} has no letters or digits to speak")
    return words
