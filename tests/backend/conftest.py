from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.db import Database
from tests.conftest import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The backend's database, on SQLite and, where a server is reachable, on PostgreSQL."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'backend.db'}")
        database.migrate()
        yield database
        database.engine.dispose()
        return
    for url in postgres_database():
        database = Database(url)
        database.migrate()
        yield database
        database.engine.dispose()
