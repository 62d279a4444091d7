"""A look-ahead true-peak limiter that works on blocks of frames (offline: it looks both ways).

Each block's peak is its largest sample, refined where it comes near the ceiling by the
4× interpolated signal around that sample (the true peak, as BS.1770 defines it; an
inter-sample peak sits beside the largest sample). The required gain ``min(1, ceiling /
peak)`` is spread by a minimum filter and smoothed by a Hann window no wider than the
filter, so the smoothed gain never exceeds what any block needs and ramps over
``RAMP_S`` instead of stepping. The audio itself is only ever multiplied by a gain:
the programme is never resampled.

The same smoothing runs in the planner on coarser blocks to predict how much loudness
the limiter will take, so the gain chosen before encoding already allows for it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from pipeline._meter import _INTERPOLATOR, TAPS_PER_PHASE, Samples, _magnitude

BLOCK = 16  # frames per block in the encoder's limiter
RAMP_S = 0.003
HOLD_S = 0.01
REFINE_WITHIN_DB = 1.5  # blocks whose sample peak comes this close get their true peak
_EXTRA_BLOCKS = 1  # linear interpolation between blocks must stay under the requirement
_REFINED_OUTPUTS = 5  # interpolator outputs per phase around the largest sample


_PHASES = _INTERPOLATOR.phases
# Interpolator output n stands for position n - DELAY of its input window's frames.
_DELAY = _INTERPOLATOR.delay


class BlockSmoother:
    """Required gains per block → smooth gains never above any block's requirement."""

    def __init__(self, rate: int, block: int) -> None:
        self.ramp_blocks = max(1, math.ceil(RAMP_S * rate / block))
        hold_blocks = max(0, math.ceil(HOLD_S * rate / block))
        window = 2 * (self.ramp_blocks + _EXTRA_BLOCKS) + 1 + hold_blocks
        self.window = window + 1 - window % 2  # odd: centred on its block
        hann = np.hanning(2 * self.ramp_blocks + 3)[1:-1]
        self.kernel = hann / hann.sum()
        self.reach_blocks = self.window // 2 + self.ramp_blocks + 1

    def smooth(self, required: NDArray[np.float64]) -> NDArray[np.float64]:
        if required.min() >= 1.0:
            return required
        held = running_minimum(required, self.window)
        smooth = np.convolve(held, self.kernel, mode="same")
        return np.asarray(np.minimum(smooth, held))  # the ends of a "same" convolution see zeros


def running_minimum(values: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """The minimum over a centred ``window`` (odd) around each value; edges repeat.

    One vectorised minimum per offset: for the short windows here, several times
    faster than reducing a sliding-window view.
    """
    half = window // 2
    padded = np.pad(values, half, mode="edge")
    count = len(values)
    held = padded[:count].copy()
    for offset in range(1, window):
        np.minimum(held, padded[offset : offset + count], out=held)
    return held


class TruePeakLimiter:
    """Per-block gains that keep ``frames * level * gain`` at or under ``ceiling_dbfs``."""

    def __init__(self, rate: int, ceiling_dbfs: float) -> None:
        self.ceiling = 10.0 ** (ceiling_dbfs / 20.0)
        self.smoother = BlockSmoother(rate, BLOCK)
        # Frames either side a caller must supply for the middle's gains to be exact.
        self.margin = (self.smoother.reach_blocks + 2) * BLOCK + 2 * TAPS_PER_PHASE

    def gains(self, frames: Samples, level: NDArray[np.float64]) -> NDArray[np.float64]:
        """The limiter gain of each whole ``BLOCK`` of ``frames``, given each block's level
        (the gain applied before the limiter)."""
        peaks = block_peaks(frames, BLOCK) * level
        near = np.flatnonzero(peaks > self.ceiling * 10.0 ** (-REFINE_WITHIN_DB / 20.0))
        if len(near):
            peaks[near] = np.maximum(peaks[near], _true_peaks(frames, near) * level[near])
        required = np.minimum(1.0, self.ceiling / np.maximum(peaks, 1e-12))
        return self.smoother.smooth(required)


def block_peaks(frames: Samples, block: int) -> NDArray[np.float64]:
    """The largest |sample| of each whole ``block`` of frames, across channels."""
    whole = len(frames) - len(frames) % block
    magnitude = np.abs(frames[:whole]).reshape(-1, block, frames.shape[1])
    return np.asarray(magnitude.max(axis=(1, 2)), dtype=np.float64)


def _true_peaks(frames: Samples, blocks: NDArray[np.intp]) -> NDArray[np.float64]:
    """The 4× interpolated peak around the largest sample of each of ``blocks``."""
    count, channels = frames.shape
    magnitude = _magnitude(frames[: len(frames) - len(frames) % BLOCK])
    loudest = blocks * BLOCK + magnitude.reshape(-1, BLOCK)[blocks].argmax(axis=1)
    # Outputs n = loudest + DELAY - 2 … + 2 cover positions loudest - 2 … loudest + 2.
    first_output = loudest + math.floor(_DELAY) - (_REFINED_OUTPUTS // 2)
    pad = TAPS_PER_PHASE + _REFINED_OUTPUTS
    padded = np.zeros((count + 2 * pad, channels), dtype=np.float32)
    padded[pad : pad + count] = frames
    # Output n uses input frames n - taps + 1 … n: window start n - taps + 1 (+ pad).
    starts = first_output - TAPS_PER_PHASE + 1 + pad
    offsets = starts[:, None] + np.arange(_REFINED_OUTPUTS)[None, :]
    peaks = np.zeros(len(blocks))
    for channel in range(channels):
        windows = sliding_window_view(padded[:, channel], TAPS_PER_PHASE)[offsets]
        values = np.abs(windows @ _PHASES).reshape(len(blocks), -1).max(axis=1)
        np.maximum(peaks, values, out=peaks)
    return peaks
