"""The first pass's decode in parts: the parts join sample for sample, or it falls back."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from pipeline import _spool as spool
from pipeline._meter import Samples, SpectralHops
from pipeline._source import Source
from pipeline._spool import spool_samples
from tests.signals import write_wav

RATE_IN = 44_100
SECONDS = 75
FILTERS = [
    "aformat=sample_fmts=flt:channel_layouts=mono",
    "aresample=48000:cutoff=0.54422",
    "highpass=f=150",
    "allpass=f=200:width_type=q:width=0.7",
]
pytestmark = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")


@dataclass
class _Recorded:
    """Every chunk handed over, per part, and the hop energies of each part."""

    chunks: dict[int, list[Samples]] = field(default_factory=dict)
    hops: dict[int, SpectralHops] = field(default_factory=dict)

    def add(self, part: int, samples: Samples) -> None:
        self.chunks.setdefault(part, []).append(np.array(samples))
        self.hops.setdefault(part, SpectralHops(48_000, 1)).add(samples)

    def samples(self) -> NDArray[np.float32]:
        return np.concatenate([np.concatenate(self.chunks[part]) for part in sorted(self.chunks)])

    def hop_energies(self) -> NDArray[np.float64]:
        return np.concatenate([self.hops[part].hop_energies() for part in sorted(self.hops)])


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """75 s of 44.1 kHz stereo: noise bursts and a sweep, different in each channel."""
    rng = np.random.default_rng(7)
    n = np.arange(SECONDS * RATE_IN)
    sweep = 0.3 * np.sin(2 * np.pi * (100 + 40 * n / RATE_IN) * n / RATE_IN)
    bursts = rng.normal(0, 0.1, len(n)) * (np.sin(2 * np.pi * 0.7 * n / RATE_IN) > 0)
    samples = np.stack([sweep + bursts, 0.5 * sweep - bursts], axis=1)
    return write_wav(tmp_path_factory.mktemp("spool") / "long.wav", samples, RATE_IN)


def _run(source: Source, path: Path, parts: int) -> tuple[int, _Recorded, NDArray[np.float32]]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spool, "MAX_PARTS", parts)
        frames, recorded = spool_samples(
            source, path, _Recorded, filters=FILTERS, rate=48_000, channels=1
        )
    return frames, recorded, np.fromfile(path, dtype="<f4")


def test_parts_join_sample_for_sample(long_wav: Path, tmp_path: Path) -> None:
    source = Source.of_file(long_wav)
    assert source.seekable
    whole_frames, whole, whole_file = _run(source, tmp_path / "whole.f32", 1)
    split_frames, split, split_file = _run(source, tmp_path / "split.f32", 2)

    assert sorted(split.chunks) == [0, 1]  # it did run in two parts
    assert whole_frames == split_frames == len(whole_file) == SECONDS * 48_000
    np.testing.assert_allclose(split_file, whole_file, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(split.samples()[:, 0], split_file)  # analysed as written
    np.testing.assert_allclose(split.hop_energies(), whole.hop_energies(), rtol=1e-4)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["split.f32", "whole.f32"]


def test_a_file_shorter_than_its_stated_duration_is_decoded_in_one_piece(
    long_wav: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.wav"
    data = long_wav.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    # As if the container had promised the full 75 s (ffprobe reads WAV sizes correctly).
    source = Source(**{**Source.of_file(truncated).__dict__, "duration_s": float(SECONDS)})

    frames, recorded, written = _run(source, tmp_path / "out.f32", 2)

    assert list(recorded.chunks) == [0]  # the second attempt, in one piece
    assert frames == len(written) == pytest.approx(SECONDS * 48_000 / 3, rel=0.01)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.f32", "truncated.wav"]


def test_compressed_and_short_sources_are_not_split(long_wav: Path, tmp_path: Path) -> None:
    source = Source.of_file(long_wav)
    compressed = Source(**{**source.__dict__, "seekable": False})
    short = Source(**{**source.__dict__, "duration_s": 50.0})
    for unsplit in (compressed, short):
        assert len(spool._parts(unsplit, tmp_path / "x.f32", 48_000)) == 1
    assert len(spool._parts(source, tmp_path / "x.f32", 48_000)) == 2


@pytest.mark.parametrize("rate", [48_000, 44_100, 24_000, 22_050, 16_000])
def test_seams_fall_on_whole_hops_and_blocks(long_wav: Path, tmp_path: Path, rate: int) -> None:
    source = Source(**{**Source.of_file(long_wav).__dict__, "duration_s": 3600.0})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spool, "MAX_PARTS", 4)
        patch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
        parts = spool._parts(source, tmp_path / "x.f32", rate)
    assert len(parts) == 4
    hop = round(rate / 10)
    starts = [0]
    for part in parts[:-1]:
        assert part.keep is not None
        assert part.keep % hop == 0 and part.keep % 64 == 0
        starts.append(starts[-1] + part.keep)
    for part, start in zip(parts, starts, strict=True):
        assert part.window is not None
        # The part's own audio starts on a whole input sample at its seam.
        assert (part.window[0] * rate + part.skip) == pytest.approx(start, abs=1e-6)


def test_pcm_in_a_video_container_is_not_split(long_wav: Path, tmp_path: Path) -> None:
    movie = tmp_path / "camera.mov"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(long_wav), "-c:a", "pcm_s16le", str(movie)],
        check=True,
    )
    source = Source.of_file(movie)
    assert source.duration_s == pytest.approx(SECONDS, abs=0.1)
    assert not source.seekable  # a MOV seeks by packet, not by sample
    assert Source.of_file(long_wav).seekable
