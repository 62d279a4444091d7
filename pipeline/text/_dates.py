"""Dates, times of day, and slashed numbers that are dates or ratios.

Day/month ("23/11") and ratio ("12/22 xã") are written the same way. A slashed pair is read
as a date only when it is a valid day and month, and

* it has a year ("23/11/2026"), or
* a strong date word is just before it: ngày, mùng, hôm, sáng, trưa, chiều, tối, đêm...
  ("ngày 10/12" is a date even before "xã"), or
* a weak date word is just before it (từ, đến, tới, trước, sau, hết, vào), or it continues
  a list of dates (", 11/12", "và 11/12", "hoặc 11/12" right after a date), or "đến" and
  another day/month follow it ("23/11 đến 25/11"), or it begins a line (a dated heading or
  agenda item: "23/11: họp") — and no counted noun follows ("đến 10/12 xã" and "12/22 xã
  đạt chuẩn" are ratios).

Everything else is a ratio: "12/22 xã" → "12 trên 22 xã", "đạt 10/12" → "10 trên 12".
A month and a four-digit year ("tháng 10/2026") follow the same cues, with "tháng" itself
a cue. Days 1 to 10 of a date are read with "mùng" ("ngày mùng năm tháng mười hai"), as
people say them; month 4 is "tư".
"""

from __future__ import annotations

import calendar
import re
from typing import Final

from pipeline.text._nouns import counted_noun_follows
from pipeline.text._numbers import spell_number

STRONG_DATE_WORDS: Final = frozenset(
    {"ngày", "mùng", "hôm", "sáng", "trưa", "chiều", "tối", "đêm", "khuya", "rạng"}
)
WEAK_DATE_WORDS: Final = frozenset({"từ", "đến", "tới", "trước", "sau", "hết", "vào"})
LAST_HOUR: Final = 24
LAST_MINUTE: Final = 59

_NOT_AFTER = r"(?<![\w.,/:-])"
_NOT_BEFORE = r"(?![\w]|[.,/:-][0-9])"
_DAY_MONTH_YEAR = re.compile(
    _NOT_AFTER + r"(?P<day>[0-9]{1,2})(?P<sep>[-.])(?P<month>[0-9]{1,2})(?P=sep)"
    r"(?P<year>[0-9]{4})" + _NOT_BEFORE
)
_ISO_DATE = re.compile(
    _NOT_AFTER + r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})" + _NOT_BEFORE
)
_MONTH_DASH_YEAR = re.compile(
    r"(?<!\w)(?P<month>tháng\s+[0-9]{1,2})[-.](?P<year>[0-9]{4})" + _NOT_BEFORE, re.IGNORECASE
)
_CLOCK = re.compile(
    r"(?<![\w.,:/])(?P<hour>[0-9]{1,2})(?:[hH](?P<h_minute>[0-9]{2})?|:(?P<minute>[0-9]{2}))"
    r"(?![\w]|[.,:][0-9])"
)
_SLASHED = re.compile(
    r"(?<![\w.,/])(?P<first>[0-9]+(?:[.,][0-9]+)*)/(?P<second>[0-9]+(?:[.,][0-9]+)*)"
    r"(?:/(?P<third>[0-9]+))?(?![\w/]|[.,][0-9])"
)
_WORD_BEFORE = re.compile(r"(\w+)\s*$")
# "23/11 đến 25/11" (or "23/11-25/11", which the range rule made "đến"): both are dates.
_TO_A_DATE = re.compile(
    r"\s*(?:đến|tới)\s+(?:ngày\s+)?[0-9]{1,2}/[0-9]{1,2}(?![0-9])", re.IGNORECASE
)
_LINE_LEAD = re.compile(r"[^\S\n]*(?:[-–•*(][^\S\n]*)?")  # what may come before a heading
_LIST_GAP = re.compile(r"\s*(?:,|;|và|hoặc|-|–|—)\s*", re.IGNORECASE)
_DAY_BEFORE_MONTH_WORD = re.compile(
    r"(?<!\w)(?P<lead>ngày\s+)0?(?P<day>10|[1-9])(?=\s+tháng(?!\w))", re.IGNORECASE
)
_MONTH_FOUR = re.compile(r"(?<!\w)(?P<lead>tháng\s+)0?4(?![0-9]|[.,/][0-9])", re.IGNORECASE)
_ORDINAL = re.compile(r"(?<!\w)(?P<lead>thứ\s+)(?P<number>[14])(?![0-9]|[.,/][0-9])", re.IGNORECASE)
_ORDINAL_WORDS: Final = {"1": "nhất", "4": "tư"}
_DAYS_IN_MONTH: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_CONTEXT_CHARS = 40  # how far back to look for the word before a date


def unify_date_separators(text: str) -> str:
    """Dates written with "-" or "." get slashes: "23-11-2026", "23.11.2026" and
    "2026-11-23" → "23/11/2026"; "tháng 10-2026" → "tháng 10/2026". Then the range rule
    ("2-3") and the thousands separator ("1.250") cannot take them apart."""
    text = _DAY_MONTH_YEAR.sub(_slashed_date, text)
    text = _ISO_DATE.sub(_slashed_date, text)
    return _MONTH_DASH_YEAR.sub(r"\g<month>/\g<year>", text)


