"""AMR-NB files for tests, encoded by the real codec library (opencore-amrnb) via ctypes.

Phone recorders write AMR-NB (``.amr``: ``#!AMR\\n`` then 20 ms frames). Debian's ffmpeg
decodes it but has no AMR encoder, so this module drives ``libopencore-amrnb.so.0``
(Debian package ``libopencore-amrnb0``, installed by ``scripts/ensure-system-deps.sh``)
directly, fed with 8 kHz mono 16-bit PCM that ffmpeg makes from any input.
"""

from __future__ import annotations

import ctypes
import subprocess
from pathlib import Path

import numpy as np

LIBRARY = "libopencore-amrnb.so.0"
PACKAGE = "libopencore-amrnb0"
MAGIC = b"#!AMR\n"
RATE = 8000
FRAME = 160  # samples per 20 ms frame
MAX_FRAME_BYTES = 32  # MR122: 1 header byte + 31 payload bytes; the API wants >= 32
MR122 = 7  # enum Mode: 12.2 kbit/s, the best quality (and GSM-EFR)


class AmrUnavailableError(RuntimeError):
    """The codec library cannot be loaded."""


def load_library() -> ctypes.CDLL:
    """The opencore AMR-NB library with its encoder's prototypes declared."""
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as exc:
        raise AmrUnavailableError(
            f"cannot load {LIBRARY} ({exc}): install the Debian package {PACKAGE} "
            f"(apt-get install -y {PACKAGE}, or run scripts/ensure-system-deps.sh)"
        ) from exc
    lib.Encoder_Interface_init.argtypes = [ctypes.c_int]
    lib.Encoder_Interface_init.restype = ctypes.c_void_p
    lib.Encoder_Interface_Encode.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_short),
        ctypes.POINTER(ctypes.c_ubyte),
        ctypes.c_int,
    ]
    lib.Encoder_Interface_Encode.restype = ctypes.c_int
    lib.Encoder_Interface_exit.argtypes = [ctypes.c_void_p]
    lib.Encoder_Interface_exit.restype = None
    return lib


def encode_pcm(pcm: np.ndarray, *, mode: int = MR122, dtx: bool = False) -> bytes:
    """An AMR-NB file (magic and frames) of ``pcm``: 8 kHz mono int16 samples.

    The last frame is padded with silence.
    """
    lib = load_library()
    samples = np.ascontiguousarray(pcm, dtype=np.int16)
    padded = np.zeros(-(-len(samples) // FRAME) * FRAME, dtype=np.int16)
    padded[: len(samples)] = samples
    state = lib.Encoder_Interface_init(1 if dtx else 0)
    if not state:
        raise RuntimeError("Encoder_Interface_init failed")
    out = (ctypes.c_ubyte * MAX_FRAME_BYTES)()
    frames = [MAGIC]
    try:
        for first in range(0, len(padded), FRAME):
            frame = padded[first : first + FRAME]
            written = lib.Encoder_Interface_Encode(
                state, mode, frame.ctypes.data_as(ctypes.POINTER(ctypes.c_short)), out, 0
            )
            if written <= 0 or written > MAX_FRAME_BYTES:
                raise RuntimeError(f"Encoder_Interface_Encode returned {written}")
            frames.append(bytes(out[:written]))
    finally:
        lib.Encoder_Interface_exit(state)
    return b"".join(frames)


def to_pcm(source: Path, *, seconds: float | None = None) -> np.ndarray:
    """``source`` decoded by ffmpeg to 8 kHz mono int16 (its first ``seconds`` if given)."""
    limit = ["-t", f"{seconds:g}"] if seconds is not None else []
    args = [
        "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(source), *limit,
        "-ac", "1", "-ar", str(RATE), "-c:a", "pcm_s16le", "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    raw = subprocess.run(args, check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<i2")


def write_amr(source: Path, path: Path, *, seconds: float | None = None) -> Path:
    """Encode any audio file ``source`` as an AMR-NB 12.2 kbit/s file at ``path``."""
    path.write_bytes(encode_pcm(to_pcm(source, seconds=seconds)))
    return path
