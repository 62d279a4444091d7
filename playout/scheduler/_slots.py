"""Slots as the scheduler sees them: communes that share a slot's time form one group,
and each group is one APScheduler job firing at the slot's start minus its lead."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from config import Settings, Slot, UserInputError
from playout.scheduler._builds import SlotRun

JOB_PREFIX = "slot:"
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SlotGroup:
    """One slot definition and the communes it applies to."""

    slot: Slot
    communes: tuple[str, ...]
    zone: tzinfo

    @property
    def job_id(self) -> str:
        spec = self.slot.spec
        days = "".join(str(day) for day in sorted(spec.days))
        lead = int(self.slot.lead.total_seconds())
        return f"{JOB_PREFIX}{self.slot.name}:{spec.at:%H%M%S}:{days}:{lead}"

    def run_at(self, starts_at: datetime) -> SlotRun:
        return SlotRun(
            slot=self.slot.name,
            starts_at=starts_at,
            duration=self.slot.duration,
            lead=self.slot.lead,
            communes=self.communes,
            title=self.slot.title,
        )

    def starts(self, since: datetime, until: datetime) -> Iterator[datetime]:
        """Every start of the slot in ``[since, until)``, in order."""
        day = since.astimezone(self.zone).date() - timedelta(days=1)
        last = until.astimezone(self.zone).date()
        while day <= last:
            if self.slot.spec.runs_on(day):
                start = self.slot.start_on(day, self.zone)
                if since <= start < until:
                    yield start
            day += timedelta(days=1)

    def next_start(self, after: datetime) -> datetime:
        """The first start strictly after ``after``."""
        for start in self.starts(after + timedelta(microseconds=1), after + timedelta(days=8)):
            return start
        raise ValueError(f"slot {self.slot.name!r} never recurs")  # days is never empty

    def has_start(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return self.start_on(local.date()) == local

    def start_on(self, day: date) -> datetime | None:
        return self.slot.start_on(day, self.zone) if self.slot.spec.runs_on(day) else None

    def cron_fields(self) -> dict[str, str | int]:
        """APScheduler ``CronTrigger`` fields for the build time (start − lead), which may
        fall on the day before."""
        spec = self.slot.spec
        start_s = spec.at.hour * 3600 + spec.at.minute * 60 + spec.at.second
        shift, second_of_day = divmod(start_s - round(self.slot.lead.total_seconds()), 86400)
        days = sorted((day + shift) % 7 for day in spec.days)
        return {
            "day_of_week": ",".join(_CRON_DAYS[day] for day in days),
            "hour": second_of_day // 3600,
            "minute": second_of_day // 60 % 60,
            "second": second_of_day % 60,
        }


def slot_groups(settings: Settings) -> list[SlotGroup]:
    """Every distinct slot definition in force, with the communes that use it."""
    zone = settings.organisation.district.zone
    members: dict[Slot, list[str]] = defaultdict(list)
    for commune in settings.organisation.communes:
        for slot in settings.commune_slots(commune.id).values():
            members[slot].append(commune.id)
    groups = [SlotGroup(slot, tuple(communes), zone) for slot, communes in members.items()]
    return sorted(groups, key=lambda group: (group.slot.name, group.job_id))


def groups_named(settings: Settings, name: str) -> list[SlotGroup]:
    found = [group for group in slot_groups(settings) if group.slot.name == name]
    if not found:
        known = ", ".join(settings.slot_names()) or "none"
        raise UserInputError(f"no slot {name!r} in the configuration (slots: {known})")
    return found
