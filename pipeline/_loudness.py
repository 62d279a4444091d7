"""Measuring a file or source: decoded by ffmpeg, metered by :mod:`pipeline._meter`."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from pipeline._errors import AudioError, AudioInputError
from pipeline._meter import LoudnessMeter, LoudnessReport, Samples
from pipeline._source import Source, read_samples

log = logging.getLogger(__name__)


def measure(
    target: Path | Source, *, niceness: int = 0, cancelled: threading.Event | None = None
) -> LoudnessReport:
    """Integrated loudness, loudness range and true peak of ``target`` as decoded.

    ``AudioInputError`` names a file that holds no decodable audio. Setting ``cancelled``
    stops the measurement (and its decoder) at the next chunk, with ``AudioError``.
    """
    source = target if isinstance(target, Source) else Source.of_file(target)
    meter = LoudnessMeter(source.sample_rate, source.channels)

    def add(frames: Samples, weighted: Samples) -> None:
        if cancelled is not None and cancelled.is_set():
            raise AudioError(f"{source.name}: measurement cancelled")
        meter.add(frames, weighted)

    if read_samples(source, add, niceness=niceness) == 0:
        raise AudioInputError(f"{source.name}: holds no audio samples")
    report = meter.report()
    log.debug("measured %s: %s", source.name, report)
    return report
