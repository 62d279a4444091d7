"""Independent instruments for tests: ffmpeg only decodes; pyloudnorm (BS.1770) and a 4x
oversampled peak from scipy measure. The code under test never checks itself."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
from numpy.typing import NDArray
from scipy.signal import resample_poly


@dataclass(frozen=True)
class Decoded:
    rate: int
    samples: NDArray[np.float64]  # shape (frames, channels)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate


def ffprobe_stream(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
    )
    probed: dict[str, Any] = json.loads(result.stdout)
    return probed


def decode(path: Path) -> Decoded:
    stream = ffprobe_stream(path)["streams"][0]
    channels = int(stream["channels"])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-c:a", "pcm_f32le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    samples = np.frombuffer(raw, dtype="<f4").astype(np.float64).reshape(-1, channels)
    return Decoded(int(stream["sample_rate"]), samples)


def integrated_lufs(decoded: Decoded) -> float:
    return float(pyloudnorm.Meter(decoded.rate).integrated_loudness(decoded.samples))


def true_peak_dbtp(decoded: Decoded) -> float:
    oversampled = resample_poly(decoded.samples, 4, 1, axis=0)
    return float(20 * np.log10(np.max(np.abs(oversampled))))
