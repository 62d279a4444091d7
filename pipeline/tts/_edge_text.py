"""Text for edge-tts: chunks the service accepts, cut where a listener would pause.

The service takes at most 4096 bytes of escaped SSML text per request. edge-tts cuts
longer text itself, at the last space before the limit: mid-sentence, so the voice
drops its pitch and pauses where the sentence goes on. Loa cuts first, between
sentences (then clauses, then words), so every chunk ends where speech pauses anyway
and the chunks join without a seam.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.sax.saxutils import escape

from edge_tts.communicate import remove_incompatible_characters

from pipeline.tts._sentences import SENTENCE_END

MAX_CHUNK_BYTES = 4096
_CLAUSE_END = re.compile(r"(?<=[,–—])\s+")


def escaped_bytes(text: str) -> int:
    """What ``text`` weighs against the service's limit once edge-tts has escaped it."""
    return len(escape(remove_incompatible_characters(text)).encode("utf-8"))


def split_for_service(text: str, limit: int = MAX_CHUNK_BYTES) -> list[str]:
    """``text`` in chunks of at most ``limit`` escaped bytes, cut between sentences."""
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        joined = f"{current} {piece}" if current else piece
        if escaped_bytes(joined) <= limit:
            current = joined
            continue
        chunks.append(current)
        current = piece
    if current:
        chunks.append(current)
    return chunks


def _pieces(text: str, limit: int) -> Iterator[str]:
    """Sentences, each cut further only if it alone is over the limit."""
    for sentence in _split(SENTENCE_END, text):
        if escaped_bytes(sentence) <= limit:
            yield sentence
            continue
        for clause in _split(_CLAUSE_END, sentence):
            if escaped_bytes(clause) <= limit:
                yield clause
            else:
                yield from _words(clause, limit)


def _split(pattern: re.Pattern[str], text: str) -> list[str]:
    return [part.strip() for part in pattern.split(text) if part.strip()]


def _words(text: str, limit: int) -> Iterator[str]:
    current = ""
    for word in text.split():
        while escaped_bytes(word) > limit:  # no space in 4 KB: cut between characters
            cut = _longest_prefix(word, limit)
            yield word[:cut]
            word = word[cut:]
        joined = f"{current} {word}" if current else word
        if escaped_bytes(joined) <= limit:
            current = joined
        else:
            yield current
            current = word
    if current:
        yield current


def _longest_prefix(word: str, limit: int) -> int:
    low, high = 1, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if escaped_bytes(word[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low
