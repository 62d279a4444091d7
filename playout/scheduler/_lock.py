"""One district scheduler per database: a leased lock row (SQLite and PostgreSQL alike).

APScheduler 3.x must not share a job store between processes: two schedulers would both
fire every job. The holder renews its lease every ``ttl / 4``; another process takes the
lock over only when the lease has run out, or at once when the holder was on this host
and its process is gone (killed with SIGKILL, power cut)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from config import LoaError
from playout._process import process_exists
from playout.scheduler._tables import scheduler_lock

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 60.0
_LOCK_ID = 1


class SchedulerLocked(LoaError):  # noqa: N818 - reads as the condition
    """Another district scheduler holds the database."""

    exit_code = 1


@dataclass(frozen=True)
class LockHolder:
    holder: str
    host: str
    pid: int
    acquired_at: float
    renewed_at: float

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.acquired_at, UTC).isoformat(timespec="seconds")
        return f"process {self.pid} on {self.host}, since {since}"


class SchedulerLock:
    def __init__(
        self,
        engine: Engine,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.holder = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def current_holder(self) -> LockHolder | None:
        with self._engine.connect() as connection:
            return _read(connection)

    def acquire(self) -> None:
        """Take the lock or raise ``SchedulerLocked`` naming who holds it."""
        for _ in range(3):
            with self._engine.begin() as connection:
                found = _read(connection)
                if found is None:
                    if self._insert(connection):
                        return
                    continue
                if found.holder == self.holder or self._may_take_over(found):
                    if self._swap(connection, found.holder):
                        return
                    continue
                raise SchedulerLocked(
                    f"another district scheduler already runs on this database "
                    f"({found.describe()}); APScheduler 3 must not share a job store: "
                    f"stop that one first"
                )
        raise SchedulerLocked("the scheduler lock changed hands while taking it; try again")

    def start_renewing(self, on_lost: Callable[[], None]) -> None:
        self._renewer = threading.Thread(
            target=self._renew_loop, args=(on_lost,), name="scheduler-lock", daemon=True
        )
        self._renewer.start()

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        with self._engine.begin() as connection:
            connection.execute(delete(scheduler_lock).where(scheduler_lock.c.holder == self.holder))

    def renew(self) -> bool:
        """Extend the lease; ``False`` when someone else holds the lock now."""
        with self._engine.begin() as connection:
            result = connection.execute(
                update(scheduler_lock)
                .where(scheduler_lock.c.id == _LOCK_ID, scheduler_lock.c.holder == self.holder)
                .values(renewed_at=self._clock())
            )
            return result.rowcount == 1

    def _renew_loop(self, on_lost: Callable[[], None]) -> None:
        while not self._stop.wait(self._ttl_s / 4):
            try:
                if self.renew():
                    continue
            except Exception:  # a database hiccup: try again at the next round
                log.exception("cannot renew the scheduler lock")
                continue
            log.error("the scheduler lock was taken over by another process; stopping")
            on_lost()
            return

    def _may_take_over(self, found: LockHolder) -> bool:
        if self._clock() - found.renewed_at > self._ttl_s:
            log.warning("taking over the scheduler lease of %s: expired", found.describe())
            return True
        if found.host == self.host and not process_exists(found.pid):
            log.warning("taking over the scheduler lock of %s: gone", found.describe())
            return True
        return False

    def _insert(self, connection: Connection) -> bool:
        now = self._clock()
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(scheduler_lock).values(
                        id=_LOCK_ID,
                        holder=self.holder,
                        host=self.host,
                        pid=self.pid,
                        acquired_at=now,
                        renewed_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True

    def _swap(self, connection: Connection, previous: str) -> bool:
        """Compare-and-set: take the row only if ``previous`` still holds it."""
        now = self._clock()
        values = {"holder": self.holder, "host": self.host, "pid": self.pid, "renewed_at": now}
        if previous != self.holder:
            values["acquired_at"] = now
        result = connection.execute(
            update(scheduler_lock)
            .where(scheduler_lock.c.id == _LOCK_ID, scheduler_lock.c.holder == previous)
            .values(**values)
        )
        return result.rowcount == 1


def _read(connection: Connection) -> LockHolder | None:
    query = select(scheduler_lock).where(scheduler_lock.c.id == _LOCK_ID)
    row = connection.execute(query).mappings().first()
    if row is None:
        return None
    return LockHolder(
        holder=row["holder"],
        host=row["host"],
        pid=row["pid"],
        acquired_at=row["acquired_at"],
        renewed_at=row["renewed_at"],
    )
