from __future__ import annotations

import pytest
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from contracts.artifacts import load_artifact
from contracts.chain import Sender
from contracts.client import CreditContracts, VehicleClass
from oracle.device import DeviceSigner
from tests.conftest import Actors, SenderFor, register
from tests.helpers import issue, reverts

PRICE_PER_KG = 2 * 10**14  # wei


@pytest.fixture
def seller(contracts: CreditContracts, sender: SenderFor, ev_device: DeviceSigner) -> Sender:
    """The driver, holding 3.5 kg, with the market approved for all of it."""
    issue(contracts, sender("oracle"), 19_000, (ev_device.address, 1750))
    issue(contracts, sender("oracle"), 19_001, (ev_device.address, 1750))
    driver = sender("driver")
    driver.transact(contracts.token.functions.approve(contracts.deployment.market, 3500))
    return driver


def listing_id(contracts: CreditContracts, receipt: TxReceipt) -> int:
    return int(contracts.market.events.ListingCreated().process_receipt(receipt, errors=DISCARD)[0].args.listingId)


@pytest.fixture
def listing(contracts: CreditContracts, seller: Sender) -> int:
    return listing_id(contracts, seller.transact(contracts.market.functions.createListing(3000, PRICE_PER_KG)))


def balance(contracts: CreditContracts, address: str) -> int:
    return int(contracts.w3.eth.get_balance(address))


def gas_cost(receipt: TxReceipt) -> int:
    return int(receipt["gasUsed"] * receipt["effectiveGasPrice"])


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


def test_listing_needs_an_allowance_an_amount_and_a_price(contracts: CreditContracts, seller: Sender) -> None:
    create = contracts.market.functions.createListing
    with reverts("ERC20InsufficientAllowance", spender=contracts.deployment.market, allowance=3500, needed=3501):
        seller.transact(create(3501, PRICE_PER_KG))
    with reverts("CreditMarketZeroAmount"):
        seller.transact(create(0, PRICE_PER_KG))
    with reverts("CreditMarketZeroPrice"):
        seller.transact(create(1, 0))


def test_a_buyer_buys_part_of_a_listing_and_overpayment_comes_back(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, listing: int
) -> None:
    price = contracts.market.functions.priceOf(listing, 1200).call()
    assert price == 1200 * PRICE_PER_KG // 1000
    before = balance(contracts, actors.buyer.address)
    receipt = sender("buyer").transact(contracts.market.functions.buy(listing, 1200), value=price + 12345)
    assert balance(contracts, actors.buyer.address) == before - price - gas_cost(receipt)
    (fill,) = contracts.market.events.ListingFilled().process_receipt(receipt, errors=DISCARD)
    args = fill.args
    assert (args.listingId, args.buyer, args.seller, args.amount, args.price, args.fee) == (
        listing, actors.buyer.address, actors.driver.address, 1200, price, 0
    )  # fmt: skip
    assert contracts.balance_of(actors.buyer.address) == 1200
    assert contracts.market.functions.listing(listing).call()[1] == 1800
    assert contracts.market.functions.proceedsOf(actors.driver.address).call() == price
    assert balance(contracts, contracts.deployment.market) == price  # the change was not kept


def test_paying_less_than_the_price_reverts(contracts: CreditContracts, sender: SenderFor, listing: int) -> None:
    price = contracts.market.functions.priceOf(listing, 1000).call()
    for sent in (price - 1, 0):
        with reverts("CreditMarketInsufficientPayment", price=price, sent=sent):
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
        sender("buyer").transact(buy(listing, 3001), value=10**18)
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
    contracts: CreditContracts, actors: Actors, seller: Sender, sender: SenderFor, listing: int
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
    contracts: CreditContracts, actors: Actors, seller: Sender, sender: SenderFor, listing: int
) -> None:
    price = contracts.market.functions.priceOf(listing, 3000).call()
    sender("buyer").transact(contracts.market.functions.buy(listing, 3000), value=price)
    before = balance(contracts, actors.driver.address)
    receipt = seller.transact(contracts.market.functions.withdrawProceeds())
    assert balance(contracts, actors.driver.address) == before + price - gas_cost(receipt)
    (event,) = contracts.market.events.ProceedsWithdrawn().process_receipt(receipt, errors=DISCARD)
    assert (event.args.account, event.args.amount) == (actors.driver.address, price)
    assert balance(contracts, contracts.deployment.market) == 0
    with reverts("CreditMarketNothingToWithdraw", account=actors.driver.address):
        seller.transact(contracts.market.functions.withdrawProceeds())


