"""Buying through the API with only one's own key: quotes, prepared orders, the relay of signed
transactions and permits, idempotency keys, and the certificate at the end. Real HTTP, a real chain,
real signatures; the buyer's key never leaves the test's "wallet" (scripts.wallet.sign_prepared)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from backend.api import create_app
from backend.db import Database
from backend.deps import ApiOptions
from backend.idempotency import ABANDONED_AFTER
from backend.indexer import Indexer
from backend.market import price_of
from backend.models import IdempotentRequest
from backend.relay import Relayer
from backend.schemas import RelayRequest
from contracts.chain import Sender
from contracts.client import CreditContracts
from oracle.device import DeviceSigner
from scripts.serve import serving
from scripts.wallet import sign_prepared
from tests.conftest import ETHER, Actors, SenderFor, key
from tests.helpers import issue

CHEAP, MIDDLE, DEAR = 2 * 10**14, 3 * 10**14, 5 * 10**14
"""Prices in wei per kg."""


@dataclass
class Market:
    api: httpx.Client
    contracts: CreditContracts
    indexer: Indexer
    relayer: LocalAccount

    def index(self) -> None:
        self.indexer.sync()


@pytest.fixture
def market(
    contracts: CreditContracts,
    actors: Actors,
    sender: SenderFor,
    ev_device: DeviceSigner,
    petrol_device: DeviceSigner,
    tmp_path: Path,
) -> Iterator[Market]:
    """Four listings: 1 (driver, 1000 g, middle price), 2 (other driver, 2000 g, cheap), 3 (driver, 500 g,
    dear), 4 (other driver, 1000 g, cheap). The relayer is the `stranger` account."""
    oracle = sender("oracle")
    for day in (19_000, 19_001, 19_002):
        issue(contracts, oracle, day, (ev_device.address, 1750), (petrol_device.address, 2580))
    token, market_functions = contracts.token.functions, contracts.market.functions
    for name, listings in (("driver", [(1000, MIDDLE)]), ("other_driver", [(2000, CHEAP)])):
        seller = sender(name)
        seller.transact(token.approve(contracts.deployment.market, 10_000))
        for grams, price in listings:
            seller.transact(market_functions.createListing(grams, price))
    sender("driver").transact(market_functions.createListing(500, DEAR))
    sender("other_driver").transact(market_functions.createListing(1000, CHEAP))
    db = Database(f"sqlite:///{tmp_path / 'backend.db'}")
    db.migrate()
    indexer = Indexer(contracts.w3, contracts.deployment, db)
    indexer.sync()
    options = ApiOptions(max_listings_per_order=3, relayer=Relayer(Sender(contracts.w3, actors.stranger)))
    with serving(create_app(db, contracts, options)) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Market(client, contracts, indexer, actors.stranger)


def send(market: Market, order: dict[str, object], account: LocalAccount) -> dict[str, object]:
    """Sign a prepared order with the buyer's key, relay it, and follow it until mined."""
    raw = sign_prepared(order, account)
    relayed = market.api.post("/v1/transactions", json={"rawTransaction": raw})
    assert relayed.status_code == 202, relayed.text
    status = market.api.get(f"/v1/transactions/{relayed.json()['txHash']}").json()
    assert status["status"] == "succeeded", status
    return status


def test_a_quote_takes_the_cheapest_listings_and_prices_them_as_the_market_does(market: Market, actors: Actors) -> None:
    quote = market.api.get("/v1/market/quote", params={"grams": "2500"}).json()
    assert quote["complete"] is True
    assert [(take["listingId"], take["grams"]["grams"]) for take in quote["listings"]] == [(2, "2000"), (4, "500")]
    assert quote["priceWei"] == str(price_of(2000, CHEAP) + price_of(500, CHEAP))
    on_chain_price, available = market.contracts.market.functions.quote(2500, [2, 4]).call()
    assert (quote["priceWei"], available) == (str(on_chain_price), 2500)
    # A seller is never quoted their own listings.
    own = market.api.get("/v1/market/quote", params={"grams": "2500", "buyer": actors.other_driver.address}).json()
    assert [take["listingId"] for take in own["listings"]] == [1, 3]
    assert (own["complete"], own["available"]["grams"]) == (False, "1500")


