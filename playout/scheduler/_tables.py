"""The scheduler's own tables, beside APScheduler's ``apscheduler_jobs`` in the project
database. New tables only, created if missing: nothing of the content schema changes.

Instants are stored as Unix seconds (a float): the same on SQLite and PostgreSQL, and
compared in SQL without any zone handling."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine
from sqlalchemy.engine import Engine, make_url

metadata = MetaData()

scheduler_lock = Table(
    "loa_scheduler_lock",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: one scheduler per district
    Column("holder", String(200), nullable=False),  # host:pid:token
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("renewed_at", Float, nullable=False),
)

slot_builds = Table(
    "loa_slot_builds",
    metadata,
    Column("key", String(200), primary_key=True),  # <slot>@<start, UTC ISO 8601>
    Column("slot", String(64), nullable=False, index=True),
    Column("starts_at", Float, nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("holder", String(200)),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("attempts", Integer, nullable=False, default=0),
    Column("detail", Text),  # JSON: what was published, what was empty, why it failed
)


def database_engine(url: str) -> Engine:
    """An engine for the scheduler's tables; SQLite waits for a writer instead of failing."""
    parsed = make_url(url)
    connect_args = {}
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"timeout": 30}
        if parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    metadata.create_all(engine, checkfirst=True)
    return engine
