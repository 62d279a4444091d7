"""Alembic environment for the content schema.

Run in code by ``ContentStore`` (the connection arrives in ``config.attributes``), or by
hand for a new revision::

    LOA_DATABASE_URL=sqlite:///var/loa.db \\
        alembic -c content/migrations/alembic.ini revision --autogenerate -m "..."
"""

import os
from typing import Any

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

from content._migrate import VERSION_TABLE
from content._models import Base

config = context.config
target_metadata = Base.metadata


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # The database is shared: never propose dropping a table that is not ours
    # (APScheduler's job store, say).
    return not (type_ == "table" and reflected and compare_to is None)


def database_url() -> str:
    url = os.environ.get("LOA_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("content migrations: set LOA_DATABASE_URL to the database's URL")
    return url


def configure(**options: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        # SQLite alters tables by copying them; batch mode lets later revisions do that.
        render_as_batch=True,
        compare_type=True,
        **options,
    )


def run_on(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    configure(url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as own_connection:
        run_on(own_connection)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
