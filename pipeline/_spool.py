"""The first pass's decode: a source through filters into one raw float32 scratch file.

ffmpeg writes the file itself and this process follows it through the page cache as it
grows, analysing each chunk as it lands: handing the samples over through a pipe costs
the two processes more in system calls and wake-ups than the filters cost (measured on
12 minutes: 0.7 s of system time against 0.05 s).

One ffmpeg filters on one core. A long uncompressed file (PCM seeks to the exact sample)
is therefore cut into parts decoded side by side, one per CPU. Each part after the first
starts ``PREROLL_S`` early so that its filters have settled (their time constants are
milliseconds) and each part before the last runs ``POSTROLL_S`` long so that the
resampler has its look-ahead; those frames are decoded and dropped. Seams fall on whole
seconds that are whole 100 ms hops and whole 64-frame blocks, so every part's analysis
stands on its own and the parts join sample for sample. Should a part come back short (a
file whose header promises more than it holds), the whole source is decoded again in one
piece.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from subprocess import DEVNULL
from typing import BinaryIO, Protocol, TypeVar

import numpy as np

from pipeline._errors import AudioError
from pipeline._media import decode_timeout_s
from pipeline._meter import Samples, hop_frames
from pipeline._source import CHUNK_S, Source, decode_error
from pipeline._tools import ToolProcess

PREROLL_S = 0.5
POSTROLL_S = 0.1
MIN_PART_S = 30.0  # shorter parts cost more in start-up than they save
MAX_PARTS = 4
POLL_S = 0.002  # ffmpeg writes a 2 s chunk of 48 kHz mono in about 3 ms
ALIGN_FRAMES = 64  # the planner's detail block (pipeline._plan.DETAIL_BLOCK)
_FLOAT_BYTES = 4


class Analysis(Protocol):
    def add(self, part: int, samples: Samples) -> None:
        """Chunk ``samples`` of part ``part``; each part's chunks arrive in order."""


A = TypeVar("A", bound=Analysis)


@dataclass
class _Part:
    index: int
    path: Path
    window: tuple[float, float | None] | None
    skip: int  # leading frames decoded only to settle the filters
    keep: int | None  # frames this part contributes (None: all it has)
    received: int = 0  # frames read from the file so far
    done: bool = False

    def kept(self, first: int, count: int) -> tuple[int, int]:
        """Of ``count`` frames read from frame ``first`` on, the range this part keeps."""
        lo = max(first, self.skip)
        hi = first + count if self.keep is None else min(first + count, self.skip + self.keep)
        return lo - first, max(hi - first, lo - first)


class _ShortPartError(Exception):
    pass


def spool_samples(
    source: Source,
    path: Path,
    new_analysis: Callable[[], A],
    *,
    filters: Sequence[str],
    rate: int,
    channels: int,
) -> tuple[int, A]:
    """Decode ``source`` through ``filters`` into the raw float32 file ``path``, handing a
    fresh ``new_analysis()`` every chunk; returns the frames written and that analysis."""
    parts = _parts(source, path, rate)
    if len(parts) > 1:
        analysis = new_analysis()
        try:
            return _spool(source, parts, analysis, filters, rate, channels), analysis
        except _ShortPartError:
            pass
        finally:
            for part in parts[1:]:
                part.path.unlink(missing_ok=True)
    analysis = new_analysis()
    whole = [_Part(0, path, None, 0, None)]
    return _spool(source, whole, analysis, filters, rate, channels), analysis


