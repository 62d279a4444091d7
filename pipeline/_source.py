"""What ffmpeg reads for one piece of work, and reading it as float samples.

A :class:`Source` is a list of input files and a filter graph whose output is labelled
``[src]``: a plain file, or a programme assembled from clips, gaps and tones. Everything
downstream (metering, processing) reads ``[src]`` the same way, as a stream of float32
chunks, so no stage ever holds a whole programme in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline._errors import AudioError, AudioInputError
from pipeline._media import decode_timeout_s, media_url, probe_audio
from pipeline._meter import Samples, k_weighting_filters
from pipeline._tools import FFMPEG_STREAM, UNFLUSHED, ToolProcess

SOURCE_LABEL = "src"
CHUNK_S = 2.0  # samples are handed on in chunks of this length
_FLOAT_BYTES = 4
FALLBACK_SAMPLE_RATE = 48000


@dataclass(frozen=True)
class Source:
    """Audio to read: ``inputs`` feed ``graph``, whose output ``[src]`` has ``sample_rate``
    and ``channels``. ``name`` is what errors and reports call it."""

    inputs: tuple[Path, ...]
    graph: str
    sample_rate: int
    channels: int
    name: str
    duration_s: float | None = None
    # Seeking lands on the exact sample (PCM in a WAV or AIFF), so parts can be read apart.
    seekable: bool = False

    @classmethod
    def of_file(cls, path: Path) -> Source:
        """A file's first audio stream; ``AudioInputError`` naming it if it has none."""
        stream = probe_audio(path)
        return cls(
            inputs=(path,),
            graph=f"[0:a:0]anull[{SOURCE_LABEL}]",
            sample_rate=stream.sample_rate or FALLBACK_SAMPLE_RATE,
            channels=max(stream.channels, 1),
            name=str(path),
            duration_s=stream.duration_s,
            seekable=stream.seeks_exactly,
        )

    @property
    def is_file(self) -> bool:
        return len(self.inputs) == 1 and self.graph == f"[0:a:0]anull[{SOURCE_LABEL}]"

    def decode_args(
        self,
        filters: Sequence[str],
        rate: int,
        channels: int,
        *,
        weighted: bool,
        output: str = "pipe:1",
        window: tuple[float, float | None] | None = None,
    ) -> list[str]:
        """ffmpeg arguments that write ``[src]`` through ``filters`` as raw float32 to
        ``output`` (stdout by default); ``weighted`` appends a K-weighted copy of every
        channel. ``window`` (start, duration; seconds) reads part of a file source."""
        # Both branches need the format spelled out before amerge can join them.
        fmt = f"aformat=sample_fmts=flt:sample_rates={rate}:channel_layouts={layout(channels)}"
        graph = f"{self.graph};[{SOURCE_LABEL}]{','.join([*filters, fmt])}"
        if weighted:
            k_weighting = ",".join(k_weighting_filters(rate))
            graph += f",asplit=2[plain][tap];[tap]{k_weighting},{fmt}[k];[plain][k]amerge=inputs=2"
        inputs = [arg for path in self.inputs for arg in ("-i", media_url(path))]
        if window is not None:
            if not self.is_file:
                raise ValueError(f"{self.name}: only a single file can be read in parts")
            start_s, duration_s = window
            limit = [] if duration_s is None else ["-t", f"{duration_s:.6f}"]
            inputs = ["-ss", f"{start_s:.6f}", *limit, *inputs]
        return [
            *FFMPEG_STREAM,
            *inputs,
            "-filter_complex", f"{graph}[out]",
            "-map", "[out]",
            "-c:a", "pcm_f32le", *UNFLUSHED, "-f", "f32le", "-y", output,
        ]  # fmt: skip


def layout(channels: int) -> str:
    """ffmpeg's default layout for ``channels`` (5.1 is L R C LFE Ls Rs, as BS.1770 weighs)."""
    return _LAYOUTS.get(channels, f"{channels}c")


_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def read_samples(
    source: Source,
    sink: Callable[[Samples, Samples], None],
    *,
    filters: Sequence[str] = (),
    rate: int | None = None,
    channels: int | None = None,
    niceness: int = 0,
) -> int:
    """Decode ``source`` through ``filters`` and hand ``sink`` chunks of (frames, channels)
    samples, plain and K-weighted (BS.1770) by ffmpeg.

    With no ``filters``, the source keeps its channels (``channels`` must match them).
    Returns the number of frames read. A source that ffmpeg cannot decode raises
    ``AudioInputError`` naming it.
    """
    rate = rate or source.sample_rate
    channels = channels or source.channels
    frame_bytes = 2 * channels * _FLOAT_BYTES
    chunk_bytes = int(rate * CHUNK_S) * frame_bytes
    frames = 0
    args = source.decode_args(filters, rate, channels, weighted=True)
    timeout = decode_timeout_s(source.duration_s)
    with ToolProcess(args, timeout=timeout, niceness=niceness) as tool:
        leftover = b""
        while data := tool.stdout.read(chunk_bytes):
            data = leftover + data if leftover else data
            whole = len(data) - len(data) % frame_bytes
            leftover = data[whole:]
            both = np.frombuffer(data, dtype="<f4", count=whole // _FLOAT_BYTES)
            both = both.reshape(-1, 2 * channels)
            frames += len(both)
            sink(both[:, :channels], both[:, channels:])
        try:
            tool.finish()
        except AudioError as exc:
            raise decode_error(source, exc) from exc
    return frames


def decode_error(source: Source, failure: AudioError) -> AudioError:
    if source.is_file:
        return AudioInputError(f"{source.name}: cannot be decoded: {failure}")
    return AudioError(f"{source.name}: {failure}")
