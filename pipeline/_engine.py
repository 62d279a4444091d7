"""The audio engine: any source → one MP3 that meets a profile's policy, verified.

Two passes over the audio, using both cores:

1. **Prepare**: ffmpeg decodes, resamples, mixes to the profile's channels and filters,
   writing a scratch float32 file (a long PCM file in parts side by side, see
   :mod:`pipeline._spool`); Python follows the file as it grows and measures each 100 ms
   hop's K-weighted energy from its spectrum (:class:`SpectralHops`) and each 64-frame
   block's peak. From those comes the :class:`~pipeline._plan.Plan`.
2. **Encode**: Python reads the scratch file, applies the plan's levelling and gain, a
   true-peak limiter and edge fades, and streams it into ffmpeg's LAME encoder, which
   has a core of its own (:mod:`pipeline._affinity`). The encoder writes the MP3 file
   and, through the ``tee`` muxer, the same packets to a second ffmpeg that decodes them
   for the exact meter: the output is measured as it is made, from the bytes that will
   be played.

The input's own report is measured from the start, at the lowest priority and off the
encoder's CPU, on what the passes leave idle.

If the measurement misses the policy, the gain and ceiling are corrected from it and
the encode runs once more; a second miss is an error and nothing is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from config import DEFAULT_AUDIO_PROFILE, AudioProfile
from pipeline._affinity import CoreSplit, encoder_core, kept_off, pin
from pipeline._errors import AudioError
from pipeline._limiter import BLOCK, TruePeakLimiter
from pipeline._loudness import measure
from pipeline._media import decode_timeout_s
from pipeline._meter import (
    LoudnessMeter,
    LoudnessReport,
    Samples,
    SpectralHops,
    hop_frames,
    k_weighting_filters,
)
from pipeline._plan import DETAIL_BLOCK, Detail, Plan, make_plan
from pipeline._policy import policy_problems
from pipeline._source import CHUNK_S, Source, layout
from pipeline._spool import spool_samples
from pipeline._tools import FFMPEG_STREAM, UNFLUSHED, ToolProcess

log = logging.getLogger(__name__)

ENCODED_NAME = "encoded.mp3"
PREPARED_NAME = "prepared.f32"
FADE_S = 0.005
RETRY_CEILING_STEP_DB = 0.2
INPUT_METER_NICENESS = 19
DISK_HEADROOM = 1.2
# The piped copy of the MP3 has no LAME header, so its decoder does not skip LAME's 576
# frames of encoder delay and the 529 of the decoder: ffmpeg writes this sum into the
# file's header, and players skip it. (tests/test_audio_engine.py checks it.)
LAME_PRIMING_FRAMES = 1105
_FLOAT_BYTES = 4

Progress = Callable[[float], None]
# Speech from a glottal pulse (and espeak-ng's above all) is lopsided and peaky; all-pass
# sections smear each pulse over a few milliseconds and take 3 dB or more off its crest
# without changing its spectrum, so the limiter has less to do (the broadcast "phase
# rotator").
PHASE_ROTATOR_HZ = (150, 200, 300, 400)


@dataclass(frozen=True)
class ProcessResult:
    """The encoded file and its loudness before and after (DESIGN.md §6)."""

    path: Path
    input: LoudnessReport
    output: LoudnessReport
    profile: str
    attempts: int
    # Leading silence removed: a time in the source is this much earlier in the output.
    trimmed_start_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "profile": self.profile,
        }


@dataclass(frozen=True)
class _Format:
    """The prepared audio as the encoder takes it, and the MP3 it makes of it."""

    rate: int
    channels: int
    bitrate_kbps: int
    lowpass_hz: float

    @classmethod
    def of(cls, profile: AudioProfile) -> _Format:
        return cls(profile.sample_rate, profile.channels, profile.bitrate_kbps, profile.lowpass_hz)


@dataclass(frozen=True)
class _Prepared:
    path: Path
    format: _Format
    frames: int
    plan: Plan

    @property
    def rate(self) -> int:
        return self.format.rate

    @property
    def channels(self) -> int:
        return self.format.channels


@dataclass(frozen=True)
class _Encoded:
    path: Path
    report: LoudnessReport
    trimmed_start_s: float


def process(
    source: Path | Source,
    out: Path,
    profile: AudioProfile,
    *,
    profile_name: str = DEFAULT_AUDIO_PROFILE,
    progress: Progress | None = None,
) -> ProcessResult:
    """Process ``source`` into the MP3 ``out`` under ``profile``; ``out`` appears whole or
    not at all. ``AudioInputError`` for unusable input, ``AudioError`` for a policy miss."""
    source = source if isinstance(source, Source) else Source.of_file(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _work_dir(out.parent) as work, ThreadPoolExecutor(1, "loa-input-meter") as pool:
        _require_space(source, profile, work)
        started = time.monotonic()
        with encoder_core() as cores:
            input_meter = _InputMeter(pool, source, cores)
            try:
                encoded, attempts = _two_passes(source, profile, work, progress, cores)
            except BaseException:
                input_meter.cancel()
                raise
        log.debug("%s: encoded and verified after %.2f s", source.name, time.monotonic() - started)
        result = ProcessResult(
            out,
            input_meter.report(),
            encoded.report,
            profile_name,
            attempts,
            encoded.trimmed_start_s,
        )
        os.replace(encoded.path, out)
    log.info(
        "%s → %s: %.1f LUFS, %.1f dBTP, LRA %.1f (%d encode%s)",
        source.name, out, result.output.lufs, result.output.true_peak_dbtp, result.output.lra,
        attempts, "" if attempts == 1 else "s",
    )  # fmt: skip
    return result


def _two_passes(
    source: Source,
    profile: AudioProfile,
    work: Path,
    progress: Progress | None,
    cores: CoreSplit | None,
) -> tuple[_Encoded, int]:
    started = time.monotonic()
    timeout = 2 * decode_timeout_s(source.duration_s)
    decoded = _decode(source, profile, work, _stage(progress, 0.0, 0.3))
    # The encoder and its verifier load while the plan is made; the verifier (forked from
    # a thread kept off the encoder's CPU) stays off that CPU.
    with kept_off(cores), _EncodeTools(_Format.of(profile), work, timeout) as tools:
        prepared = _plan(source, decoded, profile)
        del decoded  # its measurements (tens of MB for an hour) are in the plan now
        log.debug("%s: prepared and planned in %.2f s", source.name, time.monotonic() - started)
        return _encode_to_policy(source, prepared, profile, work, progress, cores, tools)


class _InputMeter:
    """The input's own report, which is for people, not for the passes: measured from the
    start on whatever CPU the passes leave idle, and stopped if the processing fails."""

    def __init__(self, pool: ThreadPoolExecutor, source: Source, cores: CoreSplit | None) -> None:
        self._cancelled = threading.Event()
        self._report = pool.submit(self._measure, source, cores)

    def _measure(self, source: Source, cores: CoreSplit | None) -> LoudnessReport:
        with contextlib.suppress(OSError):  # this thread only (Linux threads are tasks)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), INPUT_METER_NICENESS)
        with kept_off(cores):  # never in the encoder's way
            return measure(source, niceness=INPUT_METER_NICENESS, cancelled=self._cancelled)

    def report(self) -> LoudnessReport:
        return self._report.result()

    def cancel(self) -> None:
        self._cancelled.set()


@contextmanager
def _work_dir(directory: Path) -> Iterator[Path]:
    """Scratch space beside the output, so the final rename stays on one file system."""
    with tempfile.TemporaryDirectory(
        prefix=".loa-audio-", dir=directory, ignore_cleanup_errors=True
    ) as work:
        yield Path(work)


def _require_space(source: Source, profile: AudioProfile, work: Path) -> None:
    if source.duration_s is None:
        return
    needed = source.duration_s * profile.sample_rate * profile.channels * _FLOAT_BYTES
    free = shutil.disk_usage(work).free
    if needed * DISK_HEADROOM > free:
        raise AudioError(
            f"{source.name}: not enough disk space in {work.parent}: processing needs "
            f"{needed * DISK_HEADROOM / 1e6:.0f} MB, {free / 1e6:.0f} MB is free"
        )


def _stage(progress: Progress | None, start: float, end: float) -> Progress | None:
    if progress is None:
        return None
    report = progress
    return lambda fraction: report(start + (end - start) * min(max(fraction, 0.0), 1.0))


# --- pass 1: prepare --------------------------------------------------------------------


@dataclass(frozen=True)
class _Decoded:
    """The first pass's scratch file and what was measured on the way."""

    path: Path
    frames: int
    analysis: _Analysis


