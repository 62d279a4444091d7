"""The district scheduler: APScheduler 3.x, its jobs kept in the project database.

One job per slot group fires at the slot's start minus its lead and builds that slot's
programmes (the build function comes from ``app``). Misfires are explicit: a build
missed by less than its lead still runs at once (``misfire_grace_time`` = the lead); one
missed past its slot is skipped and recorded. ``coalesce`` folds several missed runs
into one. A build that failed is retried every minute until its slot starts; one that
was interrupted (SIGKILL, power cut) is found in the build log at the next start and run
again if its slot is still ahead, else recorded as skipped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine

from config import Settings
from playout.scheduler._builds import BuildLog, BuildRecord, BuildResult, BuildStatus, SlotRun
from playout.scheduler._lock import DEFAULT_TTL_S, SchedulerLock
from playout.scheduler._routines import ROUTINE_GRACE_S, ROUTINE_PREFIX, Routine
from playout.scheduler._slots import JOB_PREFIX, SlotGroup, groups_named, slot_groups
from playout.scheduler._tables import database_engine

log = logging.getLogger(__name__)

BuildFunction = Callable[[SlotRun], BuildResult]
BuildListener = Callable[[SlotRun, BuildRecord], None]
JOBS_TABLE = "apscheduler_jobs"
RETRY_AFTER = timedelta(minutes=1)
_PERSISTENT = "default"
_VOLATILE = "volatile"  # catch-up runs and retries: recomputed at every start
_ROUTINES = "routines"  # executor of the routine checks: a long check never delays a build

# APScheduler stores a job's function as a reference ("module:name"), so the jobs call
# these module functions, which find the scheduler running in this process here.
_active: DistrictScheduler | None = None


def run_slot_job(job_id: str) -> None:
    """The persistent job: build the slot occurrence this job fires for."""
    scheduler = _running()
    group = scheduler.group(job_id)
    if group is not None:
        scheduler.build(group.run_at(group.next_start(scheduler.now())))


def run_routine_job(name: str) -> None:
    """A routine check (see ``_routines``), in the weeks of the month it runs in."""
    _running().run_routine(name)


def run_slot_occurrence(job_id: str, starts_at: str) -> None:
    """A one-off run (catch-up or retry) of one occurrence."""
    scheduler = _running()
    group = scheduler.group(job_id)
    if group is not None:
        scheduler.build(group.run_at(datetime.fromisoformat(starts_at)))


class GuardedScheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler 3.11 may process due jobs once more after ``shutdown`` (its loop wakes
    with the state already ``STOPPED``); the submission then fails and the job is moved on
    to its next run, so that run is lost without even a misfire event. Process nothing
    unless running; and a round that a shutdown overtakes (its in-memory jobs removed
    under it) ends quietly instead of killing the scheduler's thread with a traceback."""

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        try:
            wait_seconds: float | None = super()._process_jobs()
        except JobLookupError:
            if self.state == STATE_RUNNING:
                raise
            return None
        return wait_seconds


def _running() -> DistrictScheduler:
    if _active is None:
        raise RuntimeError("no district scheduler is running in this process")
    return _active


