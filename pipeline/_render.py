"""Text or a recording → one content-addressed clip that meets an audio profile.

The thin layer the publisher uses: espeak-ng speaks (the TTS stage replaces that part),
the audio engine (:mod:`pipeline._engine`) processes, and the clip is named by the
SHA-256 of its bytes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import DEFAULT_AUDIO_PROFILE, AudioProfile, TTSSettings
from pipeline._engine import process
from pipeline._errors import TTSInputError
from pipeline._espeak import require_text, synthesize_espeak
from pipeline._meter import LoudnessReport
from pipeline._policy import policy_problems
from pipeline._source import Source

log = logging.getLogger(__name__)

EXTENSION = "mp3"
ESPEAK_LANGUAGES = frozenset({"vi"})
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
        }


def render_text(
    text: str,
    language: str,
    *,
    profile: AudioProfile,
    tts: TTSSettings,
    out_dir: Path,
    profile_name: str = DEFAULT_AUDIO_PROFILE,
) -> Clip:
    """Speak ``text`` in ``language`` and process it into a clip in ``out_dir``."""
    voice = _espeak_voice(language, tts)
    require_text(text)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".loa-speech-", dir=out_dir) as work:
        speech = synthesize_espeak(text, voice, tts.espeak_rate_wpm, Path(work) / "speech.wav")
        return process_file(
            speech,
            profile=profile,
            out_dir=out_dir,
            engine="espeak",
            voice=voice,
            profile_name=profile_name,
        )


def _espeak_voice(language: str, tts: TTSSettings) -> str:
    if language.lower() not in ESPEAK_LANGUAGES:
        raise TTSInputError(
            f"no text-to-speech engine for language {language!r} yet: upload a recording"
        )
    return tts.espeak_voice


def process_file(
    source: Path,
    *,
    profile: AudioProfile,
    out_dir: Path,
    engine: str = "recorded",
    voice: str = "",
    profile_name: str = DEFAULT_AUDIO_PROFILE,
) -> Clip:
    """Process ``source`` (any audio ffmpeg reads) into ``out_dir/<sha256>.mp3``.

    ``AudioInputError`` for a file that is not usable audio, ``AudioError`` if the result
    cannot be brought within the policy; then no clip is written.
    """
    audio = Source.of_file(source)  # an unusable file is refused before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".loa-clip-", dir=out_dir) as work:
        clip_path = Path(work) / f"clip.{EXTENSION}"
        result = process(audio, clip_path, profile, profile_name=profile_name)
        digest = _sha256(result.path)
        final = out_dir / f"{digest}.{EXTENSION}"
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
    log.info("clip %s from %s", digest[:12], source)
    return clip


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
