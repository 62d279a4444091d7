"""Plain numbers, ranges between numbers, and temperatures below zero."""

from __future__ import annotations

import re

from pipeline.text._numbers import read_written_number
from pipeline.text._spacing import spaced
from pipeline.text._units import UNIT_PATTERN

_NUMBER = r"[0-9]+(?:[.,][0-9]+)*"
_DEGREES = r"\s?(?:°|º|℃|oC|độ(?!\w))"
# A minus only before a temperature ("-2°C", "từ -2 đến 3 độ"): elsewhere a dash before a
# number is a list bullet or a range, and a range after a number ("14 -2°C") stays one.
_BELOW_ZERO = re.compile(
    r"(?<![\w.,])(?<![0-9]\s)[-−]"
    rf"(?={_NUMBER}(?:{_DEGREES}|\s*(?:đến|-|–)\s*[-−]?{_NUMBER}{_DEGREES}))"
)
# "2 - 3", "2–3", "120 mm - 180 mm", "6h30-8h", "23/11-25/11": the dash is "đến".
_RANGE = re.compile(
    rf"(?<![\w.,])(?P<left>{_NUMBER}(?:[hH:][0-9]{{2}}|[hH]|\s?(?:{UNIT_PATTERN}))?)"
    r"(?!\w)\s*[-–—]\s*(?=(?:âm )?[0-9])"
)
_HYPHEN_BETWEEN_LETTER_AND_DIGIT = re.compile(r"(?<=[^\W\d_])-(?=[0-9])|(?<=[0-9])-(?=[^\W\d_])")
_WRITTEN_NUMBER = re.compile(_NUMBER)


def read_temperatures_below_zero(text: str) -> str:
    """A minus before a temperature is "âm": "-2°C" → "âm 2°C" (read on by later rules)."""
    return _BELOW_ZERO.sub("âm ", text)


def read_ranges(text: str) -> str:
    """A dash between two numbers is read "đến": "cấp 2 - 3" → "cấp 2 đến 3"."""
    return _RANGE.sub(r"\g<left> đến ", text)


def read_numbers(text: str) -> str:
    """Every number left in ``text`` in words, kept apart from letters it touches:
    "1.250" → "một nghìn hai trăm năm mươi", "QL 4D" → "QL bốn D", "COVID-19" → "COVID
    mười chín"."""
    text = _HYPHEN_BETWEEN_LETTER_AND_DIGIT.sub(" ", text)
    return _WRITTEN_NUMBER.sub(lambda found: _number_words(text, found), text)


def _number_words(text: str, found: re.Match[str]) -> str:
    start, end = found.span()
    return spaced(text, start, end, read_written_number(found.group()))
