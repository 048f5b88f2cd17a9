"""A short history on chain touching every event the indexer handles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from backend.db import Database
from backend.models import (
    Account,
    CreditedDay,
    Device,
    DeviceChange,
    EventRecord,
    FillRecord,
    ListingRecord,
    MintBatchRecord,
    RetirementRecord,
    Totals,
    TransferRecord,
)
from contracts.client import CreditContracts, DeviceStatus
from oracle.device import DeviceSigner
from tests.conftest import Actors, SenderFor
from tests.helpers import issue

PRICE_PER_KG = 3 * 10**14


@dataclass(frozen=True)
class Activity:
    retirement_id: int
    open_listing: int


def make_activity(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, ev: DeviceSigner, petrol: DeviceSigner
) -> Activity:
    token, market, registry = contracts.token.functions, contracts.market.functions, contracts.registry.functions
    oracle, driver, other, buyer = (sender(name) for name in ("oracle", "driver", "other_driver", "buyer"))
    issue(contracts, oracle, 19_000, (ev.address, 1750), (petrol.address, 2580), root=b"\x01" * 32)
    issue(contracts, oracle, 19_001, (ev.address, 1750), root=b"\x02" * 32)
    driver.transact(token.transfer(actors.buyer.address, 250))  # a plain transfer
    driver.transact(token.approve(contracts.deployment.market, 3000))
    driver.transact(market.createListing(2000, PRICE_PER_KG))  # listing 1: partly bought, then cancelled
    driver.transact(market.createListing(1000, PRICE_PER_KG * 2))  # listing 2: 100 g bought and retired
    buyer.transact(market.buy(1, 1500), value=market.priceOf(1, 1500).call())
    driver.transact(market.cancelListing(1))
    other.transact(token.approve(contracts.deployment.market, 500))
    other.transact(market.createListing(500, PRICE_PER_KG))  # listing 3: sold out through an order
    buyer.transact(market.fillOrder(500, [3]), value=market.priceOf(3, 500).call())
    buyer.transact(token.retire(1200, "Acme Bank", "Flights 2026", 20_454, 20_818))  # retirement 1
    buyer.transact(  # retirement 2
        market.buyAndRetire(100, [2], "Acme Bank", "Conference", 0, 0), value=market.priceOf(2, 100).call()
    )
    sender("registrar").transact(registry.setDeviceStatus(petrol.address, DeviceStatus.SUSPENDED))
    today = int(contracts.w3.eth.get_block("latest")["timestamp"]) // 86_400
    sender("registrar").transact(registry.setDeviceOwner(ev.address, actors.buyer.address, today))
    driver.transact(market.withdrawProceeds())
    return Activity(retirement_id=1, open_listing=2)


INDEXED_TABLES = (
    Account,
    TransferRecord,
    Device,
    DeviceChange,
    CreditedDay,
    MintBatchRecord,
    ListingRecord,
    FillRecord,
    RetirementRecord,
    Totals,
    EventRecord,
)
SURROGATE_KEYS = {"id", "event_id"}
"""Row numbers the database hands out: two indexes of the same chain may number their rows differently."""


def indexed_rows(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """What an index holds of the chain, for comparing two indexes: every row of every table, without
    row numbers, and without accounts whose every total is zero (an index that undid a reorg keeps the
    rows of accounts that only the abandoned fork touched)."""
    with db.session() as session:
        rows: dict[str, list[tuple[object, ...]]] = {}
        for model in INDEXED_TABLES:
            dumped = [row.model_dump() for row in session.exec(select(model))]  # type: ignore[misc]
            if model is Account:
                dumped = [row for row in dumped if any(value for key, value in row.items() if key != "address")]
            rows[model.__name__] = sorted(
                tuple(sorted((key, value) for key, value in row.items() if key not in SURROGATE_KEYS)) for row in dumped
            )
        return rows
