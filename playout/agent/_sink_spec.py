"""The ``--sink`` option: ``file:DIR`` or ``audio``."""

from __future__ import annotations

from pathlib import Path

from config import Settings, UserInputError
from playout.agent._audio_sink import AudioSink
from playout.agent._file_sink import FileSink
from playout.agent._sink import Sink


def parse_sink(spec: str, settings: Settings) -> Sink:
    """``file:DIR`` (a recording sink) or ``audio`` (``settings.agent.player``)."""
    if spec == "audio":
        return AudioSink(settings.agent.player)
    kind, separator, directory = spec.partition(":")
    if kind == "file" and separator and directory.strip():
        return FileSink(Path(directory), zone=settings.organisation.district.zone)
    raise UserInputError(f"sink {spec!r}: expected 'file:DIR' or 'audio'")
