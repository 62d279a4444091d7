"""The ``recorded`` engine: a native speaker's recording is the speech (DESIGN.md §7).

For most languages of the districts there is no TTS at all; a person reads the item and
uploads the recording for that language's variant. The recording is used as it is (the
audio engine brings it to the loudness policy), so nothing is synthesised or cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from pipeline._media import probe_audio
from pipeline.tts._base import EngineUnavailable, Speech, SpeechRequest, Synthesizer

VOICE = "recording"


class NoRecording(EngineUnavailable):
    """Nobody has recorded this variant: the user's to fix, so the exit code is 2."""

    exit_code = 2


class RecordedEngine(Synthesizer):
    """Any language, as long as someone recorded this item in it."""

    name: ClassVar[str] = "recorded"
    cacheable: ClassVar[bool] = False

    def voices(self, language: str) -> Sequence[str]:
        return [VOICE]

    def synthesize(self, request: SpeechRequest, voice: str, out_dir: Path) -> Speech:
        if request.recording is None:
            raise NoRecording("no recording was uploaded for this language's variant")
        probe_audio(request.recording)  # AudioInputError names a file that is not audio
        return Speech(request.recording, self.name, voice)
