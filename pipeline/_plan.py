"""From the first pass's measurements to one plan: where to trim, how to level, what gain.

Everything here works on 100 ms hop energies (K-weighted, from :mod:`pipeline._meter`),
so it is computed, not guessed, and costs nothing next to decoding:

* **Trim**: sound is any hop within ``SILENCE_BELOW_LU`` of the programme loudness; at
  most ``max_silence_s`` is kept before the first and after the last.
* **Levelling** (the gentle compression of DESIGN.md §6): each passage's short-term
  loudness (3 s, centred) is pulled towards the programme loudness with the smallest
  ratio that brings the loudness range within ``max_lra_lu``. The ratio is found by
  bisection on the loudness range the levelled hops would have.
* **Gain**: one gain to the target, found by simulating the true-peak limiter on 64-frame
  blocks (their sample peaks and energies from the first pass): the limiter takes
  loudness from peaky speech, and the gain allows for exactly that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from config import AudioProfile
from pipeline._errors import AudioError, AudioInputError
from pipeline._limiter import BlockSmoother
from pipeline._meter import (
    BLOCK_HOPS,
    HOP_S,
    LOUDNESS_FLOOR_LUFS,
    RELATIVE_GATE_LU,
    SHORT_TERM_HOPS,
    block_energies,
    gated_loudness,
    loudness_of,
    loudness_range,
)

SILENCE_BELOW_LU = 30.0
MAX_GAIN_DB = 40.0  # more than this would amplify noise, not speech
LEVELER_GATE_LU = -20.0  # pauses do not steer the leveler
LEVELER_SMOOTHING_HOPS = 10
LRA_MARGIN_LU = 0.5
MAX_RATIO = 20.0
BISECTION_STEPS = 14
EDGE_MARGIN_S = 0.02
DETAIL_BLOCK = 64  # frames per block of the first pass's peaks and energies
GAIN_STEPS = 8
SIMULATION_SLICE = 1 << 18  # blocks simulated at a time
GAIN_AIM_LU = 0.02
MIN_SLOPE = 0.15
MAX_STEP_DB = 12.0  # a limiter that holds the loudness down must not send the gain to infinity
# The encoded clip reads a little quieter than the plan: MP3 at 64 kbps takes ~0.4 LU
# off speech (measured on espeak-ng speech, whose pulses suffer most).
CODEC_ALLOWANCE_DB = 0.4


@dataclass(frozen=True)
class Detail:
    """The first pass's sample peak and plain energy of every ``DETAIL_BLOCK`` frames."""

    peaks: NDArray[np.float32]
    energies: NDArray[np.float32]


@dataclass(frozen=True)
class Plan:
    """Frames ``start``–``stop`` of the prepared audio are kept; hop ``j`` (frames
    ``j*hop`` on) gets ``level_db[j] + gain_db``."""

    start: int
    stop: int
    hop: int
    level_db: NDArray[np.float64]
    gain_db: float
    source_lufs: float
    predicted_lufs: float
    ratio: float
    predicted_lra: float
    simulation: _LimiterSimulation | None = field(default=None, repr=False, compare=False)

    @property
    def is_flat(self) -> bool:
        return not np.any(self.level_db)

    def corrected_gain(
        self,
        first: tuple[float, float],
        measured_lufs: float,
        ceiling_dbfs: float,
        target_lufs: float,
    ) -> float:
        """The gain for a second encode at ``ceiling_dbfs``, after a first at ``first``
        (gain, ceiling) measured ``measured_lufs``: what the first lost beyond the
        simulation's prediction (the codec's share) is allowed for exactly."""
        first_gain_db, first_ceiling_dbfs = first
        if self.simulation is None:
            return first_gain_db + target_lufs - measured_lufs
        simulation = self.simulation
        simulation.ceiling = 10.0 ** (first_ceiling_dbfs / 20.0)
        unforeseen = simulation.loudness(first_gain_db) - measured_lufs
        simulation.ceiling = 10.0 ** (ceiling_dbfs / 20.0)
        return simulation.solve(first_gain_db, target_lufs + unforeseen)[0]


