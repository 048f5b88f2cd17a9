from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import col, select

from backend.db import UINT256_MAX, Database, SchemaError
from backend.models import Account

EDGES = [0, 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**40, UINT256_MAX]


def test_uint256_amounts_survive_the_database_exactly(db: Database) -> None:
    with db.session() as session:
        for i, value in enumerate(EDGES):
            session.add(Account(address=f"0x{i:040x}", balance=value))
        session.commit()
    with db.session() as session:
        assert [a.balance for a in session.exec(select(Account).order_by(col(Account.address)))] == EDGES


def test_uint256_order_in_sql_is_numeric_order(db: Database) -> None:
    shuffled = [EDGES[i] for i in (5, 0, 7, 2, 4, 1, 6, 3)]
    with db.session() as session:
        for i, value in enumerate(shuffled):
            session.add(Account(address=f"0x{i:040x}", balance=value))
        session.commit()
        ordered = [a.balance for a in session.exec(select(Account).order_by(col(Account.balance)))]
        above = session.exec(select(Account).where(col(Account.balance) > 2**63 - 1)).all()
    assert ordered == EDGES
    assert sorted(a.balance for a in above) == [2**63, 2**64, 10**40, UINT256_MAX]


@pytest.mark.parametrize("value", [-1, UINT256_MAX + 1, 1.5, True])
def test_values_outside_uint256_are_refused(db: Database, value: object) -> None:
    with db.session() as session:
        session.add(Account(address="0x" + "0" * 40, balance=value))  # type: ignore[arg-type]
        with pytest.raises(StatementError, match="not a uint256"):
            session.commit()


def test_the_migrations_build_exactly_the_models_schema(db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from backend.models import BackendModel

    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), BackendModel.metadata)
    assert differences == []


def test_migrating_twice_changes_nothing(db: Database) -> None:
    with db.session() as session:
        session.add(Account(address="0x" + "1" * 40, balance=5))
        session.commit()
    db.migrate()
    with db.session() as session:
        assert session.get_one(Account, "0x" + "1" * 40).balance == 5


def test_a_database_made_before_migrations_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from backend.models import BackendModel

    legacy = Database(f"sqlite:///{tmp_path / 'legacy.db'}")
    BackendModel.metadata.create_all(legacy.engine)
    with pytest.raises(SchemaError, match="delete it"):
        legacy.migrate()
