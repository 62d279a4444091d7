"""Text → speech → processed audio → encoded clip. Pure work on files: no DB, no S3.

The public interface of the pipeline part (DESIGN.md §1, §6, §7); modules named ``_x``
are private.
"""

from pipeline._checks import check_tools
from pipeline._engine import ProcessResult, process
from pipeline._errors import (
    AudioError,
    AudioInputError,
    ToolNotFoundError,
    TTSError,
    TTSInputError,
)
from pipeline._loudness import measure
from pipeline._media import AudioStreamInfo, probe_audio
from pipeline._meter import (
    LOUDNESS_FLOOR_LUFS,
    TRUE_PEAK_FLOOR_DBTP,
    LoudnessMeter,
    LoudnessReport,
)
from pipeline._policy import policy_problems
from pipeline._programme import Gap, Part, alert_source, programme_source
from pipeline._render import (
    Clip,
    SpeechFile,
    export_speech,
    process_file,
    render_alert,
    render_programme,
    render_speech,
)
from pipeline._source import Source

__all__ = [
    "LOUDNESS_FLOOR_LUFS",
    "TRUE_PEAK_FLOOR_DBTP",
    "AudioError",
    "AudioInputError",
    "AudioStreamInfo",
    "Clip",
    "Gap",
    "LoudnessMeter",
    "LoudnessReport",
    "Part",
    "ProcessResult",
    "Source",
    "SpeechFile",
    "TTSError",
    "TTSInputError",
    "ToolNotFoundError",
    "alert_source",
    "check_tools",
    "export_speech",
    "measure",
    "policy_problems",
    "probe_audio",
    "process",
    "process_file",
    "programme_source",
    "render_alert",
    "render_programme",
    "render_speech",
]
