"""Programmes and alerts with real ffmpeg and espeak-ng.

A programme is rendered here by ffmpeg straight from its graph (not through the
pipeline's reader) and judged on the decoded samples: durations, silences, the shape of
an alert. Tones are judged on their own samples. Loudness after processing is measured by
the independent meter of ``tests/meter.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.signal import butter, sosfiltfilt

from config import AudioProfile
from pipeline import AudioInputError, Source, measure
from pipeline._programme import (
    MAX_GAP_S,
    TONE_GAP_S,
    Gap,
    Part,
    alert_source,
    programme_source,
)
from pipeline._source import SOURCE_LABEL
from pipeline._tones import (
    ATTENTION_NOTES_HZ,
    CLOSING_NOTES_HZ,
    TONE_LOUDNESS_LUFS,
    attention_signal,
    closing_tone,
)
from tests.meter import Decoded, decode, ffprobe_stream, integrated_lufs, true_peak_dbtp

RATE = 48000
DURATION_TOLERANCE_S = 0.02
SILENT_DBFS = -60.0
SOUND_DBFS = -50.0  # the envelope counts as sound above this
ENVELOPE_WINDOW_S = 0.01
MIN_PAUSE_S = 0.25  # longer than espeak-ng's pauses between words
SPAN_TOLERANCE_S = 0.05
HORN_LOW_HZ = 300.0  # horn loudspeakers reproduce little below this
CLICK_BAND_HZ = 8000.0  # far above the tones' highest partial (3.5 kHz)
CLICK_DBFS = -60.0
EDGE_S = 0.001
EDGE_STEP = 0.01
TRUE_PEAK_METER_TOLERANCE_DB = 0.1  # two 4x oversampling meters differ by this much
PROFILE = AudioProfile()
VOICE_TEXT = "Kính thưa bà con"


# --- independent instruments: ffmpeg only generates, renders or decodes ---------------------


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True
    )


def generate(path: Path, lavfi: str, *output_args: str) -> Path:
    ffmpeg("-f", "lavfi", "-i", lavfi, *output_args, str(path))
    return path


def render(source: Source, path: Path) -> Decoded:
    """``source``'s graph run by ffmpeg into a float WAV, decoded."""
    inputs = [arg for part in source.inputs for arg in ("-i", str(part))]
    ffmpeg(
        *inputs,
        "-filter_complex", source.graph,
        "-map", f"[{SOURCE_LABEL}]",
        "-c:a", "pcm_f32le",
        str(path),
    )  # fmt: skip
    return decode(path)


def rms_dbfs(samples: NDArray[np.float64]) -> float:
    energy = float(np.mean(np.square(samples)))
    return 10 * np.log10(energy) if energy > 0 else -np.inf


@dataclass(frozen=True)
class Burst:
    start_s: float
    end_s: float
    samples: NDArray[np.float64]

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def bursts(decoded: Decoded) -> list[Burst]:
    """Stretches of sound (10 ms RMS above ``SOUND_DBFS``) split by pauses of ``MIN_PAUSE_S``."""
    window = round(decoded.rate * ENVELOPE_WINDOW_S)
    mono = decoded.samples.mean(axis=1)
    frames = len(mono) // window
    envelope = np.sqrt(np.mean(np.square(mono[: frames * window].reshape(frames, window)), axis=1))
    loud = np.flatnonzero(envelope > 10 ** (SOUND_DBFS / 20))
    runs: list[list[int]] = []
    for index in loud.tolist():
        if runs and (index - runs[-1][1]) * ENVELOPE_WINDOW_S < MIN_PAUSE_S:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return [
        Burst(
            first * ENVELOPE_WINDOW_S,
            (last + 1) * ENVELOPE_WINDOW_S,
            mono[first * window : (last + 1) * window],
        )
        for first, last in runs
    ]


