"""Column types shared by the models and the migrations."""

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC and always returned timezone-aware in UTC.

    PostgreSQL's ``timestamptz`` keeps the instant; SQLite keeps no zone at all and would
    hand back naive datetimes, so on SQLite the value is stored as naive UTC and the zone
    is put back on reading. Naive input is refused: its zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored as UTC")
        instant = value.astimezone(UTC)
        return instant.replace(tzinfo=None) if dialect.name == "sqlite" else instant

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CommuneList(TypeDecorator[tuple[str, ...]]):
    """Commune ids kept as a JSON list in a text column; NULL (every commune) stays ``None``.

    Text rather than a JSON column: the same DDL and the same comparisons on SQLite and
    PostgreSQL, and nothing queries inside the list.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: tuple[str, ...] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(list(value), ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[str, ...] | None:
        if value is None:
            return None
        ids = json.loads(value) if isinstance(value, str) else None
        if not isinstance(ids, list) or not all(isinstance(one, str) for one in ids):
            raise TypeError(f"expected a JSON list of commune ids from the database, got {value!r}")
        return tuple(ids)