def _decode(
    source: Source, profile: AudioProfile, work: Path, progress: Progress | None
) -> _Decoded:
    rate, channels = profile.sample_rate, profile.channels
    path = work / PREPARED_NAME
    expected = (source.duration_s or 0.0) * rate

    def new_analysis() -> _Analysis:
        return _Analysis(rate, channels, progress if expected else None, expected)

    filters = _preparation_filters(source.sample_rate, profile)
    frames, analysis = spool_samples(
        source, path, new_analysis, filters=filters, rate=rate, channels=channels
    )
    if frames == 0:
        raise AudioError(f"{source.name}: holds no audio samples")
    return _Decoded(path, frames, analysis)


def _plan(source: Source, decoded: _Decoded, profile: AudioProfile) -> _Prepared:
    analysis = decoded.analysis
    hops, detail, rate = analysis.hop_energies(), analysis.detail(), profile.sample_rate
    plan = make_plan(hops, analysis.hop, decoded.frames, detail, profile, source.name, rate)
    log.debug("plan for %s: %s", source.name, plan)
    return _Prepared(decoded.path, _Format.of(profile), decoded.frames, plan)


class _Analysis:
    """The first pass's measurements, part by part (see :mod:`pipeline._spool`)."""

    def __init__(
        self, rate: int, channels: int, progress: Progress | None, expected_frames: float
    ) -> None:
        self.rate = rate
        self.channels = channels
        self.hop = hop_frames(rate)
        self._parts: dict[int, tuple[SpectralHops, _DetailCollector]] = {}
        self._progress = progress
        self._expected = expected_frames
        self._frames = 0

    def add(self, part: int, samples: Samples) -> None:
        if part not in self._parts:
            self._parts[part] = (
                SpectralHops(self.rate, self.channels),
                _DetailCollector(self.channels),
            )
        hops, detail = self._parts[part]
        hops.add(samples)
        detail.add(samples)
        self._frames += len(samples)
        if self._progress is not None:
            self._progress(self._frames / self._expected)

    def hop_energies(self) -> NDArray[np.float64]:
        """Every part's hops in order (a part before the last holds whole hops only)."""
        return _joined([hops.hop_energies() for hops, _ in self._in_order()], np.float64)

    def detail(self) -> Detail:
        details = [detail.result() for _, detail in self._in_order()]
        return Detail(
            _joined([d.peaks for d in details], np.float32),
            _joined([d.energies for d in details], np.float32),
        )

    def _in_order(self) -> list[tuple[SpectralHops, _DetailCollector]]:
        return [self._parts[part] for part in sorted(self._parts)]


