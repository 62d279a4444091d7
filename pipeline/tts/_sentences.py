"""Where a text's sentences end: the cut points engines and transcripts share."""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+|\n+")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (also cut at ``;``, ``:`` and line breaks), trimmed."""
    return [part.strip() for part in SENTENCE_END.split(text) if part.strip()]
