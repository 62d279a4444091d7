"""The reading rules for Vietnamese, in the order they must run.

A more specific reading runs before a general one: phone numbers, road names, dates and
times before ranges, units and plain numbers. A rule either reads its numbers out itself
(phone numbers, dates, times) or marks what it found in words and leaves the digits to
``read_numbers`` ("2 - 3" → "2 đến 3", "180 mm" → "180 mi-li-mét"); the digits it reads
are gone, so no later rule reads them twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from pipeline.text._abbreviations import expand_abbreviations, expand_road_names
from pipeline.text._dates import (
    read_clock_times,
    read_dates_and_ratios,
    read_day_and_month_words,
    unify_date_separators,
)
from pipeline.text._phones import read_phone_numbers
from pipeline.text._quantities import read_numbers, read_ranges, read_temperatures_below_zero
from pipeline.text._units import read_units

_AMPERSAND = re.compile(r"(?<=\s)&(?=\s)")


def read_ampersands(text: str) -> str:
    """A free-standing "&" is "và" ("Văn hóa & Thể thao"); "GD&ĐT" is an abbreviation."""
    return _AMPERSAND.sub("và", text)


RULES: Final[tuple[Callable[[str], str], ...]] = (
    read_phone_numbers,  # before roads ("ĐT: 0912..." is a phone) and numbers
    expand_road_names,
    unify_date_separators,  # before ranges take "23-11-2026" apart
    read_temperatures_below_zero,  # before ranges take the minus
    read_ranges,
    read_clock_times,
    read_dates_and_ratios,
    read_day_and_month_words,
    read_units,  # after dates and times, which read their own numbers
    read_numbers,
    expand_abbreviations,  # after numbers, which part "TT9" into "TT chín"
    read_ampersands,
)


def read_vietnamese(text: str) -> str:
    """``text`` (tidy, NFC) with every written form the rules know read out in words."""
    for rule in RULES:
        text = rule(text)
    return text