def _parts(source: Source, path: Path, rate: int) -> list[_Part]:
    duration = source.duration_s or 0.0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    count = min(cpus, MAX_PARTS, int(duration // MIN_PART_S))
    if not source.seekable or count < 2:
        return [_Part(0, path, None, 0, None)]
    hop = hop_frames(rate)
    # Seams on whole seconds whose frame counts are whole hops and whole blocks.
    align = math.lcm(hop, ALIGN_FRAMES)
    unit_s = align // math.gcd(align, rate)
    seams = [round(duration * k / count / unit_s) * unit_s for k in range(count + 1)]
    seams[-1] = -1  # the last part runs to the end, whatever the header said
    parts = []
    for index, (start, end) in enumerate(itertools.pairwise(seams)):
        preroll = min(PREROLL_S, start)
        last = end < 0
        span = None if last else end - start + preroll + POSTROLL_S
        parts.append(
            _Part(
                index=index,
                path=path if index == 0 else path.with_name(f"{path.name}.part{index}"),
                window=(start - preroll, span),
                skip=round(preroll * rate),
                keep=None if last else (end - start) * rate,
            )
        )
    return parts


def _spool(
    source: Source,
    parts: list[_Part],
    analysis: Analysis,
    filters: Sequence[str],
    rate: int,
    channels: int,
) -> int:
    frame_bytes = channels * _FLOAT_BYTES
    chunk_frames = int(rate * CHUNK_S)
    timeout = decode_timeout_s(source.duration_s)
    with ExitStack() as stack:
        tools, files = [], []
        for part in parts:
            part.path.write_bytes(b"")  # ffmpeg truncates and writes this same file
            files.append(stack.enter_context(part.path.open("rb")))
            args = source.decode_args(
                filters, rate, channels, weighted=False, output=str(part.path), window=part.window
            )
            tools.append(stack.enter_context(ToolProcess(args, timeout=timeout, stdout=DEVNULL)))
        while not all(part.done for part in parts):
            progressed = False
            for part, tool, written in zip(parts, tools, files, strict=True):
                if not part.done:
                    progressed |= _follow(part, tool, written, analysis, chunk_frames, frame_bytes)
            if not progressed:
                time.sleep(POLL_S)
        for tool in tools:
            try:
                tool.finish()
            except AudioError as exc:
                raise decode_error(source, exc) from exc
    return _join(parts, frame_bytes)


def _follow(
    part: _Part,
    tool: ToolProcess,
    written: BinaryIO,
    analysis: Analysis,
    chunk_frames: int,
    frame_bytes: int,
) -> bool:
    """Analyse what ``part``'s ffmpeg has written since last time; whether there was any."""
    finished = not tool.running()  # before the size: nothing written after it is missed
    available = os.fstat(written.fileno()).st_size // frame_bytes - part.received
    ready = available if finished else available - available % chunk_frames
    if ready <= 0:
        part.done = finished
        return False
    while ready > 0:
        count = min(chunk_frames, ready)
        chunk = np.fromfile(written, dtype="<f4", count=count * frame_bytes // _FLOAT_BYTES)
        lo, hi = part.kept(part.received, count)
        if hi > lo:
            analysis.add(part.index, chunk.reshape(count, -1)[lo:hi])
        part.received += count
        ready -= count
    return True


def _join(parts: list[_Part], frame_bytes: int) -> int:
    """Append the later parts' kept frames to the first part's file; the frames in all."""
    first = parts[0]
    if len(parts) == 1:
        return first.received
    for part in parts[:-1]:
        if part.keep is None or part.received < part.skip + part.keep:
            raise _ShortPartError
    end = (first.keep or 0) * frame_bytes
    os.truncate(first.path, end)
    target = os.open(first.path, os.O_WRONLY)
    try:
        for part in parts[1:]:
            kept = max(part.received - part.skip, 0) if part.keep is None else part.keep
            end += _append(part.path, part.skip * frame_bytes, kept * frame_bytes, target, end)
            part.path.unlink()
    finally:
        os.close(target)
    return end // frame_bytes


def _append(path: Path, offset: int, count: int, target: int, target_offset: int) -> int:
    """Copy ``count`` bytes of ``path`` from ``offset`` into ``target`` at ``target_offset``
    inside the kernel; returns ``count``."""
    source = os.open(path, os.O_RDONLY)
    try:
        remaining = count
        while remaining:
            copied = os.copy_file_range(source, target, remaining, offset, target_offset)
            if copied <= 0:
                raise AudioError(f"{path}: {remaining} bytes short while joining its parts")
            offset, target_offset, remaining = (
                offset + copied,
                target_offset + copied,
                remaining - copied,
            )
    finally:
        os.close(source)
    return count
