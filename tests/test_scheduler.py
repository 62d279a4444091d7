"""The district scheduler: slots from config, the one-scheduler lock, APScheduler's job
store and misfires, and builds interrupted by a dead process. Real SQLite, real
APScheduler; the build function is the test's own, recording what it was asked to build."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from pydantic import ValidationError

from config import Settings, SlotSpec
from playout.scheduler import (
    BuildLog,
    BuildRecord,
    BuildResult,
    BuildStatus,
    DistrictScheduler,
    Routine,
    SchedulerLock,
    SchedulerLocked,
    SlotRun,
    database_engine,
    slot_groups,
    week_of_month,
)
from playout.scheduler._scheduler import GuardedScheduler
from playout.scheduler._tables import slot_builds
from tests.conftest import SettingsFactory

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


# --- slots in the configuration ----------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "at", "days", "duration", "lead"),
    [
        ("06:00 daily, 30 min", clock_time(6), set(range(7)), 30, None),
        ("17:00 daily", clock_time(17), set(range(7)), 30, None),
        ("Tue,Fri 07:00", clock_time(7), {1, 4}, 30, None),
        ("T3,T6 07:00, 45 min, lead 20 min", clock_time(7), {1, 4}, 45, 20),
        ("05:30:15 Sat Sun, lead 0.5 min", clock_time(5, 30, 15), {5, 6}, 30, 0.5),
    ],
)
def test_slot_phrases(
    phrase: str, at: clock_time, days: set[int], duration: int, lead: float | None
) -> None:
    spec = SlotSpec.model_validate(phrase)
    assert (spec.at, set(spec.days), spec.duration_minutes, spec.lead_minutes) == (
        at,
        days,
        duration,
        lead,
    )
    assert SlotSpec.model_validate(spec.describe()) == spec


@pytest.mark.parametrize(
    ("phrase", "complaint"),
    [
        ("daily", "exactly one start time"),
        ("25:00 daily", "no such time of day"),
        ("06:00 Funday", "'funday' is not a day"),
        ("06:00 daily, 0 min", "greater than or equal to 1"),
    ],
)
def test_bad_slot_phrases_say_what_is_wrong(phrase: str, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        SlotSpec.model_validate(phrase)


def test_commune_overrides_replace_or_drop_district_slots(make_settings: SettingsFactory) -> None:
    base = make_settings()
    organisation = base.organisation.model_dump()
    organisation["communes"][0]["slots"] = {"morning": "05:30 daily", "evening": "off"}
    organisation["communes"][1]["slots"] = {"market-day": "Tue,Fri 07:00, lead 20 min"}
    settings = make_settings(
        organisation=organisation,
        schedule={"slots": {"morning": "06:00 daily", "evening": "17:00 daily"}},
    )
    first, second = organisation["communes"][0]["id"], organisation["communes"][1]["id"]
    assert {name: slot.spec.at for name, slot in settings.commune_slots(first).items()} == {
        "morning": clock_time(5, 30)
    }
    slots = settings.commune_slots(second)
    assert sorted(slots) == ["evening", "market-day", "morning"]
    assert slots["market-day"].lead == timedelta(minutes=20)
    assert slots["morning"].lead == timedelta(minutes=30)  # the district's default
    assert settings.slot_names() == ["evening", "market-day", "morning"]
    groups = {
        (group.slot.name, group.slot.spec.at): group.communes for group in slot_groups(settings)
    }
    assert groups[("morning", clock_time(5, 30))] == (first,)
    assert first not in groups[("evening", clock_time(17))]
    assert len(groups[("morning", clock_time(6))]) == len(organisation["communes"]) - 1


def test_build_time_before_midnight_moves_to_the_day_before(make_settings: SettingsFactory) -> None:
    settings = make_settings(schedule={"slots": {"night": "Mon 00:10, lead 30 min"}})
    (group,) = slot_groups(settings)
    assert group.cron_fields() == {"day_of_week": "sun", "hour": 23, "minute": 40, "second": 0}
    monday = date(2026, 11, 23)
    run = group.run_at(group.slot.start_on(monday, ZONE))
    assert run.build_at == datetime(2026, 11, 22, 23, 40, tzinfo=ZONE)


# --- one scheduler per database ------------------------------------------------------------


def test_a_second_scheduler_on_the_same_database_is_refused(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    engine = database_engine(settings.db_url)
    first, second = SchedulerLock(engine), SchedulerLock(engine)
    first.acquire()
    with pytest.raises(SchedulerLocked, match=rf"process {first.pid} on {first.host}"):
        second.acquire()
    first.release()
    second.acquire()
    assert second.current_holder() is not None
    assert second.current_holder().holder == second.holder  # type: ignore[union-attr]


def test_an_expired_lease_is_taken_over(make_settings: SettingsFactory) -> None:
    engine = database_engine(make_settings().db_url)
    now = [1000.0]
    holder = SchedulerLock(engine, ttl_s=60, clock=lambda: now[0])
    holder.host = "another-host"  # its process cannot be checked from here
    holder.acquire()
    rival = SchedulerLock(engine, ttl_s=60, clock=lambda: now[0])
    with pytest.raises(SchedulerLocked):
        rival.acquire()
    now[0] += 61
    rival.acquire()
    assert not holder.renew(), "the old holder must learn that it lost the lock"


def test_the_lock_of_a_killed_process_on_this_host_is_taken_at_once(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    database_engine(settings.db_url)
    code = (
        "import os, sys, time\n"
        "from playout.scheduler import SchedulerLock, database_engine\n"
        f"SchedulerLock(database_engine({settings.db_url!r})).acquire()\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "locked"
        lock = SchedulerLock(database_engine(settings.db_url))
        with pytest.raises(SchedulerLocked):
            lock.acquire()
        process.kill()
        process.wait(timeout=10)
        lock.acquire()  # well within the 60 s lease
    finally:
        process.kill()


# --- APScheduler: jobs, misfires, catch-up -----------------------------------------------


class Builds:
    """The test's build function: records each run and says it published."""

    def __init__(self, result: Callable[[SlotRun], BuildResult] | None = None) -> None:
        self.runs: list[SlotRun] = []
        self.done = threading.Event()
        self._result = result

    def __call__(self, run: SlotRun) -> BuildResult:
        self.runs.append(run)
        self.done.set()
        if self._result is not None:
            return self._result(run)
        return BuildResult(BuildStatus.PUBLISHED, f"built {run.slot}")


