from __future__ import annotations

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import col, select

from backend.db import UINT256_MAX, Database
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