def _joined(arrays: list[NDArray[Any]], dtype: type) -> NDArray[Any]:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)


def _preparation_filters(source_rate: int, profile: AudioProfile) -> list[str]:
    """Mix down, resample, high-pass, phase-rotate and band-limit, as ffmpeg filters."""
    rate, lowpass_hz = profile.sample_rate, profile.lowpass_hz
    # Mix down first, then resample: the resampler then works on fewer channels.
    filters = [f"aformat=sample_fmts=flt:channel_layouts={layout(profile.channels)}"]
    nyquist = min(source_rate, rate) / 2
    band_limit = 0 < lowpass_hz < nyquist
    if band_limit and source_rate != rate:
        # The resampler's own low-pass does it: steeper than filters after it, and free.
        filters.append(f"aresample={rate}:cutoff={lowpass_hz / nyquist:.5f}")
        band_limit = False
    else:
        filters.append(f"aresample={rate}")
    if profile.highpass_hz > 0:
        filters.append(f"highpass=f={profile.highpass_hz:g}")
    if profile.phase_rotator:
        filters += [f"allpass=f={hz}:width_type=q:width=0.7" for hz in PHASE_ROTATOR_HZ]
    if band_limit:
        # Two 2-pole sections (−6 dB at the limit, as the resampler's is): steep enough
        # that the MP3 encoder's own low-pass adds little overshoot after the limiter.
        filters += [f"lowpass=f={lowpass_hz:g}"] * 2
    return filters


