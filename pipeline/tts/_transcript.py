"""SRT and WebVTT transcripts of speech, for the electronic bulletin boards beside the
loudspeakers: one cue per sentence the engine reported."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import webvtt

from pipeline.tts._base import Cue

MIN_CUE_S = 0.001


def write_transcripts(cues: Sequence[Cue], audio: Path) -> tuple[Path, Path] | None:
    """``audio`` with ``.vtt`` and ``.srt`` beside it; ``None`` (nothing written) if there
    are no cues."""
    if not cues:
        return None
    document = webvtt.WebVTT()
    for cue in cues:
        end_s = max(cue.end_s, cue.start_s + MIN_CUE_S)
        document.captions.append(
            webvtt.Caption(_timestamp(cue.start_s), _timestamp(end_s), cue.text)
        )
    vtt, srt = audio.with_suffix(".vtt"), audio.with_suffix(".srt")
    document.save(str(vtt))
    document.save_as_srt(str(srt))
    return vtt, srt


def _timestamp(seconds: float) -> str:
    milliseconds = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
