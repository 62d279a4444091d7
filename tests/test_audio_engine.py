"""The audio engine end to end: real ffmpeg, espeak-ng and the AMR-NB codec, every upload
format an editor may bring, bad input through the real ``loa`` command, and an independent
meter (``tests/meter.py``: pyloudnorm and a 4x oversampled peak; ffmpeg's ``ebur128`` for
the loudness range) on every output.

The policy (DESIGN.md §6): −16 LUFS ± 0.5, true peak ≤ −1.5 dBTP, MP3 64 kbps CBR mono
48 kHz, at most 0.3 s of silence at either end.

Time: the inputs are made once per module from one espeak-ng reading; the ``loa`` runs
(each a new Python process) are started together on a small thread pool the first time a
test asks for one, and each test waits for its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import wave
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
import pytest

import pipeline
from config import EXAMPLE_CONFIG, AudioProfile, Settings, load_settings
from tests.amr import write_amr
from tests.cli import one_line_error, run_loa
from tests.meter import Decoded, decode, ffprobe_stream, integrated_lufs, true_peak_dbtp
from tests.signals import ffmpeg_ebur128, speech, write_wav

TARGET_LUFS = -16.0
TOLERANCE_LU = 0.5
MAX_TRUE_PEAK_DBTP = -1.5
OUT_RATE = 48_000
OUT_BITRATE = 64_000
REPORT_AGREEMENT_LU = 0.3  # the engine's report against the independent meter
SILENCE_DBFS = -50.0
MAX_EDGE_SILENCE_S = 0.3
MAX_GAIN_DB = 40.0
BS1770_BLOCK_S = 0.4
DEFAULT_PROFILE = "speech-loudspeaker"
SCRATCH_GLOB = ".loa-audio-*"
SPEECH_S = 5.0
CLI_WORKERS = 2
CLI_TIMEOUT_S = 600.0


# --- Making inputs ------------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
        check=True,
        capture_output=True,
    )


def cut_wav(source: Path, target: Path, start_s: float, seconds: float) -> Path:
    """Frames ``start_s`` … ``start_s + seconds`` of a PCM WAV, in the same format."""
    with wave.open(str(source), "rb") as reader:
        params = reader.getparams()
        reader.setpos(round(start_s * params.framerate))
        frames = reader.readframes(round(seconds * params.framerate))
    with wave.open(str(target), "wb") as writer:
        writer.setparams(params)
        writer.writeframes(frames)
    return target


def loudest_window(source: Path, seconds: float) -> float:
    """Where the ``seconds`` long window of most energy starts in a 16-bit mono WAV: a short
    clip cut there is speech, not a pause."""
    with wave.open(str(source), "rb") as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    energy = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    width = round(seconds * rate)
    best = int(np.argmax(energy[width:] - energy[:-width]))
    return best / rate


STEREO_PAN = "pan=stereo|c0=c0|c1=0.6*c0"  # two different channels, not a copy


def audio_file(
    source: Path, target: Path, codec: list[str], rate: int, channels: int, video: str = ""
) -> Path:
    """``source`` re-encoded with ``codec`` at ``rate`` and ``channels``; with ``video``
    (a codec), as the audio track of a 160x120 ``testsrc`` video."""
    layout = ["-af", STEREO_PAN] if channels == 2 else ["-ac", "1"]
    if video:
        inputs = ["-i", str(source), "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10"]
        streams = ["-map", "1:v", "-map", "0:a", "-c:v", video, "-shortest"]
    else:
        inputs, streams = ["-i", str(source)], []
    ffmpeg(*inputs, *streams, *layout, "-ar", str(rate), *codec, str(target))
    return target


def amr_file(source: Path, target: Path) -> Path:
    return write_amr(source, target)


@dataclass(frozen=True)
class Format:
    """An upload format: how to make it from the speech WAV, and what ffprobe must see."""

    name: str
    suffix: str
    codec: str  # ffprobe's codec_name of the audio stream
    rate: int
    channels: int
    make: Callable[[Path, Path], Path]


def _ffmpeg_format(
    name: str, suffix: str, codec: str, rate: int, channels: int, args: list[str], video: str = ""
) -> Format:
    make = partial(audio_file, codec=args, rate=rate, channels=channels, video=video)
    return Format(name, suffix, codec, rate, channels, make)


FORMATS = (
    _ffmpeg_format("wav-u8-8k-mono", "wav", "pcm_u8", 8000, 1, ["-c:a", "pcm_u8"]),
    _ffmpeg_format("wav-s16-16k-stereo", "wav", "pcm_s16le", 16000, 2, ["-c:a", "pcm_s16le"]),
    _ffmpeg_format("wav-s16-44k1-mono", "wav", "pcm_s16le", 44100, 1, ["-c:a", "pcm_s16le"]),
    _ffmpeg_format("wav-s24-48k-stereo", "wav", "pcm_s24le", 48000, 2, ["-c:a", "pcm_s24le"]),
    _ffmpeg_format("wav-s24-96k-mono", "wav", "pcm_s24le", 96000, 1, ["-c:a", "pcm_s24le"]),
    _ffmpeg_format("wav-f32-96k-stereo", "wav", "pcm_f32le", 96000, 2, ["-c:a", "pcm_f32le"]),
    _ffmpeg_format("wav-f32-22k05-mono", "wav", "pcm_f32le", 22050, 1, ["-c:a", "pcm_f32le"]),
    _ffmpeg_format(
        "mp3-44k1-stereo", "mp3", "mp3", 44100, 2, ["-c:a", "libmp3lame", "-b:a", "128k"]
    ),
    _ffmpeg_format("m4a-aac-44k1-mono", "m4a", "aac", 44100, 1, ["-c:a", "aac", "-b:a", "96k"]),
    _ffmpeg_format(
        "ogg-vorbis-44k1-stereo", "ogg", "vorbis", 44100, 2, ["-c:a", "libvorbis", "-q:a", "4"]
    ),
    _ffmpeg_format(
        "ogg-opus-48k-mono", "opus", "opus", 48000, 1, ["-c:a", "libopus", "-b:a", "32k"]
    ),
    _ffmpeg_format("flac-48k-stereo", "flac", "flac", 48000, 2, ["-c:a", "flac"]),
    Format("amr-nb-8k-mono", "amr", "amr_nb", 8000, 1, amr_file),
    _ffmpeg_format(
        "mp4-aac-48k-stereo", "mp4", "aac", 48000, 2, ["-c:a", "aac", "-b:a", "128k"], "mpeg4"
    ),
    _ffmpeg_format(
        "mov-pcm-48k-stereo", "mov", "pcm_s16le", 48000, 2, ["-c:a", "pcm_s16le"], "mpeg4"
    ),
    _ffmpeg_format(
        "mkv-opus-48k-stereo", "mkv", "opus", 48000, 2, ["-c:a", "libopus", "-b:a", "64k"], "mpeg4"
    ),
)


# --- Checking outputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """An output as the independent meter reads it."""

    decoded: Decoded
    lufs: float
    true_peak_dbtp: float


def independent_lufs(decoded: Decoded) -> float:
    """BS.1770 integrated loudness; a clip shorter than one 400 ms block is one block."""
    if decoded.duration_s >= BS1770_BLOCK_S:
        return integrated_lufs(decoded)
    # A hair under the clip's length, so pyloudnorm's length check passes and it makes
    # exactly one block of all the samples but the last.
    block = (len(decoded.samples) - 1e-6) / decoded.rate
    return float(
        pyloudnorm.Meter(decoded.rate, block_size=block).integrated_loudness(decoded.samples)
    )


def assert_within_policy(
    path: Path, *, rate: int = OUT_RATE, bitrate: int = OUT_BITRATE
) -> Measured:
    """``path`` is one CBR mono MP3 stream at ``rate`` and ``bitrate`` within the policy."""
    streams = ffprobe_stream(path)["streams"]
    assert len(streams) == 1, streams
    stream = streams[0]
    shape = (stream["codec_name"], int(stream["sample_rate"]), int(stream["channels"]))
    assert shape == ("mp3", rate, 1), f"{path.name}: {shape}"
    assert int(stream["bit_rate"]) == bitrate, f"{path.name}: {stream['bit_rate']} b/s"
    decoded = decode(path)
    lufs = independent_lufs(decoded)
    peak = true_peak_dbtp(decoded)
    assert abs(lufs - TARGET_LUFS) <= TOLERANCE_LU, f"{path.name}: {lufs:.2f} LUFS"
    assert peak <= MAX_TRUE_PEAK_DBTP, f"{path.name}: true peak {peak:.2f} dBTP"
    return Measured(decoded, lufs, peak)


def assert_report_agrees(report: dict[str, Any], measured: Measured) -> None:
    """The engine's output block says what the independent meter reads."""
    assert abs(report["lufs"] - measured.lufs) <= REPORT_AGREEMENT_LU, (report, measured.lufs)
    assert abs(report["duration_s"] - measured.decoded.duration_s) <= 0.001, (
        report,
        measured.decoded.duration_s,
    )
    assert (report["sample_rate"], report["channels"]) == (measured.decoded.rate, 1), report