def read_clock_times(text: str) -> str:
    """Times of day in words: "7h30" → "bảy giờ ba mươi phút", "19h00" and "19h" → "mười
    chín giờ", "17:30" → "mười bảy giờ ba mươi phút". An hour above 24 or a minute above 59
    is not a time and is left to the other rules."""
    return _CLOCK.sub(_clock_time, text)


def read_dates_and_ratios(text: str) -> str:
    """Slashed numbers read as dates, month and year, or ratios (see the module notes)."""
    pieces: list[str] = []
    position = 0
    last_date_end = -1
    for found in _SLASHED.finditer(text):
        spoken = _as_date(text, found, last_date_end)
        if spoken is None:
            spoken = " trên ".join(part for part in found.group("first", "second", "third") if part)
        else:
            last_date_end = found.end()
        pieces += [text[position : found.start()], spoken]
        position = found.end()
    pieces.append(text[position:])
    return "".join(pieces)


def read_day_and_month_words(text: str) -> str:
    """Days, months and ordinals said their own way: "ngày 5 tháng 12" → "ngày mùng 5
    tháng 12", "tháng 4" → "tháng tư", "thứ 4" → "thứ tư", "thứ 1" → "thứ nhất"."""
    text = _DAY_BEFORE_MONTH_WORD.sub(r"\g<lead>mùng \g<day>", text)
    text = _MONTH_FOUR.sub(r"\g<lead>tư", text)
    return _ORDINAL.sub(lambda found: found["lead"] + _ORDINAL_WORDS[found["number"]], text)


def _slashed_date(found: re.Match[str]) -> str:
    day, month, year = (int(found[name]) for name in ("day", "month", "year"))
    if not _is_date(day, month, year):
        return found.group()
    return f"{found['day']}/{found['month']}/{found['year']}"


def _clock_time(found: re.Match[str]) -> str:
    hour = int(found["hour"])
    minute = int(found["h_minute"] or found["minute"] or 0)
    if hour > LAST_HOUR or minute > LAST_MINUTE or (hour == LAST_HOUR and minute):
        return found.group()
    words = f"{spell_number(hour)} giờ"
    return f"{words} {spell_number(minute)} phút" if minute else words


def _as_date(text: str, found: re.Match[str], last_date_end: int) -> str | None:
    """How the slashed numbers ``found`` read as a date, or None for a ratio."""
    first, second, third = found.group("first", "second", "third")
    if not (first.isdigit() and second.isdigit() and len(first) <= 2):
        return None
    cue, word_before = _date_cue(text, found, last_date_end)
    if third is not None:
        day, month, year = int(first), int(second), int(third)
        if len(third) == 4 and _is_date(day, month, year):
            return f"{_day(day, word_before)} tháng {_month(month)} năm {spell_number(year)}"
        return None
    if len(second) == 4:
        return _month_and_year(text, found, int(first), int(second), cue)
    day, month = int(first), int(second)
    if len(second) > 2 or not _is_date(day, month, None):
        return None
    if cue == "strong" or (cue == "weak" and not counted_noun_follows(text, found.end())):
        return f"{_day(day, word_before)} tháng {_month(month)}"
    return None


def _month_and_year(text: str, found: re.Match[str], month: int, year: int, cue: str) -> str | None:
    if not 1 <= month <= 12:
        return None
    words = f"{_month(month)} năm {spell_number(year)}"
    if cue == "month":
        return words
    if cue in ("strong", "weak") and not counted_noun_follows(text, found.end()):
        return "tháng " + words
    return None


def _date_cue(text: str, found: re.Match[str], last_date_end: int) -> tuple[str, str]:
    """What announces ``found`` as a date: ("strong" | "weak" | "month" | "", word before)."""
    start, end = found.span()
    word_found = _WORD_BEFORE.search(text, max(0, start - _CONTEXT_CHARS), start)
    word = word_found.group(1).lower() if word_found else ""
    if word in STRONG_DATE_WORDS:
        return "strong", word
    if word == "tháng":
        return "month", word
    continues_list = last_date_end >= 0 and _LIST_GAP.fullmatch(text, last_date_end, start)
    begins_line = _begins_line(text, start)
    if word in WEAK_DATE_WORDS or continues_list or begins_line or _TO_A_DATE.match(text, end):
        return "weak", word
    return "", word


def _begins_line(text: str, start: int) -> bool:
    """Whether only white space or a bullet comes before ``start`` on its line."""
    window_start = max(0, start - _CONTEXT_CHARS)
    line_start = text.rfind("\n", window_start, start) + 1
    if line_start == 0 and window_start > 0:
        return False  # a long line: not looked at further back
    return _LINE_LEAD.fullmatch(text, line_start, start) is not None


def _day(day: int, word_before: str) -> str:
    words = spell_number(day)
    return f"mùng {words}" if day <= 10 and word_before != "mùng" else words


def _month(month: int) -> str:
    return "tư" if month == 4 else spell_number(month)


def _is_date(day: int, month: int, year: int | None) -> bool:
    if not 1 <= month <= 12 or day < 1:
        return False
    if month == 2:
        return day <= (29 if year is None or calendar.isleap(year) else 28)
    return day <= _DAYS_IN_MONTH[month - 1]
