"""The one runner for every external tool the pipeline calls (ffmpeg, ffprobe, espeak-ng).

Each binary is located once per override value (``FFMPEG_PATH``, ``FFPROBE_PATH``,
``ESPEAK_PATH``, else ``PATH``). Commands are argument lists, never shell strings; a failure
becomes the tool's own Loa error carrying the last lines of its stderr.
"""

from __future__ import annotations

import functools
import logging
import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from config import LoaError
from pipeline._errors import AudioError, ToolNotFoundError, TTSError

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 5


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


def stderr_tail(stderr: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last non-empty lines of a tool's stderr, on one line."""
    kept = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"