def test_prices_round_up_to_the_next_wei_like_the_contract(market: Market) -> None:
    quote = market.api.get("/v1/market/quote", params={"grams": "7"}).json()
    assert int(quote["priceWei"]) == market.contracts.market.functions.priceOf(2, 7).call()
    assert price_of(1, 1) == 1 and price_of(1000, 1) == 1 and price_of(1001, 1) == 2


@pytest.mark.parametrize("grams", ["1.5", "1e3", "-1", "0", "", "0x10", str(2**256)])
def test_amounts_that_are_not_whole_uint256_numbers_are_a_422(market: Market, grams: str) -> None:
    response = market.api.get("/v1/market/quote", params={"grams": grams})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize("grams", [1.5, 1000.0, True, "12.0"])
def test_a_json_float_or_boolean_for_money_is_refused(market: Market, actors: Actors, grams: object) -> None:
    response = market.api.post("/v1/market/orders", json={"buyer": actors.buyer.address, "grams": grams})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.grams"


def test_a_buyer_goes_from_quote_to_signed_purchase_to_certificate_with_only_the_api_and_their_key(
    market: Market, actors: Actors
) -> None:
    api, buyer = market.api, actors.buyer
    order = api.post(
        "/v1/market/orders",
        json={
            "buyer": buyer.address,
            "grams": "2500",
            "retire": {
                "beneficiary": "Acme <Insurance>",
                "purpose": "Staff commuting",
                "periodStart": "2026-01-01",
                "periodEnd": "2026-06-30",
            },
        },
    ).json()
    assert order["kind"] == "buyAndRetire"
    transaction = order["transaction"]
    assert (transaction["from"], transaction["to"], transaction["value"]) == (
        buyer.address,
        market.contracts.deployment.market,
        order["quote"]["priceWei"],
    )
    assert transaction["chainId"] == market.contracts.deployment.chain_id
    paid_before = market.contracts.market.functions.proceedsOf(actors.other_driver.address).call()

    status = send(market, order, buyer)

    (filled,) = [event for event in status["events"] if event["name"] == "OrderFilled"]
    retirement_id = int(filled["args"]["retirementId"])
    assert filled["args"]["price"] == order["quote"]["priceWei"]
    assert market.contracts.market.functions.proceedsOf(actors.other_driver.address).call() - paid_before == int(
        order["quote"]["priceWei"]
    )
    market.index()
    certificate = api.get(f"/v1/retirements/{retirement_id}").json()
    assert (certificate["amount"]["grams"], certificate["beneficiary"], certificate["periodEnd"]) == (
        "2500",
        "Acme <Insurance>",
        "2026-06-30",
    )
    assert certificate["sources"] == [actors.other_driver.address]
    assert [batch["batchId"] for batch in certificate["batches"]] == [1, 2, 3]
    assert certificate["account"] == buyer.address
    page = api.get(f"/v1/retirements/{retirement_id}/certificate")
    assert page.headers["content-type"].startswith("text/html")
    assert "Acme &lt;Insurance&gt;" in page.text and "<Insurance>" not in page.text
    assert f"CreditToken.retirement({retirement_id})" in page.text
    listings = api.get("/v1/listings").json()["data"]
    assert [(row["listingId"], row["remaining"]["grams"]) for row in listings] == [(4, "500"), (1, "1000"), (3, "500")]


def test_a_plain_order_refunds_what_was_sent_above_the_price(market: Market, actors: Actors) -> None:
    order = market.api.post(
        "/v1/market/orders", json={"buyer": actors.buyer.address, "grams": "100", "maxPriceWei": str(ETHER)}
    ).json()
    assert (order["kind"], order["transaction"]["value"]) == ("fillOrder", str(ETHER))
    w3 = market.contracts.w3
    before = w3.eth.get_balance(actors.buyer.address)
    balance_before = market.contracts.balance_of(actors.buyer.address)
    status = send(market, order, actors.buyer)
    receipt = w3.eth.get_transaction_receipt(status["txHash"])
    spent = before - w3.eth.get_balance(actors.buyer.address)
    assert spent == int(order["quote"]["priceWei"]) + receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert market.contracts.balance_of(actors.buyer.address) - balance_before == 100


