"""Numbers in Vietnamese words (Northern/standard reading).

``spell_number`` reads an integer; ``read_written_number`` reads one as it is written in
Vietnamese text: "." between groups of thousands, "," before decimals.
"""

from __future__ import annotations

import re
from typing import Final

DIGIT_WORDS: Final = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# A longer run of digits is an identifier (an account, a serial number), read digit by digit;
# it also keeps int() far below Python's limit on the length of a number string.
MAX_CARDINAL_DIGITS: Final = 15
# A decimal part longer than this is read digit by digit too ("3,14159", coordinates).
MAX_FRACTION_DIGITS: Final = 3

_THOUSANDS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?")
_DECIMAL = re.compile(r"[0-9]+,[0-9]+")
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)+")
_DIGIT_RUN = re.compile(r"[0-9]+")
_BILLION: Final = 10**9
# Groups below a billion, highest first; "tỷ" repeats beyond (nghìn tỷ, triệu tỷ...).
_GROUP_SCALES: Final = ((10**6, "triệu"), (10**3, "nghìn"), (1, ""))


def spell_number(number: int) -> str:
    """``number`` in Vietnamese words: 1250 → "một nghìn hai trăm năm mươi".

    A group after the first that is below a hundred keeps its "không trăm" (2005 → "hai
    nghìn không trăm linh năm"); groups of zeros are left out (3000200 → "ba triệu hai
    trăm"). Negative numbers begin with "âm".
    """
    if number < 0:
        return "âm " + spell_number(-number)
    if number == 0:
        return DIGIT_WORDS[0]
    return " ".join(_spell_positive(number, leading=True))


def spell_digits(digits: str) -> str:
    """Every ASCII digit of ``digits`` read alone: "112" → "một một hai"; others skipped."""
    return " ".join(DIGIT_WORDS[int(char)] for char in digits if "0" <= char <= "9")


def spell_digit_string(digits: str) -> str:
    """A quantity written as ASCII digits, leading zeros dropped ("07" → "bảy").

    An over-long run is read digit by digit (see ``MAX_CARDINAL_DIGITS``).
    """
    if len(digits) > MAX_CARDINAL_DIGITS:
        return spell_digits(digits)
    return spell_number(int(digits))


def spell_fraction(digits: str) -> str:
    """The part after a decimal comma: as a number ("35" → "ba mươi lăm"), but digit by
    digit when it starts with 0 ("05" → "không năm") or is long."""
    if digits.startswith("0") or len(digits) > MAX_FRACTION_DIGITS:
        return spell_digits(digits)
    return spell_number(int(digits))


def read_written_number(written: str) -> str:
    """A number as Vietnamese writes it, in words.

    "1.250.000" (thousands), "8,5" (decimal comma: "tám phẩy năm"), "4.0" (dotted, as in
    versions and section numbers: "bốn chấm không"), "07"; anything else made of digits,
    "." and "," has each digit run read and the separators kept.
    """
    if _THOUSANDS.fullmatch(written):
        whole, _, fraction = written.partition(",")
        return _with_fraction(spell_digit_string(whole.replace(".", "")), fraction)
    if _DECIMAL.fullmatch(written):
        whole, _, fraction = written.partition(",")
        return _with_fraction(spell_digit_string(whole), fraction)
    if _DOTTED.fullmatch(written):
        return " chấm ".join(spell_fraction(part) for part in written.split("."))
    return _DIGIT_RUN.sub(lambda run: spell_digit_string(run.group()), written)


def _with_fraction(whole: str, fraction: str) -> str:
    return f"{whole} phẩy {spell_fraction(fraction)}" if fraction else whole


def _spell_positive(number: int, *, leading: bool) -> list[str]:
    billions, rest = divmod(number, _BILLION)
    words: list[str] = []
    if billions:
        words += [*_spell_positive(billions, leading=leading), "tỷ"]
        leading = False
    for scale, name in _GROUP_SCALES:
        group = rest // scale % 1000
        if group:
            words += _spell_group(group, full=not leading)
            words += [name] if name else []
            leading = False
    return words


def _spell_group(group: int, *, full: bool) -> list[str]:
    """A group of three digits; ``full`` reads its hundreds even when zero ("không trăm")."""
    hundreds, tens, units = group // 100, group // 10 % 10, group % 10
    words: list[str] = []
    if full or hundreds:
        words += [DIGIT_WORDS[hundreds], "trăm"]
    if tens == 0:
        if units:
            words += ["linh", DIGIT_WORDS[units]] if words else [DIGIT_WORDS[units]]
    elif tens == 1:
        words += ["mười", *_units_after_ten(units)]
    else:
        words += [DIGIT_WORDS[tens], "mươi", *_units_after_tens(units)]
    return words


def _units_after_ten(units: int) -> list[str]:
    if units == 0:
        return []
    return ["lăm" if units == 5 else DIGIT_WORDS[units]]


def _units_after_tens(units: int) -> list[str]:
    if units == 0:
        return []
    return [{1: "mốt", 4: "tư", 5: "lăm"}.get(units, DIGIT_WORDS[units])]
