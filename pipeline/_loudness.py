"""Loudness per ITU-R BS.1770-4 / EBU R128, read by ffmpeg's ``ebur128`` filter."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline._errors import AudioError
from pipeline._media import decode_timeout_s, media_url, probe_audio
from pipeline._tools import run_tool

log = logging.getLogger(__name__)

# Below BS.1770's absolute gate nothing is measured: silence, or a clip shorter than one
# 400 ms block. ebur128 prints -70 (or -inf); reports keep finite floors so they stay
# valid JSON and comparable.
LOUDNESS_FLOOR_LUFS = -70.0
TRUE_PEAK_FLOOR_DBTP = -144.0  # below the noise floor of 24-bit audio

EBUR128_FILTER = "ebur128=peak=true:framelog=verbose"
_SUMMARY_VALUES = {
    "lufs": re.compile(r"^\s*I:\s+(\S+) LUFS", re.MULTILINE),
    "lra": re.compile(r"^\s*LRA:\s+(\S+) LU\b", re.MULTILINE),
    "true_peak_dbtp": re.compile(r"^\s*Peak:\s+(\S+) dBFS", re.MULTILINE),
}
_OUT_TIME_US = re.compile(r"^out_time_us=(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class LoudnessReport:
    """A measurement of one audio file: ``lufs`` integrated, ``lra`` in LU, ``duration_s``
    as decoded (what a player plays, MP3 encoder delay and padding excluded)."""

    lufs: float
    true_peak_dbtp: float
    lra: float
    duration_s: float
    sample_rate: int
    channels: int

    @property
    def is_silent(self) -> bool:
        """Nothing above the absolute gate: silence, or shorter than one 400 ms block."""
        return self.lufs <= LOUDNESS_FLOOR_LUFS

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class MeteredRun:
    """The ebur128 summary and decoded duration of one ffmpeg run, and its stderr."""

    lufs: float
    true_peak_dbtp: float
    lra: float
    duration_s: float
    stderr: str


def measure(path: Path) -> LoudnessReport:
    """Decode ``path`` and measure it. ``AudioInputError`` if it holds no audio."""
    stream = probe_audio(path)
    metered = run_metered(
        path, [], ["-f", "null", "-"], timeout=decode_timeout_s(stream.duration_s)
    )
    report = LoudnessReport(
        lufs=metered.lufs,
        true_peak_dbtp=metered.true_peak_dbtp,
        lra=metered.lra,
        duration_s=metered.duration_s,
        sample_rate=stream.sample_rate,
        channels=stream.channels,
    )
    log.debug("measured %s: %s", path, report)
    return report


def run_metered(
    source: Path, filters: Sequence[str], output_args: Sequence[str], *, timeout: float
) -> MeteredRun:
    """Run ffmpeg on the first audio stream of ``source`` through ``filters``, then meter it."""
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
        "-progress", "pipe:1",
        "-i", media_url(source),
        "-map", "0:a:0",
        "-af", ",".join([*filters, EBUR128_FILTER]),
        *output_args,
    ]  # fmt: skip
    result = run_tool(args, timeout=timeout)
    values = _summary_values(source, result.stderr)
    return MeteredRun(
        lufs=max(values["lufs"], LOUDNESS_FLOOR_LUFS),
        true_peak_dbtp=max(values["true_peak_dbtp"], TRUE_PEAK_FLOOR_DBTP),
        lra=values["lra"],
        duration_s=_decoded_duration_s(result.stdout),
        stderr=result.stderr,
    )


def _summary_values(source: Path, stderr: str) -> dict[str, float]:
    _, found, summary = stderr.rpartition("Summary:")
    if not found:
        raise AudioError(f"{source}: ffmpeg printed no loudness summary")
    values = {}
    for name, pattern in _SUMMARY_VALUES.items():
        match = pattern.search(summary)
        if match is None:
            raise AudioError(f"{source}: no {name} in ffmpeg's loudness summary")
        values[name] = _number(match.group(1))
    return values


def _number(text: str) -> float:
    value = float(text)  # ebur128 prints "-inf" for silence; float() reads it
    return -math.inf if math.isnan(value) else value


def _decoded_duration_s(progress: str) -> float:
    times = _OUT_TIME_US.findall(progress)
    return int(times[-1]) / 1e6 if times else 0.0
