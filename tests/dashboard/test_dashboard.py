"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a devnet holding the
real trip sample's credited days (as `gtc sample-trips` signs them), the oracle's API and the backend.
The wallet is an EIP-1193 provider injected into the page that signs with a development key in Python
(eth-account) and broadcasts to the devnet: what MetaMask does, without MetaMask.

Screenshots of each page go to test-artifacts/dashboard/."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from backend.api import create_app as backend_app
from backend.cli import keep_indexing
from backend.db import Database
from backend.deps import ApiOptions
from backend.indexer import Indexer
from contracts.chain import Sender, connect
from contracts.client import CreditContracts
from oracle.api import create_app as oracle_app
from oracle.minter import Minter
from oracle.schemas import read_report_file
from oracle.service import Oracle
from oracle.settings import OracleSettings
from oracle.store import OracleStore
from scripts.devnet import Devnet, start
from scripts.devnet import create_app as devnet_app
from scripts.operate import list_credits, sign_sample_trips
from scripts.serve import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium); .ci/run installs it"
    ),
]

DEAR, CHEAP = 2 * 10**15, 15 * 10**14
"""Wei per kg of the driver's two listings (10 kg dear, 5 kg cheap)."""


@dataclass
class Stack:
    w3: Web3
    contracts: CreditContracts
    devnet: Devnet
    oracle_url: str
    url: str
    indexer: Indexer

    def account(self, role: str) -> LocalAccount:
        return self.devnet.accounts[role]

    def api(self, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("dashboard")
    devnet = start(work / "devnet")
    with serving(devnet_app(devnet.w3, devnet.journal.flush)) as chain_url:
        w3 = connect(chain_url)
        contracts = CreditContracts(w3, devnet.deployment)
        reports = work / "reports.jsonl"
        driver = devnet.accounts["driver"]
        registrar = Sender(w3, devnet.accounts["registrar"])
        sign_sample_trips(registrar, contracts, reports, last_day=contracts.chain_day() - 1, owner=driver.address)
        settings = OracleSettings(database_url=f"sqlite:///{work / 'oracle.db'}", max_report_age_days=60)
        store = OracleStore(settings.database_url)
        oracle = Oracle(store, contracts, settings.load_methodologies(), settings.limits())
        oracle.ingest_many([line.signed for line in read_report_file(reports) if line.signed is not None])
        minter = Minter(store, contracts, Sender(w3, devnet.accounts["oracle"]), settings.batch_policy(), 60)
        minter.run(flush=True)
        list_credits(Sender(w3, driver), contracts, 10_000, DEAR)
        list_credits(Sender(w3, driver), contracts, 5_000, CHEAP)
        db = Database(f"sqlite:///{work / 'backend.db'}")
        db.migrate()
        indexer = Indexer(w3, devnet.deployment, db)
        indexer.sync()
        stop = threading.Event()
        thread = threading.Thread(target=keep_indexing, args=(indexer, 0.3, stop), daemon=True)
        thread.start()
        with serving(oracle_app(oracle)) as oracle_url:
            backend = backend_app(db, contracts, ApiOptions(oracle_url=oracle_url))
            with serving(backend) as url:
                yield Stack(w3, contracts, devnet, oracle_url, url, indexer)
        stop.set()
        thread.join()
    devnet.journal.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@dataclass
class Wallet:
    """What the injected provider was asked, and how it answers."""

    account: LocalAccount | None
    chain_id: int
    rejects: bool = False
    sent: int = 0


INJECTED_PROVIDER = """
window.ethereum = {
  isGtcTestWallet: true,
  request: async ({ method, params }) => {
    const answer = JSON.parse(await window.gtcWallet(method, params ?? []));
    if (answer.error) {
      const error = new Error(answer.error.message);
      error.code = answer.error.code;
      throw error;
    }
    return answer.result;
  },
};
"""


def open_page(browser: Any, stack: Stack, path: str, wallet: Wallet | None = None) -> Any:
    """A new page at `path`; with `wallet`, an EIP-1193 provider in it that signs with the wallet's key."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    if wallet is not None:

        def answer(method: str, params: list[Any]) -> str:
            return json.dumps(_wallet_answer(stack.w3, wallet, method, params))

        page.expose_function("gtcWallet", answer)
        page.add_init_script(INJECTED_PROVIDER)
    page.goto(f"{stack.url}{path}")
    return page


def _wallet_answer(w3: Web3, wallet: Wallet, method: str, params: list[Any]) -> dict[str, Any]:
    if method in ("eth_requestAccounts", "eth_accounts"):
        return {"result": [] if wallet.account is None else [wallet.account.address]}
    if method == "eth_chainId":
        return {"result": hex(wallet.chain_id)}
    if method == "eth_sendTransaction":
        if wallet.rejects or wallet.account is None:
            return {"error": {"code": 4001, "message": "User rejected the request."}}
        asked = params[0]
        assert asked["from"].lower() == wallet.account.address.lower()
        transaction = {
            "to": Web3.to_checksum_address(asked["to"]),
            "data": asked["data"],
            "value": int(asked["value"], 16),
            "gas": int(asked["gas"], 16),
            "maxFeePerGas": int(asked["maxFeePerGas"], 16),
            "maxPriorityFeePerGas": int(asked["maxPriorityFeePerGas"], 16),
            "chainId": int(asked["chainId"], 16),
            "nonce": w3.eth.get_transaction_count(wallet.account.address, "pending"),
            "type": 2,
        }
        signed = wallet.account.sign_transaction(transaction)
        wallet.sent += 1
        return {"result": w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()}
    return {"error": {"code": 4200, "message": f"this test wallet does not do {method}"}}


def loaded(page: Any) -> None:
    page.wait_for_selector("body[data-loaded=true]", timeout=30_000)


def connected_buyer_page(browser: Any, stack: Stack, wallet: Wallet) -> Any:
    """The buyer's page with `wallet` connected."""
    assert wallet.account is not None
    page = open_page(browser, stack, "/app/buyer.html", wallet)
    page.click("#connect")
    page.wait_for_selector(f"#connected:has-text('{wallet.account.address}')")
    return page


def quote(page: Any, kg: str) -> None:
    page.fill("#kg", kg)
    page.click("#quote-button")
    page.wait_for_selector("#quote:not([hidden])")


def chart_data(page: Any, canvas: str) -> dict[str, Any]:
    return page.evaluate(
        """(selector) => {
            const chart = Chart.getChart(document.querySelector(selector));
            return { labels: chart.data.labels, datasets: chart.data.datasets.map((set) => set.data) };
        }""",
        canvas,
    )


def test_the_overview_shows_the_totals_and_charts_of_the_index(browser: Any, stack: Stack) -> None:
    page = open_page(browser, stack, "/app/")
    loaded(page)
    stats = stack.api("/v1/stats")
    assert page.text_content("#minted") == f"{stats['minted']['kg']} kg"
    assert page.text_content("#drivers") == str(stats["drivers"])
    minted = chart_data(page, "#minted-chart")
    days = stack.api(f"/v1/stats/daily?from={minted['labels'][0]}&to={minted['labels'][-1]}")
    assert minted["labels"] == [day["date"] for day in days]
    assert minted["datasets"][0] == [int(day["minted"]["grams"]) / 1000 for day in days]
    assert round(sum(minted["datasets"][0]) * 1000) == int(stats["minted"]["grams"]) == 25_467
    drivers = chart_data(page, "#drivers-chart")["datasets"][0]
    assert drivers == [day["activeDrivers"] for day in days] and max(drivers) == 1
    page.screenshot(path=ARTIFACTS / "overview.png", full_page=True)
    assert page.js_errors == []


def test_the_driver_page_charts_electric_and_car_free_days_and_says_why_each_day_was_decided(
    browser: Any, stack: Stack
) -> None:
    driver = stack.account("driver").address
    page = open_page(browser, stack, f"/app/driver.html?address={driver.lower()}")
    loaded(page)
    assert page.input_value("#address") == driver  # checksummed
    assert page.text_content("#minted") == "25.467 kg"
    chart = chart_data(page, "#days-chart")
    devices = {device["address"]: device for device in stack.api(f"/v1/accounts/{driver}/devices")}
    credited = stack.api(f"/v1/accounts/{driver}/days?from={chart['labels'][0]}")
    electric = sum(
        int(day["grams"]["grams"]) for day in credited if devices[day["device"]]["vehicleClass"] == "battery_electric"
    )
    assert (
        round(sum(chart["datasets"][0]) * 1000)
        == electric
        == sum(
            int(device["credited"]["grams"])
            for device in devices.values()
            if device["vehicleClass"] == "battery_electric"
        )
    )
    assert round(sum(chart["datasets"][1]) * 1000) == 25_467 - electric
    assert chart["labels"] == sorted({day["date"] for day in credited})

    rows = page.locator("#days tbody tr")
    assert rows.count() == 25  # every report the sample's devices signed, credited or not
    rejected = page.locator("#days tbody tr[data-outcome=rejected]")
    assert rejected.count() == 5 and "VEHICLE_NOT_ELIGIBLE" in rejected.first.text_content()
    credited_row = page.locator("#days tbody tr[data-outcome=credited]").first
    assert credited_row.locator("td").nth(5).get_attribute("title").startswith("0x")
    page.screenshot(path=ARTIFACTS / "driver.png", full_page=True)
    assert page.js_errors == []


def test_a_buyer_buys_and_retires_through_the_wallet_and_prints_the_certificate(browser: Any, stack: Stack) -> None:
    buyer = stack.account("buyer")
    wallet = Wallet(buyer, stack.contracts.deployment.chain_id)
    retired_before = stack.contracts.supply().retired
    page = connected_buyer_page(browser, stack, wallet)
    quote(page, "1.5")
    price = 1500 * CHEAP // 1000  # the cheap listing, 1.5 kg of it
    assert page.text_content("#quote-price") == f"{price / 10**18:g} ETH"
    page.fill("#beneficiary", "Acme Insurance")
    page.fill("#purpose", "Staff commuting, December 2026")
    page.screenshot(path=ARTIFACTS / "buyer-quote.png", full_page=True)
    page.click("#buy")
    page.wait_for_selector("#done:not([hidden])", timeout=60_000)
    assert "Retired as number" in page.text_content("#done")
    assert wallet.sent == 1
    assert stack.contracts.supply().retired == retired_before + 1500
    page.screenshot(path=ARTIFACTS / "buyer-done.png", full_page=True)

    page.click("#done a")
    page.wait_for_load_state()
    certificate = page.text_content("body")
    assert "Acme Insurance" in certificate and "1.500" in certificate
    page.screenshot(path=ARTIFACTS / "certificate.png", full_page=True)
    page.pdf(path=ARTIFACTS / "certificate.pdf")  # printable
    assert page.js_errors == []


@pytest.mark.parametrize(
    ("wallet_kind", "code"),
    [("wrong network", "WRONG_NETWORK"), ("rejects", "WALLET_REJECTED"), ("no funds", "INSUFFICIENT_FUNDS")],
)
def test_a_purchase_that_cannot_go_through_says_why_and_sends_nothing(
    browser: Any, stack: Stack, wallet_kind: str, code: str
) -> None:
    chain_id = stack.contracts.deployment.chain_id
    account = stack.account("buyer")
    if wallet_kind == "no funds":
        from eth_account import Account

        account = Account.create()
    wallet = Wallet(
        account, chain_id + 1 if wallet_kind == "wrong network" else chain_id, rejects=wallet_kind == "rejects"
    )
    page = open_page(browser, stack, "/app/buyer.html", wallet)
    page.click("#connect")
    if code == "WRONG_NETWORK":
        page.wait_for_selector(f"#error[data-code={code}]")
        assert f"switch it to chain {chain_id}" in page.text_content("#error")
        return
    page.wait_for_selector(f"#connected:has-text('{account.address}')")
    quote(page, "1")
    page.fill("#beneficiary", "Nobody")
    page.click("#buy")
    page.wait_for_selector(f"#error[data-code={code}]")
    assert wallet.sent == 0
    assert page.locator("#done").is_hidden()


def test_a_price_that_moved_after_the_quote_is_refused_not_paid(browser: Any, stack: Stack) -> None:
    buyer = stack.account("buyer")
    wallet = Wallet(buyer, stack.contracts.deployment.chain_id)
    page = connected_buyer_page(browser, stack, wallet)
    remaining_cheap = stack.api("/v1/market/quote?grams=100000")["listings"][0]
    quote(page, str(int(remaining_cheap["grams"]["grams"]) / 1000))
    # Someone else buys part of the cheap listing first: the same amount now costs more.
    other = Sender(stack.w3, stack.account("admin"))
    listing = int(remaining_cheap["listingId"])
    other.transact(stack.contracts.market.functions.buy(listing, 100), value=100 * CHEAP // 1000)
    stack.indexer.sync()
    page.fill("#beneficiary", "Acme")
    page.click("#buy")
    page.wait_for_selector("#error[data-code=PRICE_ABOVE_MAXIMUM]")
    assert wallet.sent == 0


def test_a_driver_lists_credits_and_cancels_the_listing_through_the_wallet(browser: Any, stack: Stack) -> None:
    driver = stack.account("driver")
    wallet = Wallet(driver, stack.contracts.deployment.chain_id)
    page = open_page(browser, stack, "/app/driver.html", wallet)
    page.click("#connect")
    loaded(page)
    before = page.locator("#listings tbody tr").count()
    page.fill("#list-kg", "1.25")
    page.fill("#list-price", "0.003")
    page.click("#list")
    page.wait_for_selector("#list-done:not([hidden])", timeout=60_000)
    assert "Listed 1.250 kg at 0.003 ETH per kg" in page.text_content("#list-done")
    page.wait_for_function(f"document.querySelectorAll('#listings tbody tr').length === {before + 1}")
    page.screenshot(path=ARTIFACTS / "driver-listed.png", full_page=True)
    new_row = page.locator("#listings tbody tr", has_text="0.003")
    new_row.locator("button").click()
    page.wait_for_function(f"document.querySelectorAll('#listings tbody tr').length === {before}")
    assert page.locator("#list-error").is_hidden()
    listed = stack.api(f"/v1/listings?seller={driver.address}")["data"]
    assert all(item["pricePerKgWei"] != str(3 * 10**15) for item in listed)


def test_a_purchase_the_page_loses_track_of_is_never_sent_twice_and_is_followed_to_the_end(
    browser: Any, stack: Stack
) -> None:
    wallet = Wallet(stack.account("buyer"), stack.contracts.deployment.chain_id)
    page = connected_buyer_page(browser, stack, wallet)
    quote(page, "0.2")
    page.route("**/v1/transactions/*", lambda route: route.abort())  # the backend drops after the wallet sent it
    page.fill("#beneficiary", "Once only")
    page.click("#buy")
    page.wait_for_function("() => document.querySelector('#quote').hidden")  # sent: the quote is spent
    assert page.is_disabled("#buy")  # while the page follows it
    page.unroute("**/v1/transactions/*")  # the backend is back: the purchase is followed to its end
    page.wait_for_selector("#done:not([hidden])", timeout=30_000)
    assert wallet.sent == 1 and "Bought 0.200 kg" in page.text_content("#done")
    page.click("#buy")  # an impatient second click buys nothing
    page.wait_for_selector("#error[data-code=NO_QUOTE]")
    assert wallet.sent == 1


def test_changing_the_amount_after_a_quote_asks_for_a_new_one(browser: Any, stack: Stack) -> None:
    wallet = Wallet(stack.account("buyer"), stack.contracts.deployment.chain_id)
    page = connected_buyer_page(browser, stack, wallet)
    quote(page, "1")
    page.fill("#kg", "0.5")
    assert page.locator("#quote").is_hidden()
    page.fill("#beneficiary", "Acme")
    page.click("#buy")
    page.wait_for_selector("#error[data-code=NO_QUOTE]")
    assert wallet.sent == 0


def test_the_driver_page_draws_each_address_once_and_only_the_latest(browser: Any, stack: Stack) -> None:
    driver = stack.account("driver").address
    page = open_page(browser, stack, "/app/driver.html")
    page.fill("#address", driver)
    page.dblclick("#address-form button[type=submit]")
    loaded(page)
    listings = stack.api(f"/v1/listings?seller={driver}&limit=100")["count"]
    assert page.locator("#days tbody tr").count() == 25
    assert page.locator("#listings tbody tr").count() == listings
    page.fill("#address", "0x1234")
    page.click("#address-form button[type=submit]")
    page.wait_for_selector("#error[data-code=INVALID_REQUEST]")
    assert page.locator("#account").is_hidden()  # the last address's figures are not left under this one


def test_a_silent_oracle_costs_the_driver_the_reasons_only(browser: Any, stack: Stack) -> None:
    driver = stack.account("driver").address
    page = browser.new_page()
    page.route(f"{stack.oracle_url}/**", lambda route: None)  # accepted, never answered
    page.goto(f"{stack.url}/app/driver.html?address={driver}")
    page.wait_for_selector("#account:not([hidden])")
    assert page.text_content("#balance").endswith(" kg")
    assert page.locator("#listings tbody tr").count() == stack.api(f"/v1/listings?seller={driver}")["count"]
    page.wait_for_selector("#explain-error[data-code=ORACLE_UNREACHABLE]", timeout=20_000)
    loaded(page)