@pytest.mark.parametrize(
    ("buyer", "body", "code"),
    [
        ("buyer", {"grams": "2500", "maxPriceWei": "1"}, "PRICE_ABOVE_MAXIMUM"),
        ("other_driver", {"grams": "1501"}, "NOT_ENOUGH_LISTED"),  # its own listings are left out
        ("buyer", {"grams": "4500"}, "ORDER_TOO_LARGE"),  # four listings, one more than an order may take here
    ],
)
def test_orders_the_listings_cannot_fill_are_refused_with_the_reason(
    market: Market, actors: Actors, buyer: str, body: dict[str, str], code: str
) -> None:
    address = getattr(actors, buyer).address
    response = market.api.post("/v1/market/orders", json={"buyer": address, **body})
    assert (response.status_code, response.json()["error"]["code"]) == (409, code)


def test_a_buyer_who_cannot_pay_is_told_before_signing(market: Market) -> None:
    penniless = Account.from_key(key("penniless"))
    response = market.api.post("/v1/market/orders", json={"buyer": penniless.address, "grams": "100"})
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["balanceWei"]) == (409, "INSUFFICIENT_FUNDS", "0")


def test_listings_sold_since_the_index_looked_are_caught_by_the_markets_own_quote(
    market: Market, actors: Actors, sender: SenderFor
) -> None:
    functions = market.contracts.market.functions
    sender("buyer").transact(functions.buy(2, 2000), value=functions.priceOf(2, 2000).call())  # not indexed
    response = market.api.post("/v1/market/orders", json={"buyer": actors.buyer.address, "grams": "2500"})
    assert (response.status_code, response.json()["error"]["code"]) == (409, "LISTINGS_CHANGED")
    market.index()
    assert (
        market.api.post("/v1/market/orders", json={"buyer": actors.buyer.address, "grams": "2500"}).status_code == 200
    )


def test_an_order_the_market_would_refuse_names_the_custom_error(
    market: Market, actors: Actors, sender: SenderFor
) -> None:
    sender("admin").transact(market.contracts.market.functions.pause())
    response = market.api.post("/v1/market/orders", json={"buyer": actors.buyer.address, "grams": "100"})
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["revert"]["error"]) == (409, "CHAIN_REFUSED", "EnforcedPause")


def test_the_relay_refuses_what_is_not_a_signed_transaction_of_this_registry(
    market: Market, actors: Actors, w3: Web3
) -> None:
    buyer, chain_id = actors.buyer, market.contracts.deployment.chain_id
    base = {"value": 0, "gas": 100_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "nonce": 0}
    cases = {
        "NOT_A_TRANSACTION": "0x1234",
        "WRONG_CHAIN": buyer.sign_transaction(
            base | {"to": market.contracts.deployment.market, "chainId": chain_id + 1}
        ).raw_transaction.to_0x_hex(),
        "NOT_FOR_THE_REGISTRY": buyer.sign_transaction(
            base | {"to": actors.stranger.address, "chainId": chain_id}
        ).raw_transaction.to_0x_hex(),
    }
    for code, raw in cases.items():
        response = market.api.post("/v1/transactions", json={"rawTransaction": raw})
        assert (response.status_code, response.json()["error"]["code"]) == (422, code), response.text
    assert market.api.post("/v1/transactions", json={"rawTransaction": "not hex"}).status_code == 422


def test_the_relay_static_calls_first_and_names_the_revert(market: Market, actors: Actors) -> None:
    buy_unknown = market.contracts.market.functions.buy(99, 1)
    transaction = buy_unknown.build_transaction(
        {
            "from": actors.buyer.address,
            "gas": 200_000,
            "nonce": market.contracts.w3.eth.get_transaction_count(actors.buyer.address),
        }
    )
    raw = actors.buyer.sign_transaction(transaction).raw_transaction.to_0x_hex()
    response = market.api.post("/v1/transactions", json={"rawTransaction": raw})
    error = response.json()["error"]
    assert (response.status_code, error["revert"]["error"], error["revert"]["args"]) == (
        409,
        "CreditMarketUnknownListing",
        {"listingId": "99"},
    )


