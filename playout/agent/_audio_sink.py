"""The loudspeaker sink: an external player (``ffplay`` by default), supervised."""

from __future__ import annotations

import logging
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from config import UserInputError
from playout.agent._clock import Clock, utc_now
from playout.agent._schedule import Occurrence
from playout.agent._sink import Outcome, PlayResult, Sink

log = logging.getLogger(__name__)

# A player may start slowly (opening the sound device) and run a little long.
DEFAULT_MARGIN_S = 10.0
_DURATION_SLACK = 1.1
# How long a player asked to stop (SIGTERM) may take before it is killed.
STOP_GRACE_S = 1.0
_POLL_S = 0.02  # how often the player and the cancel event are looked at


class AudioSink(Sink):
    """Runs ``player_argv + [path]`` and waits for it, never longer than the clip's
    duration plus a margin; a non-zero exit, a crash or a hang is a ``FAILED`` play.
    ``cancel`` stops the player at once (SIGTERM, then SIGKILL after ``STOP_GRACE_S``)."""

    def __init__(
        self,
        player_argv: Sequence[str],
        *,
        margin_s: float = DEFAULT_MARGIN_S,
        clock: Clock = utc_now,
    ) -> None:
        if not player_argv:
            raise UserInputError("agent.player: the player command is empty")
        if shutil.which(player_argv[0]) is None:
            raise UserInputError(f"agent.player: {player_argv[0]!r} not found on PATH")
        if margin_s <= 0:
            raise ValueError("margin_s must be positive")
        self.player_argv = list(player_argv)
        self._margin_s = margin_s
        self._clock = clock

    def timeout_s(self, occurrence: Occurrence) -> float:
        return occurrence.item.audio.duration_ms / 1000 * _DURATION_SLACK + self._margin_s

    def play(self, path: Path, occurrence: Occurrence, cancel: threading.Event) -> PlayResult:
        command = [*self.player_argv, str(path)]
        log.debug("playing %s: %s", occurrence.item.id, shlex.join(command))
        started = self._clock()
        outcome, reason = _run_player(command, self.timeout_s(occurrence), cancel)
        if outcome is Outcome.FAILED:
            log.error("playing %s failed: %s", occurrence.item.id, reason)
        return PlayResult(started, self._clock(), outcome, reason)


def _run_player(
    command: list[str], timeout_s: float, cancel: threading.Event
) -> tuple[Outcome, str | None]:
    if cancel.is_set():
        return Outcome.INTERRUPTED, None
    # stderr goes to a file: a chatty player must not block on a full pipe.
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        except OSError as error:
            return Outcome.FAILED, f"cannot start {command[0]!r}: {error.strerror or error}"
        ended = _supervise(process, timeout_s, cancel)
        if ended == "cancelled":
            return Outcome.INTERRUPTED, None
        if ended == "timeout":
            return Outcome.FAILED, f"{command[0]} did not finish within {timeout_s:.1f} s; killed"
        stderr.seek(0)
        failure = _exit_failure(command[0], process.returncode, stderr.read())
    return (Outcome.PLAYED, None) if failure is None else (Outcome.FAILED, failure)


def _supervise(
    process: subprocess.Popen[bytes], timeout_s: float, cancel: threading.Event
) -> Literal["exited", "cancelled", "timeout"]:
    """How the player ended; when cancelled or timed out, it has been stopped."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            process.wait(timeout=_POLL_S)
            return "exited"
        except subprocess.TimeoutExpired:
            pass
        if cancel.is_set():
            _stop(process)
            return "cancelled"
        if time.monotonic() >= deadline:
            _stop(process)
            return "timeout"


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _exit_failure(player: str, code: int, stderr: bytes) -> str | None:
    if code == 0:
        return None
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    detail = f": {lines[-1]}" if lines else ""
    if code < 0:
        return f"{player} killed by {_signal_name(-code)}{detail}"
    return f"{player} exited with status {code}{detail}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