class DistrictScheduler:
    """Runs a district's slot builds unattended; one per database (``SchedulerLock``)."""

    def __init__(
        self,
        settings: Settings,
        build: BuildFunction,
        *,
        engine: Engine | None = None,
        lock_ttl_s: float = DEFAULT_TTL_S,
        on_result: BuildListener | None = None,
        routines: tuple[Routine, ...] = (),
    ) -> None:
        self._settings = settings
        self._build = build
        self._engine = engine if engine is not None else database_engine(settings.db_url)
        self.lock = SchedulerLock(self._engine, ttl_s=lock_ttl_s)
        self.builds = BuildLog(self._engine, self.lock.holder)
        self._zone = settings.organisation.district.zone
        self._groups = {group.job_id: group for group in slot_groups(settings)}
        self._on_result = on_result
        self._routines = {routine.name: routine for routine in routines}
        self._scheduler: BackgroundScheduler | None = None
        self.stopped = threading.Event()

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        """Take the district lock, bring the stored jobs in line with the config, catch up
        on interrupted or due builds, and start firing. Raises ``SchedulerLocked``."""
        global _active
        self.lock.acquire()
        _active = self
        scheduler = GuardedScheduler(
            jobstores={
                _PERSISTENT: SQLAlchemyJobStore(engine=self._engine, tablename=JOBS_TABLE),
                _VOLATILE: MemoryJobStore(),
            },
            executors={
                "default": ThreadPoolExecutor(max_workers=1),
                _ROUTINES: ThreadPoolExecutor(max_workers=1),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=self._zone,
        )
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        scheduler.start(paused=True)
        self._scheduler = scheduler
        self._sync_jobs(scheduler)
        self._sync_routines(scheduler)
        self._catch_up(scheduler)
        scheduler.resume()
        self.lock.start_renewing(on_lost=self._lost_lock)
        log.info("district scheduler started with %d slot job(s)", len(self._groups))

    def stop(self, *, wait: bool = True) -> None:
        """Stop firing; with ``wait``, let a build in progress finish first."""
        global _active
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        self.lock.release()
        if _active is self:
            _active = None
        self.stopped.set()

    def run_routine(self, name: str) -> None:
        routine = self._routines.get(name)
        if routine is None or not routine.runs_in_week_of(self.now().date()):
            return
        log.info("routine %s starts", name)
        try:
            routine.action()
        except Exception:  # one failed check must not stop the scheduler
            log.exception("routine %s failed", name)

    def next_routines(self) -> list[tuple[str, datetime]]:
        """Each routine's next firing, soonest first (weeks of the month not applied)."""
        if self._scheduler is None:
            return []
        found = []
        for name, routine in self._routines.items():
            job = self._scheduler.get_job(routine.job_id, jobstore=_PERSISTENT)
            if job is not None and job.next_run_time is not None:
                found.append((name, job.next_run_time))
        return sorted(found, key=lambda pair: pair[1])

    def set_listener(self, on_result: BuildListener | None) -> None:
        """Called with each build's record when it ends (or is recorded as skipped)."""
        self._on_result = on_result

    def now(self) -> datetime:
        return datetime.now(UTC)

    def group(self, job_id: str) -> SlotGroup | None:
        found = self._groups.get(job_id)
        if found is None:
            log.error("job %s names no slot in the configuration; ignored", job_id)
        return found

    # -- what the CLI asks -----------------------------------------------------------

    def upcoming(self, until: datetime) -> list[SlotRun]:
        """Every slot occurrence from now until ``until``, soonest first."""
        now = self.now()
        runs = [
            group.run_at(start)
            for group in self._groups.values()
            for start in group.starts(now, until)
        ]
        return sorted(runs, key=lambda run: (run.build_at, run.slot))

    def run_now(self, slot: str, day: date | None = None) -> list[BuildRecord]:
        """Build ``slot`` at once (its next occurrence, or the one on ``day``), even if it
        was built before: editors run it again after changing the bookings."""
        records = []
        for group in groups_named(self._settings, slot):
            starts_at = group.next_start(self.now()) if day is None else group.start_on(day)
            if starts_at is None:
                continue
            records.append(self.build(group.run_at(starts_at), force=True))
        return records

    # -- building --------------------------------------------------------------------

    def build(self, run: SlotRun, *, force: bool = False) -> BuildRecord:
        """Build one occurrence unless it is built or being built; its record after."""
        blocking = self.builds.claim(run, force=force)
        if blocking is not None:
            log.info("%s: not built again (%s)", run.key, blocking.status)
            return blocking
        log.info("building %s for %d commune(s)", run.key, len(run.communes))
        try:
            result = self._build(run)
        except Exception as error:  # the record must say why; the scheduler goes on
            log.exception("building %s failed", run.key)
            result = BuildResult(BuildStatus.FAILED, f"{type(error).__name__}: {error}")
        self.builds.finish(run, result)
        if result.status is BuildStatus.FAILED:
            self._retry_later(run)
        record = self.builds.get(run.key)
        assert record is not None  # noqa: S101 - written just above
        self._report(run, record)
        return record

    def _report(self, run: SlotRun, record: BuildRecord) -> None:
        level = logging.ERROR if record.status is BuildStatus.FAILED else logging.INFO
        log.log(level, "%s: %s: %s", run.key, record.status, record.summary)
        if self._on_result is not None:
            self._on_result(run, record)

    def _retry_later(self, run: SlotRun) -> None:
        when = self.now() + RETRY_AFTER
        if self._scheduler is None or when >= run.starts_at:
            return
        self._run_once(self._scheduler, run, when)

    # -- keeping APScheduler in line ---------------------------------------------------

    def _sync_jobs(self, scheduler: BackgroundScheduler) -> None:
        """One persistent job per slot group. An unchanged job is left as stored, so a
        run missed while the scheduler was down is still seen as a misfire."""
        for job in scheduler.get_jobs(jobstore=_PERSISTENT):
            if job.id.startswith(JOB_PREFIX) and job.id not in self._groups:
                log.info("removing job %s: its slot is no longer configured", job.id)
                job.remove()
        for job_id, group in self._groups.items():
            trigger = CronTrigger(timezone=self._zone, **group.cron_fields())
            grace_s = int(group.slot.lead.total_seconds())
            stored = scheduler.get_job(job_id, jobstore=_PERSISTENT)
            if stored is not None and _same_job(stored, trigger, grace_s):
                continue
            scheduler.add_job(
                run_slot_job,
                trigger,
                args=[job_id],
                id=job_id,
                name=f"bulletin {group.slot.name} ({group.slot.spec.describe()})",
                jobstore=_PERSISTENT,
                misfire_grace_time=grace_s,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )

    def _sync_routines(self, scheduler: BackgroundScheduler) -> None:
        wanted = {routine.job_id: routine for routine in self._routines.values()}
        for job in scheduler.get_jobs(jobstore=_PERSISTENT):
            if job.id.startswith(ROUTINE_PREFIX) and job.id not in wanted:
                job.remove()
        for job_id, routine in wanted.items():
            trigger = CronTrigger(timezone=self._zone, **routine.cron_fields())
            stored = scheduler.get_job(job_id, jobstore=_PERSISTENT)
            if stored is not None and _same_job(stored, trigger, ROUTINE_GRACE_S):
                continue
            scheduler.add_job(
                run_routine_job,
                trigger,
                args=[routine.name],
                id=job_id,
                name=f"routine {routine.name}",
                jobstore=_PERSISTENT,
                executor=_ROUTINES,
                misfire_grace_time=ROUTINE_GRACE_S,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )

    def _catch_up(self, scheduler: BackgroundScheduler) -> None:
        """Re-run builds a dead process left half-done, and start builds that are due now
        but were never started (the scheduler was first started inside a lead time)."""
        now = self.now()
        for record in self.builds.interrupted():
            run = self._run_of(record)
            if run is None:
                continue
            if now < run.starts_at:
                log.warning("%s: interrupted; building it again", run.key)
                self._run_once(scheduler, run, now)
            else:
                self.builds.skip(
                    run, "interrupted during its build, and its slot has passed", code="interrupted"
                )
                log.error("%s: interrupted during its build; its slot has passed", run.key)
        for group in self._groups.values():
            for starts_at in group.starts(now, now + group.slot.lead):
                run = group.run_at(starts_at)
                found = self.builds.get(run.key)
                if found is None or found.status is BuildStatus.FAILED:
                    self._run_once(scheduler, run, now)

    def _run_once(self, scheduler: BackgroundScheduler, run: SlotRun, when: datetime) -> None:
        job_id = self._job_id_of(run)
        if job_id is None:
            return
        scheduler.add_job(
            run_slot_occurrence,
            "date",
            run_date=when,
            args=[job_id, run.starts_at.isoformat()],
            id=f"once:{run.key}:{when.timestamp()}",
            jobstore=_VOLATILE,
            misfire_grace_time=None,
        )

    def _run_of(self, record: BuildRecord) -> SlotRun | None:
        for group in self._groups.values():
            if group.slot.name == record.slot and group.has_start(record.starts_at):
                return group.run_at(record.starts_at.astimezone(self._zone))
        log.error("%s: no configured slot matches this build any more", record.key)
        return None

    def _job_id_of(self, run: SlotRun) -> str | None:
        for job_id, group in self._groups.items():
            if group.slot.name == run.slot and run.communes == group.communes:
                return job_id
        return None

    def _on_missed(self, event: JobExecutionEvent) -> None:
        group = self._groups.get(event.job_id)
        if group is None:
            return
        run = group.run_at(event.scheduled_run_time + group.slot.lead)
        reason = "missed: the scheduler was not running from its build time to its start"
        if self.builds.skip(run, reason, code="missed"):
            log.error("%s: %s", run.key, reason)
            recorded = self.builds.get(run.key)
            if recorded is not None and self._on_result is not None:
                self._on_result(run, recorded)

    def _lost_lock(self) -> None:
        threading.Thread(target=self.stop, kwargs={"wait": False}, daemon=True).start()


def _same_job(job: Any, trigger: CronTrigger, grace_s: int) -> bool:
    return bool(str(job.trigger) == str(trigger) and job.misfire_grace_time == grace_s)