class _DetailCollector:
    """Sample peak and plain energy of every ``DETAIL_BLOCK`` frames, for the planner."""

    def __init__(self, channels: int) -> None:
        self._pending = np.zeros((0, channels), dtype=np.float32)
        self._peaks: list[NDArray[np.float32]] = []
        self._energies: list[NDArray[np.float32]] = []

    def add(self, samples: Samples) -> None:
        frames = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        whole = len(frames) - len(frames) % DETAIL_BLOCK
        blocks = frames[:whole].reshape(-1, DETAIL_BLOCK * frames.shape[1])
        self._peaks.append(np.abs(blocks).max(axis=1))
        self._energies.append(np.square(blocks).sum(axis=1, dtype=np.float32))
        self._pending = np.array(frames[whole:])

    def result(self) -> Detail:
        if not self._peaks:
            return Detail(np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32))
        return Detail(np.concatenate(self._peaks), np.concatenate(self._energies))


# --- pass 2: encode and verify ------------------------------------------------------------


def _encode_to_policy(
    source: Source,
    prepared: _Prepared,
    profile: AudioProfile,
    work: Path,
    progress: Progress | None,
    cores: CoreSplit | None,
    tools: _EncodeTools,
) -> tuple[_Encoded, int]:
    plan = prepared.plan
    ceiling_dbfs = profile.max_true_peak_dbtp - profile.true_peak_margin_db
    stage = _stage(progress, 0.3, 1.0)
    first = _encode(prepared, plan.gain_db, ceiling_dbfs, tools, cores, stage)
    problems = policy_problems(first.report, profile)
    if not problems:
        return first, 1
    log.info(
        "%s: first encode missed the policy (%s); correcting once", source.name, "; ".join(problems)
    )
    first_ceiling_dbfs = ceiling_dbfs
    overshoot = first.report.true_peak_dbtp - profile.max_true_peak_dbtp
    if overshoot > 0:
        ceiling_dbfs -= overshoot + RETRY_CEILING_STEP_DB
    gain_db = plan.corrected_gain(
        (plan.gain_db, first_ceiling_dbfs), first.report.lufs, ceiling_dbfs, profile.target_lufs
    )
    (work / ENCODED_NAME).unlink()
    timeout = 2 * decode_timeout_s((plan.stop - plan.start) / prepared.rate)
    with _EncodeTools(prepared.format, work, timeout) as again:
        second = _encode(prepared, gain_db, ceiling_dbfs, again, cores, None)
    problems = policy_problems(second.report, profile)
    if problems:
        raise AudioError(
            f"{source.name}: cannot meet the audio policy after 2 encodes: {'; '.join(problems)}"
        )
    return second, 2


class _EncodeTools:
    """The encoder and the decoder that verifies it, wired together and waiting for input
    (each ffmpeg takes some 60 ms to load)."""

    def __init__(self, fmt: _Format, work: Path, timeout: float) -> None:
        self.output = work / ENCODED_NAME
        self.encoder = ToolProcess(
            _encoder_args(fmt), timeout=timeout, stdin=subprocess.PIPE, cwd=work
        )
        try:
            self.decoder = ToolProcess(
                _decoder_args(fmt), timeout=timeout, stdin=self.encoder.stdout
            )
        except BaseException:
            self.encoder.kill()
            raise
        self.encoder.stdout.close()  # the decoder holds the read end now

    def __enter__(self) -> _EncodeTools:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.decoder.kill()
            self.encoder.kill()


