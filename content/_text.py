"""Editors' text as Loa stores it: UTF-8, ``\\n`` line ends, Unicode NFC."""

import unicodedata
from pathlib import Path
from typing import Final

from config import read_user_text
from content._errors import ContentInputError

# A bulletin is a page or two; a megabyte is a mistaken file (a PDF, a recording).
MAX_TEXT_BYTES: Final = 1_000_000


def read_text_file(path: Path) -> str:
    """The text of an editor's file, normalised; ContentInputError names the file otherwise."""
    if path.is_file() and path.stat().st_size > MAX_TEXT_BYTES:
        raise ContentInputError(
            f"{path}: {path.stat().st_size} bytes is not a text to read aloud "
            f"(at most {MAX_TEXT_BYTES})"
        )
    hint = "save it as UTF-8 (older Vietnamese files are often Windows-1258 or TCVN3)"
    return normalise_text(read_user_text(path, ContentInputError, hint), str(path))


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
