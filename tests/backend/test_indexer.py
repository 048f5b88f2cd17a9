from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from backend import queries
from backend.db import Database
from backend.indexer import ZERO_ADDRESS, Indexer
from backend.models import (
    Account,
    CreditedDay,
    Device,
    EventRecord,
    IndexerState,
    ListingRecord,
    MintBatchRecord,
    RetirementRecord,
)
from contracts.client import CreditContracts, Deployment
from oracle.device import DeviceSigner
from tests.backend.activity import Activity, indexed_rows, make_activity
from tests.conftest import Actors, SenderFor


@pytest.fixture
def activity(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> Activity:
    return make_activity(contracts, actors, sender, ev_device, petrol_device)


def test_balances_equal_the_chain_and_sum_to_the_supply(
    contracts: CreditContracts, db: Database, actors: Actors, activity: Activity
) -> None:
    Indexer(contracts.w3, contracts.deployment, db).sync()
    with db.session() as session:
        accounts = list(session.exec(select(Account)))
        assert ZERO_ADDRESS not in {a.address for a in accounts}
        for account in accounts:
            assert account.balance == contracts.balance_of(account.address), account.address
        assert queries.indexed_supply(session) == contracts.supply().circulating
        driver, buyer = session.get_one(Account, actors.driver.address), session.get_one(Account, actors.buyer.address)
    assert (driver.minted, driver.sold, driver.bought, driver.retired) == (3500, 1600, 0, 0)
    assert (buyer.minted, buyer.bought, buyer.retired) == (0, 2100, 1300)
    assert buyer.balance == 250 + 2000 - 1200


def test_every_event_kind_lands_in_its_table(
    contracts: CreditContracts,
    db: Database,
    actors: Actors,
    ev_device: DeviceSigner,
    petrol_device: DeviceSigner,
    activity: Activity,
) -> None:
    Indexer(contracts.w3, contracts.deployment, db).sync()
    with db.session() as session:
        batches = session.exec(select(MintBatchRecord).order_by(col(MintBatchRecord.batch_id))).all()
        assert [(b.batch_id, b.credits, b.grams, b.methodology_id) for b in batches] == [
            (1, 2, 4330, 1),
            (2, 1, 1750, 1),
        ]
        days = session.exec(select(CreditedDay).order_by(col(CreditedDay.id))).all()
        assert [(d.device, d.day, d.grams, d.batch_id) for d in days] == [
            (ev_device.address, 19_000, 1750, 1),
            (petrol_device.address, 19_000, 2580, 1),
            (ev_device.address, 19_001, 1750, 2),
        ]
        listings = session.exec(select(ListingRecord).order_by(col(ListingRecord.listing_id))).all()
        assert [(row.status, row.remaining) for row in listings] == [("cancelled", 0), ("open", 900), ("sold", 0)]
        retirement = session.get_one(RetirementRecord, 1)
        assert (retirement.account, retirement.amount, retirement.beneficiary) == (
            actors.buyer.address,
            1200,
            "Acme Bank",
        )
        assert session.get_one(Device, petrol_device.address).status == 2
        sold = session.get_one(Device, ev_device.address)
        assert (sold.owner, sold.owner_since) == (actors.buyer.address, contracts.chain_day())
        names = {row.name for row in session.exec(select(EventRecord))}
    assert {"RoleGranted", "MethodologyRegistered", "ProceedsWithdrawn"} <= names
    for_amounts = json.loads(next(iter(_events(db, "CreditsIssued"))).args)
    assert for_amounts["grams"] == "4330"  # integers as strings in the stored JSON


def test_indexing_twice_changes_nothing(contracts: CreditContracts, db: Database, activity: Activity) -> None:
    indexer = Indexer(contracts.w3, contracts.deployment, db)
    first = indexer.sync()
    before = indexed_rows(db)
    assert indexer.sync().events == 0
    # Reading the same blocks again (a crash after a commit, before anything else) is idempotent too.
    with db.session() as session:
        session.get_one(IndexerState, 1).last_block = contracts.deployment.block - 1
        session.commit()
    assert indexer.sync().events == 0
    assert indexed_rows(db) == before
    assert first.events == len(before["EventRecord"])


def test_small_ranges_index_the_same_as_one_large_range(
    contracts: CreditContracts,
    db: Database,
    tmp_path: Path,
    activity: Activity,
) -> None:
    Indexer(contracts.w3, contracts.deployment, db).sync()
    other = Database(f"sqlite:///{tmp_path / 'ranges.db'}")
    other.migrate()
    result = Indexer(contracts.w3, contracts.deployment, other, range_blocks=1).sync()
    assert result.to_block == contracts.w3.eth.block_number
    assert indexed_rows(other) == indexed_rows(db)


def test_confirmations_hold_back_the_newest_blocks(
    contracts: CreditContracts, db: Database, activity: Activity
) -> None:
    result = Indexer(contracts.w3, contracts.deployment, db, confirmations=3).sync()
    assert result.to_block == contracts.w3.eth.block_number - 3


def test_a_database_of_another_deployment_is_refused(
    contracts: CreditContracts, db: Database, activity: Activity
) -> None:
    Indexer(contracts.w3, contracts.deployment, db).sync()
    other = Deployment(**(contracts.deployment.__dict__ | {"token": contracts.deployment.market}))
    with pytest.raises(RuntimeError, match="use another database"):
        Indexer(contracts.w3, other, db).sync()


def _events(db: Database, name: str) -> list[EventRecord]:
    with db.session() as session:
        return list(session.exec(select(EventRecord).where(EventRecord.name == name)))
