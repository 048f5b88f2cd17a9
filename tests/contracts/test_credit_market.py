from __future__ import annotations

import pytest
from web3.logs import DISCARD

from contracts.artifacts import load_artifact
from contracts.chain import Sender
from contracts.client import Credit, CreditContracts, VehicleClass
from oracle.device import DeviceSigner
from tests.conftest import Actors, SenderFor, register
from tests.helpers import reverts

PRICE_PER_KG = 2 * 10**14  # wei


@pytest.fixture
def seller(contracts: CreditContracts, sender: SenderFor, ev_device: DeviceSigner) -> Sender:
    """The driver, holding 3.5 kg, with the market approved for all of it."""
    credits = [Credit(ev_device.address, 19_000, 1750).as_tuple(), Credit(ev_device.address, 19_001, 1750).as_tuple()]
    sender("oracle").transact(contracts.token.functions.issueCredits(1, b"\x01" * 32, credits))
    driver: Sender = sender("driver")
    driver.transact(contracts.token.functions.approve(contracts.deployment.market, 3500))
    return driver


@pytest.fixture
def listing(contracts: CreditContracts, seller: Sender) -> int:
    receipt = seller.transact(contracts.market.functions.createListing(3000, PRICE_PER_KG))
    return contracts.market.events.ListingCreated().process_receipt(receipt, errors=DISCARD)[0].args.listingId  # type: ignore[no-any-return]


def test_listing_moves_the_credits_into_escrow(contracts: CreditContracts, actors: Actors, seller: Sender) -> None:
    receipt = seller.transact(contracts.market.functions.createListing(3000, PRICE_PER_KG))
    (event,) = contracts.market.events.ListingCreated().process_receipt(receipt, errors=DISCARD)
    assert (event.args.listingId, event.args.seller, event.args.amount, event.args.pricePerKg) == (
        1, actors.driver.address, 3000, PRICE_PER_KG
    )  # fmt: skip
    assert contracts.balance_of(actors.driver.address) == 500
    assert contracts.balance_of(contracts.deployment.market) == 3000
    assert contracts.market.functions.listing(1).call() == (actors.driver.address, 3000, PRICE_PER_KG)
    assert contracts.market.functions.listingCount().call() == 1


def test_listing_needs_an_allowance_an_amount_and_a_price(
    contracts: CreditContracts, actors: Actors, seller: Sender
) -> None:
    create = contracts.market.functions.createListing
    with reverts("ERC20InsufficientAllowance", spender=contracts.deployment.market, allowance=3500, needed=3501):
        seller.transact(create(3501, PRICE_PER_KG))
    with reverts("CreditMarketZeroAmount"):
        seller.transact(create(0, PRICE_PER_KG))
    with reverts("CreditMarketZeroPrice"):
        seller.transact(create(1, 0))


def test_a_buyer_buys_part_of_a_listing_at_the_exact_price(
    contracts: CreditContracts,
    actors: Actors,
    sender: SenderFor,
    listing: int,
) -> None:
    price = contracts.market.functions.priceOf(listing, 1200).call()
    assert price == 1200 * PRICE_PER_KG // 1000
    receipt = sender("buyer").transact(contracts.market.functions.buy(listing, 1200), value=price)
    (fill,) = contracts.market.events.ListingFilled().process_receipt(receipt, errors=DISCARD)
    assert (fill.args.listingId, fill.args.buyer, fill.args.seller, fill.args.amount, fill.args.price) == (
        listing, actors.buyer.address, actors.driver.address, 1200, price
    )  # fmt: skip
    assert contracts.balance_of(actors.buyer.address) == 1200
    assert contracts.market.functions.listing(listing).call()[1] == 1800
    assert contracts.market.functions.proceedsOf(actors.driver.address).call() == price
    assert contracts.w3.eth.get_balance(contracts.deployment.market) == price


def test_payment_must_be_exact(contracts: CreditContracts, sender: SenderFor, listing: int) -> None:
    price = contracts.market.functions.priceOf(listing, 1000).call()
    for sent in (price - 1, price + 1, 0):
        with reverts("CreditMarketWrongPayment", expected=price, sent=sent):
            sender("buyer").transact(contracts.market.functions.buy(listing, 1000), value=sent)


def test_prices_round_up_to_the_next_wei(contracts: CreditContracts, seller: Sender, sender: SenderFor) -> None:
    seller.transact(contracts.market.functions.createListing(10, 1001))
    # 1 g at 1001 wei/kg is 1.001 wei: the buyer pays 2, the seller is never paid below the listed price.
    assert contracts.market.functions.priceOf(1, 1).call() == 2
    assert contracts.market.functions.priceOf(1, 10).call() == 11  # 10.01 → 11
    sender("buyer").transact(contracts.market.functions.buy(1, 1), value=2)