def test_a_relayed_transaction_with_an_idempotency_key_is_sent_once(market: Market, actors: Actors) -> None:
    order = market.api.post("/v1/market/orders", json={"buyer": actors.buyer.address, "grams": "100"}).json()
    body = {"rawTransaction": sign_prepared(order, actors.buyer)}
    headers = {"Idempotency-Key": "buy-100-g-once"}
    first = market.api.post("/v1/transactions", json=body, headers=headers)
    again = market.api.post("/v1/transactions", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    # Without the key, the node itself refuses the same transaction a second time (its nonce is used).
    response = market.api.post("/v1/transactions", json=body)
    assert (response.status_code, response.json()["error"]["code"]) in {(409, "NODE_REFUSED"), (409, "CHAIN_REFUSED")}
    other = market.api.post("/v1/transactions", json={"rawTransaction": "0x1234"}, headers=headers)
    assert (other.status_code, other.json()["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")


def test_a_key_left_unanswered_by_a_stopped_server_is_taken_over_after_a_while(market: Market, actors: Actors) -> None:
    order = market.api.post("/v1/market/orders", json={"buyer": actors.buyer.address, "grams": "100"}).json()
    body = {"rawTransaction": sign_prepared(order, actors.buyer)}
    request_hash = "0x" + keccak(text=f"transactions\n{RelayRequest.model_validate(body).model_dump_json()}").hex()
    with market.indexer.db.session() as session:  # what a server killed while sending leaves behind
        taken = datetime.now(UTC) - ABANDONED_AFTER - timedelta(seconds=1)
        session.add(
            IdempotentRequest(key="killed", endpoint="transactions", request_hash=request_hash, created_at=taken)
        )
        session.commit()
    response = market.api.post("/v1/transactions", json=body, headers={"Idempotency-Key": "killed"})
    assert response.status_code == 202, response.text
    assert (
        market.api.post("/v1/transactions", json=body, headers={"Idempotency-Key": "killed"}).json() == response.json()
    )


def test_unknown_and_pending_transactions(market: Market) -> None:
    unknown = market.api.get("/v1/transactions/0x" + "ab" * 32).json()
    assert unknown["status"] == "unknown"
    assert market.api.get("/v1/transactions/0x1234").status_code == 422


# ------------------------------------------------------------------------------------ permits


def signed_permit(market: Market, owner: LocalAccount, value: int, deadline: int) -> str:
    typed = market.api.get(
        "/v1/permits/transfer", params={"owner": owner.address, "value": str(value), "deadline": str(deadline)}
    ).json()
    assert typed["message"]["spender"] == market.relayer.address
    full = {"types": typed["types"], "primaryType": typed["primaryType"], "domain": typed["domain"]}
    message = typed["message"] | {key: int(typed["message"][key]) for key in ("value", "nonce", "deadline")}
    return "0x" + bytes(Account.sign_typed_data(owner.key, full_message=full | {"message": message}).signature).hex()


def permit_transfer(market: Market, owner: LocalAccount, to: str, grams: int, deadline: int) -> dict[str, str]:
    """The body of POST /v1/permits/transfer: `grams` of `owner`'s to `to`, under a permit `owner` signed."""
    signature = signed_permit(market, owner, grams, deadline)
    return {"owner": owner.address, "to": to, "value": str(grams), "deadline": str(deadline), "signature": signature}


def far_future(market: Market) -> int:
    return int(market.contracts.w3.eth.get_block("latest")["timestamp"]) + 3600


def test_a_driver_moves_credits_with_a_signed_permit_and_no_gas(market: Market, actors: Actors) -> None:
    driver, deadline = actors.driver, far_future(market)
    w3 = market.contracts.w3
    ether_before = w3.eth.get_balance(driver.address)
    grams_before = market.contracts.balance_of(actors.buyer.address)
    body = permit_transfer(market, driver, actors.buyer.address, 700, deadline)
    response = market.api.post("/v1/permits/transfer", json=body)
    assert response.status_code == 201, response.text
    assert market.contracts.balance_of(actors.buyer.address) - grams_before == 700
    assert w3.eth.get_balance(driver.address) == ether_before  # the relayer paid the gas
    assert market.contracts.token.functions.allowance(driver.address, market.relayer.address).call() == 0
    replay = market.api.post("/v1/permits/transfer", json=body)  # the permit's nonce is spent
    assert replay.json()["error"]["revert"]["error"] == "ERC2612InvalidSigner"


def test_concurrent_permit_relays_with_one_idempotency_key_transfer_once(market: Market, actors: Actors) -> None:
    driver, deadline = actors.driver, far_future(market)
    body = permit_transfer(market, driver, actors.buyer.address, 300, deadline)
    relayer_nonce = market.contracts.w3.eth.get_transaction_count(market.relayer.address)
    grams_before = market.contracts.balance_of(actors.buyer.address)
    answers: list[httpx.Response] = []

    def post() -> None:
        with httpx.Client(base_url=market.api.base_url, timeout=30) as client:
            answers.append(client.post("/v1/permits/transfer", json=body, headers={"Idempotency-Key": "permit-1"}))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [201] * 8
    assert len({json.dumps(answer.json(), sort_keys=True) for answer in answers}) == 1
    assert market.contracts.balance_of(actors.buyer.address) - grams_before == 300
    assert market.contracts.w3.eth.get_transaction_count(market.relayer.address) == relayer_nonce + 2


SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def malleable_twin(signature: str) -> str:
    raw = bytes.fromhex(signature[2:])
    s = SECP256K1_N - int.from_bytes(raw[32:64], "big")
    return "0x" + (raw[:32] + s.to_bytes(32, "big") + bytes([55 - raw[64]])).hex()


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (malleable_twin, "ECDSAInvalidSignatureS"),
        (lambda signature: "0x" + "00" * 64 + "1b", "ECDSAInvalidSignature"),
        (lambda signature: signature[:-2] + "00", "ECDSAInvalidSignature"),  # v as 0, not 27
    ],
)
def test_malleable_zero_and_malformed_permit_signatures_are_refused_and_nothing_is_sent(
    market: Market, actors: Actors, tamper: object, error: str
) -> None:
    deadline = far_future(market)
    signature = tamper(signed_permit(market, actors.driver, 100, deadline))  # type: ignore[operator]
    nonce = market.contracts.w3.eth.get_transaction_count(market.relayer.address)
    body = {
        "owner": actors.driver.address,
        "to": actors.buyer.address,
        "value": "100",
        "deadline": str(deadline),
        "signature": signature,
    }
    response = market.api.post("/v1/permits/transfer", json=body)
    assert (response.status_code, response.json()["error"]["revert"]["error"]) == (409, error)
    assert market.contracts.w3.eth.get_transaction_count(market.relayer.address) == nonce


