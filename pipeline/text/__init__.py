"""Text normalisation for text-to-speech: written administrative Vietnamese → spoken words.

The public interface of the text part; modules named ``_x`` are private.
"""

from __future__ import annotations

from pipeline.text._lexicon import Lexicon, LexiconError
from pipeline.text._normalize import normalize_text
from pipeline.text._numbers import spell_number

__all__ = ["Lexicon", "LexiconError", "normalize_text", "spell_number"]
