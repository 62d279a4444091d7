"""The pipeline's errors (DESIGN.md §9).

Two kinds of failure, as in beets: one clip's failure (``AudioError``, ``TTSError``: skip
that item, report it, go on) and a fatal one (``ToolNotFoundError``: stop before work
begins). The ``...InputError`` variants blame the user's input and exit with code 2.
"""

from __future__ import annotations

from config import LoaError, UserInputError


class AudioError(LoaError):
    """Processing audio failed: ffmpeg failed, or a clip cannot be brought to the policy."""


class AudioInputError(AudioError, UserInputError):
    """The audio given is unusable: not audio, no audio stream, silent or too short."""

    exit_code = 2


class TTSError(LoaError):
    """Text-to-speech failed."""


class TTSInputError(TTSError, UserInputError):
    """The text or its language cannot be spoken: empty text, a language with no engine."""

    exit_code = 2


class ToolNotFoundError(LoaError):
    """A tool the pipeline runs (ffmpeg, ffprobe, espeak-ng), or a part of one, is missing."""
