"""Transactions prepared for the user's own wallet, each static-called from the user before it is
returned: a purchase (the cheapest fill across open listings), a listing, a cancellation. The backend
never signs for a buyer or a seller."""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.exceptions import Web3RPCError
from web3.types import TxParams, Wei

from backend.errors import Refused, chain_refused, node_refused
from backend.market import Fill, Offer, cheapest_fill
from backend.schemas import (
    Amount,
    ListingRequest,
    ListingStepPublic,
    OrderPublic,
    OrderRequest,
    PreparedPublic,
    PreparedTransaction,
    QuotePublic,
    TakePublic,
)
from contracts.chain import GAS_HEADROOM_PERCENT, ContractRevert, decoded_reverts
from contracts.client import CreditContracts, day_number


def quote(grams: int, offers: list[Offer]) -> QuotePublic:
    return _quote(cheapest_fill(grams, offers))


def prepare_order(
    contracts: CreditContracts, order: OrderRequest, offers: list[Offer], *, max_listings: int
) -> OrderPublic:
    """The fillOrder (or buyAndRetire) transaction for `order` over the cheapest `offers`, after the
    market itself has priced it and a static call from the buyer has passed."""
    fill = cheapest_fill(order.grams, offers)
    if len(fill.takes) > max_listings:
        raise Refused(
            "ORDER_TOO_LARGE",
            f"{order.grams} g would take more than {max_listings} listings, more than one transaction should "
            "hold: order less at a time",
            maxListings=max_listings,
        )
    if not fill.complete:
        raise Refused(
            "NOT_ENOUGH_LISTED",
            f"the open listings hold {fill.grams} g, less than the {order.grams} g asked",
            available=Amount.of(fill.grams).model_dump(),
        )
    market = contracts.market.functions
    ids = fill.listing_ids
    # The index may be a few blocks behind: the market's own price for these listings is what counts.
    try:
        with decoded_reverts():
            price, available = market.quote(order.grams, ids).call()
    except ContractRevert as revert:  # Panic(0x11): the price overflows uint256
        raise chain_refused(f"pricing {order.grams} g", revert) from None
    except Web3RPCError as exc:
        raise node_refused(f"pricing {order.grams} g", exc) from None
    if available < order.grams:
        raise Refused(
            "LISTINGS_CHANGED",
            f"the chosen listings now hold {available} g of the {order.grams} g asked (sold since the index "
            "last looked): ask again in a few seconds",
        )
    if order.max_price_wei is not None and price > order.max_price_wei:
        raise Refused(
            "PRICE_ABOVE_MAXIMUM",
            f"the cheapest {order.grams} g cost {price} wei, above the maximum of {order.max_price_wei} wei",
            priceWei=str(price),
        )
    value = price if order.max_price_wei is None else order.max_price_wei
    buyer = to_checksum_address(order.buyer)
    balance = contracts.w3.eth.get_balance(buyer)
    if balance < value:
        raise Refused(
            "INSUFFICIENT_FUNDS",
            f"{order.buyer} holds {balance} wei, less than the {value} wei to send (gas not counted)",
            balanceWei=str(balance),
        )
    if order.retire is None:
        kind, args = "fillOrder", [order.grams, ids]
    else:
        retire = order.retire
        period = (
            (day_number(retire.period_start), day_number(retire.period_end))
            if retire.period_start and retire.period_end
            else (0, 0)
        )
        kind, args = "buyAndRetire", [order.grams, ids, retire.beneficiary, retire.purpose, *period]
    transaction = prepare(contracts, contracts.market, kind, args, sender=buyer, value=value)
    return OrderPublic(kind=kind, quote=_quote(fill, price), transaction=transaction)


def prepare_listing(contracts: CreditContracts, request: ListingRequest) -> ListingStepPublic:
    """The next transaction towards listing: the market's allowance if it falls short, else the listing."""
    seller = to_checksum_address(request.seller)
    token = contracts.token
    balance = token.functions.balanceOf(seller).call()
    if balance < request.grams:
        raise Refused("INSUFFICIENT_BALANCE", f"{seller} holds {balance} g, less than the {request.grams} g to list")
    market = contracts.deployment.market
    if token.functions.allowance(seller, market).call() < request.grams:
        args: list[Any] = [market, request.grams]
        return ListingStepPublic(kind="approve", transaction=prepare(contracts, token, "approve", args, sender=seller))
    args = [request.grams, request.price_per_kg_wei]
    transaction = prepare(contracts, contracts.market, "createListing", args, sender=seller)
    return ListingStepPublic(kind="createListing", transaction=transaction)


def prepare_cancellation(contracts: CreditContracts, listing_id: int, seller: str) -> PreparedPublic:
    sender = to_checksum_address(seller)
    transaction = prepare(contracts, contracts.market, "cancelListing", [listing_id], sender=sender)
    return PreparedPublic(kind="cancelListing", transaction=transaction)


def prepare(
    contracts: CreditContracts, contract: Contract, function_name: str, args: list[Any], *, sender: str, value: int = 0
) -> PreparedTransaction:
    """`contract.function_name(*args)` from `sender`, static-called (a revert is refused with the custom
    error named) and its gas estimated, as a transaction ready to sign."""
    sender = to_checksum_address(sender)
    function = getattr(contract.functions, function_name)(*args)
    params: TxParams = {"from": sender, "value": Wei(value)}
    try:
        with decoded_reverts():
            function.call(params)
            gas = function.estimate_gas(params) * (100 + GAS_HEADROOM_PERCENT) // 100
    except ContractRevert as revert:
        raise chain_refused(f"{function_name} for {sender}", revert) from None
    except Web3RPCError as exc:  # eth-tester, say, refuses a static call from an account that cannot pay its gas
        raise node_refused(f"{function_name} for {sender}", exc) from None
    w3 = contracts.w3
    priority = w3.eth.max_priority_fee
    base = w3.eth.get_block("latest").get("baseFeePerGas", 0)
    return PreparedTransaction(
        **{"from": sender},
        to=contract.address,
        data=contract.encode_abi(function_name, args=args),
        value=str(value),
        gas=str(gas),
        chain_id=contracts.deployment.chain_id,
        nonce=w3.eth.get_transaction_count(sender, "pending"),
        max_fee_per_gas=str(2 * base + priority),
        max_priority_fee_per_gas=str(priority),
    )


def _quote(fill: Fill, price: int | None = None) -> QuotePublic:
    return QuotePublic(
        requested=Amount.of(fill.requested),
        available=Amount.of(fill.grams),
        complete=fill.complete,
        price_wei=str(fill.price if price is None else price),
        listings=[
            TakePublic(
                listing_id=take.listing_id,
                seller=take.seller,
                grams=Amount.of(take.grams),
                price_wei=str(take.price),
                price_per_kg_wei=str(take.price_per_kg),
            )
            for take in fill.takes
        ],
    )
