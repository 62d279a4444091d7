"""The one runner for every external tool the pipeline calls (ffmpeg, ffprobe, espeak-ng).

Each binary is located once per override value (``FFMPEG_PATH``, ``FFPROBE_PATH``,
``ESPEAK_PATH``, else ``PATH``). Commands are argument lists, never shell strings; a failure
becomes the tool's own Loa error carrying the last lines of its stderr.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from config import LoaError
from pipeline._errors import AudioError, ToolNotFoundError, TTSError

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 5
PIPE_BYTES = 1 << 20  # Linux's default /proc/sys/fs/pipe-max-size
# Every streaming ffmpeg the engine runs. One filter thread: ffmpeg 5.1 splits each
# biquad across threads frame by frame, and the hand-offs cost three to four times the
# filtering itself (measured: 4 biquads on 12 minutes of stereo, 5.9 s of CPU with two
# threads, 0.9 s with one). Parallelism comes from running the stages side by side.
FFMPEG_STREAM = (
    "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
    "-filter_threads", "1", "-filter_complex_threads", "1",
)  # fmt: skip

# ffmpeg flushes a pipe after every packet when it cannot seek it, waking the reader each
# time: an MP3 frame is 200 bytes, and the verifying decoder blocked 21,000 times on 12
# minutes. Unflushed, it writes whole 32 KiB buffers (and the encoder is interrupted a
# hundred times instead of 7,500).
UNFLUSHED = ("-flush_packets", "0")


@dataclass(frozen=True)
class Tool:
    name: str
    env_var: str
    debian_package: str
    error: type[LoaError]


TOOLS = {
    tool.name: tool
    for tool in (
        Tool("ffmpeg", "FFMPEG_PATH", "ffmpeg", AudioError),
        Tool("ffprobe", "FFPROBE_PATH", "ffmpeg", AudioError),
        Tool("espeak-ng", "ESPEAK_PATH", "espeak-ng", TTSError),
    )
}


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    stdout: str
    stderr: str


def tool_path(name: str) -> str:
    """The executable of tool ``name``; raises ``ToolNotFoundError`` when it is missing."""
    tool = TOOLS[name]
    return _locate(tool, os.environ.get(tool.env_var) or None)


@functools.cache
def _locate(tool: Tool, override: str | None) -> str:
    found = shutil.which(override or tool.name)
    if found is None:
        raise ToolNotFoundError(_not_found_message(tool, override))
    log.debug("%s is %s", tool.name, found)
    return found


def _not_found_message(tool: Tool, override: str | None) -> str:
    install = f"install Debian package {tool.debian_package} (make test / make demo install it)"
    if override is None:
        return f"{tool.name} not found: {install} or set {tool.env_var}"
    return f"{tool.name} not found at {tool.env_var}={override}: {install} or fix {tool.env_var}"


def run_tool(args: Sequence[str], *, timeout: float, check: bool = True) -> ToolResult:
    """Run ``args`` (``args[0]`` names a tool in ``TOOLS``) and return its decoded output.

    With ``check``, a non-zero exit raises the tool's error with its last stderr lines.
    """
    tool = TOOLS[args[0]]
    command = [tool_path(tool.name), *args[1:]]
    log.debug("run: %s", shlex.join(command))
    completed = _run(tool, command, timeout)
    result = ToolResult(completed.returncode, _text(completed.stdout), _text(completed.stderr))
    if check and result.returncode != 0:
        raise tool.error(failure_message(tool.name, result))
    return result


def _run(tool: Tool, command: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise tool.error(f"{tool.name} timed out after {timeout:.0f} s") from None
    except OSError as exc:
        raise tool.error(f"{tool.name} could not start ({command[0]}): {exc}") from exc


def _text(output: bytes) -> str:
    # Tools echo file names back; a name that is not UTF-8 must not turn into a traceback.
    return output.decode("utf-8", errors="replace")


def failure_message(name: str, result: ToolResult) -> str:
    return f"{name} failed with exit code {result.returncode}: {stderr_tail(result.stderr)}"


def _widen(pipe: IO[bytes]) -> None:
    """Give a pipe a larger buffer, so that a tool and its reader overlap their work
    instead of taking turns: the default 64 KiB holds a fraction of one 2 s chunk."""
    with contextlib.suppress(OSError, AttributeError):  # F_SETPIPE_SZ is Linux-only
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def stderr_tail(stderr: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last non-empty lines of a tool's stderr, on one line."""
    kept = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


class ToolProcess:
    """A tool run as a stream: its stdin/stdout are pipes (or files), its stderr is kept
    in a temporary file so a full pipe can never stall it.

    Use as a context manager; leaving the block waits for the tool (up to ``timeout``)
    and raises the tool's error on a non-zero exit. Leaving it by an exception kills it.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        timeout: float,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        cwd: str | os.PathLike[str] | None = None,
        niceness: int = 0,
    ) -> None:
        self.tool = TOOLS[args[0]]
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout
        command = [tool_path(self.tool.name), *args[1:]]
        log.debug("stream: %s", shlex.join(command))
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish()/kill()
        self._result: ToolResult | None = None
        try:
            self.process = subprocess.Popen(
                command, stdin=stdin, stdout=stdout, stderr=self._stderr, cwd=cwd
            )
        except OSError as exc:
            self._stderr.close()
            raise self.tool.error(
                f"{self.tool.name} could not start ({command[0]}): {exc}"
            ) from exc
        if niceness:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, self.process.pid, niceness)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                _widen(pipe)

    @property
    def stdin(self) -> IO[bytes]:
        if self.process.stdin is None:
            raise ValueError(f"{self.tool.name} was not started with a stdin pipe")
        return self.process.stdin

    @property
    def stdout(self) -> IO[bytes]:
        if self.process.stdout is None:
            raise ValueError(f"{self.tool.name} was not started with a stdout pipe")
        return self.process.stdout

    def __enter__(self) -> ToolProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.kill()
            return
        self.finish()

    def running(self) -> bool:
        """Whether the tool is still at work; its timeout error once past its deadline."""
        if self.process.poll() is not None:
            return False
        if time.monotonic() > self._deadline:
            self.kill()
            raise self.tool.error(f"{self.tool.name} timed out after {self.timeout:.0f} s")
        return True

    def finish(self) -> ToolResult:
        """Wait for the tool; the tool's error if it fails or outlives its deadline."""
        if self._result is not None:
            return self._result
        try:
            returncode = self.process.wait(timeout=max(self._deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.kill()
            raise self.tool.error(
                f"{self.tool.name} timed out after {self.timeout:.0f} s"
            ) from None
        result = ToolResult(returncode, "", self.stderr())
        self._result = result
        self._close()
        if returncode != 0:
            raise self.tool.error(failure_message(self.tool.name, result))
        return result

    def stderr(self) -> str:
        self._stderr.seek(0)
        return _text(self._stderr.read())

    def kill(self) -> None:
        if self._result is not None:
            return
        self._result = ToolResult(-9, "", "")
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close()

    def _close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()
