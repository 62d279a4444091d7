"""Text or a recording → one clip that meets the audio policy (DESIGN.md §6).

The thinnest honest path: espeak-ng speaks, ffmpeg processes and encodes, and the encoded
file is decoded and measured again. Later work replaces the insides, not this interface.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import AudioSettings, TTSSettings
from pipeline._errors import AudioError, AudioInputError, TTSInputError
from pipeline._espeak import require_text, synthesize_espeak
from pipeline._filters import Trim, channel_layout, finish_filters, prepare_filters, silence_trim
from pipeline._gain import MAX_ENCODES, Attempt, GainStep, best_attempt, first_step, is_on_target
from pipeline._gain import next_step as next_gain_step
from pipeline._loudness import LOUDNESS_FLOOR_LUFS, LoudnessReport, measure, run_metered
from pipeline._media import decode_timeout_s, media_url
from pipeline._policy import policy_problems
from pipeline._tools import run_tool

log = logging.getLogger(__name__)

EXTENSION = "mp3"
ESPEAK_LANGUAGES = frozenset({"vi"})
MIN_MEASURABLE_S = 0.4  # one BS.1770 gating block
_HASH_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class Clip:
    """An encoded clip, named by its SHA-256, with its loudness before and after."""

    path: Path
    sha256: str
    bytes: int
    duration_ms: int
    input: LoudnessReport
    output: LoudnessReport
    engine: str
    voice: str
    extension: str = EXTENSION

    def policy_problems(self, audio: AudioSettings) -> list[str]:
        return policy_problems(self.output, audio)

    def meets_policy(self, audio: AudioSettings) -> bool:
        return not self.policy_problems(audio)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "bytes": self.bytes,
            "duration_ms": self.duration_ms,
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "engine": self.engine,
            "voice": self.voice,
            "extension": self.extension,
        }


@dataclass(frozen=True)
class _Prepared:
    path: Path
    lufs: float
    duration_s: float
    trim: Trim


def render_text(
    text: str, language: str, *, audio: AudioSettings, tts: TTSSettings, out_dir: Path
) -> Clip:
    """Speak ``text`` in ``language`` and process it into a clip in ``out_dir``."""
    voice = _espeak_voice(language, tts)
    require_text(text)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _work_dir(out_dir) as work:
        speech = synthesize_espeak(text, voice, tts.espeak_rate_wpm, work / "speech.wav")
        return process_file(speech, audio=audio, out_dir=out_dir, engine="espeak", voice=voice)


def _espeak_voice(language: str, tts: TTSSettings) -> str:
    if language.lower() not in ESPEAK_LANGUAGES:
        raise TTSInputError(
            f"no text-to-speech engine for language {language!r} yet: upload a recording"
        )
    return tts.espeak_voice


def process_file(
    source: Path,
    *,
    audio: AudioSettings,
    out_dir: Path,
    engine: str = "recorded",
    voice: str = "",
) -> Clip:
    """Process ``source`` (any audio ffmpeg reads) into ``out_dir/<sha256>.mp3``.

    Raises ``AudioInputError`` for a file that is not usable audio, and ``AudioError`` if
    the result cannot be brought within the policy; then no clip is written.
    """
    source_report = measure(source)
    _require_measurable(source, source_report)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _work_dir(out_dir) as work:
        prepared = _prepare(source, source_report, audio, work)
        attempt = _encode_to_policy(source, prepared, audio, work)
        clip = _store(attempt, out_dir, source_report, engine=engine, voice=voice)
    log.info(
        "clip %s: %.1f LUFS, %.1f dBTP, %d ms (from %s)",
        clip.sha256[:12], clip.output.lufs, clip.output.true_peak_dbtp, clip.duration_ms, source,
    )  # fmt: skip
    return clip


def _require_measurable(source: Path, report: LoudnessReport) -> None:
    if report.duration_s < MIN_MEASURABLE_S:
        raise AudioInputError(
            f"{source}: {report.duration_s:.2f} s of audio is too short to measure its "
            f"loudness (at least {MIN_MEASURABLE_S} s is needed)"
        )
    if report.is_silent:
        raise AudioInputError(f"{source}: silent (nothing above {LOUDNESS_FLOOR_LUFS} LUFS)")


@contextmanager
def _work_dir(out_dir: Path) -> Iterator[Path]:
    """A scratch directory beside the output, so the final rename stays on one file system."""
    with tempfile.TemporaryDirectory(
        prefix=".loa-render-", dir=out_dir, ignore_cleanup_errors=True
    ) as work:
        yield Path(work)


def _prepare(source: Path, report: LoudnessReport, audio: AudioSettings, work: Path) -> _Prepared:
    prepared = work / "prepared.wav"
    # Float samples: the level set here may exceed 0 dBFS until the limiter runs.
    output_args = ["-c:a", "pcm_f32le", "-rf64", "auto", "-f", "wav", "-y", media_url(prepared)]
    filters = prepare_filters(audio, pregain_db=audio.target_lufs - report.lufs)
    metered = run_metered(source, filters, output_args, timeout=decode_timeout_s(report.duration_s))
    if metered.lufs <= LOUDNESS_FLOOR_LUFS:
        raise AudioInputError(f"{source}: no sound is left after mixing to {channel_layout(audio)}")
    trim = silence_trim(metered.stderr, metered.duration_s)
    return _Prepared(prepared, metered.lufs, metered.duration_s, trim)


def _encode_to_policy(
    source: Path, prepared: _Prepared, audio: AudioSettings, work: Path
) -> Attempt:
    attempts: list[Attempt] = []
    step = first_step(prepared.lufs, audio)
    for number in range(1, MAX_ENCODES + 1):
        attempts.append(_encode_attempt(prepared, step, audio, work / f"try-{number}.mp3"))
        if is_on_target(attempts[-1].output, audio):
            break
        step = next_gain_step(attempts, audio)
    best = best_attempt(attempts, audio)
    if best is None:
        problems = "; ".join(policy_problems(attempts[-1].output, audio))
        raise AudioError(
            f"{source}: cannot meet the audio policy after {len(attempts)} tries: {problems}"
        )
    return best


def _encode_attempt(
    prepared: _Prepared, step: GainStep, audio: AudioSettings, out: Path
) -> Attempt:
    filters = finish_filters(audio, prepared.trim, step.gain_db, step.ceiling_dbfs)
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
        "-i", media_url(prepared.path),
        "-af", ",".join(filters),
        *_mp3_output_args(audio, out),
    ]  # fmt: skip
    run_tool(args, timeout=decode_timeout_s(prepared.duration_s))
    output = measure(out)
    log.debug("gain %.2f dB, ceiling %.2f dBFS → %s", step.gain_db, step.ceiling_dbfs, output)
    return Attempt(step, output, out)


def _mp3_output_args(audio: AudioSettings, out: Path) -> list[str]:
    """CBR MP3 whose bytes depend on the audio alone: no tags, no encoder version."""
    return [
        "-ac", str(audio.channels),
        "-ar", str(audio.sample_rate),
        "-c:a", "libmp3lame",
        "-b:a", f"{audio.bitrate_kbps}k",
        "-map_metadata", "-1",
        "-fflags", "+bitexact",
        "-flags:a", "+bitexact",
        "-id3v2_version", "0",
        "-f", "mp3",
        "-y", media_url(out),
    ]  # fmt: skip


def _store(
    attempt: Attempt, out_dir: Path, source_report: LoudnessReport, *, engine: str, voice: str
) -> Clip:
    digest = _sha256(attempt.path)
    final = out_dir / f"{digest}.{EXTENSION}"
    os.replace(attempt.path, final)  # atomic: a clip appears whole or not at all
    return Clip(
        path=final,
        sha256=digest,
        bytes=final.stat().st_size,
        duration_ms=round(attempt.output.duration_s * 1000),
        input=source_report,
        output=attempt.output,
        engine=engine,
        voice=voice,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
