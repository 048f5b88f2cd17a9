"""The indexer against a chain that changes its mind and nodes that are particular: reorgs (eth-tester's
snapshot and revert make real ones: the blocks after the snapshot are replaced), nodes that refuse wide
log ranges with their own error codes, nodes that lag behind, and nodes that answer with neighbouring
blocks' logs. Each time the index must equal a fresh index of the chain as it now is."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from backend import queries
from backend.db import Database
from backend.indexer import Indexer
from backend.models import Account, CreditedDay, IndexerState, ListingRecord
from contracts.client import CreditContracts, DeviceStatus
from oracle.device import DeviceSigner
from tests.backend.activity import PRICE_PER_KG, indexed_rows
from tests.backend.node import RANGE_ERRORS, ParticularNode, node_serving
from tests.conftest import Actors, SenderFor
from tests.helpers import issue


def fresh_index(contracts: CreditContracts, tmp_path: Path) -> Database:
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.migrate()
    Indexer(contracts.w3, contracts.deployment, fresh).sync()
    return fresh


def assert_agrees_with_the_chain(db: Database, contracts: CreditContracts) -> None:
    supply = contracts.supply()
    with db.session() as session:
        for account in session.exec(select(Account)):
            assert account.balance == contracts.balance_of(account.address), account.address
        assert queries.indexed_supply(session) == supply.circulating
        stats = queries.stats(session)
    assert (int(stats.minted.grams), int(stats.retired.grams)) == (supply.issued, supply.retired)


def test_a_reorg_is_rolled_back_to_the_fork_and_the_new_blocks_indexed(
    contracts: CreditContracts,
    db: Database,
    actors: Actors,
    sender: SenderFor,
    ev_device: DeviceSigner,
    petrol_device: DeviceSigner,
    tmp_path: Path,
) -> None:
    w3, token, market = contracts.w3, contracts.token.functions, contracts.market.functions
    oracle, driver, buyer = sender("oracle"), sender("driver"), sender("buyer")
    issue(contracts, oracle, 19_000, (ev_device.address, 1750), (petrol_device.address, 2580))
    indexer = Indexer(w3, contracts.deployment, db)
    indexer.sync()
    fork_point = w3.eth.block_number
    fork = w3.testing.snapshot()

    # The fork the chain will abandon: every kind of effect the indexer undoes.
    issue(contracts, oracle, 19_001, (ev_device.address, 1750))
    driver.transact(token.transfer(actors.buyer.address, 300))
    driver.transact(token.approve(contracts.deployment.market, 2000))
    driver.transact(market.createListing(1000, PRICE_PER_KG))
    driver.transact(market.createListing(500, PRICE_PER_KG))
    buyer.transact(market.buy(1, 400), value=market.priceOf(1, 400).call())
    driver.transact(market.cancelListing(1))
    buyer.transact(market.buyAndRetire(200, [2], "Acme", "Old fork", 0, 0), value=market.priceOf(2, 200).call())
    sender("registrar").transact(
        contracts.registry.functions.setDeviceStatus(petrol_device.address, DeviceStatus.SUSPENDED)
    )
    today = contracts.chain_day()
    sender("registrar").transact(
        contracts.registry.functions.setDeviceOwner(ev_device.address, actors.buyer.address, today)
    )
    indexer.sync()
    with db.session() as session:
        assert session.get_one(Account, actors.buyer.address).retired == 200
    abandoned_head = w3.eth.block_number

    # The chain goes back to the fork point and grows another way, past where the old fork ended.
    w3.testing.revert(fork)
    issue(contracts, oracle, 19_001, (petrol_device.address, 2580))
    other = sender("other_driver")
    other.transact(token.approve(contracts.deployment.market, 1000))
    other.transact(market.createListing(1000, PRICE_PER_KG * 3))
    buyer.transact(market.fillOrder(600, [1]), value=market.priceOf(1, 600).call())
    w3.testing.mine(abandoned_head - w3.eth.block_number + 2)

    result = indexer.sync()

    assert result.reorgs == 1
    assert result.to_block == w3.eth.block_number
    assert_agrees_with_the_chain(db, contracts)
    assert indexed_rows(db) == indexed_rows(fresh_index(contracts, tmp_path))
    with db.session() as session:
        listing = session.get_one(ListingRecord, 1)
        assert (listing.seller, listing.remaining, listing.status) == (actors.other_driver.address, 400, "open")
        days = session.exec(select(CreditedDay.device, CreditedDay.day)).all()
        assert sorted(days) == sorted(
            [(ev_device.address, 19_000), (petrol_device.address, 19_000), (petrol_device.address, 19_001)]
        )
        assert session.get_one(IndexerState, 1).last_block > fork_point


def test_a_node_behind_the_index_is_waited_for_and_a_shorter_fork_rolled_back_once_it_grows(
    contracts: CreditContracts,
    db: Database,
    actors: Actors,
    sender: SenderFor,
    ev_device: DeviceSigner,
    tmp_path: Path,
) -> None:
    w3, oracle = contracts.w3, sender("oracle")
    indexer = Indexer(w3, contracts.deployment, db)
    fork = w3.testing.snapshot()
    issue(contracts, oracle, 19_000, (ev_device.address, 1750))
    w3.testing.mine(3)
    indexer.sync()
    indexed = indexed_rows(db)

    w3.testing.revert(fork)  # the chain is now shorter than the index
    waiting = indexer.sync()
    assert (waiting.events, waiting.reorgs, waiting.to_block) == (0, 0, waiting.from_block - 1)
    assert indexed_rows(db) == indexed  # nothing is undone on a guess

    issue(contracts, oracle, 19_000, (ev_device.address, 1000))  # the other fork overtakes
    w3.testing.mine(5)
    assert indexer.sync().reorgs == 1
    assert_agrees_with_the_chain(db, contracts)
    assert indexed_rows(db) == indexed_rows(fresh_index(contracts, tmp_path))


def test_a_lagging_node_is_not_taken_for_a_reorg(
    contracts: CreditContracts, db: Database, sender: SenderFor, ev_device: DeviceSigner
) -> None:
    issue(contracts, sender("oracle"), 19_000, (ev_device.address, 1750))
    Indexer(contracts.w3, contracts.deployment, db).sync()
    indexed = indexed_rows(db)
    behind = ParticularNode(contracts.w3, lag=3)
    with node_serving(behind) as lagging:
        result = Indexer(lagging, contracts.deployment, db).sync()
    assert (result.events, result.reorgs, result.head) == (0, 0, contracts.w3.eth.block_number - 3)
    assert indexed_rows(db) == indexed
    with db.session() as session:
        assert session.get_one(IndexerState, 1).last_block == contracts.w3.eth.block_number


@pytest.mark.parametrize("provider", sorted(RANGE_ERRORS))
def test_ranges_a_node_refuses_are_halved_and_every_block_is_read_once(
    contracts: CreditContracts,
    db: Database,
    actors: Actors,
    sender: SenderFor,
    ev_device: DeviceSigner,
    petrol_device: DeviceSigner,
    tmp_path: Path,
    provider: str,
) -> None:
    for day in range(19_000, 19_006):
        issue(contracts, sender("oracle"), day, (ev_device.address, 1750), (petrol_device.address, 2580))
    sender("driver").transact(contracts.token.functions.transfer(actors.buyer.address, 100))
    node = ParticularNode(contracts.w3, max_range=5, error=RANGE_ERRORS[provider])
    with node_serving(node) as picky:
        indexer = Indexer(picky, contracts.deployment, db, range_blocks=64)
        result = indexer.sync()
    first = contracts.deployment.block
    assert result.to_block == contracts.w3.eth.block_number
    assert node.refused > 0
    blocks = [number for start, end in node.served for number in range(start, end + 1)]
    assert blocks == list(range(first, result.to_block + 1))  # each block once, in order, none skipped
    assert indexed_rows(db) == indexed_rows(fresh_index(contracts, tmp_path))


def test_a_refused_range_grows_back_after_successes(
    contracts: CreditContracts, db: Database, sender: SenderFor, ev_device: DeviceSigner
) -> None:
    contracts.w3.testing.mine(60)
    node = ParticularNode(contracts.w3, max_range=2)
    with node_serving(node) as picky:
        indexer = Indexer(picky, contracts.deployment, db, range_blocks=8)
        indexer.sync()
        node.max_range = None  # the node's limit is lifted (or the load that caused it passed)
        contracts.w3.testing.mine(60)
        indexer.sync()
    assert indexer.span == 8


def test_a_node_that_refuses_even_one_block_stops_the_sync_with_its_error(
    contracts: CreditContracts, db: Database
) -> None:
    node = ParticularNode(contracts.w3, max_range=0)
    with node_serving(node) as broken, pytest.raises(Exception, match="more than 10000 results"):
        Indexer(broken, contracts.deployment, db).sync()
    with db.session() as session:
        assert session.get(IndexerState, 1) is None  # nothing written


def test_logs_of_neighbouring_blocks_are_not_indexed_twice(
    contracts: CreditContracts,
    db: Database,
    actors: Actors,
    sender: SenderFor,
    ev_device: DeviceSigner,
    petrol_device: DeviceSigner,
    tmp_path: Path,
) -> None:
    for day in range(19_000, 19_004):
        issue(contracts, sender("oracle"), day, (ev_device.address, 1750), (petrol_device.address, 2580))
    node = ParticularNode(contracts.w3, sloppy=True)
    with node_serving(node) as sloppy:
        Indexer(sloppy, contracts.deployment, db, range_blocks=2).sync()
    assert_agrees_with_the_chain(db, contracts)
    assert indexed_rows(db) == indexed_rows(fresh_index(contracts, tmp_path))
