"""Reading a user's UTF-8 text file, with errors that name the file and what is wrong."""

from __future__ import annotations

import codecs
from pathlib import Path

from config._errors import LoaError


def read_user_text(path: Path, error: type[LoaError], hint: str = "save it as UTF-8") -> str:
    """The text of ``path`` (a UTF-8 byte order mark dropped); ``error`` naming the file
    when it is missing, a directory, unreadable or not UTF-8 (``hint`` says what to do)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a text file") from None
    except OSError as failure:
        raise error(f"{path}: cannot read it: {failure.strerror}") from None
    # Notepad and some Windows tools start UTF-8 files with a byte order mark.
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as failure:
        offset = bom + failure.start
        raise error(
            f"{path}: not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset}); {hint}"
        ) from None