def test_permits_of_another_signer_expired_or_too_large_are_refused(market: Market, actors: Actors) -> None:
    deadline = far_future(market)
    body = {"owner": actors.driver.address, "to": actors.buyer.address, "value": "100", "deadline": str(deadline)}
    by_another = market.api.post(
        "/v1/permits/transfer", json=body | {"signature": signed_permit(market, actors.buyer, 100, deadline)}
    )
    assert by_another.json()["error"]["revert"]["error"] == "ERC2612InvalidSigner"
    past = int(market.contracts.w3.eth.get_block("latest")["timestamp"]) - 10
    expired = market.api.post(
        "/v1/permits/transfer",
        json=body | {"deadline": str(past), "signature": signed_permit(market, actors.driver, 100, past)},
    )
    assert expired.json()["error"]["revert"]["error"] == "ERC2612ExpiredSignature"
    too_much = market.api.post("/v1/permits/transfer", json=body | {"value": "10000000", "signature": "0x" + "11" * 65})
    assert too_much.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    short = market.api.post("/v1/permits/transfer", json=body | {"signature": "0x" + "11" * 64})
    assert (short.status_code, short.json()["error"]["code"]) == (422, "SIGNATURE_MALFORMED")
    to_the_market = market.api.post(
        "/v1/permits/transfer",
        json=body
        | {"to": market.contracts.deployment.market, "signature": signed_permit(market, actors.driver, 100, deadline)},
    )
    assert to_the_market.json()["error"]["revert"]["error"] == "CreditTokenTransferToMarket"


def test_without_a_relayer_the_permit_relay_says_so(contracts: CreditContracts, tmp_path: Path, actors: Actors) -> None:
    db = Database(f"sqlite:///{tmp_path / 'backend.db'}")
    db.migrate()
    with serving(create_app(db, contracts)) as url:
        response = httpx.get(
            f"{url}/v1/permits/transfer", params={"owner": actors.driver.address, "value": "1", "deadline": "1"}
        )
    assert (response.status_code, response.json()["error"]["code"]) == (503, "RELAYER_NOT_CONFIGURED")


