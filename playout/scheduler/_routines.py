"""Routine jobs beside the slot builds: the weekly and monthly alert checks (issue 7).

A routine runs at a weekly time (a ``SlotSpec``'s days and time, no lead), optionally only
in some weeks of the month. Its action comes from ``app``; the scheduler only fires it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from config import SlotSpec

ROUTINE_PREFIX = "routine:"
ROUTINE_GRACE_S = 15 * 60  # a check missed by more than this waits for its next time
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Routine:
    name: str
    when: SlotSpec
    action: Callable[[], object]
    weeks: frozenset[int] | None = None  # weeks of the month (1-5); None: every week

    @property
    def job_id(self) -> str:
        return f"{ROUTINE_PREFIX}{self.name}"

    def cron_fields(self) -> dict[str, str | int]:
        at = self.when.at
        return {
            "day_of_week": ",".join(_CRON_DAYS[day] for day in sorted(self.when.days)),
            "hour": at.hour,
            "minute": at.minute,
            "second": at.second,
        }

    def runs_in_week_of(self, day: date) -> bool:
        return self.weeks is None or week_of_month(day) in self.weeks


def week_of_month(day: date) -> int:
    """1 for days 1-7, 2 for 8-14, …: "the first Monday" is a Monday in week 1."""
    return (day.day - 1) // 7 + 1