def test_buying_more_than_is_left_or_nothing_reverts(
    contracts: CreditContracts, sender: SenderFor, listing: int
) -> None:
    buy = contracts.market.functions.buy
    with reverts("CreditMarketInsufficientListing", listingId=listing, requested=3001, remaining=3000):
        sender("buyer").transact(buy(listing, 3001), value=contracts.market.functions.priceOf(listing, 3001).call())
    with reverts("CreditMarketZeroAmount"):
        sender("buyer").transact(buy(listing, 0))
    with reverts("CreditMarketUnknownListing", listingId=99):
        sender("buyer").transact(buy(99, 1))


def test_a_sold_out_listing_is_closed(contracts: CreditContracts, sender: SenderFor, listing: int) -> None:
    price = contracts.market.functions.priceOf(listing, 3000).call()
    sender("buyer").transact(contracts.market.functions.buy(listing, 3000), value=price)
    with reverts("CreditMarketListingClosed", listingId=listing):
        sender("buyer").transact(contracts.market.functions.buy(listing, 1), value=price)


def test_the_seller_cancels_and_gets_the_rest_back(
    contracts: CreditContracts,
    actors: Actors,
    seller: Sender,
    sender: SenderFor,
    listing: int,
) -> None:
    price = contracts.market.functions.priceOf(listing, 1000).call()
    sender("buyer").transact(contracts.market.functions.buy(listing, 1000), value=price)
    with reverts("CreditMarketNotSeller", listingId=listing, caller=actors.buyer.address):
        sender("buyer").transact(contracts.market.functions.cancelListing(listing))
    receipt = seller.transact(contracts.market.functions.cancelListing(listing))
    (event,) = contracts.market.events.ListingCancelled().process_receipt(receipt, errors=DISCARD)
    assert (event.args.listingId, event.args.returned) == (listing, 2000)
    assert contracts.balance_of(actors.driver.address) == 2500
    assert contracts.balance_of(contracts.deployment.market) == 0
    with reverts("CreditMarketListingClosed", listingId=listing):
        seller.transact(contracts.market.functions.cancelListing(listing))
    with reverts("CreditMarketListingClosed", listingId=listing):
        sender("buyer").transact(contracts.market.functions.buy(listing, 1), value=1)


def test_the_seller_withdraws_what_buyers_paid(
    contracts: CreditContracts,
    actors: Actors,
    seller: Sender,
    sender: SenderFor,
    listing: int,
) -> None:
    price = contracts.market.functions.priceOf(listing, 3000).call()
    sender("buyer").transact(contracts.market.functions.buy(listing, 3000), value=price)
    before = contracts.w3.eth.get_balance(actors.driver.address)
    receipt = seller.transact(contracts.market.functions.withdrawProceeds())
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert contracts.w3.eth.get_balance(actors.driver.address) == before + price - fee
    (event,) = contracts.market.events.ProceedsWithdrawn().process_receipt(receipt, errors=DISCARD)
    assert (event.args.seller, event.args.amount) == (actors.driver.address, price)
    assert contracts.w3.eth.get_balance(contracts.deployment.market) == 0
    with reverts("CreditMarketNothingToWithdraw", seller=actors.driver.address):
        seller.transact(contracts.market.functions.withdrawProceeds())


def test_the_market_refuses_a_zero_token(sender: SenderFor) -> None:
    with reverts("CreditMarketZeroAddress"):
        sender("admin").deploy("CreditMarket", "0x" + "0" * 40)


def test_a_seller_that_refuses_ether_cannot_withdraw_and_keeps_what_it_is_owed(
    contracts: CreditContracts,
    actors: Actors,
    sender: SenderFor,
) -> None:
    admin: Sender = sender("admin")
    address = admin.deploy("RefusingSeller", contracts.deployment.market)["contractAddress"]
    refusing = contracts.w3.eth.contract(address=address, abi=load_artifact("RefusingSeller").abi)
    device = register(contracts, actors, "refusing seller's car", actors.driver, VehicleClass.BATTERY_ELECTRIC)
    sender("registrar").transact(contracts.registry.functions.setDeviceOwner(device.address, address, 1))
    sender("oracle").transact(
        contracts.token.functions.issueCredits(1, b"\x01" * 32, [Credit(device.address, 19_000, 1750).as_tuple()])
    )
    admin.transact(refusing.functions.list(1000, PRICE_PER_KG))
    price = contracts.market.functions.priceOf(1, 1000).call()
    sender("buyer").transact(contracts.market.functions.buy(1, 1000), value=price)

    with reverts("CreditMarketPaymentFailed", seller=address, amount=price):
        admin.transact(refusing.functions.withdraw())
    assert contracts.market.functions.proceedsOf(address).call() == price
    assert contracts.w3.eth.get_balance(contracts.deployment.market) == price
