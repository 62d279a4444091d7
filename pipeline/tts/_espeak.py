"""The ``espeak`` engine: espeak-ng, offline, Vietnamese voices (DESIGN.md §7).

The fallback every Vietnamese chain ends in: no network, no model files, and fast (an
hour of speech in seconds), so an alert never waits for anything.

espeak-ng's command line reports no timings, so each sentence is spoken by a run of its
own (about 10 ms each, two at a time) and the WAVs are joined: the lengths give every
sentence's cue for the transcript. A very long text is spoken in at most ``MAX_RUNS``
runs of several sentences each.
"""

from __future__ import annotations

import functools
import logging
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

from config import EspeakSettings
from pipeline._errors import TTSError
from pipeline._tools import run_tool, tool_path
from pipeline.tts._base import Cue, Speech, SpeechRequest, Synthesizer, require_speakable
from pipeline.tts._sentences import split_sentences

log = logging.getLogger(__name__)

VOICES_TIMEOUT_S = 30.0
# espeak-ng speaks hundreds of times faster than real time; this only stops a hang.
SYNTHESIS_TIMEOUT_BASE_S = 60.0
SYNTHESIS_TIMEOUT_PER_CHAR_S = 0.01
VIETNAMESE_VOICES = ("vi", "vi-vn-x-central", "vi-vn-x-south")
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450
DEFAULT_AMPLITUDE = 100
PITCH_STEPS_PER_HZ = 0.5  # espeak-ng's 0-99 pitch has no unit; ±50 Hz spans ±25 steps
MAX_RUNS = 200  # beyond this many sentences, a run speaks several (and a cue covers them)
PARALLEL_RUNS = 2  # espeak-ng uses one core; the machines Loa runs on have two or more
_JOIN_FRAMES = 1 << 16


class EspeakEngine(Synthesizer):
    """espeak-ng's Vietnamese voices: the configured one first, then the others."""

    name: ClassVar[str] = "espeak"

    def __init__(self, settings: EspeakSettings) -> None:
        require_voice(settings.voice)
        self._settings = settings

    def voices(self, language: str) -> Sequence[str]:
        if language != "vi":
            return []
        others = [voice for voice in VIETNAMESE_VOICES if voice != self._settings.voice]
        return [self._settings.voice, *others]

    def version(self) -> str:
        return espeak_version(tool_path("espeak-ng"))

    def synthesize(self, request: SpeechRequest, voice: str, out_dir: Path) -> Speech:
        require_speakable(request.text)
        require_voice(voice)
        runs = _runs(split_sentences(request.text))
        parts = [out_dir / f"sentence-{index:04d}.wav" for index in range(len(runs))]
        arguments = self._arguments(request)
        with ThreadPoolExecutor(PARALLEL_RUNS, "loa-espeak") as pool:
            list(pool.map(lambda run, part: synthesize_espeak(run, voice, arguments, part),
                          runs, parts))  # fmt: skip
        out = out_dir / "speech.wav"
        return Speech(out, self.name, voice, _joined(parts, runs, out))

    def _arguments(self, request: SpeechRequest) -> list[str]:
        options = request.options
        rate = round(self._settings.rate_wpm * (1 + options.rate_percent / 100))
        pitch = round(self._settings.pitch + options.pitch_hz * PITCH_STEPS_PER_HZ)
        amplitude = round(DEFAULT_AMPLITUDE * (1 + options.volume_percent / 100))
        return [
            "-s", str(min(max(rate, MIN_RATE_WPM), MAX_RATE_WPM)),
            "-p", str(min(max(pitch, 0), 99)),
            "-a", str(amplitude),
        ]  # fmt: skip


def _runs(sentences: list[str]) -> list[str]:
    """The sentences that can be spoken, grouped into at most ``MAX_RUNS`` runs."""
    speakable = [sentence for sentence in sentences if _has_words(sentence)]
    per_run = -(-len(speakable) // MAX_RUNS)
    return [" ".join(speakable[i : i + per_run]) for i in range(0, len(speakable), per_run)]


def _has_words(sentence: str) -> bool:
    return any(character.isalnum() for character in sentence)


def _joined(parts: list[Path], runs: list[str], out: Path) -> tuple[Cue, ...]:
    """``parts`` joined into ``out`` (deleted as they go); one cue per run."""
    cues: list[Cue] = []
    frames_before = 0
    with wave.open(str(out), "wb") as joined:
        for index, (part, text) in enumerate(zip(parts, runs, strict=True)):
            with wave.open(str(part), "rb") as piece:
                if index == 0:
                    joined.setparams(piece.getparams())
                rate, frames = piece.getframerate(), piece.getnframes()
                while data := piece.readframes(_JOIN_FRAMES):
                    joined.writeframes(data)
            cues.append(Cue(frames_before / rate, (frames_before + frames) / rate, text))
            frames_before += frames
            part.unlink()
    return tuple(cues)


def synthesize_espeak(text: str, voice: str, arguments: Sequence[str], out_wav: Path) -> Path:
    """Speak ``text`` with espeak-ng voice ``voice`` into the WAV file ``out_wav``.

    The text goes through a UTF-8 file (``-f``, ``-b 1``), never the command line, so its
    length and quoting do not matter.
    """
    words = require_speakable(text)
    require_voice(voice)
    text_file = out_wav.with_name(out_wav.name + ".txt")
    text_file.write_text(words, encoding="utf-8")
    args = ["espeak-ng", "-b", "1", "-v", voice, *arguments]
    args += ["-w", str(out_wav), "-f", str(text_file)]
    timeout = SYNTHESIS_TIMEOUT_BASE_S + SYNTHESIS_TIMEOUT_PER_CHAR_S * len(words)
    run_tool(args, timeout=timeout)
    text_file.unlink()
    log.debug("espeak-ng spoke %d characters with voice %s", len(words), voice)
    return out_wav


def require_voice(voice: str) -> None:
    """``TTSError`` unless espeak-ng has ``voice`` (a language, voice name or file name)."""
    base = voice.partition("+")[0].lower()  # "vi+f3": voice "vi", variant "f3"
    installed = installed_voices(tool_path("espeak-ng"))
    if base not in installed:
        vietnamese = sorted(name for name in installed if name.startswith("vi"))
        raise TTSError(
            f"espeak-ng has no voice {voice!r}: set tts.espeak.voice to one of {vietnamese}"
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


@functools.cache
def espeak_version(espeak: str) -> str:
    """``espeak-ng --version``'s first line (``espeak`` keys the cache)."""
    output = run_tool(["espeak-ng", "--version"], timeout=VOICES_TIMEOUT_S).stdout
    return output.strip().splitlines()[0] if output.strip() else "espeak-ng"
