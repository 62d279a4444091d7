"""Whole-token replacement of written forms by spoken forms (lexicons, abbreviations)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline.text._spacing import spaced

# A hyphen joining an expansion to a word becomes a spaced dash, a pause: "CNTT-VT" →
# "công nghệ thông tin - viễn thông", "KH-UBND" → "KH - ủy ban nhân dân".
_HYPHEN_BEFORE = r"(?:(?<=\w)-)?"
_HYPHEN_AFTER = r"(?:-(?=\w))?"


class PhraseTable:
    """Replaces each written form in a text by its spoken form, longest form first.

    Matching is case-sensitive and on whole tokens: a form is not found inside a longer
    word ("TT" is not in "TTS"), but may touch punctuation ("CNTT-VT", "(UBND)"). A form
    that starts or ends with punctuation ("TP.") only needs a boundary on its word side.
    """

    def __init__(self, entries: Mapping[str, str]) -> None:
        self._entries = dict(entries)
        forms = sorted(self._entries, key=lambda form: (-len(form), form))
        alternatives = "|".join(_form_pattern(form) for form in forms)
        pattern = f"{_HYPHEN_BEFORE}(?P<form>{alternatives}){_HYPHEN_AFTER}"
        self._pattern = re.compile(pattern) if forms else None

    def replace(self, text: str) -> str:
        """``text`` with every written form replaced by its spoken form."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda found: self._spoken(text, found), text)

    def _spoken(self, text: str, found: re.Match[str]) -> str:
        words = self._entries[found["form"]]
        if found.start() < found.start("form"):
            words = "- " + words
        if found.end("form") < found.end():
            words += " -"
        return spaced(text, *found.span(), words)


def _form_pattern(form: str) -> str:
    pattern = re.escape(form)
    if _is_word_char(form[0]):
        pattern = r"(?<!\w)" + pattern
    if _is_word_char(form[-1]):
        pattern += r"(?!\w)"
    return pattern


def _is_word_char(char: str) -> bool:
    return re.match(r"\w", char) is not None