def test_prices_past_2_to_the_53_and_63_stay_exact_from_chain_to_json(
    market: Market, actors: Actors, sender: SenderFor
) -> None:
    price_per_kg = 2**200 + 12345
    sender("other_driver").transact(market.contracts.market.functions.createListing(1000, price_per_kg))
    market.index()
    listing = market.api.get("/v1/listings", params={"seller": actors.other_driver.address, "limit": 10}).json()
    assert listing["data"][-1]["pricePerKgWei"] == str(price_per_kg)
    # The driver is not offered its own listings: 2000 + 1000 g at the cheap price, then 1 g of the dear one.
    quote = market.api.get("/v1/market/quote", params={"grams": "3001", "buyer": actors.driver.address}).json()
    assert quote["listings"][-1]["priceWei"] == str(price_of(1, price_per_kg))
    on_chain, _ = market.contracts.market.functions.quote(
        3001, [take["listingId"] for take in quote["listings"]]
    ).call()
    assert quote["priceWei"] == str(on_chain)


def test_a_seller_lists_and_cancels_through_prepared_transactions_signed_with_their_own_key(
    market: Market, actors: Actors, sender: SenderFor
) -> None:
    contracts, driver = market.contracts, actors.driver
    sender("driver").transact(contracts.token.functions.approve(contracts.deployment.market, 0))
    body = {"seller": driver.address, "grams": "1200", "pricePerKgWei": str(CHEAP)}
    approve = market.api.post("/v1/market/listings", json=body).json()
    assert (approve["kind"], approve["transaction"]["to"]) == ("approve", contracts.deployment.token)
    send(market, approve, driver)
    listing = market.api.post("/v1/market/listings", json=body).json()
    assert (listing["kind"], listing["transaction"]["to"]) == ("createListing", contracts.deployment.market)
    created = send(market, listing, driver)
    listing_id = int(next(e for e in created["events"] if e["name"] == "ListingCreated")["args"]["listingId"])
    market.index()
    listed = market.api.get("/v1/listings", params={"seller": driver.address}).json()["data"]
    assert any(item["listingId"] == listing_id and item["remaining"]["grams"] == "1200" for item in listed)

    balance = contracts.balance_of(driver.address)
    cancel = market.api.post(f"/v1/market/listings/{listing_id}/cancel", json={"seller": driver.address}).json()
    assert cancel["kind"] == "cancelListing"
    send(market, cancel, driver)
    assert contracts.balance_of(driver.address) == balance + 1200


def test_a_listing_or_cancellation_the_chain_would_refuse_is_refused_with_its_reason(
    market: Market, actors: Actors
) -> None:
    driver, stranger = actors.driver.address, actors.stranger.address
    too_much = market.api.post(
        "/v1/market/listings", json={"seller": driver, "grams": str(10**9), "pricePerKgWei": str(CHEAP)}
    )
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (409, "INSUFFICIENT_BALANCE")
    free = market.api.post("/v1/market/listings", json={"seller": driver, "grams": "10", "pricePerKgWei": "0"})
    assert (free.status_code, free.json()["error"]["fields"][0]["field"]) == (422, "body.pricePerKgWei")
    not_theirs = market.api.post("/v1/market/listings/2/cancel", json={"seller": stranger})
    error = not_theirs.json()["error"]
    assert (not_theirs.status_code, error["code"], error["revert"]["error"]) == (
        409,
        "CHAIN_REFUSED",
        "CreditMarketNotSeller",
    )
    unknown = market.api.post("/v1/market/listings/99/cancel", json={"seller": driver}).json()["error"]
    assert unknown["revert"] == {"error": "CreditMarketUnknownListing", "args": {"listingId": "99"}}


