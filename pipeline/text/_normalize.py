"""Text normalisation for text-to-speech: written text → the words to speak."""

from __future__ import annotations

from pipeline.text._lexicon import Lexicon
from pipeline.text._spacing import tidy
from pipeline.text._vietnamese import read_vietnamese

VIETNAMESE = "vi"


def normalize_text(text: str, language: str = "vi", lexicon: Lexicon | None = None) -> str:
    """``text`` as the words a TTS engine should speak, in NFC.

    For Vietnamese (``language`` "vi", or a regional tag such as "vi-VN") numbers, dates,
    times, ratios, ranges, units, phone numbers and the administrative abbreviations of
    ``abbreviations.yaml`` are read out in words, Northern (standard) style. For any other
    language only three things happen: Unicode NFC, white space tidied, and the lexicon —
    the rules are Vietnamese and would be wrong there. The language code is not checked.

    The ``lexicon`` (a district's own forms) is applied first, so it overrides the
    built-in abbreviations; its spoken forms then go through the rules like the rest.
    Punctuation that makes a pause (. , ; : ! ? and line and paragraph breaks) is kept for
    the TTS engine's prosody; runs of spaces become one. The result is deterministic: it
    depends on nothing but the arguments.
    """
    text = tidy(text)
    if lexicon is not None:
        text = lexicon.apply(text)
    if _is_vietnamese(language):
        text = read_vietnamese(text)
    return tidy(text)


def _is_vietnamese(language: str) -> bool:
    return language.partition("-")[0].lower() == VIETNAMESE
