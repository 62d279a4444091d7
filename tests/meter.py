"""An independent loudness meter for tests: ffmpeg decodes, pyloudnorm measures."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pyloudnorm
from scipy.io import wavfile


def decode(path: Path) -> tuple[int, np.ndarray]:
    """Sample rate and float samples (frames × channels) of any file ffmpeg reads."""
    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "decoded.wav"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-c:a", "pcm_f32le", str(wav)],
            check=True,
        )
        rate, samples = wavfile.read(wav)
    return rate, samples.reshape(len(samples), -1)


def integrated_lufs(path: Path) -> float:
    rate, samples = decode(path)
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))
