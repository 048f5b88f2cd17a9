"""The backend's database: engine, sessions, and an exact uint256 column type."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import NUMERIC, String, event, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session, create_engine

UINT256_MAX = 2**256 - 1
UINT256_DIGITS = 78


class Uint256(TypeDecorator[int]):
    """An unsigned 256-bit integer stored exactly.

    PostgreSQL: NUMERIC(78, 0). Elsewhere (SQLite, whose integers stop at 2^63 − 1): a 78-digit string,
    zero-padded so that comparing and ordering the strings compares the numbers.
    """

    impl = String(UINT256_DIGITS)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(NUMERIC(UINT256_DIGITS, 0))
        return dialect.type_descriptor(String(UINT256_DIGITS))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
            raise ValueError(f"not a uint256: {value!r}")
        if dialect.name == "postgresql":
            return Decimal(value)
        return f"{value:0{UINT256_DIGITS}d}"

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class Database:
    """Sessions on the backend's database (SQLite by default, any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, connect_args=connect_args)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (backend/migrations), creating it in an empty database."""
        from alembic import command

        with self.engine.begin() as connection:
            tables = set(inspect(connection).get_table_names())
            if tables and "alembic_version" not in tables:
                raise SchemaError(
                    f"{self.engine.url.render_as_string()} holds tables made before migrations existed: "
                    "the index can always be rebuilt from the chain, so delete it (or point "
                    "BACKEND_DATABASE_URL at a new database) and index again"
                )
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session


class SchemaError(Exception):
    """The database's schema cannot be brought up to date."""


MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Any:
    """Alembic's configuration for the backend's migrations (`url` when run outside `migrate`)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url)
    return config


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()