def dominant_hz(samples: NDArray[np.float64], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Short clips of different rates and layouts, and a few seconds of Vietnamese speech."""
    folder = tmp_path_factory.mktemp("clips")
    voice = folder / "voice.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(voice), VOICE_TEXT], check=True)
    return {
        "voice": voice,
        "a": generate(folder / "a.wav", "sine=f=500:d=1.25:sample_rate=44100"),
        "b": generate(folder / "b.wav", "sine=f=700:d=2:sample_rate=48000", "-ac", "2"),
        "c": generate(folder / "c.wav", "sine=f=900:d=0.8:sample_rate=16000"),
        "text": _text_file(folder / "notes.wav"),
    }


def _text_file(path: Path) -> Path:
    path.write_text("Kính thưa bà con, đây không phải là âm thanh.\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tones")
    return {
        "attention": attention_signal(folder / "attention.wav", RATE),
        "closing": closing_tone(folder / "closing.wav", RATE),
    }


# --- programmes -------------------------------------------------------------------------


def test_a_programme_lasts_its_parts_plus_gaps_minus_crossfades(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    source = programme_source(
        [clips["a"], Gap(0.75), clips["b"], Part(clips["c"], crossfade_s=0.3), Gap(0.0)],
        intro=clips["voice"],
        outro=clips["a"],
    )
    voice_s = decode(clips["voice"]).duration_s
    expected_s = voice_s + 1.25 + 0.75 + 2.0 + 0.8 - 0.3 + 1.25

    decoded = render(source, tmp_path / "programme.wav")

    assert decoded.rate == RATE
    assert decoded.samples.shape[1] == 1
    assert decoded.duration_s == pytest.approx(expected_s, abs=DURATION_TOLERANCE_S)
    assert source.duration_s == pytest.approx(expected_s, abs=DURATION_TOLERANCE_S)
    assert source.inputs == (clips["voice"], clips["a"], clips["b"], clips["c"], clips["a"])


def test_the_pipeline_reads_a_programme_as_ffmpeg_renders_it(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    source = programme_source([clips["a"], Gap(0.5), clips["b"]], channels=2)

    report = measure(source)

    assert report.channels == 2
    assert report.duration_s == pytest.approx(1.25 + 0.5 + 2.0, abs=DURATION_TOLERANCE_S)


def test_a_gap_is_silent(clips: dict[str, Path], tmp_path: Path) -> None:
    decoded = render(programme_source([clips["a"], Gap(1.5), clips["a"]]), tmp_path / "p.wav")
    samples = decoded.samples[:, 0]

    def span(start_s: float, end_s: float) -> NDArray[np.float64]:
        return samples[round(start_s * decoded.rate) : round(end_s * decoded.rate)]

    assert rms_dbfs(span(1.25 + 0.01, 2.75 - 0.01)) < SILENT_DBFS
    assert rms_dbfs(span(0.1, 1.15)) > SOUND_DBFS
    assert rms_dbfs(span(2.85, 3.9)) > SOUND_DBFS


def test_a_crossfade_overlaps_without_a_dip_to_silence(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    source = programme_source([clips["b"], Part(clips["a"], crossfade_s=0.5)])

    decoded = render(source, tmp_path / "p.wav")

    assert decoded.duration_s == pytest.approx(2.0 + 1.25 - 0.5, abs=DURATION_TOLERANCE_S)
    assert len(bursts(decoded)) == 1


# --- alerts -----------------------------------------------------------------------------


@pytest.mark.parametrize(("repeats", "gap_s"), [(3, 1.0), (2, 0.6)])
def test_an_alert_is_tone_voice_repeated_then_closing_tone(
    clips: dict[str, Path], tones: dict[str, Path], tmp_path: Path, repeats: int, gap_s: float
) -> None:
    voice_decoded = decode(clips["voice"])
    (voice,) = bursts(voice_decoded)
    lead_s, trail_s = voice.start_s, voice_decoded.duration_s - voice.end_s
    (attention_alone,) = bursts(decode(tones["attention"]))
    (closing_alone,) = bursts(decode(tones["closing"]))

    source = alert_source(clips["voice"], work_dir=tmp_path, repeats=repeats, gap_s=gap_s)
    heard = bursts(render(source, tmp_path / "alert.wav"))

    assert len(heard) == 1 + repeats + 1
    attention, *spoken, closing = heard
    assert attention.length_s == pytest.approx(attention_alone.length_s, abs=SPAN_TOLERANCE_S)
    assert closing.length_s == pytest.approx(closing_alone.length_s, abs=SPAN_TOLERANCE_S)
    assert is_one_of(dominant_hz(attention.samples, RATE), ATTENTION_NOTES_HZ)
    assert is_one_of(dominant_hz(closing.samples, RATE), CLOSING_NOTES_HZ)
    for burst in spoken:
        assert burst.length_s == pytest.approx(voice.length_s, abs=SPAN_TOLERANCE_S)
    pauses = [after.start_s - before.end_s for before, after in itertools.pairwise(heard)]
    assert pauses[0] == pytest.approx(TONE_GAP_S + lead_s, abs=SPAN_TOLERANCE_S)
    for pause in pauses[1:-1]:
        assert pause == pytest.approx(trail_s + gap_s + lead_s, abs=SPAN_TOLERANCE_S)
    assert pauses[-1] == pytest.approx(trail_s + TONE_GAP_S, abs=SPAN_TOLERANCE_S)


def is_one_of(frequency_hz: float, notes_hz: tuple[float, ...], tolerance_hz: float = 5.0) -> bool:
    return min(abs(frequency_hz - note) for note in notes_hz) <= tolerance_hz


def test_an_alerts_voice_is_as_loud_as_its_tones(clips: dict[str, Path], tmp_path: Path) -> None:
    source = alert_source(clips["voice"], work_dir=tmp_path, repeats=1)
    heard = bursts(render(source, tmp_path / "alert.wav"))

    voice = Decoded(RATE, heard[1].samples.reshape(-1, 1))
    attention = Decoded(RATE, heard[0].samples.reshape(-1, 1))

    assert integrated_lufs(voice) == pytest.approx(TONE_LOUDNESS_LUFS, abs=1.5)
    assert integrated_lufs(attention) == pytest.approx(TONE_LOUDNESS_LUFS, abs=1.0)


def test_a_processed_alert_meets_the_loudness_policy(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    from pipeline import process

    source = alert_source(clips["voice"], work_dir=tmp_path / "tones")

    result = process(source, tmp_path / "alert.mp3", PROFILE)

    decoded = decode(result.path)
    assert abs(integrated_lufs(decoded) - PROFILE.target_lufs) <= PROFILE.tolerance_lu
    assert true_peak_dbtp(decoded) <= PROFILE.max_true_peak_dbtp + TRUE_PEAK_METER_TOLERANCE_DB
    assert len(bursts(decoded)) == 1 + 3 + 1


# --- tones ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [attention_signal, closing_tone])
def test_tones_are_the_same_bytes_every_time(
    make: Callable[[Path, int], Path], tmp_path: Path
) -> None:
    first = make(tmp_path / "first.wav", RATE)
    second = make(tmp_path / "second.wav", RATE)

    assert sha256(first) == sha256(second)


def test_the_tones_differ_and_last_as_designed(tones: dict[str, Path]) -> None:
    attention, closing = decode(tones["attention"]), decode(tones["closing"])

    assert 3.0 <= attention.duration_s <= 4.0
    assert 1.0 <= closing.duration_s <= 2.0
    assert sha256(tones["attention"]) != sha256(tones["closing"])


@pytest.mark.parametrize("name", ["attention", "closing"])
def test_a_tone_starts_and_ends_without_a_click(tones: dict[str, Path], name: str) -> None:
    decoded = decode(tones[name])
    samples = decoded.samples[:, 0]
    edge = round(EDGE_S * decoded.rate)

    assert samples[0] == 0.0
    assert samples[-1] == 0.0
    assert np.max(np.abs(np.diff(samples[:edge]))) < EDGE_STEP
    assert np.max(np.abs(np.diff(samples[-edge:]))) < EDGE_STEP
    # A click anywhere (a note cut off or started abruptly) is broadband; the notes are not.
    highpass = butter(8, CLICK_BAND_HZ, "highpass", fs=decoded.rate, output="sos")
    assert np.max(np.abs(sosfiltfilt(highpass, samples))) < 10 ** (CLICK_DBFS / 20)


@pytest.mark.parametrize("name", ["attention", "closing"])
def test_a_tone_carries_on_a_horn(tones: dict[str, Path], name: str) -> None:
    decoded = decode(tones[name])
    samples = decoded.samples[:, 0]
    power = np.square(np.abs(np.fft.rfft(samples)))
    frequencies = np.fft.rfftfreq(len(samples), 1 / decoded.rate)

    assert power[frequencies > HORN_LOW_HZ].sum() / power.sum() > 0.99
    assert integrated_lufs(decoded) == pytest.approx(TONE_LOUDNESS_LUFS, abs=0.5)


# --- invalid programmes -------------------------------------------------------------------


def _one_line_error_naming(excinfo: pytest.ExceptionInfo[AudioInputError], culprit: str) -> None:
    message = str(excinfo.value)
    assert culprit in message
    assert "\n" not in message


def test_a_programme_without_audio_parts_is_refused(clips: dict[str, Path]) -> None:
    for parts in ([], [Gap(1.0)]):
        with pytest.raises(AudioInputError) as excinfo:
            programme_source(parts, intro=clips["a"], name="bản tin sáng")
        _one_line_error_naming(excinfo, "bản tin sáng")


@pytest.mark.parametrize("seconds", [-0.5, MAX_GAP_S + 1, float("nan")])
def test_a_gap_out_of_range_is_refused(seconds: float) -> None:
    with pytest.raises(AudioInputError) as excinfo:
        Gap(seconds)
    _one_line_error_naming(excinfo, f"gap of {seconds}")


def test_a_part_without_audio_is_refused_by_name(clips: dict[str, Path]) -> None:
    with pytest.raises(AudioInputError) as excinfo:
        programme_source([clips["a"], Gap(1.0), clips["text"]])
    _one_line_error_naming(excinfo, str(clips["text"]))


def test_a_missing_part_is_refused_by_name(clips: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "không-có.wav"
    with pytest.raises(AudioInputError) as excinfo:
        programme_source([clips["a"], missing])
    _one_line_error_naming(excinfo, str(missing))


def test_a_crossfade_longer_than_a_part_is_refused_by_name(clips: dict[str, Path]) -> None:
    # c lasts 0.8 s: it cannot overlap 1.0 s with a.
    with pytest.raises(AudioInputError) as excinfo:
        programme_source([clips["a"], Part(clips["c"], crossfade_s=1.0)])
    _one_line_error_naming(excinfo, str(clips["c"]))

    with pytest.raises(AudioInputError) as excinfo:
        programme_source([clips["c"], Part(clips["a"], crossfade_s=1.0)])
    _one_line_error_naming(excinfo, str(clips["a"]))


def test_crossfades_at_both_ends_must_fit_in_the_part_between(clips: dict[str, Path]) -> None:
    # Each overlap is shorter than c (0.8 s), but together they would need 1.0 s of it.
    with pytest.raises(AudioInputError) as excinfo:
        programme_source(
            [clips["a"], Part(clips["c"], crossfade_s=0.5), Part(clips["b"], crossfade_s=0.5)]
        )
    _one_line_error_naming(excinfo, str(clips["c"]))


def test_a_crossfade_needs_a_part_before_it(clips: dict[str, Path]) -> None:
    with pytest.raises(AudioInputError) as excinfo:
        programme_source([Part(clips["a"], crossfade_s=0.2), clips["b"]])
    _one_line_error_naming(excinfo, str(clips["a"]))


def test_a_crossfade_out_of_range_is_refused(clips: dict[str, Path]) -> None:
    with pytest.raises(AudioInputError) as excinfo:
        Part(clips["a"], crossfade_s=11.0)
    _one_line_error_naming(excinfo, "crossfade of 11.0")


def test_an_alert_with_a_silent_voice_is_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    silent = generate(tmp_path / "silent.wav", "anullsrc=r=48000:cl=mono", "-t", "2")
    with pytest.raises(AudioInputError) as excinfo:
        alert_source(silent, work_dir=tmp_path)
    _one_line_error_naming(excinfo, str(silent))


# --- an hour-long programme in bounded memory ------------------------------------------------

MEMORY_LIMIT_MB = 300
MEMORY_SAMPLE_S = 0.05
HOUR_PARTS = 12
PART_S = 300
HOUR_CROSSFADE_S = 2.0
REPO = Path(__file__).resolve().parent.parent


def _tree_memory_bytes(root: int) -> tuple[int, int]:
    """``root`` and all its descendants, read from /proc: their summed proportional set
    size (PSS: shared libraries split among the processes that map them, so the tree's
    real footprint) and the largest single resident set (what ``/usr/bin/time -v``
    reports).

    A child caught between fork and exec still runs its parent's program in (a copy of)
    its parent's memory; it is skipped, or the parent would be counted twice.
    """
    total_pss, largest_rss, pending = 0, 0, [(root, b"")]
    while pending:
        pid, parent_command = pending.pop()
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            children = [
                int(child)
                for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()
            ]
            if command != parent_command:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                total_pss += _rollup_kib(rollup, "Pss:") * 1024
                largest_rss = max(largest_rss, _rollup_kib(rollup, "Rss:") * 1024)
        except (FileNotFoundError, ProcessLookupError):
            continue
        pending += [(child, command) for child in children]
    return total_pss, largest_rss


def _rollup_kib(rollup: str, field: str) -> int:
    line = next(line for line in rollup.splitlines() if line.startswith(field))
    return int(line.split()[1])


def hour_programme(clip: Path) -> Source:
    """Twelve plays of a 5-minute ``clip``, with 1 s gaps and two 2 s crossfades: 3605 s."""
    parts: list[Path | Part | Gap] = [clip]
    for index in range(1, HOUR_PARTS):
        parts += [Part(clip, crossfade_s=HOUR_CROSSFADE_S)] if index % 4 == 0 else [Gap(1.0), clip]
    return programme_source(parts, name="an hour")


HOUR_S = HOUR_PARTS * PART_S + 9 * 1.0 - 2 * HOUR_CROSSFADE_S
_CHILD = """
import sys
from pathlib import Path
from config import AudioProfile
from pipeline import measure, process
from tests.test_programme import hour_programme
source = hour_programme(Path(sys.argv[1]))
if sys.argv[2] == "measure":
    print(measure(source).duration_s)
else:
    print(process(source, Path(sys.argv[2]), AudioProfile()).output.duration_s)
"""


def run_measuring_memory(args: list[str]) -> tuple[str, float]:
    """Run ``args`` from the repository root; its stdout and the peak memory of its
    process tree in MB, sampled every ``MEMORY_SAMPLE_S``: the larger of the tree's
    summed PSS and its largest single process's RSS."""
    with subprocess.Popen(
        args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        peak = 0
        while child.poll() is None:
            peak = max(peak, *_tree_memory_bytes(child.pid))
            time.sleep(MEMORY_SAMPLE_S)
        stdout, stderr = child.communicate()
    assert child.returncode == 0, stderr
    return stdout, peak / 1e6


@pytest.fixture(scope="module")
def five_minutes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(
        tmp_path_factory.mktemp("hour") / "five-minutes.wav",
        f"anoisesrc=c=pink:a=0.1:d={PART_S}:r=48000,tremolo=f=3:d=0.6",
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_an_hour_long_programme_is_metered_in_bounded_memory(five_minutes: Path) -> None:
    stdout, peak_mb = run_measuring_memory(
        [sys.executable, "-c", _CHILD, str(five_minutes), "measure"]
    )

    assert float(stdout) == pytest.approx(HOUR_S, abs=DURATION_TOLERANCE_S)
    assert peak_mb < MEMORY_LIMIT_MB


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_an_hour_long_programme_is_processed_in_bounded_memory(
    five_minutes: Path, tmp_path: Path
) -> None:
    out = tmp_path / "hour.mp3"
    stdout, peak_mb = run_measuring_memory(
        [sys.executable, "-c", _CHILD, str(five_minutes), str(out)]
    )

    assert float(stdout) == pytest.approx(HOUR_S, abs=1.0)
    assert peak_mb < MEMORY_LIMIT_MB
    decoded_s = float(ffprobe_stream(out)["format"]["duration"])
    assert decoded_s == pytest.approx(HOUR_S, abs=1.0)
