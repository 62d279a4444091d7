"""Long Vietnamese speech files for the benchmarks, and an independent ffmpeg meter.

``speech_wav(minutes, cache_dir)`` returns a WAV that looks like a commune recorder's file:
espeak-ng reads the repository's Vietnamese sample texts paragraph by paragraph (the texts
repeat until the file is long enough), the level alternates +4 dB / -4 dB in blocks of
30-60 s (changing between paragraphs, as when a reader moves or a gain knob is touched),
a faint noise floor (about -70 dBFS) fills the pauses, and the whole is trimmed to exactly
``minutes`` minutes and written as 44.1 kHz stereo 16-bit PCM at about -24 LUFS.

The file is cached by ``minutes`` in ``cache_dir`` (``speech-vi-<minutes>min.wav``), with
a ``.json`` sidecar holding its measured loudness. Run as a script to build one:

    .venv/bin/python benchmarks/_speech.py --minutes 12 --cache /tmp/loa-bench
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import wave
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# The independent meter the tests use: ffmpeg's ebur128 filter, parsed once.
from tests.signals import Ebur128 as Loudness  # noqa: E402
from tests.signals import ffmpeg_ebur128 as measure_ebur128  # noqa: E402

__all__ = [
    "REPO",
    "Loudness",
    "SpeechFile",
    "default_work_dir",
    "measure_ebur128",
    "speech_wav",
]

TEXTS = [REPO / "app" / "samples" / "bulletin-demo-vi.txt"]
SHARED_SAMPLES = REPO.parent / "shared" / "samples"

TARGET_LUFS = -24.0
OUT_RATE = 44_100
ESPEAK_RATE = 22_050  # espeak-ng writes 22.05 kHz mono 16-bit
BLOCK_GAINS_DB = (4.0, -4.0)  # alternating level of successive blocks
BLOCK_MIN_S, BLOCK_MAX_S = 30.0, 60.0
PAUSE_MIN_S, PAUSE_MAX_S = 0.4, 1.4  # between paragraphs
NOISE_DBFS = -66.0  # RMS of the noise floor before the final gain (which is a few dB down)
HEADROOM_DBFS = -1.0  # sample peak of the intermediate file
SEED = 20261123


@dataclass(frozen=True)
class SpeechFile:
    path: Path
    minutes: int
    loudness: Loudness


def default_work_dir() -> Path:
    return Path(tempfile.gettempdir()) / "loa-bench"


def _texts() -> list[Path]:
    shared = sorted(SHARED_SAMPLES.glob("*-vi.txt")) if SHARED_SAMPLES.is_dir() else []
    return [path for path in [*TEXTS, *shared] if path.is_file()]


def _paragraphs() -> list[str]:
    paragraphs: list[str] = []
    for path in _texts():
        text = path.read_text(encoding="utf-8")
        paragraphs += [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    if not paragraphs:
        raise RuntimeError(f"no Vietnamese sample text found (looked for {TEXTS[0]})")
    return paragraphs


def _synthesize(text: str, workdir: Path, index: int) -> NDArray[np.float32]:
    """One paragraph read by espeak-ng, as float samples at 22.05 kHz."""
    text_file = workdir / f"p{index:03d}.txt"
    wav_file = workdir / f"p{index:03d}.wav"
    text_file.write_text(text + "\n", encoding="utf-8")
    subprocess.run(
        ["espeak-ng", "-v", "vi", "-s", "150", "-w", str(wav_file), "-f", str(text_file)],
        check=True,
        capture_output=True,
    )
    with wave.open(str(wav_file), "rb") as reader:
        layout = (reader.getnchannels(), reader.getsampwidth(), reader.getframerate())
        if layout != (1, 2, ESPEAK_RATE):
            raise RuntimeError(f"espeak-ng wrote an unexpected format: {reader.getparams()}")
        raw = reader.readframes(reader.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def _timeline(
    durations: list[int], total: int, rng: random.Random
) -> Iterator[tuple[int, float, int]]:
    """(paragraph index, gain in dB, pause in samples) until ``total`` samples are covered.

    The paragraphs repeat in order; the gain changes between paragraphs so that each block
    lasts 30-60 s (at least 30 s; the boundary closest to a target drawn from that range).
    """
    covered, block, block_len, block_target = 0, 0, 0, rng.uniform(BLOCK_MIN_S, BLOCK_MAX_S)
    index = 0
    while covered < total:
        pause = int(rng.uniform(PAUSE_MIN_S, PAUSE_MAX_S) * ESPEAK_RATE)
        length = durations[index % len(durations)] + pause
        if block_len >= BLOCK_MIN_S * ESPEAK_RATE and (
            block_len + length > block_target * ESPEAK_RATE
        ):
            block, block_len = block + 1, 0
            block_target = rng.uniform(BLOCK_MIN_S, BLOCK_MAX_S)
        yield index % len(durations), BLOCK_GAINS_DB[block % len(BLOCK_GAINS_DB)], pause
        covered += length
        block_len += length
        index += 1


def _write_intermediate(target: Path, minutes: int, workdir: Path) -> None:
    """Mono 22.05 kHz 16-bit WAV of exactly ``minutes`` minutes, sample peak at -1 dBFS."""
    voices = [_synthesize(text, workdir, i) for i, text in enumerate(_paragraphs())]
    total = minutes * 60 * ESPEAK_RATE
    plan = list(_timeline([len(v) for v in voices], total, random.Random(SEED)))
    loudest = max(
        float(np.max(np.abs(voices[index]))) * 10 ** (gain / 20) for index, gain, _ in plan
    )
    scale = 10 ** (HEADROOM_DBFS / 20) / loudest
    noise_rng = np.random.default_rng(SEED)
    noise_rms = 10 ** (NOISE_DBFS / 20)
    written = 0
    with wave.open(str(target), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(ESPEAK_RATE)
        for index, gain, pause in plan:
            chunk = np.concatenate([voices[index] * (scale * 10 ** (gain / 20)), np.zeros(pause)])
            chunk = chunk[: total - written]
            chunk = chunk + noise_rng.normal(0.0, noise_rms, len(chunk))
            pcm = np.clip(np.round(chunk * 32767.0), -32768, 32767).astype("<i2")
            writer.writeframes(pcm.tobytes())
            written += len(chunk)
    if written != total:
        raise RuntimeError(f"wrote {written} samples, wanted {total}")


def _render(intermediate: Path, target: Path, gain_db: float, minutes: int) -> None:
    samples = minutes * 60 * OUT_RATE
    chain = (
        f"volume={gain_db:.3f}dB,aresample={OUT_RATE},"
        f"apad=whole_len={samples},atrim=end_sample={samples}"
    )
    command = [
        "ffmpeg", "-hide_banner", "-nostats", "-v", "error", "-y", "-i", str(intermediate),
        "-af", chain, "-ac", "2", "-ar", str(OUT_RATE), "-c:a", "pcm_s16le", str(target),
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg could not render {target}: {result.stderr[-2000:]}")


def speech_wav(minutes: int, cache_dir: Path, *, log: bool = True) -> SpeechFile:
    """The cached ``minutes``-minute speech WAV in ``cache_dir``, made if absent."""
    if minutes < 1:
        raise ValueError("minutes must be at least 1")
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"speech-vi-{minutes}min.wav"
    sidecar = path.with_suffix(".json")
    if path.is_file() and sidecar.is_file():
        return SpeechFile(path, minutes, Loudness(**json.loads(sidecar.read_text())))
    if log:
        print(f"making a {minutes}-minute speech file in {cache_dir} ...", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".speech-") as tmp:
        workdir = Path(tmp)
        intermediate = workdir / "speech-22k.wav"
        _write_intermediate(intermediate, minutes, workdir)
        gain = TARGET_LUFS - measure_ebur128(intermediate).lufs
        rendered = workdir / path.name
        _render(intermediate, rendered, gain, minutes)
        loudness = measure_ebur128(rendered)
        if abs(loudness.lufs - TARGET_LUFS) > 0.2:  # one correction is always enough
            _render(intermediate, rendered, gain + TARGET_LUFS - loudness.lufs, minutes)
            loudness = measure_ebur128(rendered)
        os.replace(rendered, path)
    sidecar.write_text(json.dumps(asdict(loudness)))
    if log:
        print(
            f"  {path}: {loudness.lufs:.1f} LUFS, {loudness.true_peak_dbtp:.1f} dBTP, "
            f"LRA {loudness.lra:.1f} LU",
            file=sys.stderr,
        )
    return SpeechFile(path, minutes, loudness)


def main() -> int:
    parser = argparse.ArgumentParser(description="Make (or find cached) a long speech WAV.")
    parser.add_argument("--minutes", type=int, default=12)
    parser.add_argument("--cache", type=Path, default=default_work_dir())
    args = parser.parse_args()
    speech = speech_wav(args.minutes, args.cache)
    print(speech.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
