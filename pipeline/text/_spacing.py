"""White space: tidying text, and keeping replaced words apart from their neighbours."""

from __future__ import annotations

import re
import unicodedata

# Spaces of every width become one plain space; zero-width marks and a BOM go away.
_HORIZONTAL_SPACE = re.compile(r"[^\S\n]+")
_INVISIBLE = re.compile("[\u200b\u2060\ufeff]")
_LINE_BREAKS = re.compile("\r\n?|[\v\f\x1c-\x1e\x85\u2028\u2029]")
_BLANK_LINES = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """``text`` in NFC with ``\\n`` line ends, single spaces, lines trimmed, and at most one
    blank line between paragraphs (TTS engines pause at line and paragraph breaks)."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", _LINE_BREAKS.sub("\n", text))
    lines = (_HORIZONTAL_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def spaced(text: str, start: int, end: int, words: str) -> str:
    """``words``, which replace ``text[start:end]``, with a space on each side that would
    otherwise touch a letter or digit: "4D" must become "bốn D", not "bốnD"."""
    if start > 0 and text[start - 1].isalnum():
        words = " " + words
    if end < len(text) and text[end].isalnum():
        words += " "
    return words
