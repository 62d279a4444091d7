"""The ffmpeg filter chains of the ``speech-loudspeaker`` profile (DESIGN.md §6).

Two stages. *Prepare* sets the level to about the target (so the compressor's threshold
means the same for every input), high-passes, compresses gently, resamples and mixes to
the output channels, and detects leading/trailing silence. *Finish* trims that silence,
applies one gain to the target and a true-peak limiter (a sample-peak limiter run at 4x
the sample rate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from config import AudioSettings

COMPRESSOR_THRESHOLD_ABOVE_TARGET_DB = 4.0
COMPRESSOR_RATIO = 2.0
COMPRESSOR_ATTACK_MS = 20.0
COMPRESSOR_RELEASE_MS = 250.0
LIMITER_OVERSAMPLING = 4
LIMITER_ATTACK_MS = 5.0
LIMITER_RELEASE_MS = 50.0
LIMITER_LOWEST_CEILING_DBFS = -24.0  # alimiter's smallest limit, 0.0625
SILENCE_BELOW_TARGET_LU = 30.0
KEPT_SILENCE_S = 0.25  # each end keeps up to this; the policy allows 0.3 s
_END_OF_STREAM_TOLERANCE_S = 0.02
_SILENCE_START = re.compile(r"silence_start: (-?[\d.]+)")
_SILENCE_END = re.compile(r"silence_end: (-?[\d.]+)")


@dataclass(frozen=True)
class Trim:
    """The part of the prepared audio to keep; ``end_s`` None keeps it to the end."""

    start_s: float = 0.0
    end_s: float | None = None


def channel_layout(audio: AudioSettings) -> str:
    return "mono" if audio.channels == 1 else "stereo"


def prepare_filters(audio: AudioSettings, pregain_db: float) -> list[str]:
    highpass = [f"highpass=f={audio.highpass_hz:g}"] if audio.highpass_hz > 0 else []
    silence_dbfs = audio.target_lufs - SILENCE_BELOW_TARGET_LU
    return [
        "asetpts=PTS-STARTPTS",  # silencedetect's times must count from the file's start
        f"volume={pregain_db:.3f}dB",
        *highpass,
        _compressor(audio),
        f"aresample={audio.sample_rate}",
        f"aformat=channel_layouts={channel_layout(audio)}",
        f"silencedetect=noise={silence_dbfs:.1f}dB:duration={KEPT_SILENCE_S}",
    ]


def _compressor(audio: AudioSettings) -> str:
    threshold_dbfs = audio.target_lufs + COMPRESSOR_THRESHOLD_ABOVE_TARGET_DB
    return (
        f"acompressor=threshold={threshold_dbfs:.1f}dB:ratio={COMPRESSOR_RATIO:g}"
        f":attack={COMPRESSOR_ATTACK_MS:g}:release={COMPRESSOR_RELEASE_MS:g}"
    )


def finish_filters(
    audio: AudioSettings, trim: Trim, gain_db: float, ceiling_dbfs: float
) -> list[str]:
    oversampled = audio.sample_rate * LIMITER_OVERSAMPLING
    limit = 10 ** (max(ceiling_dbfs, LIMITER_LOWEST_CEILING_DBFS) / 20)
    return [
        *_trim_filters(trim),
        f"volume={gain_db:.3f}dB",
        f"aresample={oversampled}",
        # level=false: alimiter's default "auto level" would renormalise to the ceiling.
        f"alimiter=limit={limit:.6f}:attack={LIMITER_ATTACK_MS:g}"
        f":release={LIMITER_RELEASE_MS:g}:level=false:latency=true",
        f"aresample={audio.sample_rate}",
    ]


def _trim_filters(trim: Trim) -> list[str]:
    if trim.start_s <= 0 and trim.end_s is None:
        return []
    end = f":end={trim.end_s:.4f}" if trim.end_s is not None else ""
    return [f"atrim=start={trim.start_s:.4f}{end}", "asetpts=PTS-STARTPTS"]


def silence_trim(silencedetect_log: str, duration_s: float) -> Trim:
    """Where to cut so that at most ``KEPT_SILENCE_S`` of silence is left at each end."""
    starts = [float(value) for value in _SILENCE_START.findall(silencedetect_log)]
    ends = [float(value) for value in _SILENCE_END.findall(silencedetect_log)]
    if not starts or not ends:
        return Trim()
    start_s = max(ends[0] - KEPT_SILENCE_S, 0.0) if starts[0] <= 0.001 else 0.0
    reaches_end = len(ends) == len(starts) and ends[-1] >= duration_s - _END_OF_STREAM_TOLERANCE_S
    if reaches_end and starts[-1] > start_s:
        return Trim(start_s, starts[-1] + KEPT_SILENCE_S)
    return Trim(start_s)