def make_plan(
    hops: NDArray[np.float64],
    hop: int,
    frames: int,
    detail: Detail,
    profile: AudioProfile,
    name: str,
    rate: int,
) -> Plan:
    """The plan for prepared audio of ``frames`` frames whose hop energies are ``hops``."""
    if not len(hops):
        raise AudioInputError(
            f"{name}: {frames / rate:.3f} s of audio is too short to broadcast "
            f"(at least {HOP_S:g} s)"
        )
    source_lufs = _programme_loudness(hops, hop, frames)
    if source_lufs <= LOUDNESS_FLOOR_LUFS:
        raise AudioInputError(f"{name}: silent: nothing above {LOUDNESS_FLOOR_LUFS:.0f} LUFS")
    start, stop = _trim(hops, hop, frames, source_lufs, profile)
    kept = hops[start // hop : -(-stop // hop)]
    ratio, level_db = _leveling(hops, source_lufs, profile)
    levelled = hops * 10.0 ** (level_db / 10.0)
    kept_levelled = levelled[start // hop : -(-stop // hop)]
    levelled_lufs = (
        _programme_loudness(kept_levelled, hop, stop - start) if len(kept) else source_lufs
    )
    gain_db = profile.target_lufs - levelled_lufs
    simulation = None
    predicted = profile.target_lufs
    if len(kept) >= BLOCK_HOPS and len(detail.peaks):
        simulation = _LimiterSimulation(hops, hop, level_db, detail, profile, rate, (start, stop))
        gain_db, predicted = simulation.solve(gain_db, profile.target_lufs)
        if predicted < profile.target_lufs - profile.tolerance_lu:
            ceiling = profile.max_true_peak_dbtp - profile.true_peak_margin_db
            raise AudioError(
                f"{name}: cannot reach {profile.target_lufs:g} LUFS with peaks held under "
                f"{ceiling:g} dBTP: the limiter would hold it at {predicted:.1f} LUFS "
                f"(check the profile's target_lufs, max_true_peak_dbtp and true_peak_margin_db)"
            )
    gain_db += CODEC_ALLOWANCE_DB
    if gain_db > MAX_GAIN_DB:
        raise AudioInputError(
            f"{name}: too quiet ({source_lufs:.1f} LUFS): it would need {gain_db:+.0f} dB "
            f"of gain; record it again closer to the microphone"
        )
    return Plan(
        start=start,
        stop=stop,
        hop=hop,
        level_db=level_db,
        gain_db=gain_db,
        source_lufs=source_lufs,
        predicted_lufs=predicted,
        ratio=ratio,
        predicted_lra=loudness_range(kept_levelled),
        simulation=simulation,
    )


def _programme_loudness(hops: NDArray[np.float64], hop: int, frames: int) -> float:
    if len(hops) >= BLOCK_HOPS:
        return gated_loudness(block_energies(hops, BLOCK_HOPS), RELATIVE_GATE_LU)
    # Shorter than one 400 ms block: the clip is one block (as the meter does).
    energy = float(hops.sum() * hop / frames) if frames and len(hops) else 0.0
    return float(loudness_of(energy)) if energy > 0 else -math.inf


def _trim(
    hops: NDArray[np.float64], hop: int, frames: int, lufs: float, profile: AudioProfile
) -> tuple[int, int]:
    if not len(hops):
        return 0, frames
    sound = np.flatnonzero(loudness_of(hops) > lufs - SILENCE_BELOW_LU)
    if not len(sound):
        return 0, frames
    # A hop holds sound somewhere inside it: keep less than the limit before it.
    keep = max(int((profile.max_silence_s - HOP_S - EDGE_MARGIN_S) * hop / HOP_S), 0)
    start = max(int(sound[0]) * hop - keep, 0)
    stop = min((int(sound[-1]) + 1) * hop + keep, frames)
    return start, stop


def _leveling(
    hops: NDArray[np.float64], lufs: float, profile: AudioProfile
) -> tuple[float, NDArray[np.float64]]:
    """The smallest ratio (and its per-hop gains) that brings LRA within the profile."""
    flat = np.zeros(len(hops))
    if len(hops) < SHORT_TERM_HOPS or profile.max_leveler_gain_db <= 0:
        return 1.0, flat
    aim = max(profile.max_lra_lu - LRA_MARGIN_LU, 0.5)
    if loudness_range(hops) <= aim:
        return 1.0, flat
    deviation = _short_term_deviation(hops, lufs)
    low, high = 1.0, MAX_RATIO
    best = _gains(deviation, high, profile)
    for _ in range(BISECTION_STEPS):
        ratio = (low + high) / 2
        gains = _gains(deviation, ratio, profile)
        if loudness_range(hops * 10.0 ** (gains / 10.0)) <= aim:
            high, best = ratio, gains
        else:
            low = ratio
    return high, best


def _short_term_deviation(hops: NDArray[np.float64], lufs: float) -> NDArray[np.float64]:
    """Centred 3 s loudness minus the programme's; pauses take their neighbours' value."""
    window = np.ones(SHORT_TERM_HOPS) / SHORT_TERM_HOPS
    short_term = loudness_of(np.convolve(hops, window, mode="same"))
    steering = np.flatnonzero(short_term > lufs + LEVELER_GATE_LU)
    if not len(steering):
        return np.zeros(len(hops))
    positions = np.arange(len(hops))
    deviation = np.interp(positions, steering, short_term[steering] - lufs)
    return np.asarray(deviation, dtype=np.float64)


def _gains(
    deviation: NDArray[np.float64], ratio: float, profile: AudioProfile
) -> NDArray[np.float64]:
    limit = profile.max_leveler_gain_db
    gains = np.clip(-(1.0 - 1.0 / ratio) * deviation, -limit, limit)
    window = np.ones(LEVELER_SMOOTHING_HOPS) / LEVELER_SMOOTHING_HOPS
    padded = np.pad(gains, LEVELER_SMOOTHING_HOPS, mode="edge")
    smooth = np.convolve(padded, window, mode="same")[
        LEVELER_SMOOTHING_HOPS:-LEVELER_SMOOTHING_HOPS
    ]
    return np.asarray(smooth, dtype=np.float64)


class _LimiterSimulation:
    """The programme loudness after levelling, a gain and the limiter, from 64-frame blocks.

    A block's share of its hop's K-weighted energy is its share of the hop's plain
    energy; the limiter's gain per block comes from the same smoother the encoder uses.
    What does not depend on the gain is worked out once (12 bytes a block: 40 MB for an
    hour); the smoothing runs a slice at a time, so its temporaries stay small.
    """

    def __init__(
        self,
        hops: NDArray[np.float64],
        hop: int,
        level_db: NDArray[np.float64],
        detail: Detail,
        profile: AudioProfile,
        rate: int,
        kept: tuple[int, int],
    ) -> None:
        self.count = len(detail.peaks)
        self.hops = len(hops)
        self.hop_of_block = np.empty(self.count, dtype=np.int32)
        self.peaks = np.empty(self.count, dtype=np.float32)  # levelled, before the gain
        self.energies = np.empty(self.count, dtype=np.float32)  # the same, K-weighted
        hop_centres = (np.arange(len(hops)) + 0.5) * hop
        for part in self._slices():
            centres = (np.arange(part.start, part.stop) + 0.5) * DETAIL_BLOCK
            self.hop_of_block[part] = np.minimum(centres // hop, len(hops) - 1)
            level = 10.0 ** (np.interp(centres, hop_centres, level_db) / 20.0)
            self.peaks[part] = detail.peaks[part] * level
            self.energies[part] = detail.energies[part] * level**2
        # A block's K-weighted energy: its share of its hop's plain energy.
        plain = np.zeros(len(hops))
        for part in self._slices():
            weights = detail.energies[part]
            plain += np.bincount(self.hop_of_block[part], weights=weights, minlength=len(hops))
        scale = hops / np.maximum(plain, 1e-30)
        for part in self._slices():
            self.energies[part] *= scale[self.hop_of_block[part]]
        first, last = kept[0] // hop, -(-kept[1] // hop)
        self.kept = slice(first, max(last, first + 1))
        self.ceiling = 10.0 ** ((profile.max_true_peak_dbtp - profile.true_peak_margin_db) / 20.0)
        self.smoother = BlockSmoother(rate, DETAIL_BLOCK)

    def _slices(self) -> list[slice]:
        return [
            slice(start, min(start + SIMULATION_SLICE, self.count))
            for start in range(0, self.count, SIMULATION_SLICE)
        ]

    def loudness(self, gain_db: float) -> float:
        gain = 10.0 ** (gain_db / 20.0)
        margin = self.smoother.reach_blocks
        energy = np.zeros(self.hops)
        for start in range(0, self.count, SIMULATION_SLICE):
            # The smoother needs ``margin`` blocks of context either side of its slice.
            lo, stop = max(start - margin, 0), min(start + SIMULATION_SLICE, self.count)
            hi = min(stop + margin, self.count)
            required = np.minimum(1.0, self.ceiling / np.maximum(self.peaks[lo:hi] * gain, 1e-12))
            limited = self.smoother.smooth(required)[start - lo : stop - lo]
            energy += np.bincount(
                self.hop_of_block[start:stop],
                weights=self.energies[start:stop] * (gain * limited) ** 2,
                minlength=self.hops,
            )
        kept = energy[self.kept]
        if len(kept) < BLOCK_HOPS:
            return float(loudness_of(float(kept.mean())))
        return gated_loudness(block_energies(kept, BLOCK_HOPS), RELATIVE_GATE_LU)

    def solve(self, gain_db: float, target: float) -> tuple[float, float]:
        """The gain whose simulated loudness is ``target`` (secant steps), and that loudness."""
        loudness = self.loudness(gain_db)
        slope = 1.0
        for _ in range(GAIN_STEPS):
            error = target - loudness
            if abs(error) <= GAIN_AIM_LU:
                break
            step = min(max(error / slope, -MAX_STEP_DB), MAX_STEP_DB)
            next_loudness = self.loudness(gain_db + step)
            slope = min(max((next_loudness - loudness) / step, MIN_SLOPE), 1.0)
            gain_db, loudness = gain_db + step, next_loudness
        return gain_db, loudness
