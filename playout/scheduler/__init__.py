"""The district scheduler: slot builds fired by APScheduler 3.x from the project database,
one scheduler process per district (issue 6, DESIGN.md §2)."""

from playout.scheduler._builds import BuildLog, BuildRecord, BuildResult, BuildStatus, SlotRun
from playout.scheduler._lock import LockHolder, SchedulerLock, SchedulerLocked
from playout.scheduler._routines import Routine, week_of_month
from playout.scheduler._scheduler import BuildFunction, DistrictScheduler
from playout.scheduler._slots import SlotGroup, groups_named, slot_groups
from playout.scheduler._tables import database_engine

__all__ = [
    "BuildFunction",
    "BuildLog",
    "BuildRecord",
    "BuildResult",
    "BuildStatus",
    "DistrictScheduler",
    "LockHolder",
    "Routine",
    "SchedulerLock",
    "SchedulerLocked",
    "SlotGroup",
    "SlotRun",
    "database_engine",
    "groups_named",
    "slot_groups",
    "week_of_month",
]