def scratch_dirs(folder: Path) -> list[Path]:
    return sorted(folder.glob(SCRATCH_GLOB))


def edge_silence_s(decoded: Decoded, dbfs: float = SILENCE_DBFS) -> tuple[float, float]:
    """Seconds below ``dbfs`` before the first and after the last louder sample."""
    loud = np.flatnonzero(np.abs(decoded.samples).max(axis=1) > 10.0 ** (dbfs / 20.0))
    assert len(loud), "no sample above the silence threshold"
    frames = len(decoded.samples)
    return loud[0] / decoded.rate, (frames - 1 - loud[-1]) / decoded.rate


# --- Shared inputs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio-engine")


@pytest.fixture(scope="module")
def speech_30s(work: Path) -> Path:
    """One espeak-ng reading of the Vietnamese demo bulletin (22.05 kHz mono 16-bit)."""
    return speech(work / "speech-30s.wav", 30.0)


@pytest.fixture(scope="module")
def speech_5s(work: Path, speech_30s: Path) -> Path:
    return cut_wav(speech_30s, work / "speech-5s.wav", 0.0, SPEECH_S)


@pytest.fixture(scope="module")
def settings() -> Settings:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("LOA_"):
                patch.delenv(name)
        return load_settings(EXAMPLE_CONFIG)


