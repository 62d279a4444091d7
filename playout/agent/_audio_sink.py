"""The loudspeaker sink: an external player (``ffplay`` by default), supervised."""

from __future__ import annotations

import logging
import shlex
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from config import UserInputError
from playout.agent._clock import Clock, utc_now
from playout.agent._schedule import Occurrence
from playout.agent._sink import Outcome, PlayResult, Sink

log = logging.getLogger(__name__)

# A player may start slowly (opening the sound device) and run a little long.
DEFAULT_MARGIN_S = 10.0
_DURATION_SLACK = 1.1


class AudioSink(Sink):
    """Runs ``player_argv + [path]`` and waits for it, never longer than the clip's
    duration plus a margin; a non-zero exit, a crash or a hang is a ``FAILED`` play."""

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

    def play(self, path: Path, occurrence: Occurrence) -> PlayResult:
        command = [*self.player_argv, str(path)]
        log.debug("playing %s: %s", occurrence.item.id, shlex.join(command))
        started = self._clock()
        failure = _run_player(command, self.timeout_s(occurrence))
        outcome = Outcome.PLAYED if failure is None else Outcome.FAILED
        if failure is not None:
            log.error("playing %s failed: %s", occurrence.item.id, failure)
        return PlayResult(started, self._clock(), outcome, failure)


def _run_player(command: list[str], timeout_s: float) -> str | None:
    """``None`` when the player finished cleanly, else why it did not."""
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except OSError as error:
        return f"cannot start {command[0]!r}: {error.strerror or error}"
    try:
        _, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return f"{command[0]} did not finish within {timeout_s:.1f} s; killed"
    return _exit_failure(command[0], process.returncode, stderr)


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
