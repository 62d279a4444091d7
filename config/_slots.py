"""Recurring programme slots: a commune station's fixed bulletins (issue 6, DESIGN.md §8).

A slot is written in a district's config as a short phrase or as a mapping::

    morning: "06:00 daily, 30 min"
    evening: {at: "17:00", duration_minutes: 45}
    market-day: "Tue,Fri 07:00, lead 20 min"

Times are local to the district (06:00 is 06:00 every day, whatever the offset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SLOT_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
ALL_DAYS: Final = frozenset(range(7))

# Monday is 0, as ``date.weekday()``. English and Vietnamese short forms (T2 = thứ Hai).
_WEEKDAYS: Final = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "t2": 0, "t3": 1, "t4": 2, "t5": 3, "t6": 4, "t7": 5, "cn": 6,
}  # fmt: skip
_DAY_NAMES: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAILY: Final = frozenset({"daily", "everyday", "every-day"})

_TIME = re.compile(r"\b(\d{1,2}:\d{2}(?::\d{2})?)\b")
_LEAD = re.compile(r"\blead\s+(\d+(?:\.\d+)?)\s*min(?:utes?)?\b", re.IGNORECASE)
_DURATION = re.compile(r"\b(\d+)\s*min(?:utes?)?\b", re.IGNORECASE)
_DAY_WORDS = re.compile(r"[A-Za-z0-9-]+")


class SlotSpec(BaseModel):
    """When a slot recurs and how long it lasts. ``lead_minutes`` ``None``: the district's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: time
    days: frozenset[int] = ALL_DAYS
    duration_minutes: int = Field(default=30, ge=1, le=24 * 60)
    lead_minutes: float | None = Field(default=None, gt=0, le=24 * 60)
    title: str | None = Field(
        default=None, min_length=1, max_length=100, description="what listeners hear it called"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_phrase(cls, value: Any) -> Any:
        return parse_slot_phrase(value) if isinstance(value, str) else value

    @field_validator("at", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _parse_time(value)
        if isinstance(value, int):  # YAML 1.1 reads an unquoted 06:00 as 360 (sexagesimal)
            hours, minutes = divmod(value, 60)
            return time(hours, minutes)
        return value

    @field_validator("at")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.microsecond or value.tzinfo is not None:
            raise ValueError(f"{value}: a slot starts on a whole second, in local time")
        return value

    @field_validator("days", mode="before")
    @classmethod
    def _weekdays(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _parse_days(value)
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(_weekday(entry) for entry in value)
        return value

    @field_validator("days")
    @classmethod
    def _some_day(cls, value: frozenset[int]) -> frozenset[int]:
        if not value:
            raise ValueError("a slot recurs on at least one day")
        return value

    def runs_on(self, day: date) -> bool:
        return day.weekday() in self.days

    def describe(self) -> str:
        """The phrase this spec would be written as, e.g. ``Tue,Fri 07:00, 30 min``."""
        days = (
            "daily" if self.days == ALL_DAYS else ",".join(_DAY_NAMES[d] for d in sorted(self.days))
        )
        lead = f", lead {self.lead_minutes:g} min" if self.lead_minutes is not None else ""
        at = f"{self.at:%H:%M:%S}" if self.at.second else f"{self.at:%H:%M}"
        return f"{days} {at}, {self.duration_minutes} min{lead}"


@dataclass(frozen=True)
class Slot:
    """A slot as it applies to one commune: the district's, or the commune's override."""

    name: str
    spec: SlotSpec
    lead: timedelta

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.spec.duration_minutes)

    @property
    def title(self) -> str:
        """The bulletin's title, e.g. "Bản tin sáng"; "Bản tin <name>" unless configured."""
        return self.spec.title or f"Bản tin {self.name}"

    def start_on(self, day: date, zone: tzinfo) -> datetime:
        """The slot's start on ``day``, local wall time (a DST gap is the zone's business)."""
        return datetime.combine(day, self.spec.at, tzinfo=zone)

    def build_at(self, day: date, zone: tzinfo) -> datetime:
        return self.start_on(day, zone) - self.lead


def parse_slot_phrase(phrase: str) -> dict[str, Any]:
    """``"06:00 daily, 30 min"`` → the fields of a :class:`SlotSpec`; ``ValueError`` names
    what is wrong with the phrase."""
    found = _TIME.findall(phrase)
    if len(found) != 1:
        raise ValueError(f"{phrase!r}: give exactly one start time as HH:MM, e.g. '06:00 daily'")
    fields: dict[str, Any] = {"at": _parse_time(found[0])}
    rest = _TIME.sub(" ", phrase)
    lead = _LEAD.search(rest)
    if lead is not None:
        fields["lead_minutes"] = float(lead.group(1))
        rest = _LEAD.sub(" ", rest)
    duration = _DURATION.search(rest)
    if duration is not None:
        fields["duration_minutes"] = int(duration.group(1))
        rest = _DURATION.sub(" ", rest)
    days = rest.replace(",", " ").split()
    if days:
        fields["days"] = _parse_days(",".join(days))
    return fields


def _parse_time(text: str) -> time:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*", text)
    if match is None:
        raise ValueError(f"{text!r}: a slot time is HH:MM, e.g. 06:00")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"{text!r}: no such time of day")
    return time(hours, minutes, seconds)


def _parse_days(text: str) -> frozenset[int]:
    words = [word.lower() for word in _DAY_WORDS.findall(text)]
    if not words:
        raise ValueError(f"{text!r}: name the days, e.g. daily or Tue,Fri")
    if all(word in _DAILY for word in words):
        return ALL_DAYS
    return frozenset(_weekday(word) for word in words)


def _weekday(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    word = str(value).strip().lower()
    if word in _WEEKDAYS:
        return _WEEKDAYS[word]
    if len(word) > 3 and word[:3] in _WEEKDAYS:  # "Tuesday", "friday"
        return _WEEKDAYS[word[:3]]
    raise ValueError(f"{value!r} is not a day: use Mon..Sun, T2..T7, CN or daily")
