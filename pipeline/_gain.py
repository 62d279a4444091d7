"""Choosing the gain and limiter ceiling from measurements of the encoded clip.

The limiter takes loudness away as the gain rises, and MP3 encoding takes a little more,
so the first gain (target minus the prepared loudness) lands short. Each next try corrects
by the remaining error over the slope seen so far (the secant method), and lowers the
ceiling by any true-peak overshoot the encoder added. Every try is a real encode, decoded
and measured again: the plan is never trusted (DESIGN.md §6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from config import AudioSettings
from pipeline._loudness import LoudnessReport
from pipeline._policy import policy_problems

MAX_ENCODES = 4
AIM_LU = 0.2  # stop trying once this close to the target; the policy allows more
TRUE_PEAK_MARGIN_DB = 1.0  # MP3 encoding overshoots the limiter's ceiling on transients
CEILING_EXTRA_STEP_DB = 0.2
MIN_SLOPE = 0.1
MAX_GAIN_STEP_DB = 12.0


@dataclass(frozen=True)
class GainStep:
    gain_db: float
    ceiling_dbfs: float


@dataclass(frozen=True)
class Attempt:
    step: GainStep
    output: LoudnessReport
    path: Path


def first_step(prepared_lufs: float, audio: AudioSettings) -> GainStep:
    return GainStep(
        gain_db=audio.target_lufs - prepared_lufs,
        ceiling_dbfs=audio.max_true_peak_dbtp - TRUE_PEAK_MARGIN_DB,
    )


def is_on_target(report: LoudnessReport, audio: AudioSettings) -> bool:
    on_level = abs(report.lufs - audio.target_lufs) <= AIM_LU
    return on_level and report.true_peak_dbtp <= audio.max_true_peak_dbtp


def next_step(attempts: Sequence[Attempt], audio: AudioSettings) -> GainStep:
    last = attempts[-1]
    correction = (audio.target_lufs - last.output.lufs) / _slope(attempts)
    correction = max(-MAX_GAIN_STEP_DB, min(MAX_GAIN_STEP_DB, correction))
    overshoot_db = last.output.true_peak_dbtp - audio.max_true_peak_dbtp
    ceiling = last.step.ceiling_dbfs
    if overshoot_db > 0:
        ceiling -= overshoot_db + CEILING_EXTRA_STEP_DB
    return GainStep(last.step.gain_db + correction, ceiling)


def _slope(attempts: Sequence[Attempt]) -> float:
    """Output LUFS gained per dB of gain between the last two tries; 1 until known."""
    if len(attempts) < 2:
        return 1.0
    before, last = attempts[-2], attempts[-1]
    gain_change = last.step.gain_db - before.step.gain_db
    if before.step.ceiling_dbfs != last.step.ceiling_dbfs or abs(gain_change) < 0.01:
        return 1.0
    slope = (last.output.lufs - before.output.lufs) / gain_change
    return min(max(slope, MIN_SLOPE), 1.0)


def best_attempt(attempts: Sequence[Attempt], audio: AudioSettings) -> Attempt | None:
    """The compliant try closest to the target, or None if none complies."""
    compliant = [attempt for attempt in attempts if not policy_problems(attempt.output, audio)]
    return min(
        compliant, key=lambda attempt: abs(attempt.output.lufs - audio.target_lufs), default=None
    )
