"""Measuring a file or source: decoded by ffmpeg, metered by :mod:`pipeline._meter`."""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline._errors import AudioInputError
from pipeline._meter import LoudnessMeter, LoudnessReport
from pipeline._source import Source, read_samples

log = logging.getLogger(__name__)


def measure(target: Path | Source, *, niceness: int = 0) -> LoudnessReport:
    """Integrated loudness, loudness range and true peak of ``target`` as decoded.

    ``AudioInputError`` names a file that holds no decodable audio.
    """
    source = target if isinstance(target, Source) else Source.of_file(target)
    meter = LoudnessMeter(source.sample_rate, source.channels)
    if read_samples(source, meter.add, niceness=niceness) == 0:
        raise AudioInputError(f"{source.name}: holds no audio samples")
    report = meter.report()
    log.debug("measured %s: %s", source.name, report)
    return report
