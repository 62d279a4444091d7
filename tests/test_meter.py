"""Loa's loudness meter against the EBU test signals and two independent meters.

The signals are synthesised by ``tests/signals.py`` (never downloaded). The references are
pyloudnorm (integrated loudness, with the ``DeMan`` K-weighting, which reproduces
BS.1770's printed 48 kHz coefficients and extends them to other rates as libebur128
does; pyloudnorm's default filter is an approximation about 0.04 dB off at 1 kHz) and
ffmpeg's ``ebur128=peak=true`` filter (integrated loudness, true peak, loudness range).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from numpy.typing import NDArray
from scipy.signal import resample_poly, sosfilt

from pipeline import TRUE_PEAK_FLOOR_DBTP, AudioError, LoudnessMeter, LoudnessReport, measure
from pipeline._meter import (
    BLOCK_HOPS,
    SpectralHops,
    block_energies,
    gated_loudness,
    k_weighting_sos,
    loudness_range,
)
from tests.meter import decode
from tests.signals import (
    CASES,
    RATE,
    Case,
    Signal,
    fade,
    ffmpeg_ebur128,
    sinc_pulse,
    speech,
    stereo,
    tone,
    write_wav,
)

SPEECH_S = 30.0
STEREO_RATE = 44_100


def reading(report: LoudnessReport, case: Case) -> float:
    return {"I": report.lufs, "TP": report.true_peak_dbtp, "LRA": report.lra}[case.metric]


@pytest.fixture(scope="session")
def signal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("signals")


@pytest.fixture(scope="session")
def speech_mono(signal_dir: Path) -> Path:
    """espeak-ng's Vietnamese reading: 22.05 kHz mono 16-bit."""
    return speech(signal_dir / "speech-mono.wav", SPEECH_S)


@pytest.fixture(scope="session")
def speech_stereo_44k(signal_dir: Path, speech_mono: Path) -> Path:
    """44.1 kHz stereo whose channels differ: the speech left, and right the same speech
    0.7 s later at −6 dB with a −30 dBFS 150 Hz hum under it."""
    left = resample_poly(decode(speech_mono).samples[:, 0], 2, 1)
    delay = round(0.7 * STEREO_RATE)
    right = 0.5 * np.concatenate([np.zeros(delay), left[:-delay]])
    n = np.arange(len(left))
    right += (
        10 ** (-30 / 20) * np.sin(2 * np.pi * 150 * n / STEREO_RATE) * fade(len(n), STEREO_RATE)
    )
    samples = np.stack([left, right], axis=1)
    samples *= 0.95 / np.max(np.abs(samples))  # resampling may overshoot full scale
    return write_wav(signal_dir / "speech-stereo-44k.wav", samples, STEREO_RATE)


# --- The EBU test signals -----------------------------------------------------------------


@pytest.fixture(scope="session")
def case_file(signal_dir: Path) -> Callable[[Case], Path]:
    """Builds a case's WAV on first use; later uses get the same file."""
    built: dict[str, Path] = {}

    def get(case: Case) -> Path:
        if case.name not in built:
            built[case.name] = case.build(signal_dir / case.file_name)
        return built[case.name]

    return get


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_ebu_case_within_tolerance(case: Case, case_file: Callable[[Case], Path]) -> None:
    report = measure(case_file(case))
    value = reading(report, case)
    assert case.accepts(value), (
        f"{case.name} ({case.description}): {case.metric} {value} outside "
        f"{case.expected} {case.tolerance}"
    )


@pytest.mark.parametrize(
    "case",
    [case for case in CASES if case.metric == "TP" and case.name not in {"3341-15", "3341-20"}],
    ids=lambda case: case.name,
)
def test_true_peak_is_found_between_samples(case: Case, case_file: Callable[[Case], Path]) -> None:
    """These signals' sample peak lies below their true peak, and the meter reads above
    the sample peak: the cases cannot be passed by reporting the sample peak."""
    path = case_file(case)
    sample_peak_db = 20 * math.log10(float(np.max(np.abs(decode(path).samples))))
    assert sample_peak_db < case.expected - 0.2
    assert measure(path).true_peak_dbtp > sample_peak_db + 0.1