@pytest.fixture(scope="module")
def profile(settings: Settings) -> AudioProfile:
    return settings.audio.profile(DEFAULT_PROFILE)


def process(source: Path, out: Path, profile: AudioProfile) -> pipeline.ProcessResult:
    return pipeline.process(source, out, profile, profile_name=DEFAULT_PROFILE)


# --- Every upload format ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=[fmt.name for fmt in FORMATS])
def test_every_upload_format_comes_out_within_the_policy(
    fmt: Format, work: Path, speech_5s: Path, profile: AudioProfile
) -> None:
    folder = work / f"format-{fmt.name}"
    folder.mkdir()
    source = fmt.make(speech_5s, folder / f"upload.{fmt.suffix}")
    audio = [s for s in ffprobe_stream(source)["streams"] if s["codec_type"] == "audio"]
    assert [(s["codec_name"], int(s["sample_rate"]), int(s["channels"])) for s in audio] == [
        (fmt.codec, fmt.rate, fmt.channels)
    ], "the fixture is not the format it claims"

    result = process(source, folder / "out.mp3", profile)

    measured = assert_within_policy(result.path)
    report = result.to_dict()
    assert_report_agrees(report["output"], measured)
    assert report["profile"] == DEFAULT_PROFILE
    assert report["input"]["sample_rate"] == fmt.rate
    assert report["input"]["channels"] == fmt.channels
    assert abs(report["input"]["duration_s"] - SPEECH_S) <= 0.1, report["input"]
    assert scratch_dirs(folder) == []


# --- The report against the finished file (the LAME priming offset) -------------------------


@pytest.mark.parametrize("seconds", [0.3, SPEECH_S])
def test_streamed_report_equals_a_measurement_of_the_finished_file(
    seconds: float, work: Path, speech_5s: Path, profile: AudioProfile
) -> None:
    folder = work / f"streamed-{seconds:g}s"
    folder.mkdir()
    start = loudest_window(speech_5s, seconds) if seconds < SPEECH_S else 0.0
    source = cut_wav(speech_5s, folder / "clip.wav", start, seconds)

    streamed = process(source, folder / "out.mp3", profile).output
    finished = pipeline.measure(folder / "out.mp3")

    assert abs(streamed.lufs - finished.lufs) <= 0.05, (streamed, finished)
    assert abs(streamed.lra - finished.lra) <= 0.05, (streamed, finished)
    assert abs(streamed.true_peak_dbtp - finished.true_peak_dbtp) <= 0.05, (streamed, finished)
    assert abs(streamed.duration_s - finished.duration_s) <= 0.001, (streamed, finished)


