"""Editors' text as Loa stores it: UTF-8, ``\\n`` line ends, Unicode NFC."""

import codecs
import unicodedata
from pathlib import Path
from typing import Final

from content._errors import ContentInputError

# A bulletin is a page or two; a megabyte is a mistaken file (a PDF, a recording).
MAX_TEXT_BYTES: Final = 1_000_000


def read_text_file(path: Path) -> str:
    """The text of an editor's file, normalised; ContentInputError names the file otherwise."""
    data = _read_bytes(path)
    if len(data) > MAX_TEXT_BYTES:
        raise ContentInputError(
            f"{path}: {len(data)} bytes is not a text to read aloud (at most {MAX_TEXT_BYTES})"
        )
    return normalise_text(_decode(path, data), str(path))


def normalise_text(text: str, source: str) -> str:
    """``text`` with ``\\n`` line ends, in NFC, trimmed; ``source`` names it in errors.

    Vietnamese stacks two marks on one vowel ("ệ" = e + circumflex + dot below). Windows
    and Unikey write the precomposed letters (NFC); macOS editors and file names often give
    the decomposed form (NFD). Both look the same on screen but compare, hash and look up
    differently, so the TTS lexicon, the synthesis cache and duplicate detection would
    silently treat one bulletin as two different texts. NFC is the form everything else uses.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    normal = unicodedata.normalize("NFC", lines).strip()
    if not normal:
        what = "empty" if not text else "only whitespace"
        raise ContentInputError(f"{source}: the text is {what}; there is nothing to read aloud")
    return normal


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ContentInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ContentInputError(f"{path}: is a directory, not a text file") from None
    except OSError as error:
        raise ContentInputError(f"{path}: cannot read it: {error.strerror}") from None


def _decode(path: Path, data: bytes) -> str:
    # Notepad and some Windows tools start UTF-8 files with a byte order mark.
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = bom + error.start
        raise ContentInputError(
            f"{path}: not UTF-8 text (byte 0x{data[offset]:02x} at offset {offset}); "
            f"save it as UTF-8 (older Vietnamese files are often Windows-1258 or TCVN3)"
        ) from None
