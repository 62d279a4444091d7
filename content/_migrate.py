"""The database engine and its schema: Alembic migrations, run in code at start-up."""

from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from content._errors import ContentError, ContentInputError

MIGRATIONS_DIR: Final = Path(__file__).resolve().with_name("migrations")
# Content's own version table: the database is shared (APScheduler's job store lives there
# too), and another part may one day keep its own Alembic history beside ours.
VERSION_TABLE: Final = "alembic_version_content"


def parse_url(database_url: str) -> URL:
    if not isinstance(database_url, str) or not database_url.strip():
        raise ContentInputError(f"database_url {database_url!r} is empty")
    try:
        return make_url(database_url.strip())
    except ArgumentError:
        raise ContentInputError(
            f"database_url {database_url!r} is not a database URL "
            f"(e.g. sqlite:///var/loa.db or postgresql+psycopg://user@host/loa)"
        ) from None


def create_database_engine(url: URL) -> Engine:
    """An engine for ``url``; for SQLite the file's directory is created, FKs enforced."""
    if url.get_backend_name() == "sqlite":
        _make_sqlite_parent(url)
    try:
        engine = create_engine(url)
    except (NoSuchModuleError, ImportError) as error:
        raise ContentError(f"database {safe_url(url)}: driver not installed: {error}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enforce_foreign_keys)
    return engine


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(engine.url, connection), "head")
    except SQLAlchemyError as error:
        raise ContentError(
            f"database {safe_url(engine.url)}: cannot migrate the schema: {one_line(error)}"
        ) from None
    except CommandError as error:
        # Typically a revision this code does not know: the database was migrated by a
        # newer Loa. Refuse rather than guess at a schema we cannot read.
        raise ContentError(
            f"database {safe_url(engine.url)}: schema not usable by this version of Loa "
            f"({one_line(error)}); upgrade Loa"
        ) from None


def alembic_config(url: URL, connection: Connection | None = None) -> Config:
    """Alembic's configuration built in code: no alembic.ini is needed at run time."""
    config = Config()
    # ConfigParser interpolates '%': a path or a password containing one must be escaped.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    url_text = url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url_text.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def safe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def one_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    return " ".join(str(original).split())


def _make_sqlite_parent(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    directory = Path(database).expanduser().parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ContentInputError(
            f"database_url {safe_url(url)}: cannot create {directory}: {error.strerror}"
        ) from None


def _enforce_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores FOREIGN KEY clauses unless each connection turns them on.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
