"""Speech or a recording → one content-addressed clip that meets an audio profile.

The thin layer the publisher uses: the audio engine (:mod:`pipeline._engine`) processes,
the clip is named by the SHA-256 of its bytes, and the speech's transcript (if the
engine reported sentence timings) is written beside it as ``.vtt`` and ``.srt``, moved
by the leading silence the engine trimmed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import DEFAULT_AUDIO_PROFILE, AudioProfile
from pipeline._engine import ProcessResult, Progress, process
from pipeline._media import probe_audio
from pipeline._meter import LoudnessReport
from pipeline._policy import policy_problems
from pipeline._programme import Gap, Part, alert_source, programme_source
from pipeline._source import Source
from pipeline.tts import Cue, Speech, write_transcripts

log = logging.getLogger(__name__)

EXTENSION = "mp3"
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
    profile: str = DEFAULT_AUDIO_PROFILE
    extension: str = EXTENSION

    @property
    def transcript(self) -> Path | None:
        """The WebVTT transcript beside the clip (an ``.srt`` is beside it too), if any."""
        vtt = self.path.with_suffix(".vtt")
        return vtt if vtt.is_file() else None

    def policy_problems(self, profile: AudioProfile) -> list[str]:
        return policy_problems(self.output, profile)

    def meets_policy(self, profile: AudioProfile) -> bool:
        return not self.policy_problems(profile)

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
            "profile": self.profile,
            "extension": self.extension,
            "transcript": str(self.transcript) if self.transcript else None,
        }


def render_speech(
    speech: Speech,
    *,
    profile: AudioProfile,
    out_dir: Path,
    profile_name: str = DEFAULT_AUDIO_PROFILE,
) -> Clip:
    """Process ``speech`` into a clip in ``out_dir``, its transcript beside it."""
    return process_file(
        speech.path,
        profile=profile,
        out_dir=out_dir,
        engine=speech.engine,
        voice=speech.voice,
        profile_name=profile_name,
        cues=speech.cues,
    )


@dataclass(frozen=True)
class SpeechFile:
    """Speech written to a file the user named, with its transcript beside it."""

    path: Path
    duration_s: float
    transcript: Path | None
    result: ProcessResult | None  # None: the engine's audio as it is


def export_speech(
    speech: Speech,
    out: Path,
    *,
    profile: AudioProfile | None,
    profile_name: str = DEFAULT_AUDIO_PROFILE,
    progress: Progress | None = None,
) -> SpeechFile:
    """``speech`` processed to ``profile`` into ``out`` (an MP3), or with ``profile``
    ``None`` copied as the engine made it; ``.vtt``/``.srt`` beside it if it has cues."""
    if profile is None:
        shutil.copyfile(speech.path, out)
        duration_s = probe_audio(out).duration_s or 0.0
        result, lead_s = None, 0.0
    else:
        result = process(speech.path, out, profile, profile_name=profile_name, progress=progress)
        duration_s, lead_s = result.output.duration_s, result.trimmed_start_s
    written = _transcripts(speech.cues, lead_s, out)
    return SpeechFile(out, duration_s, written[0] if written else None, result)


def _transcripts(cues: Sequence[Cue], trimmed_s: float, audio: Path) -> tuple[Path, Path] | None:
    """The ``.vtt`` and ``.srt`` beside ``audio``, the cues moved by the ``trimmed_s``
    seconds of leading silence the audio engine cut; ``None`` if there are no cues."""
    return write_transcripts([cue.shifted(-trimmed_s) for cue in cues], audio)


def process_file(
    source: Path,
    *,
    profile: AudioProfile,
    out_dir: Path,
    engine: str = "recorded",
    voice: str = "",
    profile_name: str = DEFAULT_AUDIO_PROFILE,
    cues: Sequence[Cue] = (),
) -> Clip:
    """Process ``source`` (any audio ffmpeg reads) into ``out_dir/<sha256>.mp3``.

    ``AudioInputError`` for a file that is not usable audio, ``AudioError`` if the result
    cannot be brought within the policy; then no clip is written.
    """
    audio = Source.of_file(source)  # an unusable file is refused before anything is written
    return _render(audio, profile, out_dir, engine, voice, profile_name, cues)


def render_programme(
    clips: Sequence[Path],
    *,
    gap_s: float,
    profile: AudioProfile,
    out_dir: Path,
    profile_name: str = DEFAULT_AUDIO_PROFILE,
    name: str = "programme",
) -> Clip:
    """The ``clips`` one after another, ``gap_s`` of silence between two, processed as one
    clip to ``profile`` (one loudness for the whole programme, measured after encoding)."""
    parts: list[Part | Gap] = []
    for index, clip in enumerate(clips):
        if index:
            parts.append(Gap(gap_s))
        parts.append(Part(clip))
    source = programme_source(
        parts, sample_rate=profile.sample_rate, channels=profile.channels, name=name
    )
    return _render(source, profile, out_dir, "programme", "", profile_name, ())


def render_alert(
    voice: Sequence[Path],
    *,
    profile: AudioProfile,
    out_dir: Path,
    work_dir: Path,
    engine: str,
    voice_name: str = "",
    repeats: int = 3,
    gap_s: float = 1.0,
    profile_name: str = DEFAULT_AUDIO_PROFILE,
) -> Clip:
    """An alert framed as DESIGN.md §6 says (attention signal, the ``voice`` files
    ``repeats`` times, closing tone), processed as one clip to ``profile``."""
    source = alert_source(
        voice,
        work_dir=work_dir,
        repeats=repeats,
        gap_s=gap_s,
        sample_rate=profile.sample_rate,
        channels=profile.channels,
    )
    return _render(source, profile, out_dir, engine, voice_name, profile_name, ())


def _render(
    audio: Source,
    profile: AudioProfile,
    out_dir: Path,
    engine: str,
    voice: str,
    profile_name: str,
    cues: Sequence[Cue],
) -> Clip:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".loa-clip-", dir=out_dir) as work:
        clip_path = Path(work) / f"clip.{EXTENSION}"
        result = process(audio, clip_path, profile, profile_name=profile_name)
        digest = _sha256(result.path)
        final = out_dir / f"{digest}.{EXTENSION}"
        written = _transcripts(cues, result.trimmed_start_s, Path(work) / f"{digest}.{EXTENSION}")
        for transcript in written or ():
            os.replace(transcript, out_dir / transcript.name)
        os.replace(result.path, final)  # atomic: a clip appears whole or not at all
    clip = Clip(
        path=final,
        sha256=digest,
        bytes=final.stat().st_size,
        duration_ms=round(result.output.duration_s * 1000),
        input=result.input,
        output=result.output,
        engine=engine,
        voice=voice,
        profile=profile_name,
    )
    log.info("clip %s from %s", digest[:12], audio.name)
    return clip


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
