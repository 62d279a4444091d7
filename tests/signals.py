"""Synthetic test signals for the loudness meter, and ffmpeg's ``ebur128`` as a second meter.

Nothing is downloaded: every signal is computed here with numpy and written as a WAV
(24-bit PCM through Python's ``wave`` module, or 32-bit float through ffmpeg when samples
reach full scale). The cases reproduce the published EBU test signals:

* EBU Tech 3341 cases 1-5 (integrated loudness of stepped 1 kHz tones, ±0.1 LU);
* EBU Tech 3341 cases 15-23 (true peak, +0.2/−0.4 dB): sines whose samples miss the
  crest, and a band-limited pulse at fractional sample offsets whose continuous peak is
  exactly 1.0;
* EBU Tech 3342 cases 1-4 (loudness range of stepped tones; the spec allows ±1 LU, Loa is
  held to ±0.1 LU).

``CASES`` is read by ``tests/test_meter.py`` and ``benchmarks/accuracy.py``.

Every tone starts and ends with a 10 ms raised-cosine fade: a full-scale sine that starts
abruptly after silence really does overshoot when reconstructed, and the EBU signals do
not test that. Level steps inside a stepped tone keep the sine's phase continuous.
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parent.parent
SPEECH_TEXT = REPO / "app" / "samples" / "bulletin-demo-vi.txt"

RATE = 48_000
FADE_S = 0.010
TONE_HZ = 1000.0

Signal = NDArray[np.float64]  # shape (frames,) for mono or (frames, channels)
Metric = Literal["I", "TP", "LRA"]


# --- Signals ------------------------------------------------------------------------------


def amplitude(dbfs: float) -> float:
    """Peak amplitude of a sine at ``dbfs`` (0 dBFS: a sine whose crest is full scale)."""
    return float(10.0 ** (dbfs / 20.0))


def fade(length: int, rate: int, fade_s: float = FADE_S) -> Signal:
    """An envelope of ``length`` ones with raised-cosine ramps of ``fade_s`` at both ends."""
    envelope = np.ones(length)
    ramp = min(round(fade_s * rate), length // 2)
    if ramp:
        rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp) + 0.5) / ramp)
        envelope[:ramp] = rise
        envelope[length - ramp :] = rise[::-1]
    return envelope


def stepped_sine(
    segments: Sequence[tuple[float, float]],
    *,
    freq: float = TONE_HZ,
    rate: int = RATE,
    phase_deg: float = 0.0,
    fade_s: float = FADE_S,
) -> Signal:
    """A sine of ``freq`` whose level steps through ``(dbfs, seconds)`` segments.

    The phase runs on across the steps; only the very start and end are faded.
    """
    lengths = [round(seconds * rate) for _, seconds in segments]
    levels = np.concatenate(
        [
            np.full(length, amplitude(dbfs))
            for (dbfs, _), length in zip(segments, lengths, strict=True)
        ]
    )
    n = np.arange(len(levels))
    carrier = np.sin(2.0 * np.pi * freq * n / rate + np.deg2rad(phase_deg))
    return np.asarray(levels * carrier * fade(len(levels), rate, fade_s), dtype=np.float64)


def sine(
    freq: float,
    seconds: float,
    peak: float,
    *,
    phase_deg: float = 0.0,
    rate: int = RATE,
    fade_s: float = FADE_S,
) -> Signal:
    """A faded sine of crest ``peak`` (linear, may exceed 1.0) at ``phase_deg``."""
    return stepped_sine(
        [(20.0 * math.log10(peak), seconds)],
        freq=freq,
        rate=rate,
        phase_deg=phase_deg,
        fade_s=fade_s,
    )


def sinc_pulse(
    offset: float,
    *,
    seconds: float = 1.0,
    rate: int = RATE,
    cutoff: float = 0.25,
    half_width: int = 256,
    beta: float = 10.0,
) -> Signal:
    """A band-limited pulse whose continuous peak is exactly 1.0, ``offset`` samples after
    the middle sample of a ``seconds`` long signal.

    The pulse is ``sinc(2·cutoff·t) · kaiser(t)`` with ``cutoff`` in cycles per sample
    (0.25: a quarter of the sample rate, well below Nyquist). Both factors are 1 at t = 0
    and at most 1 elsewhere, so the continuous peak is 1.0; the window widens the spectrum
    by far less than the gap to Nyquist, so the samples determine that continuous pulse.
    """
    length = round(seconds * rate)
    t = np.arange(length) - (length // 2 + offset)
    inside = np.abs(t) < half_width
    window = np.zeros(length)
    window[inside] = np.i0(beta * np.sqrt(1.0 - (t[inside] / half_width) ** 2)) / np.i0(beta)
    return np.asarray(np.sinc(2.0 * cutoff * t) * window, dtype=np.float64)


def stereo(mono: Signal) -> Signal:
    """The same samples in both channels."""
    return np.stack([mono, mono], axis=1)


# --- Writing WAV files --------------------------------------------------------------------


def write_wav(path: Path, samples: Signal, rate: int, *, float32: bool = False) -> Path:
    """Write ``samples`` ((frames,) or (frames, channels), full scale ±1.0) to ``path``.

    24-bit PCM by default; 32-bit float (through ffmpeg) with ``float32``, which keeps
    samples at or beyond full scale.
    """
    frames = samples.reshape(len(samples), -1)
    channels = frames.shape[1]
    if float32:
        args = [
            "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
            "-f", "f32le", "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0",
            "-c:a", "pcm_f32le", str(path),
        ]  # fmt: skip
        subprocess.run(args, input=frames.astype("<f4").tobytes(), check=True, capture_output=True)
        return path
    if np.max(np.abs(frames), initial=0.0) >= 1.0:
        raise ValueError(f"{path.name}: samples reach full scale; write it as float32")
    scaled = np.clip(np.round(frames * 2.0**23), -(2.0**23), 2.0**23 - 1).astype("<i4")
    pcm = scaled.reshape(-1, 1).view(np.uint8).reshape(-1, 4)[:, :3]  # little-endian low 3
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(3)
        writer.setframerate(rate)
        writer.writeframes(pcm.tobytes())
    return path


def tone(
    path: Path,
    freq: float,
    seconds: float,
    dbfs: float,
    rate: int = RATE,
    channels: int = 2,
) -> Path:
    """A faded sine of crest ``dbfs`` in every channel, as 24-bit PCM."""
    mono = stepped_sine([(dbfs, seconds)], freq=freq, rate=rate)
    return write_wav(path, np.tile(mono[:, None], (1, channels)), rate)


def speech(path: Path, seconds: float) -> Path:
    """Vietnamese speech read by espeak-ng (22.05 kHz mono 16-bit), exactly ``seconds`` long.

    The demo bulletin is repeated until the reading is long enough, then cut.
    """
    text = SPEECH_TEXT.read_text(encoding="utf-8").strip()
    repeats = 1
    with tempfile.TemporaryDirectory(prefix="loa-speech-") as work:
        text_file, spoken = Path(work) / "text.txt", Path(work) / "spoken.wav"
        while True:
            text_file.write_text("\n\n".join([text] * repeats) + "\n", encoding="utf-8")
            subprocess.run(
                ["espeak-ng", "-v", "vi", "-w", str(spoken), "-f", str(text_file)],
                check=True,
                capture_output=True,
            )
            with wave.open(str(spoken), "rb") as reader:
                params = reader.getparams()
                wanted = round(seconds * params.framerate)
                if params.nframes >= wanted:
                    frames = reader.readframes(wanted)
                    break
            repeats *= 2
    with wave.open(str(path), "wb") as writer:
        writer.setparams(params)
        writer.writeframes(frames)
    return path


# --- The cases ----------------------------------------------------------------------------


def _stepped_case(path: Path, segments: Sequence[tuple[float, float]]) -> Path:
    return write_wav(path, stereo(stepped_sine(segments)), RATE)


def _sine_case(path: Path, divisor: int, peak: float, phase_deg: float) -> Path:
    signal = stereo(sine(RATE / divisor, 1.0, peak, phase_deg=phase_deg))
    return write_wav(path, signal, RATE, float32=peak >= 1.0)


def _pulse_case(path: Path, offset: float) -> Path:
    return write_wav(path, stereo(sinc_pulse(offset)), RATE, float32=True)


@dataclass(frozen=True)
class Case:
    """A signal, the metric it tests and the accepted range ``expected - low .. + high``."""

    name: str
    description: str
    build: Callable[[Path], Path]
    metric: Metric
    expected: float
    low: float
    high: float

    @property
    def file_name(self) -> str:
        return f"{self.name}.wav"

    def accepts(self, value: float) -> bool:
        # A hair of slack so a reading printed exactly at the edge is not lost to binary
        # rounding (e.g. -23.1 - (-23.0) = -0.10000000000000142).
        slack = 1e-9
        return self.expected - self.low - slack <= value <= self.expected + self.high + slack

    @property
    def tolerance(self) -> str:
        if self.low == self.high:
            return f"±{self.low:g}"
        return f"+{self.high:g}/−{self.low:g}"


def _i(name: str, segments: Sequence[tuple[float, float]], expected: float) -> Case:
    steps = ", ".join(f"{dbfs:g} dBFS {seconds:g} s" for dbfs, seconds in segments)
    build = partial(_stepped_case, segments=segments)
    return Case(name, f"1 kHz: {steps}", build, "I", expected, 0.1, 0.1)


def _lra(name: str, segments: Sequence[tuple[float, float]], expected: float) -> Case:
    steps = ", ".join(f"{dbfs:g}" for dbfs, _ in segments)
    seconds = segments[0][1]
    build = partial(_stepped_case, segments=segments)
    return Case(name, f"1 kHz {seconds:g} s each: {steps} dBFS", build, "LRA", expected, 0.1, 0.1)


def _tp(name: str, divisor: int, peak: float, phase_deg: float, expected: float) -> Case:
    build = partial(_sine_case, divisor=divisor, peak=peak, phase_deg=phase_deg)
    description = f"fs/{divisor} sine, peak {peak:g}, phase {phase_deg:g}°"
    return Case(name, description, build, "TP", expected, 0.4, 0.2)


def _pulse(name: str, offset: float) -> Case:
    build = partial(_pulse_case, offset=offset)
    description = f"sinc pulse (fs/4 cutoff), peak 1.0 at +{offset:g} sample"
    return Case(name, description, build, "TP", 0.0, 0.4, 0.2)


CASES: tuple[Case, ...] = (
    _i("3341-1", [(-23.0, 20.0)], -23.0),
    _i("3341-2", [(-33.0, 20.0)], -33.0),
    _i("3341-3", [(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
    _i(
        "3341-4",
        [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)],
        -23.0,
    ),
    _i("3341-5", [(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
    _tp("3341-15", 4, 0.50, 0.0, -6.0),
    _tp("3341-16", 4, 0.50, 45.0, -6.0),
    _tp("3341-17", 6, 0.50, 60.0, -6.0),
    _tp("3341-18", 8, 0.50, 67.5, -6.0),
    _tp("3341-19", 4, 1.41, 45.0, 3.0),
    _pulse("3341-20", 0.0),
    _pulse("3341-21", 0.25),
    _pulse("3341-22", 0.5),
    _pulse("3341-23", 0.75),
    _lra("3342-1", [(-20.0, 20.0), (-30.0, 20.0)], 10.0),
    _lra("3342-2", [(-20.0, 20.0), (-15.0, 20.0)], 5.0),
    _lra("3342-3", [(-40.0, 20.0), (-20.0, 20.0)], 20.0),
    _lra(
        "3342-4", [(-50.0, 20.0), (-35.0, 20.0), (-20.0, 20.0), (-35.0, 20.0), (-50.0, 20.0)], 15.0
    ),
)


# --- ffmpeg's ebur128, an independent meter -----------------------------------------------


@dataclass(frozen=True)
class Ebur128:
    """ffmpeg's ``ebur128=peak=true`` summary (one decimal, as ffmpeg prints it)."""

    lufs: float
    true_peak_dbtp: float
    lra: float

    def reading(self, metric: Metric) -> float:
        return {"I": self.lufs, "TP": self.true_peak_dbtp, "LRA": self.lra}[metric]


def ffmpeg_ebur128(path: Path) -> Ebur128:
    """Integrated loudness, true peak and loudness range of ``path`` per ffmpeg's filter."""
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-i", str(path),
        "-filter_complex", "ebur128=peak=true", "-f", "null", "-",
    ]  # fmt: skip
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg ebur128 failed on {path}: {result.stderr[-2000:]}")
    summary = result.stderr.rpartition("Summary:")[2]

    def field(name: str, unit: str) -> float:
        found = re.search(rf"^\s*{name}:\s*(-?[\d.]+|-inf)\s+{unit}\b", summary, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no {name} in ffmpeg's ebur128 summary of {path}:\n{summary}")
        return float(found.group(1))

    return Ebur128(field("I", "LUFS"), field("Peak", "dBFS"), field("LRA", "LU"))