def _slot_at(moment: datetime, lead_minutes: float = 30) -> dict[str, Any]:
    local = moment.astimezone(ZONE)
    return {"slots": {"bulletin": f"{local:%H:%M:%S} daily, lead {lead_minutes:g} min"}}


@pytest.fixture
def running() -> Iterator[list[DistrictScheduler]]:
    started: list[DistrictScheduler] = []
    yield started
    for scheduler in started:
        if not scheduler.stopped.is_set():
            scheduler.stop(wait=True)


def _start(
    settings: Settings, builds: Builds, running: list[DistrictScheduler]
) -> DistrictScheduler:
    scheduler = DistrictScheduler(settings, builds)
    scheduler.start()
    running.append(scheduler)
    return scheduler


def _finished_record(scheduler: DistrictScheduler, key: str, timeout_s: float = 20) -> BuildRecord:
    """The record once no longer ``building``: the build function returns before it is saved."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = scheduler.builds.get(key)
        if record is not None and record.status is not BuildStatus.BUILDING:
            return record
        time.sleep(0.05)
    raise AssertionError(f"build {key} still unfinished after {timeout_s:g} s")


def _set_stored_next_run(settings: Settings, moment: datetime) -> None:
    """What the job store holds after the scheduler was down since ``moment``."""
    engine = database_engine(settings.db_url)
    editor = GuardedScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")}
    )
    editor.start(paused=True)
    (job,) = editor.get_jobs()
    editor.modify_job(job.id, next_run_time=moment)
    editor.shutdown(wait=False)


def _restart_after_downtime(
    settings: Settings, builds: Builds, running: list[DistrictScheduler], build_time: datetime
) -> DistrictScheduler:
    first = _start(settings, Builds(), running)
    first.stop()
    # As if that scheduler had stopped before the build time: nothing built yet.
    with database_engine(settings.db_url).begin() as connection:
        connection.execute(slot_builds.delete())
    _set_stored_next_run(settings, build_time)
    return _start(settings, builds, running)


def test_a_build_missed_by_less_than_its_lead_runs_at_once(
    make_settings: SettingsFactory, running: list[DistrictScheduler]
) -> None:
    starts_at = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0)
    settings = make_settings(schedule=_slot_at(starts_at))
    builds = Builds()
    # Down from the build time (10 minutes ago) until now: within the 30-minute lead.
    scheduler = _restart_after_downtime(
        settings, builds, running, starts_at - timedelta(minutes=30)
    )
    assert builds.done.wait(20)
    time.sleep(1)  # a second run (catch-up and misfire both) would show up by now
    assert [run.starts_at for run in builds.runs] == [starts_at]
    record = _finished_record(scheduler, builds.runs[0].key)
    assert record.status is BuildStatus.PUBLISHED


def test_a_build_missed_past_its_slot_is_skipped_and_recorded(
    make_settings: SettingsFactory, running: list[DistrictScheduler]
) -> None:
    starts_at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    settings = make_settings(schedule=_slot_at(starts_at))
    builds = Builds()
    scheduler = _restart_after_downtime(
        settings, builds, running, starts_at - timedelta(minutes=30)
    )
    deadline = time.monotonic() + 20
    key = f"bulletin@{starts_at.astimezone(UTC).isoformat()}"
    while scheduler.builds.get(key) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    record = scheduler.builds.get(key)
    assert record is not None and record.status is BuildStatus.SKIPPED
    assert record.detail["reason"] == "missed"
    assert builds.runs == []


def test_a_slot_due_when_first_started_is_built_at_once(
    make_settings: SettingsFactory, running: list[DistrictScheduler]
) -> None:
    starts_at = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    builds = Builds()
    _start(make_settings(schedule=_slot_at(starts_at)), builds, running)
    assert builds.done.wait(20)
    assert [run.starts_at for run in builds.runs] == [starts_at]


def test_the_job_fires_at_the_build_time(
    make_settings: SettingsFactory, running: list[DistrictScheduler]
) -> None:
    starts_at = (datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0)
    builds = Builds()
    _start(make_settings(schedule=_slot_at(starts_at, lead_minutes=0.25)), builds, running)
    assert builds.done.wait(20)
    fired = datetime.now(UTC)
    assert abs((fired - (starts_at - timedelta(seconds=15))).total_seconds()) < 1.5
    assert [run.starts_at for run in builds.runs] == [starts_at]


def test_an_interrupted_build_is_built_again_if_its_slot_is_ahead(
    make_settings: SettingsFactory, running: list[DistrictScheduler]
) -> None:
    ahead = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    settings = make_settings(schedule=_slot_at(ahead))
    (group,) = slot_groups(settings)
    run = group.run_at(ahead.astimezone(ZONE))
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    log = BuildLog(
        database_engine(settings.db_url), f"{socket.gethostname()}:{dead.stdout.strip()}:x"
    )
    assert log.claim(run) is None  # claimed by a process that is gone
    builds = Builds()
    scheduler = _start(settings, builds, running)
    assert builds.done.wait(20)
    assert [built.key for built in builds.runs] == [run.key]
    record = _finished_record(scheduler, run.key)
    assert record.status is BuildStatus.PUBLISHED and record.attempts == 2


def test_a_failed_build_is_recorded_with_its_reason(
    make_settings: SettingsFactory, running: list[DistrictScheduler]
) -> None:
    def explode(run: SlotRun) -> BuildResult:
        raise OSError(28, "No space left on device")

    settings = make_settings(schedule=_slot_at(datetime.now(UTC) + timedelta(hours=3)))
    scheduler = DistrictScheduler(settings, Builds(explode))
    (record,) = scheduler.run_now("bulletin")
    assert record.status is BuildStatus.FAILED
    assert "No space left on device" in record.summary


def test_run_now_builds_again_but_a_fired_job_does_not(make_settings: SettingsFactory) -> None:
    settings = make_settings(schedule=_slot_at(datetime.now(UTC) + timedelta(hours=3)))
    builds = Builds()
    scheduler = DistrictScheduler(settings, builds)
    (first,) = scheduler.run_now("bulletin")
    (group,) = slot_groups(settings)
    again = scheduler.build(group.run_at(first.starts_at.astimezone(ZONE)))
    assert again.status is BuildStatus.PUBLISHED and again.attempts == 1
    (forced,) = scheduler.run_now("bulletin")
    assert forced.attempts == 2 and len(builds.runs) == 2


def test_a_routine_check_fires_at_its_time_in_its_weeks_only(
    make_settings: SettingsFactory, running: list[DistrictScheduler]
) -> None:
    fire_at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    local = fire_at.astimezone(ZONE)
    fired, out_of_week = threading.Event(), threading.Event()
    this_week = week_of_month(local.date())
    other_week = {1: 2}.get(this_week, 1)
    spec = SlotSpec(at=local.time(), days=frozenset({local.weekday()}))
    routines = (
        Routine("weekly-check", spec, fired.set),
        Routine("monthly-test", spec, out_of_week.set, frozenset({other_week})),
    )
    settings = make_settings(schedule=_slot_at(datetime.now(UTC) + timedelta(hours=3)))
    scheduler = DistrictScheduler(settings, Builds(), routines=routines)
    scheduler.start()
    running.append(scheduler)
    assert [name for name, _ in scheduler.next_routines()] == ["weekly-check", "monthly-test"]
    assert fired.wait(10)
    assert abs((datetime.now(UTC) - fire_at).total_seconds()) < 1.5
    time.sleep(0.5)  # the other routine has fired by now, and found it is not its week
    assert not out_of_week.is_set()


def test_weeks_of_the_month() -> None:
    assert [week_of_month(date(2026, 11, day)) for day in (1, 7, 8, 14, 15, 29, 30)] == [
        1, 1, 2, 2, 3, 5, 5,
    ]  # fmt: skip
