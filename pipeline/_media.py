"""What ffprobe says about a file's first audio stream, and how to name files to ffmpeg."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline._errors import AudioInputError
from pipeline._tools import run_tool, stderr_tail

PROBE_TIMEOUT_S = 60.0
# A decode runs far faster than real time; this only stops a tool that hangs.
DECODE_TIMEOUT_BASE_S = 60.0
UNKNOWN_DURATION_S = 3600.0
# Containers whose PCM ffmpeg seeks by byte offset (a video container seeks by packet).
_EXACT_SEEK_CONTAINERS = frozenset({"wav", "w64", "aiff"})


@dataclass(frozen=True)
class AudioStreamInfo:
    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None
    container: str = ""  # ffprobe's format_name, e.g. "wav" or "mov,mp4,m4a,3gp,3g2,mj2"

    @property
    def seeks_exactly(self) -> bool:
        """Uncompressed PCM in a plain audio file: a seek lands on the exact sample."""
        return self.codec.startswith("pcm_") and self.container in _EXACT_SEEK_CONTAINERS


def media_url(path: Path) -> str:
    """``path`` for ffmpeg's command line: ``file:`` keeps a leading ``-`` or a ``:`` literal."""
    return f"file:{path}"


def decode_timeout_s(duration_s: float | None) -> float:
    return DECODE_TIMEOUT_BASE_S + (duration_s or UNKNOWN_DURATION_S)


def probe_audio(path: Path) -> AudioStreamInfo:
    """The first audio stream of ``path``; ``AudioInputError`` naming the file if there is none."""
    if not path.is_file():
        raise AudioInputError(f"{path}: no such file")
    result = run_tool(_probe_args(path), timeout=PROBE_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise AudioInputError(f"{path}: not a readable audio file ({stderr_tail(result.stderr)})")
    return _stream_info(path, json.loads(result.stdout or "{}"))


def _probe_args(path: Path) -> list[str]:
    return [
        "ffprobe",
        "-v", "error",
        "-select_streams", "a:0",
        "-show_entries", "stream=codec_name,sample_rate,channels:format=duration,format_name",
        "-of", "json",
        media_url(path),
    ]  # fmt: skip


def _stream_info(path: Path, probed: dict[str, Any]) -> AudioStreamInfo:
    streams = probed.get("streams") or []
    if not streams:
        raise AudioInputError(f"{path}: no audio stream (is it an audio recording?)")
    stream = streams[0]
    container = probed.get("format") or {}
    duration = container.get("duration")
    return AudioStreamInfo(
        codec=str(stream.get("codec_name", "unknown")),
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
        duration_s=float(duration) if duration not in (None, "N/A") else None,
        container=str(container.get("format_name", "")),
    )