# ---------------------------------------------------------------------------------------- orders


@pytest.fixture
def many_listings(contracts: CreditContracts, actors: Actors, sender: SenderFor, seller: Sender) -> list[int]:
    """Three listings of the driver at 3, 1 and 2 × 10^14 wei/kg, and one of another driver at 1.5."""
    ids = [
        listing_id(contracts, seller.transact(contracts.market.functions.createListing(1000, price)))
        for price in (3 * 10**14, 1 * 10**14, 2 * 10**14)
    ]
    other = register(contracts, actors, "other car", actors.other_driver, VehicleClass.BATTERY_ELECTRIC)
    issue(contracts, sender("oracle"), 19_000, (other.address, 1750))
    other_driver = sender("other_driver")
    other_driver.transact(contracts.token.functions.approve(contracts.deployment.market, 1750))
    ids.append(
        listing_id(contracts, other_driver.transact(contracts.market.functions.createListing(1750, 15 * 10**13)))
    )
    return ids


def test_an_order_fills_across_listings_in_the_order_given(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, many_listings: list[int]
) -> None:
    cheapest_first = [many_listings[1], many_listings[3], many_listings[2], many_listings[0]]
    price, available = contracts.market.functions.quote(3000, cheapest_first).call()
    assert available == 3000
    # 1 kg at 1e14, 1.75 kg at 1.5e14, 0.25 kg at 2e14.
    assert price == 10**14 + 1750 * 15 * 10**13 // 1000 + 250 * 2 * 10**14 // 1000
    before = balance(contracts, actors.buyer.address)
    receipt = sender("buyer").transact(contracts.market.functions.fillOrder(3000, cheapest_first), value=price + 10**15)
    assert balance(contracts, actors.buyer.address) == before - price - gas_cost(receipt)
    fills = contracts.market.events.ListingFilled().process_receipt(receipt, errors=DISCARD)
    assert [(f.args.listingId, f.args.amount) for f in fills] == [
        (many_listings[1], 1000), (many_listings[3], 1750), (many_listings[2], 250)
    ]  # fmt: skip
    (order,) = contracts.market.events.OrderFilled().process_receipt(receipt, errors=DISCARD)
    assert (order.args.buyer, order.args.amount, order.args.price, order.args.retirementId) == (
        actors.buyer.address, 3000, price, 0
    )  # fmt: skip
    assert contracts.balance_of(actors.buyer.address) == 3000
    assert contracts.market.functions.proceedsOf(actors.other_driver.address).call() == 1750 * 15 * 10**13 // 1000


def test_an_order_skips_listings_sold_since_and_refuses_to_fill_short(
    contracts: CreditContracts, sender: SenderFor, seller: Sender, many_listings: list[int]
) -> None:
    seller.transact(contracts.market.functions.cancelListing(many_listings[1]))
    with reverts("CreditMarketOrderNotFilled", requested=5000, available=3750):
        sender("buyer").transact(contracts.market.functions.fillOrder(5000, many_listings), value=10**18)
    receipt = sender("buyer").transact(contracts.market.functions.fillOrder(1500, many_listings), value=10**18)
    fills = contracts.market.events.ListingFilled().process_receipt(receipt, errors=DISCARD)
    assert [f.args.listingId for f in fills] == [many_listings[0], many_listings[2]]
    with reverts("CreditMarketZeroAmount"):
        sender("buyer").transact(contracts.market.functions.fillOrder(0, many_listings))
    with reverts("CreditMarketUnknownListing", listingId=77):
        sender("buyer").transact(contracts.market.functions.fillOrder(1, [77]), value=10**18)


def test_an_order_costing_more_than_was_sent_reverts(
    contracts: CreditContracts, sender: SenderFor, many_listings: list[int]
) -> None:
    price, _ = contracts.market.functions.quote(2000, many_listings).call()
    with reverts("CreditMarketInsufficientPayment", price=price, sent=price - 1):
        sender("buyer").transact(contracts.market.functions.fillOrder(2000, many_listings), value=price - 1)