def _encode(
    prepared: _Prepared,
    gain_db: float,
    ceiling_dbfs: float,
    tools: _EncodeTools,
    cores: CoreSplit | None,
    progress: Progress | None,
) -> _Encoded:
    """One encode through ``tools``, which must be fresh; ``AudioError`` if a tool fails."""
    meter = LoudnessMeter(prepared.rate, prepared.channels)
    if cores is not None:
        pin(tools.encoder.process.pid, cores.encoder)
    feeder = _Feeder(prepared, gain_db, ceiling_dbfs, tools.encoder.stdin, progress)
    feeder.start()
    played_frames = prepared.plan.stop - prepared.plan.start
    _meter_stream(tools.decoder.stdout, meter, prepared.channels, played_frames)
    feeder.join()
    tools.decoder.finish()
    tools.encoder.finish()
    return _Encoded(tools.output, meter.report(), prepared.plan.start / prepared.rate)


def _encoder_args(fmt: _Format) -> list[str]:
    """LAME CBR; the tee muxer writes the file (seekable: it gets its LAME/Xing header)
    and the same packets to stdout for the verifying decoder. Bytes depend on the audio
    alone: no tags, no encoder version."""
    return [
        *FFMPEG_STREAM,
        "-f", "f32le", "-ar", str(fmt.rate), "-ac", str(fmt.channels), "-i", "pipe:0",
        "-map", "0:a",
        "-c:a", "libmp3lame", "-b:a", f"{fmt.bitrate_kbps}k", *_cutoff_args(fmt),
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
        "-f", "tee",
        # flush_packets=0: see UNFLUSHED.
        f"[f=mp3:id3v2_version=0]file\\:{ENCODED_NAME}|[f=mp3:id3v2_version=0:flush_packets=0]pipe\\:1",
    ]  # fmt: skip


def _cutoff_args(fmt: _Format) -> list[str]:
    """Tell LAME where the prepared audio's band ends: it then spends no effort on the
    empty bands above (7 % less encoding time on speech), and its own low-pass, which
    runs after our limiter, no longer cuts into the band we kept."""
    if 0 < fmt.lowpass_hz < fmt.rate / 2:
        return ["-cutoff", str(round(fmt.lowpass_hz))]
    return []


def _decoder_args(fmt: _Format) -> list[str]:
    """Decode the MP3 packets; each frame carries its channels plain, then K-weighted."""
    k_weighting = ",".join(k_weighting_filters(fmt.rate))
    to_float = (
        f"aformat=sample_fmts=flt:sample_rates={fmt.rate}:channel_layouts={layout(fmt.channels)}"
    )
    graph = (
        f"{to_float},asplit=2[plain][tap];[tap]{k_weighting},{to_float}[k];"
        "[plain][k]amerge=inputs=2"
    )
    return [
        *FFMPEG_STREAM,
        "-f", "mp3", "-i", "pipe:0",
        "-filter_complex", f"[0:a]{graph}[out]", "-map", "[out]",
        "-c:a", "pcm_f32le", *UNFLUSHED, "-f", "f32le", "pipe:1",
    ]  # fmt: skip


