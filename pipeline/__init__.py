"""Text → speech → processed audio → encoded clip. Pure work on files: no DB, no S3.

The public interface of the pipeline part (DESIGN.md §1, §6, §7); modules named ``_x``
are private.
"""

from pipeline._checks import check_tools
from pipeline._errors import (
    AudioError,
    AudioInputError,
    ToolNotFoundError,
    TTSError,
    TTSInputError,
)
from pipeline._loudness import (
    LOUDNESS_FLOOR_LUFS,
    TRUE_PEAK_FLOOR_DBTP,
    LoudnessReport,
    measure,
)
from pipeline._media import AudioStreamInfo, probe_audio
from pipeline._policy import policy_problems
from pipeline._render import Clip, process_file, render_text

__all__ = [
    "LOUDNESS_FLOOR_LUFS",
    "TRUE_PEAK_FLOOR_DBTP",
    "AudioError",
    "AudioInputError",
    "AudioStreamInfo",
    "Clip",
    "LoudnessReport",
    "TTSError",
    "TTSInputError",
    "ToolNotFoundError",
    "check_tools",
    "measure",
    "policy_problems",
    "probe_audio",
    "process_file",
    "render_text",
]