def test_buy_and_retire_in_one_transaction(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, many_listings: list[int]
) -> None:
    price, _ = contracts.market.functions.quote(1500, many_listings).call()
    receipt = sender("buyer").transact(
        contracts.market.functions.buyAndRetire(1500, many_listings, "Acme Bank", "Flights 2026", 20_454, 20_819),
        value=price,
    )
    (retired,) = contracts.token.events.CreditsRetired().process_receipt(receipt, errors=DISCARD)
    assert (retired.args.retirementId, retired.args.account, retired.args.amount) == (1, actors.buyer.address, 1500)
    (order,) = contracts.market.events.OrderFilled().process_receipt(receipt, errors=DISCARD)
    assert order.args.retirementId == 1
    assert contracts.balance_of(actors.buyer.address) == 0  # the credits went straight to retirement
    assert contracts.token.functions.retirement(1).call()[0] == actors.buyer.address
    supply = contracts.supply()
    assert supply.issued == supply.circulating + supply.retired
    with reverts("CreditTokenEmptyBeneficiary"):
        sender("buyer").transact(contracts.market.functions.buyAndRetire(1, many_listings, "", "", 0, 0), value=10**18)


# ---------------------------------------------------------------------------------------- fees and pause


def test_the_protocol_fee_comes_out_of_the_sellers_proceeds_and_is_capped(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, listing: int
) -> None:
    admin = sender("admin")
    with reverts("CreditMarketFeeTooHigh", feeBps=501, maxFeeBps=500):
        admin.transact(contracts.market.functions.setFee(501, actors.admin.address))
    with reverts("CreditMarketZeroAddress"):
        admin.transact(contracts.market.functions.setFee(100, "0x" + "0" * 40))
    with reverts("AccessControlUnauthorizedAccount", account=actors.driver.address):
        sender("driver").transact(contracts.market.functions.setFee(100, actors.driver.address))
    with reverts("CreditMarketInvalidFeeRecipient", recipient=contracts.deployment.market):
        admin.transact(contracts.market.functions.setFee(100, contracts.deployment.market))
    receipt = admin.transact(contracts.market.functions.setFee(250, actors.stranger.address))
    (changed,) = contracts.market.events.FeeChanged().process_receipt(receipt, errors=DISCARD)
    assert (changed.args.feeBps, changed.args.recipient) == (250, actors.stranger.address)
    price = contracts.market.functions.priceOf(listing, 1000).call()
    receipt = sender("buyer").transact(contracts.market.functions.buy(listing, 1000), value=price)
    fee = price * 250 // 10_000
    assert contracts.market.events.ListingFilled().process_receipt(receipt, errors=DISCARD)[0].args.fee == fee
    assert contracts.market.functions.proceedsOf(actors.driver.address).call() == price - fee
    assert contracts.market.functions.proceedsOf(actors.stranger.address).call() == fee
    sender("stranger").transact(contracts.market.functions.withdrawProceeds())


def test_pausing_the_market_stops_listing_and_buying_but_not_withdrawing(
    contracts: CreditContracts, actors: Actors, seller: Sender, sender: SenderFor, listing: int
) -> None:
    price = contracts.market.functions.priceOf(listing, 100).call()
    sender("buyer").transact(contracts.market.functions.buy(listing, 100), value=price)
    sender("admin").transact(contracts.market.functions.pause())
    with reverts("EnforcedPause"):
        seller.transact(contracts.market.functions.createListing(100, PRICE_PER_KG))
    with reverts("EnforcedPause"):
        sender("buyer").transact(contracts.market.functions.buy(listing, 100), value=price)
    with reverts("EnforcedPause"):
        sender("buyer").transact(contracts.market.functions.fillOrder(100, [listing]), value=price)
    seller.transact(contracts.market.functions.withdrawProceeds())
    seller.transact(contracts.market.functions.cancelListing(listing))  # the escrow goes back to its owner
    assert contracts.balance_of(actors.driver.address) == 500 + 2900