# --- Edge cases in process ----------------------------------------------------------------


def test_a_clip_of_0_2_s_comes_out_within_the_policy(
    work: Path, speech_5s: Path, profile: AudioProfile
) -> None:
    folder = work / "short"
    folder.mkdir()
    source = cut_wav(speech_5s, folder / "clip.wav", loudest_window(speech_5s, 0.2), 0.2)

    result = process(source, folder / "out.mp3", profile)

    measured = assert_within_policy(result.path)  # one BS.1770 block of the whole clip
    assert measured.decoded.duration_s <= 0.2 + 0.001
    assert_report_agrees(result.to_dict()["output"], measured)


def test_noise_that_would_need_more_than_40_db_is_refused(
    work: Path, profile: AudioProfile
) -> None:
    """−62 dBFS noise is above the −70 LUFS gate but ~45 dB below the target."""
    folder = work / "quiet"
    folder.mkdir()
    noise = np.random.default_rng(7).normal(0.0, 10.0 ** (-62.0 / 20.0), 5 * 48000)
    source = write_wav(folder / "hiss.wav", noise, 48000)
    out = folder / "out.mp3"

    with pytest.raises(pipeline.AudioInputError, match="too quiet") as caught:
        process(source, out, profile)

    assert str(source) in str(caught.value)
    assert not out.exists()
    assert scratch_dirs(folder) == []


def test_the_leveller_brings_a_12_db_drop_within_6_lu(
    work: Path, speech_30s: Path, profile: AudioProfile
) -> None:
    folder = work / "leveller"
    folder.mkdir()
    source = folder / "drop.wav"
    ffmpeg("-i", str(speech_30s), "-t", "20", "-af", "volume=-12dB:enable='gte(t,10)'", str(source))
    before = ffmpeg_ebur128(source)
    assert before.lra > 9.0, f"the input's LRA is {before.lra} LU: the fixture is too tame"

    result = process(source, folder / "out.mp3", profile)

    assert_within_policy(result.path)
    after = ffmpeg_ebur128(result.path)
    assert after.lra <= 6.0, f"LRA {before.lra} LU in, {after.lra} LU out (ffmpeg ebur128)"


def test_leading_and_trailing_silence_is_trimmed(
    work: Path, speech_5s: Path, profile: AudioProfile
) -> None:
    folder = work / "padded"
    folder.mkdir()
    source = folder / "padded.wav"
    ffmpeg("-i", str(speech_5s), "-af", "adelay=delays=2000:all=1,apad=pad_dur=3", str(source))
    assert abs(decode(source).duration_s - (2.0 + SPEECH_S + 3.0)) < 0.01

    result = process(source, folder / "out.mp3", profile)

    measured = assert_within_policy(result.path)
    lead, trail = edge_silence_s(measured.decoded)
    assert lead <= MAX_EDGE_SILENCE_S, f"{lead:.3f} s of silence at the start"
    assert trail <= MAX_EDGE_SILENCE_S, f"{trail:.3f} s of silence at the end"
    assert measured.decoded.duration_s <= SPEECH_S + 2 * MAX_EDGE_SILENCE_S


def test_the_same_input_gives_the_same_bytes(
    work: Path, speech_5s: Path, profile: AudioProfile
) -> None:
    folder = work / "twice"
    folder.mkdir()

    first = process(speech_5s, folder / "first.mp3", profile)
    second = process(speech_5s, folder / "second.mp3", profile)

    assert first.path.read_bytes() == second.path.read_bytes()