# --- Independent meters -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["speech_mono", "speech_stereo_44k"])
def test_integrated_loudness_agrees_with_pyloudnorm(
    name: str, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(name)
    decoded = decode(path)
    reference = pyloudnorm.Meter(decoded.rate, filter_class="DeMan")
    expected = float(reference.integrated_loudness(decoded.samples))
    report = measure(path)
    assert report.sample_rate == decoded.rate
    assert report.lufs == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize("name", ["speech_mono", "speech_stereo_44k"])
def test_agrees_with_ffmpeg_ebur128(name: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(name)
    reference = ffmpeg_ebur128(path)
    report = measure(path)
    assert report.lufs == pytest.approx(reference.lufs, abs=0.1)
    assert report.true_peak_dbtp == pytest.approx(reference.true_peak_dbtp, abs=0.3)
    assert report.lra == pytest.approx(reference.lra, abs=0.5)


# --- Streaming ----------------------------------------------------------------------------


def _busy_signal(seconds: float = 10.0) -> Signal:
    """Stereo noise whose level jumps every 0.5 s (different per channel), with an
    inter-sample pulse (peak 0.9 between samples) in the right channel."""
    rng = np.random.default_rng(1770)
    frames = round(seconds * RATE)
    steps = -(-frames // (RATE // 2))
    levels = 10 ** (rng.uniform(-50.0, -20.0, size=(steps, 2)) / 20)
    envelope = np.repeat(levels, RATE // 2, axis=0)[:frames]
    samples = rng.standard_normal((frames, 2)) * envelope
    pulse = 0.9 * sinc_pulse(0.4, seconds=seconds)
    samples[:, 1] += np.roll(pulse, 4801 * 5 - frames // 2)  # straddles a 4801-frame chunk
    return samples


def _metered(samples: Signal, chunk: int) -> LoudnessMeter:
    meter = LoudnessMeter(RATE, samples.shape[1])
    as_float = samples.astype(np.float32)
    # K-weighted once, by scipy (an independent implementation of the same biquads).
    weighted = sosfilt(k_weighting_sos(RATE), as_float, axis=0).astype(np.float32)
    for start in range(0, len(as_float), chunk):
        meter.add(as_float[start : start + chunk], weighted[start : start + chunk])
    return meter


def test_chunk_size_does_not_change_the_result() -> None:
    samples = _busy_signal()
    whole = _metered(samples, len(samples))
    reports = {chunk: _metered(samples, chunk).report() for chunk in (1000, 4801, 48_000)}
    expected = whole.report()
    assert expected.lufs > -40.0  # a real signal, not two silences that agree
    assert expected.true_peak_dbtp == pytest.approx(20 * math.log10(0.9), abs=0.1)
    for chunk, report in reports.items():
        assert report == expected, f"chunks of {chunk} frames"
    hops = _metered(samples, 4801).hop_energies()
    np.testing.assert_allclose(hops, whole.hop_energies(), rtol=1e-9, atol=0)


# --- Edge cases ---------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [0.2, 0.35])
def test_clip_shorter_than_a_block_is_measured_as_one_block(seconds: float, tmp_path: Path) -> None:
    """A −23 dBFS stereo tone is −23 LUFS when steady; a short one is that, less the energy
    its 10 ms fades remove."""
    report = measure(tone(tmp_path / "short.wav", 1000.0, seconds, -23.0))
    envelope = fade(round(seconds * RATE), RATE)
    expected = -23.0 + 10 * math.log10(float(np.mean(envelope**2)))
    assert report.lufs == pytest.approx(expected, abs=0.1)
    assert not report.is_silent


def test_digital_silence_is_the_floor(tmp_path: Path) -> None:
    silent = measure(write_wav(tmp_path / "silence.wav", np.zeros((3 * RATE, 2)), RATE))
    assert silent.lufs == -70.0
    assert silent.is_silent
    assert silent.true_peak_dbtp == TRUE_PEAK_FLOOR_DBTP
    assert silent.lra == 0.0
    assert silent.duration_s == 3.0
    quiet = measure(tone(tmp_path / "quiet.wav", 1000.0, 3.0, -60.0))
    assert not quiet.is_silent
    assert quiet.lufs == pytest.approx(-60.0, abs=0.1)


def test_stereo_is_3_01_lu_louder_than_mono(speech_mono: Path, tmp_path: Path) -> None:
    decoded = decode(speech_mono)
    both = write_wav(tmp_path / "speech-both.wav", stereo(decoded.samples[:, 0]), decoded.rate)
    mono, dual = measure(speech_mono), measure(both)
    assert (mono.channels, dual.channels) == (1, 2)
    # Each report is rounded to 0.01, so the difference may be off by up to 0.01.
    assert dual.lufs - mono.lufs == pytest.approx(10 * math.log10(2), abs=0.011)
    assert dual.true_peak_dbtp == pytest.approx(mono.true_peak_dbtp, abs=0.011)


# --- The first pass's spectral hop energies --------------------------------------------------


def _exact_hops(samples: Signal, rate: int) -> NDArray[np.float64]:
    meter = LoudnessMeter(rate, samples.shape[1], true_peak=False)
    as_float = samples.astype(np.float32)
    weighted = sosfilt(k_weighting_sos(rate), samples, axis=0).astype(np.float32)
    meter.add(as_float, weighted)
    return meter.hop_energies()


def _spectral_hops(samples: Signal, rate: int, chunk: int) -> SpectralHops:
    hops = SpectralHops(rate, samples.shape[1])
    as_float = samples.astype(np.float32)
    for start in range(0, len(as_float), chunk):
        hops.add(as_float[start : start + chunk])
    return hops


@pytest.mark.parametrize("rate", [48_000, STEREO_RATE])
def test_spectral_hops_give_the_meters_loudness_and_range(speech_mono: Path, rate: int) -> None:
    samples = resample_poly(decode(speech_mono).samples, rate, 22_050, axis=0)
    samples = np.concatenate([samples, 0.3 * samples[::-1]])  # a quieter second half: LRA
    exact = _exact_hops(samples, rate)
    spectral = _spectral_hops(samples, rate, 96_000)
    assert spectral.frames == len(samples)
    estimate = spectral.hop_energies()
    assert len(estimate) == len(exact) == len(samples) // round(rate * 0.1)
    blocks = BLOCK_HOPS
    expected_lufs = gated_loudness(block_energies(exact, blocks), -10.0)
    assert expected_lufs > -40.0
    assert gated_loudness(block_energies(estimate, blocks), -10.0) == pytest.approx(
        expected_lufs, abs=0.02
    )
    assert loudness_range(exact) > 5.0
    assert loudness_range(estimate) == pytest.approx(loudness_range(exact), abs=0.05)
    loud = exact > exact.max() * 1e-3
    differences = 10 * np.log10(estimate[loud] / exact[loud])
    assert np.percentile(np.abs(differences), 95) < 0.3


@pytest.mark.parametrize("hz", [100.0, 997.0, 6000.0, 14000.0])
def test_spectral_hops_weight_a_steady_tone_as_k_weighting_does(hz: float) -> None:
    rate = 48_000
    n = np.arange(rate * 5)
    samples = (0.25 * np.sin(2 * np.pi * hz * n / rate))[:, None]
    exact = _exact_hops(samples, rate)[10:]  # after the filters' start
    estimate = _spectral_hops(samples, rate, 4801).hop_energies()[10:]
    np.testing.assert_allclose(10 * np.log10(estimate / exact), 0.0, atol=0.02)


def test_spectral_hops_weigh_channels_as_bs1770() -> None:
    rate = 48_000
    n = np.arange(rate * 2)
    left = 0.25 * np.sin(2 * np.pi * 997 * n / rate)
    mono = _spectral_hops(left[:, None], rate, rate).hop_energies()
    both = _spectral_hops(np.stack([left, left], axis=1), rate, rate).hop_energies()
    surround = np.zeros((len(n), 6))
    surround[:, 4] = left  # Ls: weighted 1.41
    rear = _spectral_hops(surround, rate, rate).hop_energies()
    np.testing.assert_allclose(both, 2 * mono, rtol=1e-4)
    np.testing.assert_allclose(rear, 1.41 * mono, rtol=1e-4)


def test_a_cancelled_measurement_stops_with_an_error(speech_mono: Path) -> None:
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(AudioError, match="measurement cancelled"):
        measure(speech_mono, cancelled=cancelled)
    assert measure(speech_mono, cancelled=threading.Event()).lufs > -40.0
