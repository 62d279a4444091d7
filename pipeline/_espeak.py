"""The ``espeak`` engine: espeak-ng, offline, Vietnamese voices (DESIGN.md §7)."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from pipeline._errors import TTSError, TTSInputError
from pipeline._tools import run_tool, tool_path

log = logging.getLogger(__name__)

VOICES_TIMEOUT_S = 30.0
# espeak-ng speaks hundreds of times faster than real time; this only stops a hang.
SYNTHESIS_TIMEOUT_BASE_S = 60.0
SYNTHESIS_TIMEOUT_PER_CHAR_S = 0.01


def synthesize_espeak(text: str, voice: str, rate_wpm: int, out_wav: Path) -> Path:
    """Speak ``text`` with espeak-ng voice ``voice`` into the WAV file ``out_wav``.

    The text goes through a UTF-8 file (``-f``, ``-b 1``), never the command line, so its
    length and quoting do not matter.
    """
    words = require_text(text)
    require_voice(voice)
    text_file = out_wav.with_name(out_wav.name + ".txt")
    text_file.write_text(words, encoding="utf-8")
    args = ["espeak-ng", "-b", "1", "-v", voice, "-s", str(rate_wpm)]
    args += ["-w", str(out_wav), "-f", str(text_file)]
    timeout = SYNTHESIS_TIMEOUT_BASE_S + SYNTHESIS_TIMEOUT_PER_CHAR_S * len(words)
    run_tool(args, timeout=timeout)
    log.debug("espeak-ng spoke %d characters with voice %s", len(words), voice)
    return out_wav


def require_text(text: str) -> str:
    """``text`` without surrounding white space; ``TTSInputError`` if nothing is left."""
    words = text.strip()
    if not words:
        raise TTSInputError("the text is empty: there is nothing to speak")
    return words


def require_voice(voice: str) -> None:
    """``TTSError`` unless espeak-ng has ``voice`` (a language, voice name or file name)."""
    base = voice.partition("+")[0].lower()  # "vi+f3": voice "vi", variant "f3"
    installed = installed_voices(tool_path("espeak-ng"))
    if base not in installed:
        vietnamese = sorted(name for name in installed if name.startswith("vi"))
        raise TTSError(
            f"espeak-ng has no voice {voice!r}: set tts.espeak_voice to one of {vietnamese}"
        )


@functools.cache
def installed_voices(espeak: str) -> frozenset[str]:
    """Every name espeak-ng's ``-v`` accepts, lower-cased (``espeak`` keys the cache)."""
    listing = run_tool(["espeak-ng", "--voices"], timeout=VOICES_TIMEOUT_S).stdout
    names: set[str] = set()
    for row in listing.splitlines()[1:]:
        columns = row.split()
        if len(columns) >= 5:
            language, voice_name, file = columns[1], columns[3], columns[4]
            names.update({language, voice_name, file, file.rpartition("/")[2]})
    return frozenset(name.lower() for name in names)