def test_a_first_encode_that_misses_is_corrected_once(
    work: Path, speech_5s: Path, profile: AudioProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The plan expects the codec to take 3 dB: the first encode comes out far too loud.
    monkeypatch.setattr("pipeline._plan.CODEC_ALLOWANCE_DB", 3.0)
    folder = work / "corrected"
    folder.mkdir()

    result = process(speech_5s, folder / "out.mp3", profile)

    assert result.attempts == 2
    decoded = decode(result.path)
    assert integrated_lufs(decoded) == pytest.approx(profile.target_lufs, abs=0.5)
    assert true_peak_dbtp(decoded) <= profile.max_true_peak_dbtp
    assert sorted(path.name for path in folder.iterdir()) == ["out.mp3"]


def test_a_second_miss_is_an_error_and_writes_nothing(
    work: Path, speech_5s: Path, profile: AudioProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first encode misses (see above), and a correction 6 dB off makes the second miss.
    monkeypatch.setattr("pipeline._plan.CODEC_ALLOWANCE_DB", 3.0)
    monkeypatch.setattr("pipeline._plan.Plan.corrected_gain", lambda plan, *_: plan.gain_db + 6.0)
    folder = work / "missed"
    folder.mkdir()

    with pytest.raises(pipeline.AudioError, match=r"after 2 encodes: integrated loudness"):
        process(speech_5s, folder / "out.mp3", profile)

    assert list(folder.iterdir()) == []


def test_a_target_the_ceiling_makes_unreachable_is_refused_before_encoding(
    work: Path, speech_5s: Path, profile: AudioProfile
) -> None:
    # Speech cannot be −16 LUFS with no peak above −27.5 dBTP: the limiter holds it down.
    impossible = profile.model_copy(update={"max_true_peak_dbtp": -26.0})
    folder = work / "unreachable"
    folder.mkdir()

    with pytest.raises(pipeline.AudioError, match=r"cannot reach -16 LUFS .* under -27.5 dBTP"):
        process(speech_5s, folder / "out.mp3", impossible)

    assert list(folder.iterdir()) == []


# --- Through the `loa` command ------------------------------------------------------------


@dataclass(frozen=True)
class CliJob:
    """One ``loa audio process SOURCE OUT --json [extra]`` run."""

    source: Path
    out: Path
    extra: tuple[str, ...] = ()

    def args(self) -> list[str]:
        command = ["audio", "process", str(self.source), str(self.out), "--json"]
        return ["--config", str(EXAMPLE_CONFIG), *command, *self.extra]


@dataclass(frozen=True)
class CliRun:
    job: CliJob
    result: subprocess.CompletedProcess[str]

    @property
    def report(self) -> dict[str, Any]:
        assert self.result.returncode == 0, self.result.stderr
        value: dict[str, Any] = json.loads(self.result.stdout)
        return value


def _in(folder: Path, name: str) -> tuple[Path, Path]:
    """An input path ``name`` in ``folder`` and an output path in its own ``out`` folder."""
    (folder / "out").mkdir(parents=True)
    return folder / name, folder / "out" / "out.mp3"


def _empty(folder: Path, speech: Path) -> CliJob:
    source, out = _in(folder, "empty.wav")
    source.write_bytes(b"")
    return CliJob(source, out)


def _text_named_mp3(folder: Path, speech: Path) -> CliJob:
    source, out = _in(folder, "bản tin.mp3")
    source.write_text("Đây là một tệp văn bản, không phải âm thanh.\n" * 40, encoding="utf-8")
    return CliJob(source, out)


def _video_without_audio(folder: Path, speech: Path) -> CliJob:
    source, out = _in(folder, "camera.mp4")
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10:duration=2",
        "-c:v",
        "mpeg4",
        "-an",
        str(source),
    )
    return CliJob(source, out)


def _digital_silence(folder: Path, speech: Path) -> CliJob:
    source, out = _in(folder, "silence.wav")
    ffmpeg(
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-t", "5", "-c:a", "pcm_s16le", str(source)
    )
    return CliJob(source, out)


def _quiet_noise(folder: Path, speech: Path) -> CliJob:
    source, out = _in(folder, "hiss.wav")
    noise = np.random.default_rng(75).normal(0.0, 10.0 ** (-75.0 / 20.0), 5 * 48000)
    write_wav(source, noise, 48000)  # 24-bit: the noise is not lost to quantisation
    return CliJob(source, out)


def _truncated(folder: Path, speech: Path, suffix: str) -> CliJob:
    whole, out = _in(folder, f"whole.{suffix}")
    if suffix == "wav":
        whole.write_bytes(speech.read_bytes())
    else:
        ffmpeg("-i", str(speech), "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k", str(whole))
    data = whole.read_bytes()
    source = folder / f"truncated.{suffix}"
    source.write_bytes(data[: len(data) // 3])
    return CliJob(source, out)


def _unknown_profile(folder: Path, speech: Path) -> CliJob:
    _, out = _in(folder, "unused")
    return CliJob(speech, out, ("--profile", "no-such-profile"))


def _wav_output(folder: Path, speech: Path) -> CliJob:
    _, out = _in(folder, "unused")
    return CliJob(speech, out.with_suffix(".wav"))


def _vietnamese_paths(folder: Path, speech: Path) -> CliJob:
    inbox = folder / "Bản tin xã Pa Ủ" / "giọng đọc sáng nay"
    outbox = folder / "Đã xử lý" / "Tháng mười"
    inbox.mkdir(parents=True)
    outbox.mkdir(parents=True)
    source = inbox / "Thông báo tiêm phòng đợt 2.wav"
    source.write_bytes(speech.read_bytes())
    return CliJob(source, outbox / "Thông báo tiêm phòng đợt 2 (đã chuẩn hoá).mp3")


def _vendor_profile(folder: Path, speech: Path) -> CliJob:
    _, out = _in(folder, "unused")
    return CliJob(speech, out, ("--profile", "vendor-24k"))


CLI_JOBS: dict[str, Callable[[Path, Path], CliJob]] = {
    "empty": _empty,
    "text-named-mp3": _text_named_mp3,
    "video-without-audio": _video_without_audio,
    "digital-silence": _digital_silence,
    "quiet-noise-75dbfs": _quiet_noise,
    "truncated-wav": partial(_truncated, suffix="wav"),
    "truncated-mp3": partial(_truncated, suffix="mp3"),
    "unknown-profile": _unknown_profile,
    "wav-output": _wav_output,
    "vietnamese-paths": _vietnamese_paths,
    "vendor-24k": _vendor_profile,
}


@dataclass
class CliRuns:
    """``loa`` runs on a thread pool: each starts as soon as a worker is free."""

    pool: ThreadPoolExecutor
    work: Path
    speech: Path
    started: dict[str, Future[CliRun]] = field(default_factory=dict)

    def start(self, name: str) -> None:
        if name not in self.started:
            self.started[name] = self.pool.submit(self._run, name)

    def get(self, name: str) -> CliRun:
        self.start(name)
        return self.started[name].result()

    def _run(self, name: str) -> CliRun:
        job = CLI_JOBS[name](self.work / f"cli-{name}", self.speech)
        return CliRun(job, run_loa(*job.args(), timeout=CLI_TIMEOUT_S))


@pytest.fixture(scope="module")
def cli(request: pytest.FixtureRequest, work: Path, speech_5s: Path) -> Iterator[CliRuns]:
    """Starts every selected test's ``loa`` run at once (a Python start-up is seconds)."""
    pool = ThreadPoolExecutor(CLI_WORKERS, thread_name_prefix="loa-cli")
    runs = CliRuns(pool, work, speech_5s)
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if getattr(item, "module", None) is request.module and "job" in params:
            runs.start(params["job"])
    yield runs
    pool.shutdown(wait=True, cancel_futures=True)


def assert_user_error(run: CliRun) -> str:
    """Exit code 2, one line naming the input, nothing written, no scratch left."""
    result, job = run.result, run.job
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    line = one_line_error(result)
    assert line.startswith("loa: lỗi: "), line
    assert result.stdout == "", result.stdout
    assert not job.out.exists()
    assert scratch_dirs(job.out.parent) == []
    return line


BAD_INPUTS = {
    "empty": "",
    "text-named-mp3": "",
    "video-without-audio": "no audio stream",
    "digital-silence": "silent",
    "quiet-noise-75dbfs": "silent|too quiet",
}


@pytest.mark.parametrize("job", list(BAD_INPUTS))
def test_bad_input_is_a_one_line_error_naming_the_file(job: str, cli: CliRuns) -> None:
    run = cli.get(job)
    line = assert_user_error(run)
    assert str(run.job.source) in line, line
    assert re.search(BAD_INPUTS[job], line), line


@pytest.mark.parametrize("job", ["truncated-wav", "truncated-mp3"])
def test_a_truncated_file_gives_a_result_for_what_is_there_or_one_line_error(
    job: str, cli: CliRuns
) -> None:
    run = cli.get(job)
    assert "Traceback" not in run.result.stderr, run.result.stderr
    if run.result.returncode != 0:
        line = assert_user_error(run)
        assert str(run.job.source) in line, line
        return
    measured = assert_within_policy(run.job.out)
    assert_report_agrees(run.report["output"], measured)
    # A third of the bytes holds a third of the audio (less the headers), no more.
    assert 0.5 < measured.decoded.duration_s <= SPEECH_S / 3 + 0.1, measured.decoded.duration_s
    assert scratch_dirs(run.job.out.parent) == []


@pytest.mark.parametrize("job", ["unknown-profile"])
def test_an_unknown_profile_is_refused_with_the_choices(job: str, cli: CliRuns) -> None:
    line = assert_user_error(cli.get(job))
    assert "no-such-profile" in line, line
    for name in ("music-bed", DEFAULT_PROFILE, "vendor-24k"):
        assert name in line, line


@pytest.mark.parametrize("job", ["wav-output"])
def test_an_output_that_is_not_mp3_is_refused(job: str, cli: CliRuns) -> None:
    run = cli.get(job)
    line = assert_user_error(run)
    assert str(run.job.out) in line, line
    assert ".mp3" in line, line


@pytest.mark.parametrize("job", ["vietnamese-paths"])
def test_vietnamese_names_with_spaces_for_input_and_output(job: str, cli: CliRuns) -> None:
    run = cli.get(job)
    assert run.result.returncode == 0, run.result.stderr
    assert "Traceback" not in run.result.stderr
    measured = assert_within_policy(run.job.out)
    assert_report_agrees(run.report["output"], measured)
    assert run.report["profile"] == DEFAULT_PROFILE
    assert scratch_dirs(run.job.out.parent) == []


@pytest.mark.parametrize("job", ["vendor-24k"])
def test_the_vendor_profile_gives_24_khz_48_kbps(job: str, cli: CliRuns) -> None:
    run = cli.get(job)
    assert run.result.returncode == 0, run.result.stderr
    measured = assert_within_policy(run.job.out, rate=24_000, bitrate=48_000)
    assert_report_agrees(run.report["output"], measured)
    assert run.report["profile"] == "vendor-24k"
    assert run.report["output"]["sample_rate"] == 24_000


# --- Three hours ----------------------------------------------------------------------------

LONG_S = 3 * 3600


@pytest.mark.slow
@pytest.mark.timeout(3 * 3600)
def test_a_three_hour_recording(work: Path, speech_30s: Path) -> None:
    """An 8 kHz mono MP3 of 3 h (the 30 s reading looped) is processed whole."""
    folder = work / "three-hours"
    (folder / "out").mkdir(parents=True)
    source, out = folder / "ba giờ.mp3", folder / "out" / "ba giờ.mp3"
    ffmpeg(
        "-stream_loop", "-1", "-i", str(speech_30s), "-t", str(LONG_S),
        "-ac", "1", "-ar", "8000", "-c:a", "libmp3lame", "-b:a", "16k",
        "-compression_level", "9", str(source),
    )  # fmt: skip

    result = run_loa(*CliJob(source, out).args(), timeout=2 * 3600)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    output = report["output"]
    assert abs(output["lufs"] - TARGET_LUFS) <= TOLERANCE_LU, output
    assert output["true_peak_dbtp"] <= MAX_TRUE_PEAK_DBTP, output
    assert (output["sample_rate"], output["channels"]) == (OUT_RATE, 1), output
    assert abs(output["duration_s"] - LONG_S) <= 1.0, output
    assert abs(report["input"]["duration_s"] - LONG_S) <= 1.0, report["input"]
    stream = ffprobe_stream(out)["streams"][0]
    assert (stream["codec_name"], int(stream["sample_rate"]), int(stream["channels"])) == (
        "mp3",
        OUT_RATE,
        1,
    )
    assert int(stream["bit_rate"]) == OUT_BITRATE
    assert abs(float(stream["duration"]) - LONG_S) <= 1.0, stream["duration"]
    assert scratch_dirs(out.parent) == []
