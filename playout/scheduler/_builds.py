"""The record of every slot build: what ran, what it published, what was skipped and why.

A build is claimed before it starts (status ``building``) and closed when it ends, in the
database, so that a build interrupted by SIGKILL or a power cut is found and re-run on the
next start, and two processes never build one slot at once."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping

from playout._process import process_exists
from playout.scheduler._tables import slot_builds

log = logging.getLogger(__name__)

# A build claimed by a process on another host is taken over after this long.
STALE_BUILD = timedelta(minutes=30)


class BuildStatus(StrEnum):
    BUILDING = "building"
    PUBLISHED = "published"  # every commune with items got its programmes
    EMPTY = "empty"  # nothing booked for any commune: nothing published
    FAILED = "failed"
    SKIPPED = "skipped"  # missed past its slot, or interrupted too late to re-run

    @property
    def is_done(self) -> bool:
        return self in (BuildStatus.PUBLISHED, BuildStatus.EMPTY)


@dataclass(frozen=True)
class SlotRun:
    """One occurrence of a slot, for the communes that share its time."""

    slot: str
    starts_at: datetime
    duration: timedelta
    lead: timedelta
    communes: tuple[str, ...]
    title: str = ""  # what listeners hear the slot called, e.g. "Bản tin sáng"

    @property
    def key(self) -> str:
        return f"{self.slot}@{self.starts_at.astimezone(UTC).isoformat()}"

    @property
    def build_at(self) -> datetime:
        return self.starts_at - self.lead


@dataclass(frozen=True)
class BuildResult:
    """What the build function did: ``PUBLISHED``, ``EMPTY`` or ``FAILED``."""

    status: BuildStatus
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildRecord:
    key: str
    slot: str
    starts_at: datetime
    status: BuildStatus
    holder: str | None
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    detail: dict[str, Any]

    @property
    def summary(self) -> str:
        return str(self.detail.get("summary", ""))

    @classmethod
    def of(cls, row: RowMapping) -> BuildRecord:
        return cls(
            key=row["key"],
            slot=row["slot"],
            starts_at=_instant(row["starts_at"]),
            status=BuildStatus(row["status"]),
            holder=row["holder"],
            started_at=_optional_instant(row["started_at"]),
            finished_at=_optional_instant(row["finished_at"]),
            attempts=row["attempts"],
            detail=json.loads(row["detail"]) if row["detail"] else {},
        )


class BuildLog:
    def __init__(self, engine: Engine, holder: str, *, clock: Callable[[], float] = time.time):
        self._engine = engine
        self._holder = holder
        self._clock = clock

    def claim(self, run: SlotRun, *, force: bool = False) -> BuildRecord | None:
        """Mark ``run`` as being built by us. ``None``: we may build it. Otherwise the
        record that stops us: already built (unless ``force``), or being built elsewhere."""
        with self._engine.begin() as connection:
            found = _read(connection, run.key)
            if found is None:
                connection.execute(insert(slot_builds).values(**self._claim_values(run, 1)))
                return None
            if (found.status.is_done and not force) or self._held_elsewhere(found):
                return found
            result = connection.execute(
                update(slot_builds)
                .where(slot_builds.c.key == run.key, slot_builds.c.status == found.status)
                .values(**self._claim_values(run, found.attempts + 1))
            )
            return None if result.rowcount == 1 else _read(connection, run.key)

    def finish(self, run: SlotRun, result: BuildResult) -> None:
        detail = {"summary": result.summary, **result.detail}
        self._close(run, result.status, detail)

    def skip(self, run: SlotRun, reason: str, *, code: str) -> bool:
        """Record ``run`` as skipped (``code``: ``missed`` or ``interrupted``) unless it
        was built; ``True`` if recorded now."""
        with self._engine.begin() as connection:
            found = _read(connection, run.key)
            if found is not None and (found.status.is_done or found.status is BuildStatus.SKIPPED):
                return False
            if found is None:
                connection.execute(insert(slot_builds).values(**self._claim_values(run, 0)))
        self._close(run, BuildStatus.SKIPPED, {"summary": reason, "reason": code})
        return True

    def get(self, key: str) -> BuildRecord | None:
        with self._engine.connect() as connection:
            return _read(connection, key)

    def recent(self, limit: int = 20) -> list[BuildRecord]:
        query = select(slot_builds).order_by(slot_builds.c.starts_at.desc()).limit(limit)
        with self._engine.connect() as connection:
            return [BuildRecord.of(row) for row in connection.execute(query).mappings()]

    def interrupted(self) -> list[BuildRecord]:
        """Builds left ``building`` by a process that is gone."""
        query = select(slot_builds).where(slot_builds.c.status == BuildStatus.BUILDING.value)
        with self._engine.connect() as connection:
            found = [BuildRecord.of(row) for row in connection.execute(query).mappings()]
        return [record for record in found if not self._held_elsewhere(record)]

    def _close(self, run: SlotRun, status: BuildStatus, detail: dict[str, Any]) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(slot_builds)
                .where(slot_builds.c.key == run.key)
                .values(
                    status=status.value,
                    finished_at=self._clock(),
                    detail=json.dumps(detail, ensure_ascii=False, default=str),
                )
            )

    def _claim_values(self, run: SlotRun, attempts: int) -> dict[str, Any]:
        return {
            "key": run.key,
            "slot": run.slot,
            "starts_at": run.starts_at.timestamp(),
            "status": BuildStatus.BUILDING.value,
            "holder": self._holder,
            "started_at": self._clock(),
            "finished_at": None,
            "attempts": attempts,
            "detail": None,
        }

    def _held_elsewhere(self, record: BuildRecord) -> bool:
        """Being built right now by another live process."""
        if record.status is not BuildStatus.BUILDING or record.holder in (None, self._holder):
            return False
        host, pid = _host_and_pid(record.holder or "")
        if host == _this_host(self._holder):
            return pid is not None and process_exists(pid)
        started = record.started_at or datetime.fromtimestamp(0, UTC)
        return datetime.fromtimestamp(self._clock(), UTC) - started < STALE_BUILD


def _read(connection: Connection, key: str) -> BuildRecord | None:
    row = connection.execute(select(slot_builds).where(slot_builds.c.key == key)).mappings()
    first = row.first()
    return None if first is None else BuildRecord.of(first)


def _host_and_pid(holder: str) -> tuple[str, int | None]:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    return host, int(pid) if pid.isdigit() else None


def _this_host(holder: str) -> str:
    return _host_and_pid(holder)[0]


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _optional_instant(seconds: float | None) -> datetime | None:
    return None if seconds is None else _instant(seconds)
