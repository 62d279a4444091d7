"""The ``phrasebank`` engine: speech assembled from a native speaker's recorded phrases.

No open TTS speaks Hà Nhì, La Hủ, Tày or H'Mông (DESIGN.md §7). A district records a
speaker saying a fixed set of phrases (an attention call, each hazard, each risk level,
each commune, the numbers of dates and times, a few connective words) and an alert is
assembled from them: a template lists phrase ids and slots, the slots are filled from the
alert, every phrase is looked up before any audio is made, and the recordings are joined
with short gaps into one WAV file.

One folder per language under the engine's root::

    <root>/<language>/index.yaml     the phrases, date and time formats, templates
    <root>/<language>/...            the recordings (any format ffmpeg decodes)

Reading the index is ``_phrasebank_index``; turning templates, slots and text into phrase
ids is ``_phrasebank_slots``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pipeline._media import decode_timeout_s, media_url
from pipeline._meter import Samples
from pipeline._programme import Gap, Part, programme_source
from pipeline._source import SOURCE_LABEL, Source, read_samples
from pipeline._tools import run_tool
from pipeline.tts._base import (
    Cue,
    EngineUnavailable,
    Speech,
    SpeechRequest,
    Synthesizer,
    require_speakable,
)
from pipeline.tts._phrasebank_index import (
    INDEX_FILE,
    LANGUAGE_CODE,
    Phrase,
    PhraseBank,
    PhrasebankError,
)

__all__ = [
    "INDEX_FILE",
    "LANGUAGE_CODE",
    "MissingPhrases",
    "PhraseBank",
    "PhrasebankEngine",
    "PhrasebankError",
]

# Sample rate of the assembled speech: the audio policy's (DESIGN.md §6), so processing
# does not resample it again.
ASSEMBLY_SAMPLE_RATE = 48000
# Changes when the same phrases would be assembled differently (it keys the TTS cache).
ASSEMBLY_VERSION = "2"  # 2: PCM WAV phrases of one format are joined at their own rate
_FFMPEG_TO_WAV = ("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error")

_IndexStamp = tuple[int, int]  # the index's mtime (ns) and size


class MissingPhrases(EngineUnavailable):
    """The bank has no recording for some phrases the speech needs; all of them are named.

    An ``EngineUnavailable``, so a chain goes on to its next engine; exit code 2 because
    the fix is the district's (record the phrases), not a retry.
    """

    exit_code = 2

    def __init__(self, language: str, index: Path, phrase_ids: Sequence[str]) -> None:
        self.language = language
        self.index = index
        self.phrase_ids = tuple(sorted(set(phrase_ids)))
        count = len(self.phrase_ids)
        super().__init__(
            f"phrase bank {language!r} ({index}) has no recording for {count} "
            f"phrase{'s' if count != 1 else ''}: {', '.join(self.phrase_ids)}; "
            "record them and add them to the index"
        )

    def __reduce__(self) -> tuple[type[MissingPhrases], tuple[str, Path, tuple[str, ...]]]:
        # Crosses process boundaries (a worker pool) with its own arguments.
        return (MissingPhrases, (self.language, self.index, self.phrase_ids))


class PhrasebankEngine(Synthesizer):
    """Speaks from the phrase banks under ``root`` (one folder per language); a missing
    root is an engine with no languages. Banks are read when first needed and read again
    when their index changes."""

    name: ClassVar[str] = "phrasebank"

    def __init__(self, root: Path) -> None:
        if root.exists() and not root.is_dir():
            raise PhrasebankError(f"{root}: the phrase bank root is not a folder")
        self.root = root
        self._banks: dict[str, tuple[_IndexStamp, PhraseBank]] = {}
        self._lock = threading.Lock()

    def languages(self) -> list[str]:
        """The languages that have a bank (a folder with an index) under the root."""
        if not self.root.is_dir():
            return []
        return sorted(
            folder.name
            for folder in self.root.iterdir()
            if LANGUAGE_CODE.fullmatch(folder.name) and (folder / INDEX_FILE).is_file()
        )

    def bank(self, language: str) -> PhraseBank | None:
        """The bank of ``language``, or ``None`` if it has none; ``PhrasebankError`` if
        its index is invalid."""
        if not LANGUAGE_CODE.fullmatch(language):
            return None  # the language names a folder: nothing like "../x" gets that far
        stamp = _index_stamp(self.root / language)
        if stamp is None:
            return None
        with self._lock:
            cached = self._banks.get(language)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        return self._load(language, stamp)

    def voices(self, language: str) -> Sequence[str]:
        bank = self.bank(language)
        return [] if bank is None else [bank.voice]

    def version(self) -> str:
        return ASSEMBLY_VERSION

    def synthesize(self, request: SpeechRequest, voice: str, out_dir: Path) -> Speech:
        """Assemble ``request`` from the bank of its language into one WAV in ``out_dir``.

        Every phrase is resolved before any audio is made: ``MissingPhrases`` names all
        the ids not recorded, and nothing is written.
        """
        bank = self._require_bank(request.language)
        if voice != bank.voice:
            raise EngineUnavailable(
                f"phrase bank {bank.language!r} has voice {bank.voice!r}, not {voice!r}"
            )
        phrases = _resolve(bank, _phrase_ids(bank, request))
        return _assemble(bank, phrases, out_dir)

    def identity(self, request: SpeechRequest, voice: str) -> dict[str, Any]:
        bank = self.bank(request.language)
        return {
            "engine": self.name,
            "version": self.version(),
            "language": request.language,
            "bank": None if bank is None else bank.fingerprint(),
            "voice": voice,
            **_said(request),
        }

    def _load(self, language: str, stamp: _IndexStamp) -> PhraseBank:
        bank = PhraseBank.load(self.root / language)
        if bank.language != language:
            raise PhrasebankError(
                f"{bank.index_path}: language: {bank.language!r}, but the folder is {language!r}"
            )
        with self._lock:
            self._banks[language] = (stamp, bank)
        return bank

    def _require_bank(self, language: str) -> PhraseBank:
        bank = self.bank(language)
        if bank is None:
            raise EngineUnavailable(f"no phrase bank for language {language!r} in {self.root}")
        return bank


def _index_stamp(folder: Path) -> _IndexStamp | None:
    try:
        stat = (folder / INDEX_FILE).stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (stat.st_mtime_ns, stat.st_size)


def _said(request: SpeechRequest) -> dict[str, Any]:
    if request.utterance is not None:
        return {"utterance": request.utterance.to_dict()}
    return {"text": request.text}


def _phrase_ids(bank: PhraseBank, request: SpeechRequest) -> list[str]:
    if request.utterance is not None:
        return bank.expand(request.utterance)
    return bank.cover(require_speakable(request.text))


def _resolve(bank: PhraseBank, phrase_ids: Sequence[str]) -> list[Phrase]:
    """The phrases, in order; ``MissingPhrases`` naming every id the bank lacks."""
    missing = [phrase_id for phrase_id in phrase_ids if phrase_id not in bank.phrases]
    if missing:
        raise MissingPhrases(bank.language, bank.index_path, missing)
    return [bank.phrases[phrase_id] for phrase_id in phrase_ids]


# --- Assembling the audio ---------------------------------------------------------------


def _assemble(bank: PhraseBank, phrases: Sequence[Phrase], out_dir: Path) -> Speech:
    durations = [_duration_s(phrase.file) for phrase in phrases]
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"phrasebank-{bank.language}-{_speech_digest(bank, phrases)}.wav"
    files = [phrase.file for phrase in phrases]
    if not _join_alike_wavs(files, bank.gap_s, target):
        source = programme_source(
            _programme(phrases, bank.gap_s),
            sample_rate=ASSEMBLY_SAMPLE_RATE,
            channels=1,
            name=f"phrase bank {bank.language!r}",
        )
        _write_wav(source, target)
    cues = _cues(phrases, durations, bank.gap_s)
    return Speech(path=target, engine=PhrasebankEngine.name, voice=bank.voice, cues=cues)


def _join_alike_wavs(files: Sequence[Path], gap_s: float, target: Path) -> bool:
    """Join PCM WAVs of one format with ``gap_s`` of silence, in Python: an alert is
    ready in milliseconds instead of a probe and an ffmpeg run per phrase. ``False``
    (nothing written) if the files are not all PCM WAVs of one format."""
    formats = {_pcm_wav_format(path) for path in files}
    if len(formats) != 1 or None in formats:
        return False
    partial = target.with_name(f".{target.name}.partial")
    with wave.open(str(partial), "wb") as joined:
        for index, path in enumerate(files):
            with wave.open(str(path), "rb") as phrase:
                if index == 0:
                    joined.setparams(phrase.getparams())
                    zero = b"\x80" if phrase.getsampwidth() == 1 else b"\0"  # 8-bit is unsigned
                    silence = zero * round(gap_s * phrase.getframerate()) * _frame_bytes(phrase)
                else:
                    joined.writeframes(silence)
                joined.writeframes(phrase.readframes(phrase.getnframes()))
    partial.replace(target)
    return True


def _pcm_wav_format(path: Path) -> tuple[int, int, int] | None:
    """(channels, sample width, rate) of a plain PCM WAV whose header agrees with its size."""
    if _pcm_wav_duration_s(path) is None:
        return None
    with wave.open(str(path), "rb") as recording:
        return recording.getnchannels(), recording.getsampwidth(), recording.getframerate()


def _frame_bytes(recording: wave.Wave_read) -> int:
    return recording.getnchannels() * recording.getsampwidth()


def _write_wav(source: Source, target: Path) -> None:
    """Render ``source`` to a 16-bit PCM WAV beside ``target``, then rename it into place."""
    partial = target.with_name(f".{target.name}.partial")
    inputs = [arg for path in source.inputs for arg in ("-i", media_url(path))]
    args = [*_FFMPEG_TO_WAV, *inputs, "-filter_complex", source.graph]
    args += ["-map", f"[{SOURCE_LABEL}]", "-c:a", "pcm_s16le", "-f", "wav", "-y"]
    try:
        run_tool([*args, media_url(partial)], timeout=decode_timeout_s(source.duration_s))
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _programme(phrases: Sequence[Phrase], gap_s: float) -> list[Part | Gap]:
    parts: list[Part | Gap] = []
    for phrase in phrases:
        if parts:
            parts.append(Gap(gap_s))
        parts.append(Part(phrase.file))
    return parts


def _duration_s(path: Path) -> float:
    """How long a recording lasts: from its header if it is a plain PCM WAV, else by
    decoding it, because ffprobe's figure for a compressed file counts the encoder's
    padding (70 ms on a short MP3)."""
    seconds = _pcm_wav_duration_s(path)
    if seconds is not None:
        return seconds
    source = Source.of_file(path)  # names a file with no audio
    return read_samples(source, _discard_samples) / source.sample_rate


def _pcm_wav_duration_s(path: Path) -> float | None:
    """From the header of a plain PCM WAV that agrees with the file's size (no process to
    start); ``None`` for any other file."""
    try:
        with wave.open(str(path), "rb") as recording:
            frames, rate = recording.getnframes(), recording.getframerate()
            data_bytes = frames * recording.getsampwidth() * recording.getnchannels()
        if rate and 0 < data_bytes <= path.stat().st_size:
            return frames / rate
    except (wave.Error, EOFError, OSError):
        pass  # not a PCM WAV
    return None


def _discard_samples(plain: Samples, weighted: Samples) -> None:
    return None


def _cues(phrases: Sequence[Phrase], durations: Sequence[float], gap_s: float) -> tuple[Cue, ...]:
    cues: list[Cue] = []
    start_s = 0.0
    for phrase, duration_s in zip(phrases, durations, strict=True):
        cues.append(Cue(start_s, start_s + duration_s, phrase.transcript))
        start_s += duration_s + gap_s
    return tuple(cues)


def _speech_digest(bank: PhraseBank, phrases: Sequence[Phrase]) -> str:
    said = json.dumps([phrase.id for phrase in phrases]) + bank.fingerprint()
    return hashlib.sha256(said.encode()).hexdigest()[:16]