def _meter_stream(stream: IO[bytes], meter: LoudnessMeter, channels: int, frames: int) -> None:
    """Meter the decoded copy of the encoder's output: the ``frames`` frames fed to it,
    after the encoder's priming frames (which the file's LAME header makes players skip)."""
    frame_bytes = 2 * channels * _FLOAT_BYTES  # plain and K-weighted
    chunk = int(meter.rate * CHUNK_S) * frame_bytes
    skip = LAME_PRIMING_FRAMES * frame_bytes
    remaining = frames * frame_bytes
    leftover = b""
    while data := stream.read(chunk):
        data = leftover + data
        if skip:
            dropped = min(skip, len(data))
            data, skip = data[dropped:], skip - dropped
        whole = len(data) - len(data) % frame_bytes
        leftover = data[whole:]
        useful = data[: min(whole, remaining)]
        remaining -= len(useful)
        if useful:
            both = np.frombuffer(useful, dtype="<f4").reshape(-1, 2 * channels)
            meter.add(both[:, :channels], both[:, channels:])
    if remaining > 0:
        raise AudioError(
            f"the encoder returned {remaining // frame_bytes} frames fewer than it was given"
        )


class _Feeder(threading.Thread):
    """Reads the prepared audio, shapes it and writes it to the encoder's stdin."""

    def __init__(
        self,
        prepared: _Prepared,
        gain_db: float,
        ceiling_dbfs: float,
        sink: IO[bytes],
        progress: Progress | None,
    ) -> None:
        super().__init__(name="loa-encoder-feed", daemon=True)
        self.prepared = prepared
        self.gain_db = gain_db
        self.limiter = TruePeakLimiter(prepared.rate, ceiling_dbfs)
        self.fade = max(int(FADE_S * prepared.rate), 1)
        self.sink = sink
        self.progress = progress
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.prepared.path.open("rb") as source:
                self._feed(source)
        except BrokenPipeError:
            pass  # the encoder died; its own error is reported
        except BaseException as exc:  # re-raised by join()
            self.error = exc
        finally:
            with contextlib.suppress(OSError):
                self.sink.close()

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error

    def _feed(self, source: IO[bytes]) -> None:
        plan = self.prepared.plan
        step = int(self.prepared.rate * CHUNK_S) // BLOCK * BLOCK
        margin = self.limiter.margin // BLOCK * BLOCK + BLOCK
        hop_centres = (np.arange(len(plan.level_db)) + 0.5) * plan.hop
        hop_gains = 10.0 ** ((plan.level_db + self.gain_db) / 20.0)
        total = plan.stop - plan.start
        aligned = plan.start - plan.start % BLOCK
        for first in range(aligned, plan.stop, step):
            last = min(first + step, plan.stop)
            lo = max(first - margin, 0)
            hi = min(last + margin, self.prepared.frames)
            hi = lo + (hi - lo) // BLOCK * BLOCK  # whole blocks; the tail past plan.stop may go
            frames = _read_frames(source, self.prepared, lo, max(hi, last))
            centres = lo + (np.arange((hi - lo) // BLOCK) + 0.5) * BLOCK
            level = np.interp(centres, hop_centres, hop_gains)
            block_gains = level * self.limiter.gains(frames[: hi - lo], level)
            keep_from, keep_to = max(first, plan.start), last
            positions = np.arange(keep_from, keep_to, dtype=np.float64)
            gains = np.interp(positions, centres, block_gains)
            if keep_from < plan.start + self.fade or keep_to > plan.stop - self.fade:
                gains *= _fades(positions, plan, self.fade)
            shaped = frames[keep_from - lo : keep_to - lo] * gains.astype(np.float32)[:, None]
            self.sink.write(shaped.tobytes())
            if self.progress is not None:
                self.progress((keep_to - plan.start) / total)


def _fades(positions: NDArray[np.float64], plan: Plan, fade: int) -> NDArray[np.float64]:
    """Raised-cosine fades over the first and last ``fade`` frames kept; 1 elsewhere."""
    ramp = np.minimum(positions - plan.start + 0.5, plan.stop - positions - 0.5) / fade
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(ramp, 0.0, 1.0))


def _read_frames(source: IO[bytes], prepared: _Prepared, first: int, last: int) -> Samples:
    frame_bytes = prepared.channels * _FLOAT_BYTES
    source.seek(first * frame_bytes)
    data = source.read((last - first) * frame_bytes)
    return np.frombuffer(data, dtype="<f4").reshape(-1, prepared.channels)
