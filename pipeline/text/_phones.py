"""Telephone numbers, read digit by digit.

A Vietnamese number is 0 and 8 to 10 more digits (or +84 and 8 to 10), written in one run
or in groups of 2 to 4 digits split by one kind of separator: "0912 345 678",
"0912.345.678", "0213 3881 234". The groups are kept as short pauses (commas) so a listener
can write the number down. The emergency and service numbers 111 to 115 are read digit by
digit after "số", "gọi", "gọi số" or "đường dây nóng" — unless a counted noun follows
("số 112 hộ" is a quantity).
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.text._nouns import counted_noun_follows
from pipeline.text._numbers import spell_digits
from pipeline.text._spacing import spaced

MIN_DIGITS: Final = 9  # with the leading 0
MAX_DIGITS: Final = 11
_LABELS: Final = {"ĐT": "điện thoại", "SĐT": "số điện thoại"}

# At most 11 digits: a first group of 3 or more, then at most 4 groups of 2 to 4.
_PHONE = re.compile(
    r"(?:(?<!\w)(?P<label>S?ĐT)(?P<gap>\s?:?\s?)|(?<![\w.,/+]))"
    r"(?P<number>(?:\+84[ .-]?[0-9]{2,10}|0[0-9]{2,10})(?:[ .-][0-9]{2,4}){0,4})(?![0-9])"
)
_GROUP = re.compile(r"[0-9]+")
_SERVICE_NUMBER = re.compile(
    r"(?<!\w)(?P<cue>gọi số|gọi|số|đường dây nóng)(?P<gap>\s?:?\s?)"
    r"(?P<number>11[1-5])(?![0-9/]|[.,][0-9])",
    re.IGNORECASE,
)


def read_phone_numbers(text: str) -> str:
    """``text`` with telephone numbers read digit by digit, in their written groups."""
    pieces: list[str] = []
    position = 0
    # Search on from where each phone number ends: the candidate may have taken the
    # groups of the next number too ("0912 345 678 0913 456 789").
    while found := _PHONE.search(text, position):
        reading = _phone(text, found)
        if reading is None:
            pieces.append(text[position : found.start("number") + 1])
            position = found.start("number") + 1
            continue
        words, end = reading
        pieces += [text[position : found.start()], words]
        position = end
    pieces.append(text[position:])
    text = "".join(pieces)
    return _SERVICE_NUMBER.sub(lambda found: _service_number(text, found), text)


def _phone(text: str, found: re.Match[str]) -> tuple[str, int] | None:
    """The words for the phone number at ``found`` and where it ends, or None."""
    number = found.group("number")
    international = number.startswith("+84")
    groups = _leading_groups(number.removeprefix("+84").lstrip(" .-"), international)
    if not groups:
        return None
    words = ", ".join(spell_digits(group) for group in groups)
    if international:
        words = "cộng tám bốn, " + words
    label = found.group("label")
    if label:
        words = _LABELS[label] + (found.group("gap") or " ") + words
    end = found.start("number") + _end_of_groups(number, groups, international)
    return spaced(text, found.start(), end, words), end


def _leading_groups(digits: str, international: bool) -> list[str]:
    """The longest run of first groups, split by one separator, that makes a phone number."""
    separators = re.findall(r"[ .-]", digits)
    groups = _GROUP.findall(digits)
    if separators and any(separator != separators[0] for separator in separators):
        cut = next(i for i, separator in enumerate(separators) if separator != separators[0])
        groups = groups[: cut + 1]
    least, most = (MIN_DIGITS - 1, MAX_DIGITS - 1) if international else (MIN_DIGITS, MAX_DIGITS)
    best: list[str] = []
    total = 0
    for count, group in enumerate(groups, start=1):
        total += len(group)
        if total > most:
            break
        if total >= least:
            best = groups[:count]
    return best


def _end_of_groups(number: str, groups: list[str], international: bool) -> int:
    """Where the last of ``groups`` ends in ``number``."""
    position = len("+84") if international else 0
    for group in groups:
        position = number.index(group, position) + len(group)
    return position


def _service_number(text: str, found: re.Match[str]) -> str:
    if counted_noun_follows(text, found.end()):
        return found.group()
    return found.group("cue") + found.group("gap") + spell_digits(found.group("number"))
