"""The audio policy of DESIGN.md §6, checked on a measurement taken after encoding."""

from __future__ import annotations

from config import AudioProfile
from pipeline._meter import LoudnessReport


def policy_problems(report: LoudnessReport, audio: AudioProfile) -> list[str]:
    """What in ``report`` breaks the policy, one sentence each; empty when it complies."""
    problems = []
    if abs(report.lufs - audio.target_lufs) > audio.tolerance_lu:
        problems.append(
            f"integrated loudness {report.lufs:.1f} LUFS is outside "
            f"{audio.target_lufs:.1f} ± {audio.tolerance_lu:g} LU"
        )
    if report.true_peak_dbtp > audio.max_true_peak_dbtp:
        problems.append(
            f"true peak {report.true_peak_dbtp:.1f} dBTP is above "
            f"{audio.max_true_peak_dbtp:.1f} dBTP"
        )
    if report.sample_rate != audio.sample_rate:
        problems.append(f"sample rate {report.sample_rate} Hz is not {audio.sample_rate} Hz")
    if report.channels != audio.channels:
        problems.append(f"{report.channels} channels, not {audio.channels}")
    return problems
