"""The backend API over real HTTP, on an index of a real chain history."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web3 import Web3

from backend.api import create_app
from backend.db import Database
from backend.deps import ApiOptions
from backend.indexer import Indexer
from contracts.client import CreditContracts, day_date
from oracle.device import DeviceSigner
from scripts.serve import serving
from tests.backend.activity import PRICE_PER_KG, make_activity
from tests.conftest import Actors, SenderFor
from tests.helpers import with_wrong_checksum


@pytest.fixture
def api(
    contracts: CreditContracts,
    actors: Actors,
    sender: SenderFor,
    ev_device: DeviceSigner,
    petrol_device: DeviceSigner,
    tmp_path: Path,
) -> Iterator[httpx.Client]:
    make_activity(contracts, actors, sender, ev_device, petrol_device)
    db = Database(f"sqlite:///{tmp_path / 'backend.db'}")
    db.migrate()
    Indexer(contracts.w3, contracts.deployment, db).sync()
    with serving(create_app(db, contracts)) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def test_an_account_shows_its_totals_as_integer_strings_with_kg(
    api: httpx.Client, actors: Actors, contracts: CreditContracts
) -> None:
    account = api.get(f"/v1/accounts/{actors.buyer.address}").json()
    assert account["address"] == actors.buyer.address
    assert account["balance"] == {"grams": str(contracts.balance_of(actors.buyer.address)), "kg": "1.050"}
    # bought: 1.5 kg + 0.5 kg by order + 0.1 kg bought and retired at once; retired 1.2 + 0.1 kg.
    assert (account["bought"]["grams"], account["retired"]["grams"], account["minted"]["grams"]) == (
        "2100",
        "1300",
        "0",
    )


def test_addresses_in_any_case_are_checksummed_and_a_wrong_checksum_is_a_422(api: httpx.Client, actors: Actors) -> None:
    assert api.get(f"/v1/accounts/{actors.buyer.address.lower()}").json()["address"] == actors.buyer.address
    response = api.get(f"/v1/accounts/{with_wrong_checksum(actors.buyer.address)}")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST" and "wrong EIP-55 checksum" in error["message"]
    assert error["fields"][0]["field"] == "path.address"
    assert api.get("/v1/accounts/0x1234").status_code == 422


def test_an_address_the_chain_never_saw_has_zero_balances(api: httpx.Client) -> None:
    account = api.get("/v1/accounts/0x" + "12" * 20).json()
    assert account["balance"] == {"grams": "0", "kg": "0.000"}


def test_history_is_paginated_newest_first(api: httpx.Client, actors: Actors) -> None:
    page = api.get(f"/v1/accounts/{actors.driver.address}/history", params={"limit": 2}).json()
    assert page["count"] == 6  # 2 mints, a transfer, 2 listings into escrow, 1 cancelled listing back
    assert len(page["data"]) == 2
    everything = api.get(f"/v1/accounts/{actors.driver.address}/history", params={"limit": 50}).json()["data"]
    blocks = [item["blockNumber"] for item in everything]
    assert blocks == sorted(blocks, reverse=True)
    assert [item["kind"] for item in everything][-2:] == ["mint", "mint"]
    assert api.get(f"/v1/accounts/{actors.driver.address}/history", params={"limit": 0}).status_code == 422


def test_devices_show_their_credited_days(api: httpx.Client, actors: Actors, ev_device: DeviceSigner) -> None:
    (device,) = api.get(f"/v1/accounts/{actors.buyer.address}/devices").json()  # the EV changed owner
    assert (device["address"], device["vehicleClass"], device["creditedDays"]) == (
        ev_device.address,
        "battery_electric",
        2,
    )
    detail = api.get(f"/v1/devices/{ev_device.address}").json()
    assert [(d["day"], d["date"], d["grams"]["grams"]) for d in detail["days"]] == [
        (19_000, "2022-01-08", "1750"),
        (19_001, "2022-01-09", "1750"),
    ]
    missing = api.get("/v1/devices/0x" + "34" * 20)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "DEVICE_NOT_FOUND")


def test_open_listings_cheapest_first(api: httpx.Client, actors: Actors) -> None:
    page = api.get("/v1/listings").json()
    assert page["count"] == 1
    (listing,) = page["data"]
    assert (listing["listingId"], listing["seller"], listing["remaining"]["grams"]) == (
        2,
        actors.driver.address,
        "900",
    )
    assert listing["pricePerKgWei"] == str(2 * PRICE_PER_KG)


def test_retirements_and_their_certificate(api: httpx.Client, actors: Actors) -> None:
    page = api.get("/v1/retirements").json()
    assert page["count"] == 2
    certificate = api.get("/v1/retirements/1").json()
    assert {key: certificate[key] for key in page["data"][1]} == page["data"][1]  # newest first
    assert (certificate["account"], certificate["amount"]["kg"], certificate["beneficiary"]) == (
        actors.buyer.address, "1.200", "Acme Bank"
    )  # fmt: skip
    assert (certificate["periodStart"], certificate["periodEnd"]) == ("2026-01-01", "2026-12-31")
    # Retired from the buyer's own balance: what it was sent (by the driver) and bought (from both drivers).
    assert certificate["sources"] == [
        actors.buyer.address,
        *sorted([actors.driver.address, actors.other_driver.address]),
    ]
    assert [(b["batchId"], b["date"], b["methodologyId"]) for b in certificate["batches"]] == [
        (1, "2022-01-08", 1),
        (2, "2022-01-09", 1),
    ]
    assert certificate["verify"]["call"] == "CreditToken.retirement(1)"
    bought_and_retired = api.get("/v1/retirements/2").json()
    assert (bought_and_retired["amount"]["grams"], bought_and_retired["periodStart"]) == ("100", None)
    assert bought_and_retired["sources"] == [actors.driver.address]  # out of the driver's listing
    assert api.get("/v1/retirements/3").json()["error"]["code"] == "RETIREMENT_NOT_FOUND"
    assert api.get("/v1/retirements/0").status_code == 422
    assert api.get(f"/v1/retirements/{2**63}").status_code == 422
    assert api.get("/v1/retirements", params={"offset": 10**13}).status_code == 422


def test_stats_add_up(api: httpx.Client) -> None:
    stats = api.get("/v1/stats").json()
    assert (stats["minted"]["grams"], stats["retired"]["grams"], stats["circulating"]["grams"]) == (
        "6080",
        "1300",
        "4780",
    )
    assert (stats["drivers"], stats["devices"], stats["creditedDays"], stats["openListings"], stats["retirements"]) == (
        2,
        2,
        3,
        1,
        2,
    )


def test_health_compares_the_index_with_the_chain_at_the_indexed_block(
    api: httpx.Client,
    contracts: CreditContracts,
    sender: SenderFor,
    ev_device: DeviceSigner,
) -> None:
    health = api.get("/health").json()
    assert (health["lagBlocks"], health["supplyMatches"]) == (0, True)
    assert health["supplyIndexed"] == health["supplyOnChain"] == {"grams": "4780", "kg": "4.780"}
    sender("buyer").transact(contracts.token.functions.retire(50, "Acme", "", 0, 0))  # not indexed yet
    lagging = api.get("/health").json()
    assert (lagging["lagBlocks"], lagging["supplyMatches"]) == (1, True)


def test_a_hundred_clients_at_once_are_all_answered(api: httpx.Client, actors: Actors) -> None:
    """More concurrent requests than worker threads and pooled connections: each route closes its session
    before returning, so no request waits on a connection held by one waiting for a thread."""

    async def hundred() -> list[int]:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=20) as client:
            path = f"/v1/accounts/{actors.buyer.address}"
            responses = await asyncio.gather(*(client.get(path) for _ in range(100)))
        return [response.status_code for response in responses]

    assert asyncio.run(hundred()) == [200] * 100


def test_daily_series_count_credits_by_their_day_and_trades_by_theirs(
    api: httpx.Client, contracts: CreditContracts
) -> None:
    days = api.get("/v1/stats/daily", params={"from": "2022-01-08", "to": "2022-01-10"}).json()
    assert [(d["date"], d["minted"]["grams"], d["activeDrivers"]) for d in days] == [
        ("2022-01-08", "4330", 2),
        ("2022-01-09", "1750", 1),
        ("2022-01-10", "0", 0),
    ]
    today = day_date(contracts.chain_day()).isoformat()
    (traded,) = api.get("/v1/stats/daily", params={"from": today, "to": today}).json()
    paid = 1500 * PRICE_PER_KG // 1000 + 500 * PRICE_PER_KG // 1000 + 100 * 2 * PRICE_PER_KG // 1000
    assert (traded["retired"]["grams"], traded["traded"]["grams"]) == ("1300", "2100")
    assert traded["averagePricePerKgWei"] == str(paid * 1000 // 2100)
    assert days[2]["averagePricePerKgWei"] is None
    for bad in ({"from": "2022-02-01", "to": "2022-01-01"}, {"from": "2020-01-01", "to": "2022-01-01"}):
        response = api.get("/v1/stats/daily", params=bad)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "INVALID_RANGE")
    assert api.get("/v1/stats/daily", params={"from": "1969-12-31", "to": "1970-01-02"}).status_code == 422
    assert api.get("/v1/stats/daily", params={"to": "0001-01-01"}).status_code == 422  # found by schemathesis


def test_the_contracts_state_comes_from_their_events(
    api: httpx.Client, actors: Actors, contracts: CreditContracts
) -> None:
    state = api.get("/v1/contracts").json()
    assert state["chainId"] == contracts.deployment.chain_id
    assert state["token"]["roles"]["ORACLE_ROLE"] == [actors.oracle.address]
    assert state["token"]["roles"]["DEFAULT_ADMIN_ROLE"] == [actors.admin.address]
    assert state["registry"]["roles"]["REGISTRAR_ROLE"] == [actors.registrar.address]
    assert (state["token"]["paused"], state["market"]["paused"], state["feeBps"]) == (False, False, 0)
    assert [(m["methodologyId"], m["active"]) for m in state["methodologies"]] == [(1, True), (2, True)]


def test_ready_is_503_once_the_index_lags_more_than_allowed(api: httpx.Client, contracts: CreditContracts) -> None:
    ready = api.get("/ready")
    assert (ready.status_code, ready.json()["supplyMatches"]) == (200, True)
    contracts.w3.testing.mine(11)
    lagging = api.get("/ready")
    assert (lagging.status_code, lagging.json()["lagBlocks"]) == (503, 11)


def test_lag_the_indexer_waits_for_by_design_does_not_make_the_api_unready(
    contracts: CreditContracts, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'confirmed.db'}")
    db.migrate()
    contracts.w3.testing.mine(20)
    Indexer(contracts.w3, contracts.deployment, db, confirmations=12).sync()
    options = ApiOptions(confirmations=12, ready_max_lag_blocks=2)
    with serving(create_app(db, contracts, options)) as url:
        ready = httpx.get(f"{url}/ready", timeout=30)
        assert (ready.status_code, ready.json()["lagBlocks"]) == (200, 12)
        contracts.w3.testing.mine(3)
        assert httpx.get(f"{url}/ready", timeout=30).status_code == 503


def test_a_node_that_does_not_answer_is_a_503_in_json(
    api: httpx.Client, contracts: CreditContracts, tmp_path: Path
) -> None:
    unreachable = CreditContracts(Web3(contracts.w3.provider), contracts.deployment)
    unreachable.w3.provider = Web3.HTTPProvider("http://127.0.0.1:9", {"timeout": 2})  # nothing listens there
    db = Database(f"sqlite:///{tmp_path / 'backend.db'}")  # the index the api fixture wrote
    with serving(create_app(db, unreachable)) as url:
        for path in ("/health", "/ready"):
            response = httpx.get(f"{url}{path}", timeout=30)
            assert (response.status_code, response.json()["error"]["code"]) == (503, "NODE_UNAVAILABLE")
        assert httpx.get(f"{url}/v1/stats", timeout=30).status_code == 200  # the index still answers


def test_devices_are_listed_by_owner_and_status(
    api: httpx.Client, actors: Actors, ev_device: DeviceSigner, petrol_device: DeviceSigner
) -> None:
    everything = api.get("/v1/devices").json()
    assert [d["address"] for d in everything["data"]] == [ev_device.address, petrol_device.address]
    suspended = api.get("/v1/devices", params={"status": "suspended"}).json()
    assert [d["address"] for d in suspended["data"]] == [petrol_device.address]
    sold = api.get("/v1/devices", params={"owner": actors.buyer.address}).json()
    assert (sold["count"], sold["data"][0]["address"]) == (1, ev_device.address)
    assert api.get("/v1/devices", params={"status": "lost"}).status_code == 422


def test_history_filters_by_kind_and_block(api: httpx.Client, actors: Actors) -> None:
    mints = api.get(f"/v1/accounts/{actors.driver.address}/history", params={"kind": "mint"}).json()
    assert [item["kind"] for item in mints["data"]] == ["mint", "mint"]
    first = mints["data"][-1]["blockNumber"]
    only_first = api.get(
        f"/v1/accounts/{actors.driver.address}/history", params={"fromBlock": first, "toBlock": first}
    ).json()
    assert only_first["count"] == 1
    burns = api.get(f"/v1/accounts/{actors.buyer.address}/history", params={"kind": "burn"}).json()
    assert [item["amount"]["grams"] for item in burns["data"]] == ["1200"]  # the market burns the other retirement
    assert api.get(f"/v1/accounts/{actors.buyer.address}/history", params={"kind": "gift"}).status_code == 422


def test_a_drivers_credited_days_for_a_chart(api: httpx.Client, actors: Actors, ev_device: DeviceSigner) -> None:
    days = api.get(
        f"/v1/accounts/{actors.driver.address}/days", params={"from": "2022-01-01", "to": "2022-01-31"}
    ).json()
    assert [(d["date"], d["device"], d["grams"]["grams"], d["methodologyId"]) for d in days] == [
        ("2022-01-08", ev_device.address, "1750", 1),
        ("2022-01-09", ev_device.address, "1750", 1),
    ]