def test_a_permit_applied_whose_transfer_the_node_then_refuses_is_answered_and_kept_with_the_permit_s_hash(
    market: Market, actors: Actors, sender: SenderFor
) -> None:
    # The relayer is left just enough ether for the permit: eth-tester then refuses the transfer's static
    # call ("cannot afford txn gas"), as a node refuses a relayer that ran dry between its two transactions.
    w3, relayer = market.contracts.w3, market.relayer
    keep = w3.eth.get_block("latest")["gasLimit"] * 10**9 + 10**13  # a static call's gas at 1 gwei, and a little
    fee = 2 * w3.eth.get_block("latest")["baseFeePerGas"] + w3.eth.max_priority_fee
    drain = {
        "to": actors.other_driver.address,
        "value": w3.eth.get_balance(relayer.address) - keep - 21_000 * fee,
        "gas": 21_000,
        "maxFeePerGas": fee,
        "maxPriorityFeePerGas": w3.eth.max_priority_fee,
        "nonce": w3.eth.get_transaction_count(relayer.address),
        "chainId": w3.eth.chain_id,
    }
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(relayer.sign_transaction(drain).raw_transaction))
    driver = actors.driver
    body = permit_transfer(market, driver, actors.buyer.address, 100, far_future(market))
    headers = {"Idempotency-Key": "dry-relayer"}
    nonce_before = market.contracts.token.functions.nonces(driver.address).call()
    response = market.api.post("/v1/permits/transfer", json=body, headers=headers)
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (409, "TRANSFER_FAILED"), response.text
    assert market.contracts.token.functions.nonces(driver.address).call() == nonce_before + 1  # the permit is spent
    assert w3.eth.get_transaction_receipt(error["permitTxHash"])["status"] == 1
    assert market.api.post("/v1/permits/transfer", json=body, headers=headers).json() == response.json()  # kept


def test_an_order_whose_price_overflows_or_whose_buyer_cannot_pay_the_gas_is_refused_with_a_reason(
    market: Market, actors: Actors, sender: SenderFor
) -> None:
    contracts = market.contracts
    sender("driver").transact(contracts.market.functions.createListing(1000, 2**256 - 1))  # listing 5
    market.index()
    # other_driver is never offered its own listings 2 and 4: 2500 g take listings 1, 3 and all of 5, whose
    # price alone is 2^256 - 1 wei.
    overflow = market.api.post("/v1/market/orders", json={"buyer": actors.other_driver.address, "grams": "2500"})
    error = overflow.json()["error"]
    assert (overflow.status_code, error["code"], error["revert"]["error"]) == (409, "CHAIN_REFUSED", "Panic")

    poor = Account.create()
    w3 = contracts.w3
    fee = 2 * w3.eth.get_block("latest")["baseFeePerGas"] + w3.eth.max_priority_fee
    funding = {
        "to": poor.address, "value": 2 * 10**16, "gas": 21_000, "maxFeePerGas": fee,
        "maxPriorityFeePerGas": w3.eth.max_priority_fee, "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(actors.buyer.address),
    }  # fmt: skip
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(actors.buyer.sign_transaction(funding).raw_transaction)
    )
    refused = market.api.post("/v1/market/orders", json={"buyer": poor.address, "grams": "10"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "NODE_REFUSED"), refused.text
    assert "cannot afford" in refused.json()["error"]["message"]


def test_a_consumption_period_before_the_chain_s_first_day_is_a_422(market: Market, actors: Actors) -> None:
    retire = {"beneficiary": "x", "periodStart": "0001-01-01", "periodEnd": "9999-12-31"}
    response = market.api.post(
        "/v1/market/orders", json={"buyer": actors.buyer.address, "grams": "10", "retire": retire}
    )
    assert response.status_code == 422 and "after 1970-01-01" in response.text


def test_a_beneficiary_longer_than_the_token_stores_is_a_422_counted_in_bytes(market: Market, actors: Actors) -> None:
    max_bytes = market.contracts.token.functions.MAX_TEXT_LENGTH().call()
    fits, too_long = "é" * (max_bytes // 2), "é" * (max_bytes // 2) + "x"  # 2 bytes a letter in UTF-8
    body = {"buyer": actors.buyer.address, "grams": "10", "retire": {"beneficiary": too_long}}
    response = market.api.post("/v1/market/orders", json=body)
    assert response.status_code == 422 and f"at most {max_bytes} bytes" in response.text
    body["retire"] = {"beneficiary": fits}
    assert market.api.post("/v1/market/orders", json=body).json()["kind"] == "buyAndRetire"