def test_pausing_the_token_stops_every_sale_including_buy_and_retire(
    contracts: CreditContracts, seller: Sender, sender: SenderFor, listing: int
) -> None:
    sender("admin").transact(contracts.token.functions.pause())
    price = contracts.market.functions.priceOf(listing, 1000).call()
    with reverts("EnforcedPause"):
        sender("buyer").transact(contracts.market.functions.buy(listing, 1000), value=price)
    with reverts("EnforcedPause"):
        sender("buyer").transact(
            contracts.market.functions.buyAndRetire(1000, [listing], "Acme", "", 0, 0), value=price
        )
    assert contracts.market.functions.listing(listing).call()[1] == 3000
    assert contracts.market.functions.proceedsOf(seller.address).call() == 0


# ---------------------------------------------------------------------------------------- hostile contracts


def deploy_double(contracts: CreditContracts, sender: Sender, name: str) -> Contract:
    address = sender.deploy(name, contracts.deployment.market)["contractAddress"]
    return contracts.w3.eth.contract(address=address, abi=load_artifact(name).abi)


def give_credits(contracts: CreditContracts, actors: Actors, sender: SenderFor, owner: str, grams: int) -> None:
    device = register(contracts, actors, f"car of {owner}", owner, VehicleClass.BATTERY_ELECTRIC)
    issue(contracts, sender("oracle"), 19_000, (device.address, grams))


def test_a_seller_that_refuses_ether_cannot_withdraw_and_keeps_what_it_is_owed(
    contracts: CreditContracts, actors: Actors, sender: SenderFor
) -> None:
    admin = sender("admin")
    refusing = deploy_double(contracts, admin, "RefusingSeller")
    give_credits(contracts, actors, sender, refusing.address, 1750)
    admin.transact(refusing.functions.list(1000, PRICE_PER_KG))
    price = contracts.market.functions.priceOf(1, 1000).call()
    sender("buyer").transact(contracts.market.functions.buy(1, 1000), value=price)

    with reverts("CreditMarketPaymentFailed", account=refusing.address, amount=price):
        admin.transact(refusing.functions.withdraw())
    assert contracts.market.functions.proceedsOf(refusing.address).call() == price
    assert balance(contracts, contracts.deployment.market) == price


def test_a_seller_reentering_its_withdrawal_gets_nothing_twice(
    contracts: CreditContracts, actors: Actors, sender: SenderFor
) -> None:
    admin = sender("admin")
    greedy = deploy_double(contracts, admin, "ReentrantSeller")
    give_credits(contracts, actors, sender, greedy.address, 1750)
    admin.transact(greedy.functions.list(1000, PRICE_PER_KG))
    price = contracts.market.functions.priceOf(1, 1000).call()
    sender("buyer").transact(contracts.market.functions.buy(1, 1000), value=price)
    # Its receive() calls withdrawProceeds again: the guard stops it, so the payment fails as a whole.
    with reverts("CreditMarketPaymentFailed", account=greedy.address, amount=price):
        admin.transact(greedy.functions.withdraw())
    assert contracts.market.functions.proceedsOf(greedy.address).call() == price
    assert balance(contracts, greedy.address) == 0


def test_a_buyer_reentering_from_its_refund_buys_nothing_extra(
    contracts: CreditContracts, actors: Actors, sender: SenderFor, listing: int
) -> None:
    admin = sender("admin")
    greedy = deploy_double(contracts, admin, "ReentrantBuyer")
    price = contracts.market.functions.priceOf(listing, 1000).call()
    # The refund of the overpayment lands in receive(), which calls buy() again: the guard refuses it,
    # so the refund fails and the whole purchase reverts.
    with reverts("CreditMarketRefundFailed", buyer=greedy.address, amount=10**15):
        admin.transact(greedy.functions.buy(listing, 1000), value=price + 10**15)
    assert contracts.balance_of(greedy.address) == 0
    assert contracts.market.functions.listing(listing).call()[1] == 3000
    assert balance(contracts, contracts.deployment.market) == 0


def test_the_market_refuses_a_zero_token(sender: SenderFor, actors: Actors) -> None:
    with reverts("CreditMarketZeroAddress"):
        sender("admin").deploy("CreditMarket", actors.admin.address, "0x" + "0" * 40, 0)
