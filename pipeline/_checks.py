"""Start-up check: every tool the pipeline needs, reported all at once (as beets does)."""

from __future__ import annotations

import re

from config import TTSSettings
from pipeline._errors import ToolNotFoundError, TTSError
from pipeline._tools import TOOLS, run_tool, tool_path
from pipeline.tts._espeak import require_voice

ENCODERS_TIMEOUT_S = 30.0
_MP3_ENCODER = re.compile(r"^\s*A\S*\s+libmp3lame\s", re.MULTILINE)


def check_tools(tts: TTSSettings | None = None) -> dict[str, str]:
    """The path of each tool; ``ToolNotFoundError`` listing everything that is missing.

    With ``tts``, also checks that espeak-ng has the configured voice.
    """
    paths: dict[str, str] = {}
    problems: list[str] = []
    for name in TOOLS:
        try:
            paths[name] = tool_path(name)
        except ToolNotFoundError as exc:
            problems.append(str(exc))
    if "ffmpeg" in paths:
        problems += _mp3_encoder_problems()
    if "espeak-ng" in paths and tts is not None:
        problems += _voice_problems(tts.espeak.voice)
    if problems:
        raise ToolNotFoundError("; ".join(problems))
    return paths


def _mp3_encoder_problems() -> list[str]:
    encoders = run_tool(["ffmpeg", "-hide_banner", "-encoders"], timeout=ENCODERS_TIMEOUT_S)
    if _MP3_ENCODER.search(encoders.stdout):
        return []
    return ["this ffmpeg has no libmp3lame encoder: install Debian package ffmpeg"]


def _voice_problems(voice: str) -> list[str]:
    try:
        require_voice(voice)
    except TTSError as exc:
        return [str(exc)]
    return []
