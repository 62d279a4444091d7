"""The commune agent: pulls its signed manifest, verifies and caches the audio, plays it
on time through a sink, and reports heartbeats and as-run receipts (DESIGN.md §3–5)."""

from playout.agent._agent import CommuneAgent
from playout.agent._audio_sink import AudioSink
from playout.agent._cache import AudioIntegrityError, CacheFull, CacheUsage, CacheWriteError
from playout.agent._file_sink import FileSink
from playout.agent._receipt import AsRunReceipt
from playout.agent._schedule import Occurrence
from playout.agent._sink import Outcome, PlayResult, Sink
from playout.agent._sink_spec import parse_sink
from playout.agent._status import STATUS_FILE, read_status, status_path
from playout.agent._summary import RunSummary
from playout.agent._sync import SyncResult, SyncStatus
from playout.agent._timebase import ClockReading

__all__ = [
    "STATUS_FILE",
    "AsRunReceipt",
    "AudioIntegrityError",
    "AudioSink",
    "CacheFull",
    "CacheUsage",
    "CacheWriteError",
    "ClockReading",
    "CommuneAgent",
    "FileSink",
    "Occurrence",
    "Outcome",
    "PlayResult",
    "RunSummary",
    "Sink",
    "SyncResult",
    "SyncStatus",
    "parse_sink",
    "read_status",
    "status_path",
]
