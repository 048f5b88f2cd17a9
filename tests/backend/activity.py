"""A short history on chain touching every event the indexer handles."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.client import Credit, CreditContracts, DeviceStatus
from oracle.device import DeviceSigner
from tests.conftest import Actors, SenderFor

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
    first_day = [Credit(ev.address, 19_000, 1750).as_tuple(), Credit(petrol.address, 19_000, 2580).as_tuple()]
    oracle.transact(token.issueCredits(1, b"\x01" * 32, first_day))
    oracle.transact(token.issueCredits(1, b"\x02" * 32, [Credit(ev.address, 19_001, 1750).as_tuple()]))
    driver.transact(token.transfer(actors.buyer.address, 250))  # a plain transfer
    driver.transact(token.approve(contracts.deployment.market, 3000))
    driver.transact(market.createListing(2000, PRICE_PER_KG))  # listing 1: partly bought, then cancelled
    driver.transact(market.createListing(1000, PRICE_PER_KG * 2))  # listing 2: stays open
    buyer.transact(market.buy(1, 1500), value=market.priceOf(1, 1500).call())
    driver.transact(market.cancelListing(1))
    other.transact(token.approve(contracts.deployment.market, 500))
    other.transact(market.createListing(500, PRICE_PER_KG))  # listing 3: sold out
    buyer.transact(market.buy(3, 500), value=market.priceOf(3, 500).call())
    buyer.transact(token.retire(1200, "Acme Bank", "Flights 2026"))
    sender("registrar").transact(registry.setDeviceStatus(petrol.address, DeviceStatus.SUSPENDED))
    sender("registrar").transact(registry.setDeviceOwner(ev.address, actors.buyer.address, 19_002))
    driver.transact(market.withdrawProceeds())
    return Activity(retirement_id=1, open_listing=2)
